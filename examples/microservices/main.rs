//! A gateway and a downstream service: the gateway mints, for each call, a short-lived
//! token naming the downstream service; the downstream verifies it and holds no secret.
//!
//! ```text
//! cargo run --example microservices
//! ```
//!
//! starts two servers in one process:
//!
//! | service    | address (env override)                | layer                                             |
//! |------------|---------------------------------------|---------------------------------------------------|
//! | gateway    | `127.0.0.1:3000` (`DEMO_ADDR`)        | `SessionLayer` with cookies, a minting client     |
//! | downstream | `127.0.0.1:3001` (`DOWNSTREAM_ADDR`)  | `SessionLayer::verify_only(..).with_audience(..)` |
//!
//! Settings:
//! - `DOWNSTREAM_URL` (default `http://127.0.0.1:3001`): where the gateway calls the
//!   downstream (through a proxy, another host), separate from where this process's own
//!   downstream binds.
//! - `DOWNSTREAM_AUDIENCE` (default `profile`): the downstream's name, the `aud` of the
//!   tokens minted for it.
//! - `SESSION_SIGNING` (default `hs256`): `hs256` signs sessions with `SESSION_KEYS`
//!   (`kid:base64url-secret[,...]`; a random key without it) and mints with the gateway's
//!   Ed25519 node key, so the session secret never leaves the gateway; `node` signs both
//!   sessions and minted tokens with the node key. The node key is made at startup and
//!   published to a key registry before it signs (`NodeKeys`; in memory here, since there
//!   is one gateway process: several share theirs through Redis, as `examples/demo` does).
//! - `PROPAGATION` (default `mint`): `forward` sends the session token itself instead
//!   (the downstream then accepts session tokens and holds the session verification key:
//!   see SECURITY.md for what that hands every downstream service).
//! - `GATEWAY_JWKS_URL` (default `http://<DEMO_ADDR>/.well-known/jwks.json`, that is
//!   `http://127.0.0.1:3000/.well-known/jwks.json`): where the downstream fetches the
//!   gateway's public keys.
//!
//! The gateway serves its public keys at `GET /.well-known/jwks.json` (the node key; never an
//! HS256 secret). Built with `--features jwks` (the recommended deployment), the downstream
//! holds no secret and no key given to it: it verifies with the keys it fetches from
//! `GATEWAY_JWKS_URL`, refetched once when a token names a key it does not know yet (a
//! gateway restarted with a new node key, another gateway node), so such a change causes
//! no 401. Without that feature the gateway's public key is passed to it in-process
//! instead, which only works because both run in one process here.
//!
//! Routes of the gateway: `POST /login` (JSON `{"user":"NAME"}` or form field `user`), and
//! `GET /profile`, which calls the downstream's `GET /whoami` and answers
//! `{"gateway": {...}, "downstream": {...}}`. `/whoami` answers the claims it verified,
//! `aud` and `exp` included; called without a token, or with the session cookie's token,
//! it answers 401. The downstream's `GET /health` reports its layer's checks (with
//! `--features jwks`, `jwks`: whether the gateway's key set is fetched), `200` whether ok
//! or degraded.
//!
//! ```text
//! curl -c jar -H 'content-type: application/json' -d '{"user":"ada"}' http://127.0.0.1:3000/login
//! curl -b jar http://127.0.0.1:3000/profile
//! curl -i http://127.0.0.1:3001/whoami          # 401: no token
//! curl http://127.0.0.1:3001/health             # {"status":"ok","checks":{"jwks":...}}
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::trace::TraceLayer;
use tower_stateless_session::keys::jwks::JwksService;
use tower_stateless_session::keys::node::NodeKeys;
use tower_stateless_session::keys::registry::{MemoryKeyRegistry, RegistrationKey};
use tower_stateless_session::propagate::{
    Audience, Minter, PropagateSession, PropagateSessionLayer,
};
use tower_stateless_session::{
    Key, KeyRing, KeyRingHandle, Session, SessionError, SessionHandle, SessionLayer,
};

/// The gateway's session data: the user name travels as the standard `sub` claim.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct User {
    sub: String,
    roles: Vec<String>,
}

/// What the downstream reads: the subject, and the roles the gateway passes on.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Caller {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// How sessions (and minted tokens) are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signing {
    /// Sessions with HS256 secrets, minted tokens with a separate Ed25519 node key.
    Hs256,
    /// One Ed25519 node key for both.
    Node,
}

/// What the gateway sends downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Propagation {
    /// A token minted for the downstream's audience (the default).
    Mint,
    /// The session token itself.
    Forward,
}

#[derive(Debug, Clone)]
struct Config {
    gateway_addr: SocketAddr,
    downstream_addr: SocketAddr,
    downstream_url: Uri,
    audience: Audience,
    signing: Signing,
    propagation: Propagation,
    gateway_jwks_url: String,
}

