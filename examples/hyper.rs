//! The session layer around a plain hyper 1 service: no axum, no router, just
//! `SessionLayer::layer(tower::service_fn(handler))` behind a hand-written accept loop.
//!
//! Run it with `cargo run --example hyper` (listens on `127.0.0.1:3000`; `DEMO_ADDR`
//! overrides it, `SESSION_KEYS` supplies the keys as in the `demo` example).
//!
//! | Route                    | Answer                                                      |
//! |--------------------------|-------------------------------------------------------------|
//! | `POST /login?user=NAME`  | Starts a session (200, sets the cookie); 400 for a bad name. |
//! | `GET /me`                | 200 `text/plain` with the user and session id, or 401.      |
//! | `POST /logout`           | Deletes the cookie (200).                                   |
//! | anything else            | 404.                                                        |
//!
//! ```text
//! curl -i -c jar -X POST 'http://127.0.0.1:3000/login?user=ada'
//! curl -i -b jar http://127.0.0.1:3000/me
//! curl -i -b jar -c jar -X POST http://127.0.0.1:3000/logout
//! ```
//!
//! The handler finds the session with [`SessionHandle::from_extensions`]: that is all the
//! layer asks of a non-axum service. It is generic over the request body, so the tests can
//! drive it with `http_body_util::Empty` while the server feeds it `hyper::body::Incoming`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde::{Deserialize, Serialize};
use tower::Layer;
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::trace::TraceLayer;
use tower_stateless_session::server::ResponseBody;
use tower_stateless_session::{Key, KeyRing, SessionHandle, SessionLayer};

const DEFAULT_ADDR: &str = "127.0.0.1:3000";
const KEYS_VAR: &str = "SESSION_KEYS";
const MAX_NAME_CHARS: usize = 64;

/// How long open connections get to finish after Ctrl-C.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The session data: just the user, carried as the token's `sub` claim.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct User {
    sub: String,
}

// ---------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------

/// The handler wrapped by the layer. Never fails: every problem is an HTTP answer.
async fn handler<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: Send + 'static,
{
    Ok(route(&request))
}

/// The whole application, as one synchronous function of the request head.
fn route<B>(request: &Request<B>) -> Response<Full<Bytes>> {
    let Some(session) = SessionHandle::<User>::from_extensions(request.extensions()) else {
        // Only reachable when the handler runs without the layer: a wiring bug.
        return text(StatusCode::INTERNAL_SERVER_ERROR, "session layer missing");
    };
    match (request.method(), request.uri().path()) {
        (&Method::POST, "/login") => login(session, request.uri().query()),
        (&Method::GET, "/me") => me(session),
        (&Method::POST, "/logout") => match session.logout() {
            Ok(()) => text(StatusCode::OK, "logged out"),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

fn login(session: &SessionHandle<User>, query: Option<&str>) -> Response<Full<Bytes>> {
    let Some(raw) = query.and_then(|q| query_param(q, "user")) else {
        return text(
            StatusCode::BAD_REQUEST,
            "expected ?user=NAME (percent-encoded UTF-8)",
        );
    };
    let user = match validate_name(&raw) {
        Ok(user) => user,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    if let Err(e) = session.login(User { sub: user.clone() }) {
        return text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
    }
    let sid = session
        .info()
        .map(|info| info.sid.to_string())
        .unwrap_or_default();
    text(StatusCode::OK, &format!("logged in as {user}\nsid: {sid}"))
}

fn me(session: &SessionHandle<User>) -> Response<Full<Bytes>> {
    match (session.info(), session.with(|u| u.sub.clone())) {
        (Some(info), Some(sub)) => text(StatusCode::OK, &format!("sub: {sub}\nsid: {}", info.sid)),
        _ => text(StatusCode::UNAUTHORIZED, "a valid session is required"),
    }
}

/// A `text/plain` response; the status and body are the only variables, so building it
/// cannot fail.
fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{body}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Checks a user name and returns it trimmed (same rules as the `demo` example).
fn validate_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("user name must not be empty");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err("user name must be at most 64 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("user name must not contain control characters");
    }
    Ok(name.to_owned())
}

/// The first value of `name` in an `application/x-www-form-urlencoded` query, decoded.
/// `None` when it is absent or does not decode to UTF-8.
fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| percent_decode(key).as_deref() == Some(name))
        .and_then(|(_, value)| percent_decode(value))
}

/// Decodes `%XX` escapes and `+` (a space in query strings); `None` for a malformed escape
/// or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(b) = input.next() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hi = char::from(input.next()?).to_digit(16)?;
                let lo = char::from(input.next()?).to_digit(16)?;
                bytes.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            b => bytes.push(b),
        }
    }
    String::from_utf8(bytes).ok()
}

