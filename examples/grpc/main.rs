//! tonic on both sides: a gateway with cookie sessions calls a gRPC service through a
//! tonic channel wrapped in the minting layer; the gRPC service runs behind a verify-only
//! layer that accepts only tokens minted for it, and reads the session in its handler.
//!
//! ```text
//! cargo run --example grpc --features jwks,propagate
//! ```
//!
//! starts two servers in one process:
//!
//! | service | address (env override) | layer |
//! |---|---|---|
//! | gateway (HTTP/1, axum) | `127.0.0.1:3000` (`DEMO_ADDR`) | `SessionLayer` with cookies; a tonic `Channel` wrapped in `PropagateSessionLayer::mint` |
//! | gRPC service (HTTP/2, tonic) | `127.0.0.1:50051` (`GRPC_ADDR`) | `SessionLayer::verify_only(..).with_audience(..)` around tonic's router |
//!
//! Settings: `GRPC_AUDIENCE` (default `profile`), the gRPC service's name and the `aud`
//! of the tokens minted for it; `SESSION_KEYS` (`kid:base64url-secret[,...]`, a random key
//! without it) sign the gateway's sessions. Minted tokens are signed with the gateway's
//! Ed25519 node key, whose public half the gateway serves at `/.well-known/jwks.json`; the
//! gRPC service verifies with the keys it fetches there and holds no secret.
//!
//! Routes of the gateway: `POST /login` (JSON `{"user":"NAME"}` or form field `user`) and
//! `GET /profile`, which calls `/profile.Profile/WhoAmI` (empty request message) and
//! answers `{"downstream": {...}}`: the claims the gRPC service verified (`iss`, `aud`,
//! `sub`, `sid`, `iat`, `exp`, `roles`). A refused call answers 502 with the gRPC status.
//!
//! A call to the gRPC service without a token, with the browser's session token, or with a
//! token minted for another audience is refused by the layer as gRPC does it: HTTP 200,
//! `grpc-status: 16` (`UNAUTHENTICATED`), a `grpc-message`, no body. A tonic client sees
//! `Code::Unauthenticated`, not a transport error.
//!
//! ```text
//! curl -c jar -H 'content-type: application/json' -d '{"user":"ada"}' http://127.0.0.1:3000/login
//! curl -b jar http://127.0.0.1:3000/profile
//! grpcurl -plaintext -import-path . -proto profile.proto 127.0.0.1:50051 profile.Profile/WhoAmI   # Code: Unauthenticated
//! ```
//!
//! The messages, in `profile.proto` terms (written by hand with prost's derive below, so
//! the example needs no `protoc`):
//!
//! ```text
//! syntax = "proto3";
//! package profile;
//! service Profile { rpc WhoAmI(WhoAmIRequest) returns (WhoAmIReply); }
//! message WhoAmIRequest {}
//! message WhoAmIReply {
//!   string iss = 1; repeated string aud = 2; string sub = 3; string sid = 4;
//!   uint64 iat = 5; uint64 exp = 6; repeated string roles = 7;
//! }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll};

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use http::uri::PathAndQuery;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;
use tower::ServiceBuilder;
use tower_stateless_session::keys::jwks::{JwksService, JwksVerifier};
use tower_stateless_session::keys::node::NodeKeys;
use tower_stateless_session::keys::registry::{MemoryKeyRegistry, RegistrationKey};
use tower_stateless_session::propagate::{
    Audience, Minter, PropagateSession, PropagateSessionLayer,
};
use tower_stateless_session::{Key, KeyRing, KeyRingHandle, SessionHandle, SessionLayer};

// ---------------------------------------------------------------------------------------
// The protocol: two messages and one method
// ---------------------------------------------------------------------------------------

/// `profile.WhoAmIRequest`: empty.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WhoAmIRequest {}

/// `profile.WhoAmIReply`: the claims the gRPC service verified.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WhoAmIReply {
    #[prost(string, tag = "1")]
    pub iss: String,
    #[prost(string, repeated, tag = "2")]
    pub aud: Vec<String>,
    #[prost(string, tag = "3")]
    pub sub: String,
    #[prost(string, tag = "4")]
    pub sid: String,
    #[prost(uint64, tag = "5")]
    pub iat: u64,
    #[prost(uint64, tag = "6")]
    pub exp: u64,
    #[prost(string, repeated, tag = "7")]
    pub roles: Vec<String>,
}

/// The method's path.
const WHO_AM_I: &str = "/profile.Profile/WhoAmI";

// ---------------------------------------------------------------------------------------
// Settings and keys
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Config {
    gateway_addr: SocketAddr,
    grpc_addr: SocketAddr,
    /// The gRPC service's name: the `aud` it accepts.
    audience: Audience,
    /// Where the gRPC service fetches the gateway's public keys.
    gateway_jwks_url: String,
}