impl Config {
    /// Reads the settings through `var` (the environment, or a map in tests).
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let or = |name: &str, default: &str| var(name).unwrap_or_else(|| default.to_owned());
        let addr = |name: &str, default: &str| {
            let raw = or(name, default);
            raw.parse::<SocketAddr>()
                .map_err(|_| format!("{name} must be an address like {default}, got {raw:?}"))
        };
        let url = or("DOWNSTREAM_URL", "http://127.0.0.1:3001");
        let downstream_url = url
            .parse::<Uri>()
            .ok()
            .filter(|u| u.scheme_str() == Some("http") && u.authority().is_some())
            .ok_or_else(|| format!("DOWNSTREAM_URL must be an http:// URL, got {url:?}"))?;
        let audience = Audience::new(&or("DOWNSTREAM_AUDIENCE", "profile"))
            .map_err(|e| format!("DOWNSTREAM_AUDIENCE: {e}"))?;
        let signing = match or("SESSION_SIGNING", "hs256").as_str() {
            "hs256" => Signing::Hs256,
            "node" => Signing::Node,
            other => {
                return Err(format!(
                    "SESSION_SIGNING must be hs256 or node, got {other:?}"
                ));
            }
        };
        let propagation = match or("PROPAGATION", "mint").as_str() {
            "mint" => Propagation::Mint,
            "forward" => Propagation::Forward,
            other => {
                return Err(format!(
                    "PROPAGATION must be mint or forward, got {other:?}"
                ));
            }
        };
        let gateway_addr = addr("DEMO_ADDR", "127.0.0.1:3000")?;
        let gateway_jwks_url = var("GATEWAY_JWKS_URL")
            .unwrap_or_else(|| format!("http://{gateway_addr}/.well-known/jwks.json"));
        Ok(Config {
            gateway_addr,
            downstream_addr: addr("DOWNSTREAM_ADDR", "127.0.0.1:3001")?,
            downstream_url,
            audience,
            signing,
            propagation,
            gateway_jwks_url,
        })
    }
}

/// The keys of the two services.
struct Keys {
    /// The gateway's node key (its heartbeat stops when this is dropped).
    node: NodeKeys,
    /// Signs the gateway's sessions.
    sessions: KeyRingHandle,
    /// Signs minted tokens: the node key's ring.
    minting: KeyRingHandle,
    /// What the downstream verifies with.
    downstream: KeyRingHandle,
}

#[cfg_attr(feature = "jwks", allow(dead_code))]
fn public_half(keys: &KeyRingHandle) -> Result<KeyRingHandle, String> {
    let ring = keys.current();
    let public: Vec<Key> = ring.iter().filter_map(Key::public_key).collect();
    let ring = KeyRing::from_keys(public).map_err(|e| e.to_string())?;
    Ok(KeyRingHandle::new(ring))
}

fn make_keys(
    config: &Config,
    session_keys: impl FnOnce() -> Result<KeyRing, String>,
) -> Result<Keys, String> {
    // One gateway process: the registry and its registration key live in memory. With
    // several, use `RedisKeyRegistry` and the same `SESSION_REGISTRATION_KEY` on each.
    let registration = RegistrationKey::generate().map_err(|e| e.to_string())?;
    let node_keys = NodeKeys::builder(registration, MemoryKeyRegistry::new())
        .start()
        .map_err(|e| format!("cannot start the node key: {e}"))?;
    // Published before use (an in-memory registry confirms at once).
    if !node_keys.is_signing() {
        return Err("the node key could not be published".to_owned());
    }
    let node = node_keys.keys();
    let sessions = match config.signing {
        Signing::Node => node.clone(),
        Signing::Hs256 => KeyRingHandle::new(session_keys()?),
    };
    let downstream = match (config.propagation, config.signing) {
        // The downstream holds public keys only: it can verify, never forge.
        (Propagation::Mint, _) | (Propagation::Forward, Signing::Node) => {
            downstream_keys(config, &node)?
        }
        // Forwarding HS256 sessions hands the downstream the session secret itself.
        (Propagation::Forward, Signing::Hs256) => sessions.clone(),
    };
    Ok(Keys {
        node: node_keys,
        sessions,
        minting: node,
        downstream,
    })
}

/// The downstream's keys: the gateway's JWKS, fetched over HTTP, so it holds nothing the
/// gateway gave it (the fetch starts now, and is made again on an unknown key id).
#[cfg(feature = "jwks")]
fn downstream_keys(config: &Config, _node: &KeyRingHandle) -> Result<KeyRingHandle, String> {
    let jwks = tower_stateless_session::keys::jwks::JwksVerifier::builder(&config.gateway_jwks_url)
        .start()
        .map_err(|e| format!("GATEWAY_JWKS_URL {:?}: {e}", config.gateway_jwks_url))?;
    Ok(jwks.keys())
}

