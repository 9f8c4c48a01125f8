//! Propagation end to end over real sockets: a gateway with the cookie layer calls a
//! downstream service in verify-only mode through `PropagateSessionLayer`.

use std::time::Duration;

use crate::common::*;
use axum::Json;
use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tower::ServiceBuilder;
use tower_stateless_session::propagate::{PropagateSession, PropagateSessionLayer};
use tower_stateless_session::server::SessionToken;
use tower_stateless_session::{KeyRing, KeyRingHandle, Session, SessionHandle, SessionLayer};

type Downstream = PropagateSession<Client<HttpConnector, Empty<Bytes>>>;

fn client() -> Downstream {
    let client = Client::builder(TokioExecutor::new()).build_http();
    ServiceBuilder::new()
        .layer(PropagateSessionLayer::forward())
        .service(client)
}

/// GET `url` through the propagating client, with `token` in the request's extensions;
/// status and JSON body.
async fn call(client: Downstream, url: &str, token: Option<SessionToken>) -> (StatusCode, Value) {
    let mut request = Request::get(url)
        .body(Empty::<Bytes>::new())
        .expect("request");
    if let Some(token) = token {
        request.extensions_mut().insert(token);
    }
    call_json(client, request).await
}

/// The downstream service: verify-only, Bearer in.
async fn start_downstream(
    keys: KeyRingHandle,
    clock: tower_stateless_session::time::ManualClock,
) -> String {
    let app = Router::new()
        .route(
            "/whoami",
            get(|s: Session<User>| async move {
                let info = s.info().expect("active");
                Json(json!({
                    "sub": s.with(|u| u.sub.clone()),
                    "sid": info.sid.to_string(),
                    "iat": info.issued_at,
                }))
            }),
        )
        .route(
            "/headers",
            get(|s: Session<User>, headers: HeaderMap| async move {
                let _ = s;
                Json(json!({
                    "cookie": headers.contains_key(http::header::COOKIE),
                    "authorization": headers.contains_key(http::header::AUTHORIZATION),
                }))
            }),
        )
        .layer(SessionLayer::<User>::verify_only(keys).with_clock(clock));
    let addr = serve(app.into_service::<hyper::body::Incoming>()).await;
    format!("http://{addr}")
}

