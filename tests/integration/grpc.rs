//! The layer's refusals of gRPC requests, as a gRPC client must see them: HTTP 200,
//! `grpc-status`, `grpc-message`, no body (trailers-only). The same requests without the
//! gRPC content type keep their HTTP answers. (`examples/grpc` checks the same with real
//! tonic clients and servers.)

use crate::common::*;
use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use tower::{ServiceExt, service_fn};
use tower_stateless_session::{RejectionKind, SessionLayer};

/// A verify-only service behind `layer` (what a gRPC service gets), answering 200 "served".
async fn call(layer: SessionLayer<User>, request: Request<Body>) -> Response<Body> {
    let service = tower::ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|_: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Body::from("served")))
        }));
    let response = service.oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    Response::from_parts(parts, Body::from(bytes))
}

fn grpc_request(content_type: &str, authorization: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/profile.Profile/WhoAmI")
        .header(header::CONTENT_TYPE, content_type)
        .header("te", "trailers");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    request.body(Body::empty()).expect("request")
}

async fn assert_grpc_refusal(response: Response<Body>, code: &str, content_type: &str) {
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "gRPC refusals are HTTP 200"
    );
    let headers = response.headers();
    assert_eq!(headers["grpc-status"], code);
    assert!(
        !headers["grpc-message"].is_empty(),
        "a grpc-message says what was refused"
    );
    assert_eq!(headers[header::CONTENT_TYPE], content_type);
    assert!(!headers.contains_key(header::CONTENT_LENGTH));
    assert_eq!(body_text(response).await, "", "no body (trailers-only)");
}

#[tokio::test]
async fn a_grpc_call_without_a_token_is_unauthenticated_not_a_401() {
    let f = fixture();
    let layer = SessionLayer::<User>::verify_only(f.keys.clone());
    let response = call(layer.clone(), grpc_request("application/grpc", None)).await;
    assert_eq!(kind(&response), Some(RejectionKind::Missing));
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer",
        "its other headers stay"
    );
    assert_eq!(
        response.headers()["grpc-message"],
        "a valid session is required"
    );
    assert_grpc_refusal(response, "16", "application/grpc").await;

    let response = call(
        layer.clone(),
        grpc_request("application/grpc+proto", Some("Bearer not.a.token")),
    )
    .await;
    assert_eq!(kind(&response), Some(RejectionKind::Malformed));
    assert_grpc_refusal(response, "16", "application/grpc+proto").await;

    // The same call as plain HTTP keeps its 401.
    let response = call(layer, grpc_request("application/json", None)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(!response.headers().contains_key("grpc-status"));
}

#[tokio::test]
async fn a_valid_token_reaches_the_service() {
    let f = fixture();
    let codec = f.layer.codec();
    let token = codec
        .sign(&codec.new_claims(user("ada")).expect("claims"))
        .expect("sign");
    let layer = SessionLayer::<User>::verify_only(f.keys.clone()).with_clock(f.clock.clone());
    let response = call(
        layer,
        grpc_request("application/grpc", Some(&format!("Bearer {token}"))),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!response.headers().contains_key("grpc-status"), "untouched");
    assert_eq!(body_text(response).await, "served");
}

#[tokio::test]
async fn a_cross_site_grpc_web_call_is_permission_denied() {
    let f = fixture();
    let mut request = grpc_request("application/grpc-web+proto", None);
    request
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().expect("value"));
    let response = call(f.layer.clone(), request).await;
    assert_eq!(kind(&response), Some(RejectionKind::CrossOrigin));
    assert_grpc_refusal(response, "7", "application/grpc-web+proto").await;
}

#[tokio::test]
async fn oversized_cookies_on_a_grpc_call_are_resource_exhausted() {
    let f = fixture();
    let mut request = grpc_request("application/grpc", None);
    request.headers_mut().insert(
        header::COOKIE,
        format!("session={}", "a".repeat(5000))
            .parse()
            .expect("value"),
    );
    let response = call(f.layer.clone(), request).await;
    assert_eq!(kind(&response), Some(RejectionKind::Oversized));
    assert!(
        set_cookies(&response)
            .iter()
            .any(|c| c.starts_with("session=;")),
        "the oversized cookie is still deleted"
    );
    assert_grpc_refusal(response, "8", "application/grpc").await;
}