/// Without the `jwks` feature: the gateway's public key, passed in-process.
#[cfg(not(feature = "jwks"))]
fn downstream_keys(_config: &Config, node: &KeyRingHandle) -> Result<KeyRingHandle, String> {
    public_half(node)
}

/// The HTTP client the gateway calls the downstream with: hyper-util's pooled client,
/// wrapped so every call carries a token for the current session.
type DownstreamClient = PropagateSession<Client<HttpConnector, Empty<Bytes>>>;

#[derive(Clone)]
struct Gateway {
    client: DownstreamClient,
    whoami: String,
}

/// The largest downstream answer the gateway reads.
const MAX_DOWNSTREAM_BODY: usize = 64 * 1024;

fn downstream_client(propagation: PropagateSessionLayer) -> DownstreamClient {
    let client = Client::builder(TokioExecutor::new())
        // Keep enough idle connections for the concurrency you expect (about twice it):
        // a smaller pool closes and reopens connections under load.
        .pool_max_idle_per_host(32)
        .build_http();
    ServiceBuilder::new().layer(propagation).service(client)
}

/// The gateway: cookie sessions, `POST /login`, `GET /profile`.
fn gateway_app(config: &Config, keys: &Keys) -> Result<Router, String> {
    let propagation = match config.propagation {
        Propagation::Mint => {
            let minter = Minter::<User>::new("gateway", |u: &User| Some(u.sub.as_str()))
                .map_err(|e| e.to_string())?
                .with_keys(keys.minting.clone())
                // Downstream services see `sub`, `sid` and the roles, nothing else.
                .with_projection(|u: &User| json!({ "roles": u.roles }));
            PropagateSessionLayer::mint(minter, config.audience.clone())
        }
        Propagation::Forward => PropagateSessionLayer::forward(),
    };
    let base = config.downstream_url.to_string();
    let state = Gateway {
        client: downstream_client(propagation),
        whoami: format!("{}/whoami", base.trim_end_matches('/')),
    };
    let layer = SessionLayer::<User>::new(keys.sessions.clone());
    let sensitive = layer.sensitive_headers();
    let app = Router::new()
        .route("/login", post(login))
        .route("/profile", get(profile))
        .with_state(state)
        .layer(layer)
        // The public key of the node key (never a session secret), for the downstream.
        .route_service(
            "/.well-known/jwks.json",
            JwksService::new(keys.minting.clone()),
        );
    Ok(logged(app, sensitive))
}

/// The downstream: verify-only, reads `Authorization: Bearer`, never signs; with minting,
/// accepts only tokens minted for its own audience.
fn downstream_app(config: &Config, keys: &Keys) -> Router {
    let layer = SessionLayer::<Caller>::verify_only(keys.downstream.clone());
    let layer = match config.propagation {
        Propagation::Mint => layer.with_audience(config.audience.clone()),
        Propagation::Forward => layer,
    };
    let sensitive = layer.sensitive_headers();
    // The layer's checks: with `--features jwks`, whether the gateway's JWKS is fetched.
    let health = layer.health();
    let app = Router::new()
        .route("/whoami", get(whoami))
        .layer(layer)
        // Outside the layer: a probe needs no token. 200 whatever the status (a JWKS
        // outage leaves the last fetched keys in use: no reason to restart).
        .route(
            "/health",
            get(move || {
                let body = health.report().to_json();
                std::future::ready(([(header::CONTENT_TYPE, "application/json")], body))
            }),
        );
    logged(app, sensitive)
}

/// Logs every request and response, with the headers that carry session tokens (cookies,
/// `Authorization`) marked sensitive so they print as `Sensitive`, never as tokens.
fn logged(app: Router, sensitive: Vec<header::HeaderName>) -> Router {
    app.layer(
        ServiceBuilder::new()
            .layer(SetSensitiveRequestHeadersLayer::new(sensitive.clone()))
            .layer(TraceLayer::new_for_http())
            .layer(SetSensitiveResponseHeadersLayer::new(sensitive)),
    )
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
}