impl Config {
    /// Reads the settings through `var` (the environment, or a map in tests).
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let addr = |name: &str, default: &str| {
            let raw = var(name).unwrap_or_else(|| default.to_owned());
            raw.parse::<SocketAddr>()
                .map_err(|_| format!("{name} must be an address like {default}, got {raw:?}"))
        };
        let gateway_addr = addr("DEMO_ADDR", "127.0.0.1:3000")?;
        let audience = Audience::new(&var("GRPC_AUDIENCE").unwrap_or_else(|| "profile".into()))
            .map_err(|e| format!("GRPC_AUDIENCE: {e}"))?;
        Ok(Config {
            gateway_addr,
            grpc_addr: addr("GRPC_ADDR", "127.0.0.1:50051")?,
            audience,
            gateway_jwks_url: format!("http://{gateway_addr}/.well-known/jwks.json"),
        })
    }
}

/// The gateway's keys: its sessions' HS256 ring, and the node key that mints.
struct Keys {
    /// The node key (its heartbeat stops when this is dropped).
    node: NodeKeys,
    sessions: KeyRingHandle,
}

fn make_keys(sessions: KeyRing) -> Result<Keys, String> {
    // One gateway process: the registry lives in memory (several share theirs through
    // Redis, as examples/demo does).
    let registration = RegistrationKey::generate().map_err(|e| e.to_string())?;
    let node = NodeKeys::builder(registration, MemoryKeyRegistry::new())
        .start()
        .map_err(|e| format!("cannot start the node key: {e}"))?;
    // Published before use (an in-memory registry confirms at once).
    if !node.is_signing() {
        return Err("the node key could not be published".to_owned());
    }
    Ok(Keys {
        node,
        sessions: KeyRingHandle::new(sessions),
    })
}

// ---------------------------------------------------------------------------------------
// The gRPC service
// ---------------------------------------------------------------------------------------

/// What the gRPC service reads from a minted token: its subject and the roles passed on.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Caller {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// `WhoAmI`: the claims of the token the layer verified, read from the session handle it
/// left in the request (tonic copies the HTTP request's extensions into its own).
#[derive(Clone)]
struct WhoAmI;

impl tonic::server::UnaryService<WhoAmIRequest> for WhoAmI {
    type Response = WhoAmIReply;
    type Future = std::future::Ready<Result<tonic::Response<WhoAmIReply>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<WhoAmIRequest>) -> Self::Future {
        let session = SessionHandle::<Caller>::from_extensions(request.extensions());
        let reply = session.and_then(|session| {
            let caller = session.data()?;
            let minted = session.minted()?;
            Some(WhoAmIReply {
                iss: minted.iss.clone(),
                aud: minted.aud.clone(),
                sub: caller.sub,
                sid: minted.sid.to_string(),
                iat: minted.iat,
                exp: minted.exp,
                roles: caller.roles,
            })
        });
        // The layer refuses calls without a valid token before they get here.
        std::future::ready(
            reply
                .map(tonic::Response::new)
                .ok_or_else(|| tonic::Status::unauthenticated("no session")),
        )
    }
}

/// The `profile.Profile` service as tonic's router wants it (what code generation would
/// write): one method, `UNIMPLEMENTED` for any other path.
#[derive(Clone)]
struct ProfileServer;

impl tonic::server::NamedService for ProfileServer {
    const NAME: &'static str = "profile.Profile";
}

impl tower::Service<http::Request<tonic::body::Body>> for ProfileServer {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if request.uri().path() != WHO_AM_I {
            let status = tonic::Status::unimplemented("no such method");
            return Box::pin(std::future::ready(Ok(status.into_http())));
        }
        Box::pin(async move {
            let mut grpc =
                tonic::server::Grpc::new(ProstCodec::<WhoAmIReply, WhoAmIRequest>::default());
            Ok(grpc.unary(WhoAmI, request).await)
        })
    }
}

/// The gRPC service's session layer: verify-only, the token from `Authorization: Bearer`,
/// accepted only when minted for `audience` with a key from the gateway's JWKS.
fn grpc_layer(config: &Config, keys: KeyRingHandle) -> SessionLayer<Caller> {
    SessionLayer::<Caller>::verify_only(keys).with_audience(config.audience.clone())
}

/// Serves the gRPC service on `listener` until `shutdown` completes.
async fn serve_grpc(
    listener: tokio::net::TcpListener,
    layer: SessionLayer<Caller>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    tonic::transport::Server::builder()
        .layer(layer)
        .add_service(ProfileServer)
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            shutdown,
        )
        .await
        .map_err(|e| format!("gRPC server: {e}"))
}

/// The gRPC service's keys: the gateway's public keys, fetched from its JWKS (and fetched
/// again when a token names a key it does not know yet).
fn grpc_keys(config: &Config) -> Result<KeyRingHandle, String> {
    let jwks = JwksVerifier::builder(&config.gateway_jwks_url)
        .start()
        .map_err(|e| format!("{}: {e}", config.gateway_jwks_url))?;
    Ok(jwks.keys())
}

// ---------------------------------------------------------------------------------------
// The gateway
// ---------------------------------------------------------------------------------------

