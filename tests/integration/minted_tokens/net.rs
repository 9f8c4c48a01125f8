//! The services of these tests, on real sockets: a gateway (cookie sessions, its public keys
//! at `/.well-known/jwks.json`, one minting client per audience, a per-request one and a
//! forwarding one), `profile` and `billing` (leaves), `orders` (a middle service minting for
//! `ledger` with a key of its own, published at the same path) and `ledger`. Every
//! downstream verifies with a `JwksVerifier` fetching its caller's JWKS: no key is handed
//! to it.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower::{Service, ServiceExt};
use tower_stateless_session::keys::jwks::JwksVerifier;
use tower_stateless_session::keys::node::NodeKeys;
use tower_stateless_session::keys::registry::{MemoryKeyRegistry, RegistrationKey};
use tower_stateless_session::propagate::{
    Audience, Minter, PropagateSession, PropagateSessionLayer,
};
use tower_stateless_session::time::{Clock, ManualClock, SystemClock};
use tower_stateless_session::{
    Key, KeyRing, KeyRingHandle, Session, SessionError, SessionHandle, SessionLayer, Transport,
};

use super::jwks::{CountedJwks, Fetches, JWKS_PATH, loaded, verifier};
use crate::common::{call_json, fetch, serve, serve_on, set_cookie_pair};

/// The gateway's session data. Only `roles` goes downstream, next to `sub` and `sid`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct User {
    pub(crate) sub: String,
    pub(crate) roles: Vec<String>,
    pub(crate) email: String,
}

/// What a downstream service reads from a minted token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Profile {
    pub(crate) sub: String,
    #[serde(default)]
    pub(crate) roles: Vec<String>,
}

pub(crate) const LIFETIME: u64 = 60;
pub(crate) const DOWNSTREAM_LEEWAY: u64 = 5;

pub(crate) type HttpClient = PropagateSession<Client<HttpConnector, Empty<Bytes>>>;

pub(crate) fn http_client(layer: PropagateSessionLayer) -> HttpClient {
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(8)
        .build_http();
    tower::ServiceBuilder::new().layer(layer).service(client)
}

pub(crate) fn aud(name: &str) -> Audience {
    Audience::new(name).expect("valid audience")
}

/// GETs `url` through `client`; status and JSON body (read to its end).
pub(crate) async fn call(client: HttpClient, url: String) -> (StatusCode, Value) {
    let request = Request::get(url)
        .body(Empty::<Bytes>::new())
        .expect("request");
    call_json(client, request).await
}

/// `GET /whoami` of a downstream: what it verified, and (for these tests only) the raw
/// token it received.
pub(crate) async fn whoami(
    session: Session<Profile>,
    headers: HeaderMap,
) -> Result<Json<Value>, SessionError> {
    let minted = session.minted().ok_or(SessionError::NoSession)?;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    Ok(Json(json!({
        "data": session.data(),
        "claims": &*minted,
        "token": token,
    })))
}

pub(crate) fn downstream_layer(
    name: &str,
    keys: KeyRingHandle,
    clock: &ManualClock,
) -> SessionLayer<Profile> {
    SessionLayer::<Profile>::verify_only(keys)
        .with_audience(aud(name))
        .with_clock(clock.clone())
        .with_leeway(Duration::from_secs(DOWNSTREAM_LEEWAY))
}

pub(crate) async fn start_leaf(name: &str, jwks: &JwksVerifier, clock: &ManualClock) -> SocketAddr {
    let app = Router::new()
        .route("/whoami", get(whoami))
        .layer(downstream_layer(name, jwks.keys(), clock));
    serve(app.into_service::<hyper::body::Incoming>()).await
}

/// `orders`, on `listener`: a downstream of the gateway (verifying through the gateway's
/// JWKS) that calls `ledger` with a token it mints with its own key, and publishes that
/// key's public half for `ledger`.
pub(crate) fn serve_middle(
    listener: TcpListener,
    jwks: &JwksVerifier,
    ledger: SocketAddr,
    clock: &ManualClock,
    fetches: Fetches,
) -> SocketAddr {
    let own_keys = KeyRingHandle::new(KeyRing::new(Key::generate_ed25519().expect("rng")));
    let minter = Minter::<Profile>::new("orders", |p: &Profile| Some(p.sub.as_str()))
        .expect("valid issuer")
        .with_keys(own_keys.clone())
        .with_clock(clock.clone())
        .with_projection(|p: &Profile| json!({ "roles": p.roles }));
    let to_ledger = http_client(PropagateSessionLayer::mint(minter, aud("ledger")));
    let url = format!("http://{ledger}/whoami");
    let app = Router::new()
        .route("/whoami", get(whoami))
        .route(
            "/chain",
            get(move |session: Session<Profile>| {
                let (client, url) = (to_ledger.clone(), url.clone());
                async move {
                    let received = session.minted().map(|m| (*m).clone());
                    let (status, ledger) = call(client, url).await;
                    (
                        status,
                        Json(json!({ "orders": received, "ledger": ledger })),
                    )
                }
            }),
        )
        .layer(downstream_layer("orders", jwks.keys(), clock))
        .route_service(JWKS_PATH, CountedJwks::new(own_keys, fetches));
    serve_on(listener, app.into_service::<hyper::body::Incoming>())
}