/// `POST /login`: JSON `{"user":"NAME"}` or form field `user`.
async fn login(session: SessionHandle<User>, request: Request) -> Response {
    let user = if is_json(request.headers()) {
        match Json::<LoginForm>::from_request(request, &()).await {
            Ok(Json(form)) => form.user,
            Err(e) => return plain(StatusCode::BAD_REQUEST, &e.body_text()),
        }
    } else {
        match Form::<LoginForm>::from_request(request, &()).await {
            Ok(Form(form)) => form.user,
            Err(e) => return plain(StatusCode::BAD_REQUEST, &e.body_text()),
        }
    };
    let user = user.trim().to_owned();
    if user.is_empty() || user.chars().count() > 64 || user.chars().any(char::is_control) {
        return plain(
            StatusCode::BAD_REQUEST,
            "user must be 1 to 64 characters, without control characters",
        );
    }
    let data = User {
        sub: user.clone(),
        roles: vec!["reader".to_owned()],
    };
    match session.login(data) {
        Ok(info) => Json(json!({ "sub": user, "sid": info.sid.to_string() })).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /profile`: the gateway's view and the downstream's. The call runs in the handler's
/// task, so the client layer finds the session by itself.
async fn profile(State(gateway): State<Gateway>, session: Session<User>) -> Response {
    let gateway_view = json!({
        "sub": session.with(|u| u.sub.clone()),
        "sid": session.info().map(|i| i.sid.to_string()),
    });
    match call_downstream(gateway.client, &gateway.whoami).await {
        Ok((status, body)) if status.is_success() => {
            Json(json!({ "gateway": gateway_view, "downstream": body })).into_response()
        }
        Ok((status, body)) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({ "error": "the downstream refused", "status": status.as_u16(), "body": body })),
        )
            .into_response(),
        Err(message) => (StatusCode::BAD_GATEWAY, Json(json!({ "error": message }))).into_response(),
    }
}

/// GETs `url` and reads the whole body (bounded), which returns the connection to the pool.
async fn call_downstream(
    mut client: DownstreamClient,
    url: &str,
) -> Result<(StatusCode, Value), String> {
    let request = http::Request::get(url)
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("bad downstream url: {e}"))?;
    let response = client
        .ready()
        .await
        .map_err(|e| format!("downstream unavailable: {e}"))?
        .call(request)
        .await
        .map_err(|e| format!("downstream unavailable: {e}"))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_DOWNSTREAM_BODY)
        .collect()
        .await
        .map_err(|e| format!("downstream body: {e}"))?
        .to_bytes();
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    Ok((status, value))
}

/// `GET /whoami` on the downstream: the claims it verified (401 from the layer without a
/// valid token).
async fn whoami(session: Session<Caller>) -> Result<Json<Value>, SessionError> {
    let caller = session.data().ok_or(SessionError::NoSession)?;
    if let Some(minted) = session.minted() {
        // `iss`, `aud`, `sub`, `sid`, `iat`, `exp` (and `act` along a chain), as verified.
        let mut claims = serde_json::to_value(&*minted).unwrap_or_default();
        claims["roles"] = json!(caller.roles);
        return Ok(Json(claims));
    }
    // A forwarded session token: no audience, the session's own deadlines.
    let info = session.info().ok_or(SessionError::NoSession)?;
    Ok(Json(json!({
        "aud": null,
        "sub": caller.sub,
        "sid": info.sid.to_string(),
        "iat": info.issued_at,
        "exp": info.expires_at,
        "roles": caller.roles,
    })))
}

fn load_session_keys() -> Result<KeyRing, String> {
    match std::env::var_os("SESSION_KEYS") {
        Some(_) => KeyRing::from_env("SESSION_KEYS").map_err(|e| format!("SESSION_KEYS: {e}")),
        None => {
            eprintln!(
                "warning: SESSION_KEYS is not set; sessions use a random key that dies with this \
                 process. Set SESSION_KEYS=\"kid:<base64url secret of 32+ bytes>\"."
            );
            Key::generate_hs256("microservices")
                .map(KeyRing::new)
                .map_err(|e| e.to_string())
        }
    }
}

async fn serve(listener: tokio::net::TcpListener, app: Router) -> Result<(), String> {
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

async fn run() -> Result<(), String> {
    let config = Config::from_vars(|name| std::env::var(name).ok())?;
    let keys = make_keys(&config, load_session_keys)?;
    let downstream = tokio::net::TcpListener::bind(config.downstream_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.downstream_addr))?;
    let gateway = tokio::net::TcpListener::bind(config.gateway_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.gateway_addr))?;
    println!(
        "gateway    on http://{}  (POST /login, GET /profile -> {})",
        config.gateway_addr, config.downstream_url
    );
    println!(
        "downstream on http://{}  (GET /whoami, audience {}, {:?} propagation, {:?} signing)",
        config.downstream_addr, config.audience, config.propagation, config.signing
    );
    println!(
        "node key   {}  (public half at http://{}/.well-known/jwks.json)",
        keys.node.kid(),
        config.gateway_addr
    );
    if cfg!(feature = "jwks") {
        println!(
            "the downstream verifies with the keys of {}",
            config.gateway_jwks_url
        );
    }
    let down = tokio::spawn(serve(downstream, downstream_app(&config, &keys)));
    serve(gateway, gateway_app(&config, &keys)?).await?;
    down.await.map_err(|e| e.to_string())?
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests;
