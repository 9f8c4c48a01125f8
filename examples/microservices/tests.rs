//! The example end to end: real sockets, both signing modes, both propagation modes.

use std::collections::HashMap;

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

fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_vars(|name| vars.get(name).cloned())
}

fn test_session_keys() -> Result<KeyRing, String> {
    Key::generate_hs256("test")
        .map(KeyRing::new)
        .map_err(|e| e.to_string())
}

/// Starts the downstream, then the gateway pointed at it (`DOWNSTREAM_URL` as it would be
/// set for a downstream elsewhere).
async fn start(vars: &[(&str, &str)]) -> (SocketAddr, SocketAddr) {
    let started = start_counting(vars).await;
    (started.gateway, started.downstream)
}

/// What [`start_counting`] started.
struct Started {
    gateway: SocketAddr,
    downstream: SocketAddr,
    keys: Keys,
    /// Requests the gateway received for its JWKS.
    jwks_requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// As [`start`], counting the gateway's JWKS requests and keeping the keys.
async fn start_counting(vars: &[(&str, &str)]) -> Started {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let mut config = config(vars).expect("valid settings");
    // The gateway's port first: the downstream fetches its JWKS there.
    let gateway_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let gateway = gateway_listener.local_addr().expect("addr");
    config.gateway_jwks_url = format!("http://{gateway}/.well-known/jwks.json");
    let keys = make_keys(&config, test_session_keys).expect("keys");
    let downstream = spawn(downstream_app(&config, &keys)).await;
    config.downstream_url = format!("http://{downstream}").parse().expect("url");
    let jwks_requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&jwks_requests);
    let app =
        gateway_app(&config, &keys)
            .expect("gateway")
            .layer(tower::util::MapRequestLayer::new(
                move |request: axum::extract::Request| {
                    if request.uri().path() == "/.well-known/jwks.json" {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    request
                },
            ));
    tokio::spawn(async move { axum::serve(gateway_listener, app).await });
    Started {
        gateway,
        downstream,
        keys,
        jwks_requests,
    }
}

fn cookie_of(headers: &HeaderMap) -> String {
    headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a Set-Cookie")
        .to_owned()
}

async fn login(gateway: SocketAddr, user: &str) -> String {
    let (status, headers, body) = send(
        gateway,
        "POST",
        "/login",
        &[("content-type", "application/json")],
        &format!(r#"{{"user":"{user}"}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    cookie_of(&headers)
}

async fn profile_of(gateway: SocketAddr, cookie: &str) -> Value {
    let (status, _, body) = send(gateway, "GET", "/profile", &[("cookie", cookie)], "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

#[tokio::test]
async fn the_downstream_answers_the_minted_claims_it_verified() {
    for signing in ["hs256", "node"] {
        let (gateway, _) = start(&[("SESSION_SIGNING", signing)]).await;
        let cookie = login(gateway, "ada").await;
        let value = profile_of(gateway, &cookie).await;
        let down = &value["downstream"];
        assert_eq!(down["sub"], "ada", "{signing}: {value}");
        assert_eq!(down["aud"], "profile", "{signing}: {value}");
        assert_eq!(down["iss"], "gateway");
        assert_eq!(down["roles"], json!(["reader"]));
        let (iat, exp) = (down["iat"].as_u64(), down["exp"].as_u64());
        assert_eq!(exp.zip(iat).map(|(e, i)| e - i), Some(60), "{value}");
        assert_eq!(
            down["sid"], value["gateway"]["sid"],
            "one session across both services: {value}"
        );
    }
}

#[tokio::test]
async fn the_audience_is_configurable_and_forwarding_is_a_choice() {
    let (gateway, _) = start(&[("DOWNSTREAM_AUDIENCE", "accounts")]).await;
    let cookie = login(gateway, "bob").await;
    assert_eq!(
        profile_of(gateway, &cookie).await["downstream"]["aud"],
        "accounts"
    );

    for signing in ["hs256", "node"] {
        let (gateway, _) = start(&[("PROPAGATION", "forward"), ("SESSION_SIGNING", signing)]).await;
        let cookie = login(gateway, "bob").await;
        let value = profile_of(gateway, &cookie).await;
        assert_eq!(value["downstream"]["sub"], "bob", "{signing}: {value}");
        assert_eq!(
            value["downstream"]["aud"],
            Value::Null,
            "a session token names no audience"
        );
    }
}

#[tokio::test]
async fn form_login_works_too() {
    let (gateway, _) = start(&[]).await;
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
async fn the_downstream_refuses_no_token_and_the_session_token() {
    let (gateway, downstream) = start(&[]).await;
    let (status, _, _) = send(downstream, "GET", "/whoami", &[], "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(gateway, "GET", "/profile", &[], "").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the gateway needs a session too"
    );

    let cookie = login(gateway, "ada").await;
    let bearer = format!("Bearer {}", cookie.split_once('=').expect("pair").1);
    let (status, _, _) = send(
        downstream,
        "GET",
        "/whoami",
        &[("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a session token is not a minted token"
    );
}

#[tokio::test]
async fn a_downstream_with_another_gateways_key_refuses() {
    let config = config(&[]).expect("valid settings");
    let ours = make_keys(&config, test_session_keys).expect("keys");
    // Another gateway, whose JWKS the downstream trusts.
    let their_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let their_gateway = their_listener.local_addr().expect("addr");
    let their_config = Config {
        gateway_jwks_url: format!("http://{their_gateway}/.well-known/jwks.json"),
        ..config.clone()
    };
    let theirs = make_keys(&their_config, test_session_keys).expect("keys");
    let their_app = gateway_app(&their_config, &theirs).expect("gateway");
    tokio::spawn(async move { axum::serve(their_listener, their_app).await });
    let downstream = spawn(downstream_app(&their_config, &theirs)).await;
    let config = Config {
        downstream_url: format!("http://{downstream}").parse().expect("url"),
        ..config
    };
    let gateway = spawn(gateway_app(&config, &ours).expect("gateway")).await;
    let cookie = login(gateway, "ada").await;
    let (status, _, body) = send(gateway, "GET", "/profile", &[("cookie", &cookie)], "").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains(r#""status":401"#), "{body}");
}

#[test]
fn settings_default_and_bad_ones_are_reported() {
    let default = config(&[]).expect("defaults");
    assert_eq!(
        default.gateway_addr,
        "127.0.0.1:3000".parse().expect("addr")
    );
    assert_eq!(
        default.downstream_addr,
        "127.0.0.1:3001".parse().expect("addr")
    );
    assert_eq!(default.downstream_url, "http://127.0.0.1:3001");
    assert_eq!(default.audience.as_str(), "profile");
    assert_eq!(
        (default.signing, default.propagation),
        (Signing::Hs256, Propagation::Mint)
    );
    let cases = [
        (
            ("DEMO_ADDR", "nope"),
            r#"DEMO_ADDR must be an address like 127.0.0.1:3000, got "nope""#,
        ),
        (
            ("DOWNSTREAM_URL", "ftp://x"),
            r#"DOWNSTREAM_URL must be an http:// URL, got "ftp://x""#,
        ),
        (
            ("DOWNSTREAM_AUDIENCE", "two words"),
            "DOWNSTREAM_AUDIENCE: invalid downstream token audience: only visible ASCII \
             characters are allowed (no spaces)",
        ),
        (
            ("SESSION_SIGNING", "rsa"),
            r#"SESSION_SIGNING must be hs256 or node, got "rsa""#,
        ),
        (
            ("PROPAGATION", "copy"),
            r#"PROPAGATION must be mint or forward, got "copy""#,
        ),
    ];
    for (var, expected) in cases {
        assert_eq!(
            config(&[var]).map(|_| ()),
            Err(expected.to_owned()),
            "{var:?}"
        );
    }
}

#[tokio::test]
async fn the_gateway_serves_its_public_key_and_never_a_session_secret() {
    for signing in ["hs256", "node"] {
        let (gateway, _) = start(&[("SESSION_SIGNING", signing)]).await;
        let (status, headers, body) = send(gateway, "GET", "/.well-known/jwks.json", &[], "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        let jwks: Value = serde_json::from_str(&body).expect("JSON");
        let keys = jwks["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 1, "{signing}: the node key only: {body}");
        assert_eq!(keys[0]["kty"], "OKP");
        assert!(
            keys[0].get("k").is_none() && keys[0].get("d").is_none(),
            "{body}"
        );
    }
}

#[test]
fn the_jwks_url_follows_the_gateway_address_unless_set() {
    let default = config(&[]).expect("valid");
    assert_eq!(
        default.gateway_jwks_url,
        "http://127.0.0.1:3000/.well-known/jwks.json"
    );
    let moved = config(&[("DEMO_ADDR", "127.0.0.1:4000")]).expect("valid");
    assert_eq!(
        moved.gateway_jwks_url,
        "http://127.0.0.1:4000/.well-known/jwks.json"
    );
    let set = config(&[("GATEWAY_JWKS_URL", "http://gw.internal/jwks")]).expect("valid");
    assert_eq!(set.gateway_jwks_url, "http://gw.internal/jwks");
}

/// With `--features jwks` (the recommended deployment) the downstream holds no key it was
/// given: its ring is what it fetched from the gateway's JWKS, the node key's public half.
#[cfg(feature = "jwks")]
#[tokio::test]
async fn with_jwks_the_downstream_verifies_minted_tokens_through_the_gateways_jwks() {
    use std::sync::atomic::Ordering;

    for signing in ["hs256", "node"] {
        let started = start_counting(&[("SESSION_SIGNING", signing)]).await;
        let cookie = login(started.gateway, "ada").await;
        let value = profile_of(started.gateway, &cookie).await;
        assert_eq!(value["downstream"]["aud"], "profile", "{signing}: {value}");
        assert!(
            started.jwks_requests.load(Ordering::SeqCst) >= 1,
            "{signing}: the downstream fetched the gateway's JWKS"
        );
        let ring = started.keys.downstream.current();
        assert_eq!(
            ring.kids().collect::<Vec<_>>(),
            [started.keys.node.kid()],
            "{signing}: the node key, as fetched"
        );
        assert!(
            ring.iter().all(|key| !key.can_sign()),
            "{signing}: public keys only"
        );
        if signing == "hs256" {
            let session_kid = started
                .keys
                .sessions
                .current()
                .issuing_key()
                .expect("an issuing key")
                .kid()
                .to_owned();
            assert!(
                ring.get(&session_kid).is_none(),
                "the session secret never reaches the downstream"
            );
        }
    }
}

/// Without the feature, the downstream gets the node key's public half in-process (both
/// services run here) and never asks the gateway for it.
#[cfg(not(feature = "jwks"))]
#[tokio::test]
async fn without_jwks_the_downstream_holds_the_public_key_passed_in_process() {
    use std::sync::atomic::Ordering;

    let started = start_counting(&[("SESSION_SIGNING", "node")]).await;
    let cookie = login(started.gateway, "ada").await;
    let value = profile_of(started.gateway, &cookie).await;
    assert_eq!(value["downstream"]["aud"], "profile", "{value}");
    assert_eq!(started.jwks_requests.load(Ordering::SeqCst), 0);
    let ring = started.keys.downstream.current();
    assert_eq!(ring.kids().collect::<Vec<_>>(), [started.keys.node.kid()]);
    assert!(ring.iter().all(|key| !key.can_sign()));
}

/// The downstream's `/health`: with `--features jwks` its ring comes from the gateway's JWKS,
/// and the check says whether the set is fetched.
#[tokio::test]
async fn the_downstream_reports_its_health() {
    let (gateway, downstream) = start(&[]).await;
    // A first call: with the JWKS, the downstream has fetched the set by its answer.
    let cookie = login(gateway, "ada").await;
    profile_of(gateway, &cookie).await;
    let (status, headers, body) = send(downstream, "GET", "/health", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let report: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(report["status"], "ok", "{body}");
    if cfg!(feature = "jwks") {
        assert_eq!(report["checks"]["jwks"]["status"], "ok", "{body}");
    } else {
        assert_eq!(report["checks"], serde_json::json!({}), "{body}");
    }
}
