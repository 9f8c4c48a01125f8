//! The five services of these tests: a gateway (cookie sessions, one minting client per
//! audience, a per-request one and a forwarding one), `profile` and `billing` (leaves),
//! `orders` (a middle service minting for `ledger`) and `ledger`.

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
use tower::{Service, ServiceExt};
use tower_stateless_session::{
    Audience, Clock, Key, KeyRing, KeyRingHandle, ManualClock, Minter, PropagateSession,
    PropagateSessionLayer, Session, SessionError, SessionHandle, SessionLayer, SystemClock,
    Transport,
};

use crate::common::{fetch, serve, set_cookie_pair};

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
pub(crate) async fn call(mut client: HttpClient, url: String) -> (StatusCode, Value) {
    let request = Request::get(url)
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = client
        .ready()
        .await
        .expect("ready")
        .call(request)
        .await
        .expect("the downstream answers");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| json!({ "text": String::from_utf8_lossy(&body) }));
    (status, value)
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

pub(crate) async fn start_leaf(name: &str, keys: KeyRingHandle, clock: &ManualClock) -> SocketAddr {
    let app = Router::new()
        .route("/whoami", get(whoami))
        .layer(downstream_layer(name, keys, clock));
    serve(app.into_service::<hyper::body::Incoming>()).await
}

/// `orders`: a downstream of the gateway that calls `ledger` with a token it mints itself.
pub(crate) async fn start_middle(
    gateway_public: KeyRingHandle,
    own_keys: KeyRingHandle,
    ledger: SocketAddr,
    clock: &ManualClock,
) -> SocketAddr {
    let minter = Minter::<Profile>::new("orders", |p: &Profile| Some(p.sub.as_str()))
        .expect("valid issuer")
        .with_keys(own_keys)
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
        .layer(downstream_layer("orders", gateway_public, clock));
    serve(app.into_service::<hyper::body::Incoming>()).await
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
    /// The ring the gateway mints with (its node key).
    pub(crate) mint_keys: KeyRingHandle,
    /// What the downstream services verify with: the gateway's public key(s).
    pub(crate) gateway_public: KeyRingHandle,
}

pub(crate) fn public_ring(keys: &KeyRingHandle) -> KeyRing {
    let ring = keys.current();
    let public: Vec<Key> = ring.iter().filter_map(Key::public_key).collect();
    KeyRing::from_keys(public).expect("distinct kids")
}

/// Starts the five services. With `shared`, the gateway's one Ed25519 node key signs its
/// sessions and its minted tokens; otherwise sessions use an HS256 secret and minting a
/// separate node key.
pub(crate) async fn start(shared: bool) -> Net {
    // Real time, so jsonwebtoken (which reads the system clock) agrees on `exp`.
    let t0 = SystemClock.now();
    let clock = ManualClock::new(t0);
    let mint_keys = KeyRingHandle::new(KeyRing::new(Key::generate_ed25519().expect("rng")));
    let session_keys = if shared {
        mint_keys.clone()
    } else {
        KeyRingHandle::new(KeyRing::generate("session-hs").expect("rng"))
    };
    let gateway_public = KeyRingHandle::new(public_ring(&mint_keys));
    let orders_keys = KeyRingHandle::new(KeyRing::new(Key::generate_ed25519().expect("rng")));

    let profile = start_leaf("profile", gateway_public.clone(), &clock).await;
    let billing = start_leaf("billing", gateway_public.clone(), &clock).await;
    let ledger = start_leaf(
        "ledger",
        KeyRingHandle::new(public_ring(&orders_keys)),
        &clock,
    )
    .await;
    let orders = start_middle(gateway_public.clone(), orders_keys, ledger, &clock).await;

    let minter = Minter::<User>::new("gateway", |u: &User| Some(u.sub.as_str()))
        .expect("valid issuer")
        .with_keys(mint_keys.clone())
        .with_clock(clock.clone())
        .with_lifetime(Duration::from_secs(LIFETIME))
        .with_projection(|u: &User| json!({ "roles": u.roles }));
    let mint_for = |name: &str| http_client(PropagateSessionLayer::mint(minter.clone(), aud(name)));
    let ports = [
        (profile.port(), aud("profile")),
        (billing.port(), aud("billing")),
    ];
    let clients = Clients {
        by_audience: vec![
            ("profile".into(), mint_for("profile"), profile),
            ("billing".into(), mint_for("billing"), billing),
            ("orders".into(), mint_for("orders"), orders),
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
    let routes = Router::new()
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
        .with_state(clients);
    let layer = SessionLayer::<User>::new(session_keys).with_clock(clock.clone());
    let gateway = serve(
        routes
            .clone()
            .layer(layer.clone())
            .into_service::<hyper::body::Incoming>(),
    )
    .await;
    let bearer_gateway = serve(
        routes
            .layer(layer.with_transport(Transport::Bearer))
            .into_service::<hyper::body::Incoming>(),
    )
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
        gateway_public,
    }
}

impl Net {
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
