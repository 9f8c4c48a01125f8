//! The example end to end, with real tonic servers and clients on loopback: the minted
//! token accepted, and every other caller refused as `UNAUTHENTICATED` by the layer's own
//! gRPC answer (its `grpc-message`, not tonic's guess from an HTTP status).

use std::time::Duration;

use serde_json::Value;

use super::*;

/// The layer's `grpc-message` for a refused session.
const REFUSED: &str = "a valid session is required";

/// What [`start`] started.
struct Started {
    gateway: SocketAddr,
    grpc: SocketAddr,
    _keys: Keys,
}

/// Starts the gRPC service (audience `profile`) and a gateway whose calls mint for
/// `minting_for`, each on a free loopback port.
async fn start(minting_for: &str) -> Started {
    let gateway_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let gateway = gateway_listener.local_addr().expect("addr");
    let grpc = grpc_listener.local_addr().expect("addr");
    let config = Config::from_vars(|name| match name {
        "DEMO_ADDR" => Some(gateway.to_string()),
        "GRPC_ADDR" => Some(grpc.to_string()),
        _ => None,
    })
    .expect("settings");
    let keys = make_keys(KeyRing::new(Key::generate_hs256("test").expect("key"))).expect("keys");
    let layer = grpc_layer(&config, grpc_keys(&config).expect("jwks"));
    tokio::spawn(serve_grpc(grpc_listener, layer, std::future::pending()));
    let audience = Audience::new(minting_for).expect("audience");
    let app = gateway_app(&config, &keys, audience).expect("gateway");
    tokio::spawn(async move { axum::serve(gateway_listener, app).await });
    Started {
        gateway,
        grpc,
        _keys: keys,
    }
}

/// One HTTP/1 request to the gateway.
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
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_owned(),
        )))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// Logs `user` in at the gateway: the session cookie's `name=token`.
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
    headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a Set-Cookie")
        .to_owned()
}

/// A plain tonic client of the gRPC service (no minting layer), with `authorization`
/// set when given.
async fn call_directly(
    grpc: SocketAddr,
    authorization: Option<&str>,
) -> Result<WhoAmIReply, tonic::Status> {
    let channel = Endpoint::from_shared(format!("http://{grpc}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect to the gRPC service");
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.expect("ready");
    let mut request = tonic::Request::new(WhoAmIRequest {});
    if let Some(value) = authorization {
        request
            .metadata_mut()
            .insert("authorization", value.parse().expect("metadata"));
    }
    client
        .unary(
            request,
            PathAndQuery::from_static(WHO_AM_I),
            ProstCodec::<WhoAmIRequest, WhoAmIReply>::default(),
        )
        .await
        .map(tonic::Response::into_inner)
}

fn assert_unauthenticated(result: Result<WhoAmIReply, tonic::Status>, what: &str) {
    let status = result.expect_err(what);
    assert_eq!(
        status.code(),
        tonic::Code::Unauthenticated,
        "{what}: {status:?}"
    );
    assert_eq!(
        status.message(),
        REFUSED,
        "{what}: the layer's own grpc-status and grpc-message, not a status tonic inferred \
         from an HTTP error"
    );
}

#[tokio::test]
async fn a_minted_token_is_accepted_and_its_claims_reach_the_handler() {
    let started = start("profile").await;
    let cookie = login(started.gateway, "ada").await;
    let (status, _, body) = send(
        started.gateway,
        "GET",
        "/profile",
        &[("cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    let downstream = &body["downstream"];
    assert_eq!(downstream["sub"], "ada", "{body}");
    assert_eq!(downstream["aud"], json!(["profile"]), "{body}");
    assert_eq!(downstream["iss"], "gateway", "{body}");
    assert_eq!(downstream["roles"], json!(["reader"]), "{body}");
    assert!(
        downstream["exp"].as_u64() > downstream["iat"].as_u64(),
        "{body}"
    );
}

#[tokio::test]
async fn the_browsers_session_token_is_refused_as_unauthenticated() {
    let started = start("profile").await;
    let cookie = login(started.gateway, "ada").await;
    let token = cookie.split_once('=').expect("name=token").1;
    let result = call_directly(started.grpc, Some(&format!("Bearer {token}"))).await;
    assert_unauthenticated(result, "the session token");
}

#[tokio::test]
async fn no_token_is_unauthenticated_not_a_transport_error() {
    let started = start("profile").await;
    assert_unauthenticated(call_directly(started.grpc, None).await, "no token");
    assert_unauthenticated(
        call_directly(started.grpc, Some("Bearer not.a.token")).await,
        "garbage",
    );
}

#[tokio::test]
async fn a_token_minted_for_another_audience_is_refused() {
    let started = start("billing").await;
    let cookie = login(started.gateway, "ada").await;
    let (status, _, body) = send(
        started.gateway,
        "GET",
        "/profile",
        &[("cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["code"], tonic::Code::Unauthenticated as i32, "{body}");
    assert_eq!(body["message"], REFUSED, "{body}");
}

#[test]
fn settings_default_to_the_documented_addresses() {
    let config = Config::from_vars(|_| None).expect("defaults");
    assert_eq!(config.gateway_addr.to_string(), "127.0.0.1:3000");
    assert_eq!(config.grpc_addr.to_string(), "127.0.0.1:50051");
    assert_eq!(config.audience.as_str(), "profile");
    assert!(Config::from_vars(|name| (name == "GRPC_ADDR").then(|| "nowhere".into())).is_err());
}
