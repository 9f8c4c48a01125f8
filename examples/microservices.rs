//! A gateway and a downstream service sharing one stateless session.
//!
//! ```text
//! cargo run --example microservices
//! ```
//!
//! starts two servers in one process:
//!
//! | service    | address (env override)                | layer                                   |
//! |------------|---------------------------------------|-----------------------------------------|
//! | gateway    | `127.0.0.1:3000` (`DEMO_ADDR`)        | `SessionLayer` with cookies             |
//! | downstream | `127.0.0.1:3001` (`DOWNSTREAM_ADDR`)  | `SessionLayer::verify_only` (Bearer in) |
//!
//! Both read their keys from `SESSION_KEYS` (`kid:base64url-secret[,...]`); without it one
//! random key is generated and shared by the two (in a real deployment each service loads the
//! same keys from its own configuration, and the downstream needs only the verifying ones).
//!
//! Routes of the gateway: `POST /login` (JSON `{"user":"NAME"}` or form field `user`), and
//! `GET /profile`, which calls the downstream's `GET /whoami` through an HTTP client wrapped
//! in `PropagateSessionLayer` and answers `{"gateway": {...}, "downstream": {...}}`. The
//! downstream's `/whoami` needs the token: called directly without one it answers 401.
//!
//! ```text
//! curl -c jar -H 'content-type: application/json' -d '{"user":"ada"}' http://127.0.0.1:3000/login
//! curl -b jar http://127.0.0.1:3000/profile
//! curl -i http://127.0.0.1:3001/whoami          # 401: no token
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
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
use tower_stateless_session::{
    KeyRing, KeyRingHandle, PropagateSession, PropagateSessionLayer, Session, SessionError,
    SessionHandle, SessionLayer,
};

/// The session data: the user name travels as the standard `sub` claim.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    sub: String,
}

/// The HTTP client the gateway calls the downstream with: hyper-util's pooled client,
/// wrapped so every call carries the current session token.
type DownstreamClient = PropagateSession<Client<HttpConnector, Empty<Bytes>>>;

#[derive(Clone)]
struct Gateway {
    client: DownstreamClient,
    whoami: String,
}

/// The largest downstream answer the gateway reads.
const MAX_DOWNSTREAM_BODY: usize = 64 * 1024;

fn downstream_client() -> DownstreamClient {
    let client = Client::builder(TokioExecutor::new())
        // Keep enough idle connections for the concurrency you expect (about twice it):
        // a smaller pool closes and reopens connections under load.
        .pool_max_idle_per_host(32)
        .build_http();
    ServiceBuilder::new()
        .layer(PropagateSessionLayer::new())
        .service(client)
}

/// The gateway: cookie sessions, `POST /login`, `GET /profile`.
fn gateway_app(keys: KeyRingHandle, downstream: SocketAddr) -> Router {
    let layer = SessionLayer::<Claims>::new(keys);
    let sensitive = layer.sensitive_headers();
    let state = Gateway {
        client: downstream_client(),
        whoami: format!("http://{downstream}/whoami"),
    };
    let app = Router::new()
        .route("/login", post(login))
        .route("/profile", get(profile))
        .with_state(state)
        .layer(layer);
    logged(app, sensitive)
}

/// The downstream: verify-only, reads `Authorization: Bearer`, never signs.
fn downstream_app(keys: KeyRingHandle) -> Router {
    let layer = SessionLayer::<Claims>::verify_only(keys);
    let sensitive = layer.sensitive_headers();
    logged(
        Router::new().route("/whoami", get(whoami)).layer(layer),
        sensitive,
    )
}