/// The gateway's session data.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct User {
    sub: String,
    roles: Vec<String>,
}

/// The tonic channel to the gRPC service, wrapped so each call carries a token minted for
/// the current session.
type ProfileClient = tonic::client::Grpc<PropagateSession<Channel>>;

#[derive(Clone)]
struct Gateway {
    client: ProfileClient,
}

/// The gateway: cookie sessions, `POST /login`, `GET /profile`, its JWKS. Its calls mint
/// tokens for `audience`.
fn gateway_app(config: &Config, keys: &Keys, audience: Audience) -> Result<Router, String> {
    let minter = Minter::<User>::new("gateway", |u: &User| Some(u.sub.as_str()))
        .map_err(|e| e.to_string())?
        .with_keys(keys.node.keys())
        // The gRPC service sees `sub`, `sid` and the roles, nothing else.
        .with_projection(|u: &User| json!({ "roles": u.roles }));
    let endpoint = Endpoint::from_shared(format!("http://{}", config.grpc_addr))
        .map_err(|e| format!("GRPC_ADDR: {e}"))?;
    // Connects on first use; the channel reconnects by itself.
    let channel = endpoint.connect_lazy();
    let minting = ServiceBuilder::new()
        .layer(PropagateSessionLayer::mint(minter, audience))
        .service(channel);
    let state = Gateway {
        client: tonic::client::Grpc::new(minting),
    };
    let layer = SessionLayer::<User>::new(keys.sessions.clone())
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Router::new()
        .route("/login", post(login))
        .route("/profile", get(profile))
        .with_state(state)
        .layer(layer)
        // The node key's public half (never a session secret), for the gRPC service.
        .route_service("/.well-known/jwks.json", JwksService::new(keys.node.keys())))
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

/// `GET /profile`: calls `WhoAmI` in the handler's task, so the minting layer finds the
/// session by itself.
async fn profile(
    State(gateway): State<Gateway>,
    session: tower_stateless_session::Session<User>,
) -> Response {
    drop(session); // required: a 401 without a session, before any call
    match who_am_i(gateway.client).await {
        Ok(reply) => Json(json!({ "downstream": {
            "iss": reply.iss, "aud": reply.aud, "sub": reply.sub, "sid": reply.sid,
            "iat": reply.iat, "exp": reply.exp, "roles": reply.roles,
        }}))
        .into_response(),
        Err(status) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({
                "error": "the gRPC service refused",
                "code": status.code() as i32,
                "message": status.message(),
            })),
        )
            .into_response(),
    }
}

/// One `WhoAmI` call through `client`.
async fn who_am_i<T>(client: tonic::client::Grpc<T>) -> Result<WhoAmIReply, tonic::Status>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut client = client;
    client.ready().await.map_err(|e| {
        tonic::Status::unavailable(format!("gRPC service unavailable: {}", e.into()))
    })?;
    let reply = client
        .unary(
            tonic::Request::new(WhoAmIRequest {}),
            PathAndQuery::from_static(WHO_AM_I),
            ProstCodec::<WhoAmIRequest, WhoAmIReply>::default(),
        )
        .await?;
    Ok(reply.into_inner())
}

// ---------------------------------------------------------------------------------------
// Startup
// ---------------------------------------------------------------------------------------

fn load_session_keys() -> Result<KeyRing, String> {
    match std::env::var_os("SESSION_KEYS") {
        Some(_) => KeyRing::from_env("SESSION_KEYS").map_err(|e| format!("SESSION_KEYS: {e}")),
        None => {
            eprintln!(
                "warning: SESSION_KEYS is not set; sessions use a random key that dies with this \
                 process. Set SESSION_KEYS=\"kid:<base64url secret of 32+ bytes>\"."
            );
            Key::generate_hs256("grpc-example")
                .map(KeyRing::new)
                .map_err(|e| e.to_string())
        }
    }
}

async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn run() -> Result<(), String> {
    let config = Config::from_vars(|name| std::env::var(name).ok())?;
    let keys = make_keys(load_session_keys()?)?;
    let grpc_listener = tokio::net::TcpListener::bind(config.grpc_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.grpc_addr))?;
    let gateway_listener = tokio::net::TcpListener::bind(config.gateway_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.gateway_addr))?;
    println!(
        "gateway on http://{}  (POST /login, GET /profile -> {WHO_AM_I})",
        config.gateway_addr
    );
    println!(
        "gRPC    on http://{}  (profile.Profile, audience {})",
        config.grpc_addr, config.audience
    );
    let layer = grpc_layer(&config, grpc_keys(&config)?);
    let grpc = tokio::spawn(serve_grpc(grpc_listener, layer, ctrl_c()));
    let app = gateway_app(&config, &keys, config.audience.clone())?;
    axum::serve(gateway_listener, app)
        .with_graceful_shutdown(ctrl_c())
        .await
        .map_err(|e| e.to_string())?;
    grpc.await.map_err(|e| e.to_string())?
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