#[derive(Clone)]
pub(crate) struct Clients {
    pub(crate) by_audience: Vec<(String, HttpClient, SocketAddr)>,
    pub(crate) per_request: HttpClient,
    pub(crate) forward: HttpClient,
}

impl Clients {
    pub(crate) fn get(&self, service: &str) -> Option<(HttpClient, SocketAddr)> {
        self.by_audience
            .iter()
            .find(|(name, _, _)| name == service)
            .map(|(_, client, addr)| (client.clone(), *addr))
    }
}

pub(crate) async fn login(
    session: SessionHandle<User>,
    Path(name): Path<String>,
) -> Result<&'static str, SessionError> {
    session.login(User {
        sub: name.clone(),
        roles: vec!["reader".into()],
        email: format!("{name}@example.org"),
    })?;
    Ok("welcome")
}

/// `GET /call/{service}`: the gateway calls `service`'s `/whoami` (or `/chain` for
/// `orders-chain`) with a token minted for it.
pub(crate) async fn call_service(
    State(clients): State<Clients>,
    Path(service): Path<String>,
    _: Session<User>,
) -> (StatusCode, Json<Value>) {
    let (target, path) = match service.strip_suffix("-chain") {
        Some(target) => (target, "chain"),
        None => (service.as_str(), "whoami"),
    };
    let Some((client, addr)) = clients.get(target) else {
        return (StatusCode::NOT_FOUND, Json(json!({})));
    };
    let (status, body) = call(client, format!("http://{addr}/{path}")).await;
    (status, Json(body))
}

/// `GET /per-request/{service}`: one client, the audience chosen by the request's port.
pub(crate) async fn call_per_request(
    State(clients): State<Clients>,
    Path(service): Path<String>,
    _: Session<User>,
) -> (StatusCode, Json<Value>) {
    let Some((_, addr)) = clients.get(&service) else {
        return (StatusCode::NOT_FOUND, Json(json!({})));
    };
    let url = format!("http://{addr}/whoami");
    let (status, body) = call(clients.per_request.clone(), url).await;
    (status, Json(body))
}

/// `GET /forward/profile`: the session token itself, forwarded to `profile`.
pub(crate) async fn call_forwarding(
    State(clients): State<Clients>,
    _: Session<User>,
) -> (StatusCode, Json<Value>) {
    let (_, addr) = clients.get("profile").expect("profile runs");
    let (status, body) = call(clients.forward.clone(), format!("http://{addr}/whoami")).await;
    (status, Json(body))
}

/// `POST /login-and-call/{name}`: a login, then a call to `profile`, in one request: the
/// token is minted from the new session.
pub(crate) async fn login_and_call(
    State(clients): State<Clients>,
    session: SessionHandle<User>,
    Path(name): Path<String>,
) -> (StatusCode, Json<Value>) {
    let data = User {
        sub: name,
        roles: vec!["writer".into()],
        email: String::new(),
    };
    if session.login(data).is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({})));
    }
    let (client, addr) = clients.get("profile").expect("profile runs");
    let (status, body) = call(client, format!("http://{addr}/whoami")).await;
    (status, Json(body))
}

/// `GET /spawned/{how}`: the call made from a spawned task, in the session's scope
/// (`scoped`), with only the session token in the request's extensions (`token`), or bare.
pub(crate) async fn spawned(
    State(clients): State<Clients>,
    session: Session<User>,
    Path(how): Path<String>,
) -> (StatusCode, Json<Value>) {
    let (client, addr) = clients.get("profile").expect("profile runs");
    let url = format!("http://{addr}/whoami");
    let task = match how.as_str() {
        "scoped" => tokio::spawn(session.scope(call(client, url))),
        "token" => {
            let token = session.token().expect("a session has a token");
            tokio::spawn(async move {
                let mut client = client;
                let mut request = Request::get(url)
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                request.extensions_mut().insert(token);
                let response = client.ready().await.expect("ready").call(request).await;
                let response = response.expect("the downstream answers");
                let status = response.status();
                let _ = response.into_body().collect().await;
                (status, json!({}))
            })
        }
        _ => tokio::spawn(call(client, url)),
    };
    let (status, body) = task.await.expect("the task ends");
    (status, Json(body))
}