/// The gateway: cookie sessions, calls the downstream.
async fn start_gateway(layer: SessionLayer<User>, downstream: String) -> std::net::SocketAddr {
    let whoami = format!("{downstream}/whoami");
    let headers_url = format!("{downstream}/headers");
    let app = routes()
        .route(
            "/profile",
            get({
                let url = whoami.clone();
                move |_: Session<User>| async move {
                    let (status, body) = call(client(), &url, None).await;
                    (status, Json(json!({ "downstream": body })))
                }
            }),
        )
        .route(
            "/profile-spawned",
            get({
                let url = whoami.clone();
                move |session: Session<User>| async move {
                    // Work on another task leaves the request's scope: pass the token.
                    let token = session.token();
                    let task = tokio::spawn(async move { call(client(), &url, token).await });
                    let (status, body) = task.await.expect("task");
                    (status, Json(json!({ "downstream": body })))
                }
            }),
        )
        .route(
            "/profile-spawned-scoped",
            get({
                let url = whoami.clone();
                move |session: Session<User>| async move {
                    let token = session.token().expect("a session has a token");
                    let task =
                        tokio::spawn(token.scope(async move { call(client(), &url, None).await }));
                    let (status, body) = task.await.expect("task");
                    (status, Json(json!({ "downstream": body })))
                }
            }),
        )
        .route(
            "/profile-spawned-bare",
            get({
                let url = whoami.clone();
                move |_: Session<User>| async move {
                    let task = tokio::spawn(async move { call(client(), &url, None).await });
                    let (status, _) = task.await.expect("task");
                    status.as_u16().to_string()
                }
            }),
        )
        .route(
            "/login-and-call",
            axum::routing::post({
                let url = whoami.clone();
                move |session: SessionHandle<User>| async move {
                    session.login(user("fresh")).expect("login");
                    let (status, body) = call(client(), &url, None).await;
                    (status, Json(json!({ "downstream": body })))
                }
            }),
        )
        .route(
            "/headers",
            get(move |_: Session<User>| async move {
                let (_, body) = call(client(), &headers_url, None).await;
                Json(body)
            }),
        )
        .layer(layer);
    serve(app.into_service::<hyper::body::Incoming>()).await
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn pair_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(http::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_travels_to_the_downstream_and_back() {
    let f = fixture();
    let downstream = start_downstream(f.keys.clone(), f.clock.clone()).await;
    let gateway = start_gateway(f.layer.clone(), downstream.clone()).await;

    let (status, headers, _) = fetch(gateway, "POST", "/login/ada", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = pair_of(&headers).expect("login sets a cookie");

    let (status, _, body) = fetch(gateway, "GET", "/profile", &[("cookie", &cookie)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body = json_of(&body);
    assert_eq!(
        body["downstream"]["sub"], "ada",
        "the downstream sees the user: {body}"
    );

    // Directly, without a token, the downstream refuses.
    let (status, _) = call(client(), &format!("{downstream}/whoami"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The browser's Cookie header is not forwarded; the bearer token is.
    let (_, _, body) = fetch(gateway, "GET", "/headers", &[("cookie", &cookie)]).await;
    let body = json_of(&body);
    assert_eq!(body["cookie"], false, "{body}");
    assert_eq!(body["authorization"], true, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refreshed_token_is_the_one_propagated() {
    let f = fixture();
    let downstream = start_downstream(f.keys.clone(), f.clock.clone()).await;
    let gateway = start_gateway(f.layer.clone(), downstream).await;
    let (_, headers, _) = fetch(gateway, "POST", "/login/ada", &[]).await;
    let cookie = pair_of(&headers).expect("cookie");

    f.clock.advance(Duration::from_secs(REFRESH + 5));
    let (status, headers, body) = fetch(gateway, "GET", "/profile", &[("cookie", &cookie)]).await;
    assert_eq!(status, StatusCode::OK);
    let body = json_of(&body);
    assert_eq!(
        body["downstream"]["iat"],
        T0 + REFRESH + 5,
        "the downstream got the token signed in this request, not the old one: {body}"
    );
    let refreshed = pair_of(&headers).expect("the client gets the refreshed token too");
    let token = refreshed.split_once('=').expect("pair").1;
    let claims = f.layer.codec().verify::<User>(token).expect("valid").claims;
    assert_eq!(
        claims.iat,
        T0 + REFRESH + 5,
        "client and downstream share one token"
    );

    // After a login inside the request, the new session is the one propagated.
    let (status, _, body) = fetch(gateway, "POST", "/login-and-call", &[("cookie", &cookie)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&body)["downstream"]["sub"], "fresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_propagate_through_the_explicit_token() {
    let f = fixture();
    let downstream = start_downstream(f.keys.clone(), f.clock.clone()).await;
    let gateway = start_gateway(f.layer.clone(), downstream).await;
    let (_, headers, _) = fetch(gateway, "POST", "/login/ada", &[]).await;
    let cookie = pair_of(&headers).expect("cookie");

    for path in ["/profile-spawned", "/profile-spawned-scoped"] {
        let (status, _, body) = fetch(gateway, "GET", path, &[("cookie", &cookie)]).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(json_of(&body)["downstream"]["sub"], "ada", "{path}");
    }
    // Without the explicit token a spawned task has no session: nothing leaks across tasks.
    let (_, _, body) = fetch(
        gateway,
        "GET",
        "/profile-spawned-bare",
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(body, "401");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downstream_refuses_a_token_signed_with_a_key_it_does_not_hold() {
    let f = fixture();
    let other_keys = KeyRingHandle::new(KeyRing::new(key("k-downstream-only")));
    let downstream = start_downstream(other_keys, f.clock.clone()).await;
    let gateway = start_gateway(f.layer.clone(), downstream).await;
    let (_, headers, _) = fetch(gateway, "POST", "/login/ada", &[]).await;
    let cookie = pair_of(&headers).expect("cookie");
    let (status, _, body) = fetch(gateway, "GET", "/profile", &[("cookie", &cookie)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let body = json_of(&body);
    let text = body["downstream"]["text"].as_str().unwrap_or_default();
    assert_eq!(
        text, "401 Unauthorized: a valid session is required\n",
        "the downstream does not say which check failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eddsa_session_travels_to_a_downstream_holding_only_the_public_key() {
    let node_key =
        tower_stateless_session::Key::ed25519_from_seed("node-1", &[0x33; 32]).expect("seed");
    let clock = tower_stateless_session::time::ManualClock::new(T0);
    let layer = SessionLayer::<User>::new(KeyRing::new(node_key.clone()))
        .with_clock(clock.clone())
        .with_idle_timeout(Duration::from_secs(IDLE))
        .with_refresh_after(Duration::from_secs(REFRESH));
    let public = KeyRingHandle::new(KeyRing::new(node_key.public_key().expect("Ed25519")));
    let downstream = start_downstream(public, clock.clone()).await;
    let gateway = start_gateway(layer, downstream).await;

    let (_, headers, _) = fetch(gateway, "POST", "/login/ada", &[]).await;
    let cookie = pair_of(&headers).expect("cookie");
    let (status, _, body) = fetch(gateway, "GET", "/profile", &[("cookie", &cookie)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json_of(&body)["downstream"]["sub"], "ada");

    // A due refresh: the freshly signed EdDSA token is the one propagated.
    clock.advance(Duration::from_secs(REFRESH + 1));
    let (status, headers, body) = fetch(gateway, "GET", "/profile", &[("cookie", &cookie)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json_of(&body)["downstream"]["iat"], T0 + REFRESH + 1);
    assert!(pair_of(&headers).is_some(), "the client gets it too");
}