/// Logs every request and response, with the headers that carry session tokens (cookies,
/// `Authorization`) marked sensitive so they print as `Sensitive`, never as tokens.
fn logged(app: Router, sensitive: Vec<http::HeaderName>) -> Router {
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
async fn login(session: SessionHandle<Claims>, request: Request) -> Response {
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
    match session.login(Claims { sub: user.clone() }) {
        Ok(info) => Json(json!({ "sub": user, "sid": info.sid.to_string() })).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /profile`: the gateway's view and the downstream's, fetched with the propagated
/// token. The call runs in the handler's task, so the client layer finds the token itself.
async fn profile(State(gateway): State<Gateway>, session: Session<Claims>) -> Response {
    let gateway_view = json!({
        "sub": session.with(|c| c.sub.clone()),
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
        Err(message) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({ "error": message })),
        )
            .into_response(),
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

/// `GET /whoami` on the downstream: 401 from the layer without a valid token.
async fn whoami(session: Session<Claims>) -> Result<Json<Value>, SessionError> {
    let info = session.info().ok_or(SessionError::NoSession)?;
    Ok(Json(json!({
        "sub": session.with(|c| c.sub.clone()),
        "sid": info.sid.to_string(),
        "iat": info.issued_at,
        "exp": info.expires_at,
        "auth_time": info.auth_time,
    })))
}

fn parse_addr(name: &str, default: &str) -> Result<SocketAddr, String> {
    parse_addr_value(name, std::env::var(name).ok(), default)
}

fn parse_addr_value(name: &str, raw: Option<String>, default: &str) -> Result<SocketAddr, String> {
    let raw = raw.unwrap_or_else(|| default.to_owned());
    raw.parse()
        .map_err(|_| format!("{name} must be an address like {default}, got {raw:?}"))
}

fn load_keys() -> Result<KeyRing, String> {
    match std::env::var_os("SESSION_KEYS") {
        Some(_) => KeyRing::from_env("SESSION_KEYS").map_err(|e| format!("SESSION_KEYS: {e}")),
        None => {
            eprintln!(
                "warning: SESSION_KEYS is not set; both services share a random key that dies \
                 with this process. Set SESSION_KEYS=\"kid:<base64url secret of 32+ bytes>\"."
            );
            KeyRing::generate("microservices").map_err(|e| e.to_string())
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
    let gateway_addr = parse_addr("DEMO_ADDR", "127.0.0.1:3000")?;
    let downstream_addr = parse_addr("DOWNSTREAM_ADDR", "127.0.0.1:3001")?;
    let keys = KeyRingHandle::new(load_keys()?);

    let downstream = tokio::net::TcpListener::bind(downstream_addr)
        .await
        .map_err(|e| format!("cannot listen on {downstream_addr}: {e}"))?;
    let gateway = tokio::net::TcpListener::bind(gateway_addr)
        .await
        .map_err(|e| format!("cannot listen on {gateway_addr}: {e}"))?;
    println!("gateway    on http://{gateway_addr}  (POST /login, GET /profile)");
    println!("downstream on http://{downstream_addr}  (GET /whoami, Bearer token required)");

    let down = tokio::spawn(serve(downstream, downstream_app(keys.clone())));
    serve(gateway, gateway_app(keys, downstream_addr)).await?;
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
mod tests {
    use super::*;

    async fn spawn(app: Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    async fn send(
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, HeaderMap, String) {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(connection);
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(http_body_util::Full::new(Bytes::from(body.to_owned())))
            .expect("request");
        let response = sender.send_request(request).await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    async fn start() -> (SocketAddr, SocketAddr) {
        let keys = KeyRingHandle::new(KeyRing::generate("test").expect("rng"));
        let downstream = spawn(downstream_app(keys.clone())).await;
        let gateway = spawn(gateway_app(keys, downstream)).await;
        (gateway, downstream)
    }

    fn cookie_of(headers: &HeaderMap) -> String {
        headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("a Set-Cookie")
            .to_owned()
    }

    #[tokio::test]
    async fn profile_shows_the_downstream_view_of_the_same_session() {
        let (gateway, _) = start().await;
        let (status, headers, body) = send(
            gateway,
            "POST",
            "/login",
            &[("content-type", "application/json")],
            r#"{"user":"ada"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let cookie = cookie_of(&headers);
        let (status, _, body) = send(gateway, "GET", "/profile", &[("cookie", &cookie)], "").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let value: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(value["downstream"]["sub"], "ada", "{value}");
        assert_eq!(
            value["downstream"]["sid"], value["gateway"]["sid"],
            "one session across both services: {value}"
        );
    }

    #[tokio::test]
    async fn form_login_works_too() {
        let (gateway, _) = start().await;
        let (status, headers, _) = send(
            gateway,
            "POST",
            "/login",
            &[("content-type", "application/x-www-form-urlencoded")],
            "user=bob",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let cookie = cookie_of(&headers);
        let (_, _, body) = send(gateway, "GET", "/profile", &[("cookie", &cookie)], "").await;
        assert!(body.contains(r#""sub":"bob""#), "{body}");
    }

    #[tokio::test]
    async fn the_downstream_refuses_calls_without_a_token() {
        let (gateway, downstream) = start().await;
        let (status, _, _) = send(downstream, "GET", "/whoami", &[], "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _, _) = send(gateway, "GET", "/profile", &[], "").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "the gateway needs a session too"
        );
    }

    #[tokio::test]
    async fn a_downstream_with_other_keys_refuses_the_gateway_token() {
        let gateway_keys = KeyRingHandle::new(KeyRing::generate("gw").expect("rng"));
        let other_keys = KeyRingHandle::new(KeyRing::generate("other").expect("rng"));
        let downstream = spawn(downstream_app(other_keys)).await;
        let gateway = spawn(gateway_app(gateway_keys, downstream)).await;
        let (_, headers, _) = send(
            gateway,
            "POST",
            "/login",
            &[("content-type", "application/json")],
            r#"{"user":"ada"}"#,
        )
        .await;
        let cookie = cookie_of(&headers);
        let (status, _, body) = send(gateway, "GET", "/profile", &[("cookie", &cookie)], "").await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(body.contains(r#""status":401"#), "{body}");
    }

    #[test]
    fn addresses_default_and_bad_ones_are_reported() {
        let default = parse_addr_value("DEMO_ADDR", None, "127.0.0.1:3000");
        assert_eq!(default, Ok("127.0.0.1:3000".parse().expect("addr")));
        let bad = parse_addr_value("DEMO_ADDR", Some("nope".into()), "127.0.0.1:3000");
        assert_eq!(
            bad,
            Err(r#"DEMO_ADDR must be an address like 127.0.0.1:3000, got "nope""#.to_owned())
        );
    }
}