/// How the gateway signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signing {
    /// Sessions with an HS256 secret; minted tokens with an Ed25519 key of their own, in a
    /// ring the test can replace (rotation).
    Separate,
    /// One Ed25519 key, in a ring the test can replace, signs sessions and minted tokens.
    Shared,
    /// This node's key (`NodeKeys`, published to a registry before use) signs both: the
    /// recommended deployment.
    Node,
}

/// The registration key of the gateway tier (shared by signing nodes only).
const REGISTRATION: &[u8; 32] = b"registration-key-of-the-gateways";

/// A gateway node's key, published to `registry` (every node of the tier shares it).
pub(crate) fn node_keys(registry: &MemoryKeyRegistry) -> NodeKeys {
    let node = NodeKeys::builder(
        RegistrationKey::new(REGISTRATION).expect("32 bytes"),
        registry.clone(),
    )
    .with_background_heartbeat(false)
    .start()
    .expect("node keys");
    assert!(node.is_signing(), "published (in memory: at once)");
    node
}

/// Where the gateway's downstream services listen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Downstreams {
    pub(crate) profile: SocketAddr,
    pub(crate) billing: SocketAddr,
    pub(crate) orders: SocketAddr,
}

/// The gateway's routes, minting with `mint_keys` (without the session layer).
fn gateway_routes(mint_keys: &KeyRingHandle, clock: &ManualClock, to: Downstreams) -> Router {
    let minter = Minter::<User>::new("gateway", |u: &User| Some(u.sub.as_str()))
        .expect("valid issuer")
        .with_keys(mint_keys.clone())
        .with_clock(clock.clone())
        .with_lifetime(Duration::from_secs(LIFETIME))
        .with_projection(|u: &User| json!({ "roles": u.roles }));
    let mint_for = |name: &str| http_client(PropagateSessionLayer::mint(minter.clone(), aud(name)));
    let ports = [
        (to.profile.port(), aud("profile")),
        (to.billing.port(), aud("billing")),
    ];
    let clients = Clients {
        by_audience: vec![
            ("profile".into(), mint_for("profile"), to.profile),
            ("billing".into(), mint_for("billing"), to.billing),
            ("orders".into(), mint_for("orders"), to.orders),
        ],
        per_request: http_client(PropagateSessionLayer::mint_per_request(
            minter.clone(),
            move |parts| {
                let port = parts.uri.port_u16()?;
                ports
                    .iter()
                    .find(|(p, _)| *p == port)
                    .map(|(_, a)| a.clone())
            },
        )),
        forward: http_client(PropagateSessionLayer::forward()),
    };
    Router::new()
        .route("/login/{name}", post(login))
        .route(
            "/me",
            get(|s: Session<User>| async move { s.with(|u| u.sub.clone()).unwrap_or_default() }),
        )
        .route("/call/{service}", get(call_service))
        .route("/per-request/{service}", get(call_per_request))
        .route("/forward/profile", get(call_forwarding))
        .route("/login-and-call/{name}", post(login_and_call))
        .route("/spawned/{how}", get(spawned))
        .with_state(clients)
}

/// The gateway's routes behind its session layer, and the public keys it mints with at
/// `/.well-known/jwks.json` (outside the session layer).
fn gateway_app(
    routes: Router,
    sessions: SessionLayer<User>,
    mint_keys: &KeyRingHandle,
    fetches: &Fetches,
) -> axum::routing::RouterIntoService<hyper::body::Incoming> {
    routes
        .layer(sessions)
        .route_service(
            JWKS_PATH,
            CountedJwks::new(mint_keys.clone(), fetches.clone()),
        )
        .into_service::<hyper::body::Incoming>()
}

async fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    (listener, addr)
}

/// Each downstream service's JWKS verifier.
pub(crate) struct Verifiers {
    pub(crate) profile: JwksVerifier,
    pub(crate) billing: JwksVerifier,
    pub(crate) orders: JwksVerifier,
    pub(crate) ledger: JwksVerifier,
}

pub(crate) struct Net {
    pub(crate) clock: ManualClock,
    pub(crate) t0: u64,
    pub(crate) gateway: SocketAddr,
    /// The same gateway keys and routes, sessions as `Authorization: Bearer`.
    pub(crate) bearer_gateway: SocketAddr,
    pub(crate) profile: SocketAddr,
    pub(crate) billing: SocketAddr,
    pub(crate) orders: SocketAddr,
    pub(crate) ledger: SocketAddr,
    /// The ring the gateway mints with, and serves as its JWKS.
    pub(crate) mint_keys: KeyRingHandle,
    /// The gateway's node key (with [`Signing::Node`]).
    pub(crate) node: Option<NodeKeys>,
    /// The gateway tier's key registry (with [`Signing::Node`]).
    pub(crate) registry: MemoryKeyRegistry,
    /// JWKS documents served, by verifier (`profile`, `billing`, `orders`, `ledger`).
    pub(crate) fetches: Fetches,
    pub(crate) verifiers: Verifiers,
    to: Downstreams,
}