/// The handler behind the session layer: what each connection serves, and what the tests
/// call.
fn service<B>(
    layer: &SessionLayer<User>,
) -> impl tower::Service<
    Request<B>,
    Response = Response<ResponseBody<Full<Bytes>>>,
    Error = Infallible,
    Future: Send,
> + Clone
+ Send
+ 'static
where
    B: Send + 'static,
{
    layer.layer(tower::service_fn(handler::<B>))
}

// ---------------------------------------------------------------------------------------
// Startup
// ---------------------------------------------------------------------------------------

/// The key ring from `SESSION_KEYS`, or a throw-away key (with a warning) when it is unset.
fn load_keys() -> Result<KeyRing, String> {
    if std::env::var_os(KEYS_VAR).is_some() {
        return KeyRing::from_env(KEYS_VAR).map_err(|e| format!("{KEYS_VAR} is invalid: {e}"));
    }
    eprintln!(
        "warning: {KEYS_VAR} is not set, so a random signing key was generated for this run.\n\
         warning: sessions will not survive a restart, and other instances cannot verify them.\n\
         warning: set it as `kid:base64url-secret[,kid:secret...]` (secrets of at least 32\n\
         warning: bytes), for example: export {KEYS_VAR}=\"k1:$(openssl rand -base64 32)\""
    );
    Key::generate_hs256("demo")
        .map(KeyRing::new)
        .map_err(|e| format!("cannot generate a key: {e}"))
}

fn listen_addr() -> Result<SocketAddr, String> {
    let raw = match std::env::var("DEMO_ADDR") {
        Ok(value) => value,
        Err(std::env::VarError::NotPresent) => DEFAULT_ADDR.to_owned(),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err("DEMO_ADDR is not valid Unicode".into());
        }
    };
    raw.trim()
        .parse()
        .map_err(|_| format!("DEMO_ADDR must be an address like {DEFAULT_ADDR}, got {raw:?}"))
}