/// Starts the five services, and waits until every downstream has loaded its JWKS.
pub(crate) async fn start(signing: Signing) -> Net {
    // Real time, so jsonwebtoken (which reads the system clock) agrees on `exp`.
    let t0 = SystemClock.now();
    let clock = ManualClock::new(t0);
    let registry = MemoryKeyRegistry::new();
    let (node, session_keys, mint_keys) = match signing {
        Signing::Node => {
            let node = node_keys(&registry);
            let keys = node.keys();
            (Some(node), keys.clone(), keys)
        }
        Signing::Shared | Signing::Separate => {
            let ed = KeyRingHandle::new(KeyRing::new(Key::generate_ed25519().expect("rng")));
            let sessions = match signing {
                Signing::Shared => ed.clone(),
                _ => KeyRingHandle::new(KeyRing::new(
                    Key::generate_hs256("session-hs").expect("rng"),
                )),
            };
            (None, sessions, ed)
        }
    };
    let fetches = Fetches::default();
    // The callers' addresses first: their downstreams fetch their JWKS there.
    let (gateway_listener, gateway) = bind().await;
    let (orders_listener, orders) = bind().await;
    let verifiers = Verifiers {
        profile: verifier(gateway, "profile"),
        billing: verifier(gateway, "billing"),
        orders: verifier(gateway, "orders"),
        ledger: verifier(orders, "ledger"),
    };
    let profile = start_leaf("profile", &verifiers.profile, &clock).await;
    let billing = start_leaf("billing", &verifiers.billing, &clock).await;
    let ledger = start_leaf("ledger", &verifiers.ledger, &clock).await;
    serve_middle(
        orders_listener,
        &verifiers.orders,
        ledger,
        &clock,
        fetches.clone(),
    );
    let to = Downstreams {
        profile,
        billing,
        orders,
    };

    let routes = gateway_routes(&mint_keys, &clock, to);
    let layer = SessionLayer::<User>::new(session_keys).with_clock(clock.clone());
    serve_on(
        gateway_listener,
        gateway_app(routes.clone(), layer.clone(), &mint_keys, &fetches),
    );
    let bearer_gateway = serve(gateway_app(
        routes,
        layer.with_transport(Transport::Bearer),
        &mint_keys,
        &fetches,
    ))
    .await;
    loaded(&[
        &verifiers.profile,
        &verifiers.billing,
        &verifiers.orders,
        &verifiers.ledger,
    ])
    .await;
    Net {
        clock,
        t0,
        gateway,
        bearer_gateway,
        profile,
        billing,
        orders,
        ledger,
        mint_keys,
        node,
        registry,
        fetches,
        verifiers,
        to,
    }
}

impl Net {
    /// Another node of the gateway tier (with [`Signing::Node`]): its own node key,
    /// published to the tier's registry before it signs, minting with it for the same
    /// downstream services. Returns its address and its keys (keep them: the node's key
    /// ring lives with them).
    pub(crate) async fn start_gateway_node(&self) -> (SocketAddr, NodeKeys) {
        assert!(self.node.is_some(), "a tier of node keys");
        let node = node_keys(&self.registry);
        let routes = gateway_routes(&node.keys(), &self.clock, self.to);
        let layer = SessionLayer::<User>::new(node.keys()).with_clock(self.clock.clone());
        let addr = serve(gateway_app(routes, layer, &node.keys(), &self.fetches)).await;
        (addr, node)
    }

    /// The documents served to the verifiers `who`, in all.
    pub(crate) fn fetches_of(&self, who: &[&str]) -> usize {
        who.iter().map(|w| self.fetches.of(w)).sum()
    }

    pub(crate) async fn login(&self, name: &str) -> String {
        let (status, headers, body) =
            fetch(self.gateway, "POST", &format!("/login/{name}"), &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        set_cookie_pair(&headers).expect("login sets a cookie")
    }

    /// The gateway calls `service` for the session `cookie`; status and body.
    pub(crate) async fn via_gateway(&self, path: &str, cookie: &str) -> (StatusCode, Value) {
        let (status, _, body) = fetch(self.gateway, "GET", path, &[("cookie", cookie)]).await;
        let value = serde_json::from_str(&body).unwrap_or_else(|_| json!({ "text": body }));
        (status, value)
    }

    /// The token `service` received when the gateway called it for `cookie`.
    pub(crate) async fn token_for(&self, service: &str, cookie: &str) -> (String, Value) {
        let (status, body) = self.via_gateway(&format!("/call/{service}"), cookie).await;
        assert_eq!(status, StatusCode::OK, "{service}: {body}");
        let token = body["token"].as_str().expect("the token").to_owned();
        (token, body)
    }
}