async fn ctrl_c() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("cannot listen for Ctrl-C ({e}); stop the process another way");
        std::future::pending::<()>().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().init();

    let (addr, keys) = match listen_addr().and_then(|addr| Ok((addr, load_keys()?))) {
        Ok(setup) => setup,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shown = listener.local_addr().unwrap_or(addr);
    println!("hyper example listening on http://{shown}/ (Ctrl-C to stop)");

    let layer = SessionLayer::new(keys);
    // Request logs that never show a token: the headers carrying one print as `Sensitive`.
    let sensitive = layer.sensitive_headers();
    let service = tower::ServiceBuilder::new()
        .layer(SetSensitiveRequestHeadersLayer::new(sensitive.clone()))
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveResponseHeadersLayer::new(sensitive))
        .service(service::<hyper::body::Incoming>(&layer));
    // Every connection task watches this channel and winds down when it fires.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    let mut connections = tokio::task::JoinSet::new();
    let mut stop = std::pin::pin!(ctrl_c());

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let hyper_service = TowerToHyperService::new(service.clone());
        let mut stop_rx = stop_rx.clone();
        connections.spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), hyper_service);
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = stop_rx.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                eprintln!("connection from {peer} ended with an error: {e}");
            }
        });
        // Forget the connections that are already done.
        while connections.try_join_next().is_some() {}
    }

    eprintln!("Ctrl-C received, finishing open connections");
    drop(listener);
    // Sending fails only when no connection is listening, which is fine.
    let _ = stop_tx.send(());
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        eprintln!("some connections did not finish within {DRAIN_TIMEOUT:?}; dropping them");
    }
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    use http_body_util::{BodyExt, Empty};
    use tower::ServiceExt;
    use tower_stateless_session::Key;
    use tower_stateless_session::time::ManualClock;

    fn layer() -> SessionLayer<User> {
        let key = Key::hs256("test", &[9u8; 32]).expect("a 32-byte secret is valid");
        SessionLayer::new(KeyRing::new(key)).with_clock(ManualClock::new(1_800_000_000))
    }

    async fn send(
        layer: &SessionLayer<User>,
        method: Method,
        uri: &str,
        cookie: Option<&str>,
    ) -> Response<ResponseBody<Full<Bytes>>> {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let request = request.body(Empty::<Bytes>::new()).expect("valid request");
        service(layer)
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {})
    }

    async fn body_text(response: Response<ResponseBody<Full<Bytes>>>) -> String {
        let bytes = response
            .into_body()
            .collect()
            .await
            .unwrap_or_else(|never| match never {})
            .to_bytes();
        String::from_utf8(bytes.to_vec()).expect("body is UTF-8")
    }

    fn set_cookie<B>(response: &Response<B>) -> cookie::Cookie<'static> {
        let all: Vec<_> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .collect();
        assert_eq!(all.len(), 1, "expected exactly one Set-Cookie, got {all:?}");
        let text = all[0].to_str().expect("Set-Cookie is ASCII").to_owned();
        cookie::Cookie::parse(text).expect("Set-Cookie parses")
    }

    async fn login(layer: &SessionLayer<User>, user_query: &str) -> String {
        let response = send(
            layer,
            Method::POST,
            &format!("/login?user={user_query}"),
            None,
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "login with {user_query:?} failed"
        );
        let cookie = set_cookie(&response);
        assert_eq!(cookie.name(), "session", "login sets the session cookie");
        format!("{}={}", cookie.name(), cookie.value())
    }

    #[tokio::test]
    async fn login_sets_a_cookie_and_me_names_the_user() {
        let layer = layer();
        let cookie = login(&layer, "Ada%20Lovelace").await;
        let response = send(&layer, Method::GET, "/me", Some(&cookie)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "/me with the cookie is 200"
        );
        let body = body_text(response).await;
        assert!(
            body.contains("sub: Ada Lovelace"),
            "/me names the percent-decoded user, got {body:?}"
        );
        assert!(
            body.contains("sid: "),
            "/me shows the session id, got {body:?}"
        );
    }

    #[tokio::test]
    async fn me_without_a_cookie_is_401() {
        let layer = layer();
        let response = send(&layer, Method::GET, "/me", None).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "/me needs a session"
        );
        let forged = send(&layer, Method::GET, "/me", Some("session=not.a.token")).await;
        assert_eq!(
            forged.status(),
            StatusCode::UNAUTHORIZED,
            "a garbage token is no session"
        );
    }

    #[tokio::test]
    async fn logout_deletes_the_cookie() {
        let layer = layer();
        let cookie = login(&layer, "ada").await;
        let response = send(&layer, Method::POST, "/logout", Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::OK, "logout answers 200");
        let removal = set_cookie(&response);
        assert_eq!(
            removal.name(),
            "session",
            "logout targets the session cookie"
        );
        assert_eq!(
            removal.max_age(),
            Some(cookie::time::Duration::ZERO),
            "logout expires the cookie with Max-Age=0"
        );
    }

    #[tokio::test]
    async fn bad_names_are_400() {
        let layer = layer();
        for uri in [
            "/login",
            "/login?user=",
            "/login?user=%20%20",
            "/login?user=a%07b",
            "/login?user=%ZZ",
            "/login?user=%FF",
            "/login?name=ada",
        ] {
            let response = send(&layer, Method::POST, uri, None).await;
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "{uri} should be refused"
            );
            assert!(
                response.headers().get(header::SET_COOKIE).is_none(),
                "{uri} must not start a session"
            );
        }
        let too_long = format!("/login?user={}", "x".repeat(MAX_NAME_CHARS + 1));
        let response = send(&layer, Method::POST, &too_long, None).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "65 characters are too many"
        );
    }

    #[tokio::test]
    async fn unknown_routes_are_404() {
        let layer = layer();
        for (method, uri) in [
            (Method::GET, "/nope"),
            (Method::GET, "/login?user=ada"),
            (Method::POST, "/me"),
        ] {
            let response = send(&layer, method.clone(), uri, None).await;
            assert_eq!(
                response.status(),
                StatusCode::NOT_FOUND,
                "{method} {uri} should be 404"
            );
        }
    }

    #[test]
    fn query_param_decodes_percent_and_plus() {
        assert_eq!(
            query_param("a=1&user=J%C3%BCrgen+K", "user").as_deref(),
            Some("Jürgen K"),
            "UTF-8 escapes and '+' decode"
        );
        assert_eq!(
            query_param("user", "user").as_deref(),
            Some(""),
            "a bare key is empty"
        );
        assert_eq!(
            query_param("user=%4", "user"),
            None,
            "a truncated escape is refused"
        );
    }
}
