//! The layer around a plain hyper-style service (no axum): `service_fn` over
//! `http::Request`, the handle read from the request extensions.

use std::convert::Infallible;
use std::time::Duration;

use crate::common::*;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use tower::{Layer, ServiceExt, service_fn};
use tower_stateless_session::SessionHandle;
use tower_stateless_session::server::ResponseBody;

async fn handler(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let session = SessionHandle::<User>::from_extensions(request.extensions())
        .expect("the layer is installed")
        .clone();
    let (status, body) = match (request.method().as_str(), request.uri().path()) {
        ("POST", "/login") => match session.login(user("ada")).map(|_| ()) {
            Ok(()) => (StatusCode::OK, "welcome".to_owned()),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        ("GET", "/me") => match session.with(|u| u.sub.clone()) {
            Some(sub) => (StatusCode::OK, sub),
            None => (StatusCode::UNAUTHORIZED, "who are you?".to_owned()),
        },
        ("POST", "/logout") => {
            let _ = session.logout();
            (StatusCode::OK, "bye".to_owned())
        }
        _ => (StatusCode::NOT_FOUND, String::new()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    Ok(response)
}

async fn call(
    f: &Fixture,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> Response<ResponseBody<Full<Bytes>>> {
    let service = f.layer.clone().layer(service_fn(handler));
    let mut request = Request::builder().method(method).uri(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    service
        .oneshot(request.body(Full::new(Bytes::new())).expect("request"))
        .await
        .expect("infallible")
}

async fn text(response: Response<ResponseBody<Full<Bytes>>>) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

#[tokio::test]
async fn login_refresh_and_logout_through_plain_hyper_types() {
    let f = fixture();
    let response = call(&f, "POST", "/login", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = cookie_pair(&response);

    let response = call(&f, "GET", "/me", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        set_cookies(&response).is_empty(),
        "no refresh inside refresh_after"
    );
    assert_eq!(text(response).await, "ada");

    f.clock.advance(Duration::from_secs(REFRESH));
    let response = call(&f, "GET", "/me", Some(&cookie)).await;
    let refreshed = cookie_pair(&response);
    assert_ne!(refreshed, cookie, "refreshed after refresh_after");

    let response = call(&f, "GET", "/me", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = call(&f, "POST", "/logout", Some(&refreshed)).await;
    assert_eq!(
        the_cookie(&response).value(),
        "",
        "logout deletes the cookie"
    );
}

#[tokio::test]
async fn the_layer_answers_by_itself_with_its_own_body_when_required() {
    let f = fixture();
    let service = f
        .layer
        .clone()
        .with_require_session(true)
        .layer(service_fn(handler));
    let response = service
        .oneshot(
            Request::builder()
                .uri("/me")
                .body(Full::new(Bytes::new()))
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.as_bytes()),
        Some(&b"text/plain; charset=utf-8"[..])
    );
    assert_eq!(
        text(response).await,
        "401 Unauthorized: a valid session is required\n"
    );
}

/// The same handler over real HTTP/1.1 sockets on 127.0.0.1.
async fn served_handler(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, _) = request.into_parts();
    handler(Request::from_parts(parts, Full::new(Bytes::new()))).await
}

#[tokio::test]
async fn over_a_real_socket() {
    let f = fixture();
    let addr = serve(f.layer.clone().layer(service_fn(served_handler))).await;
    let (status, headers, _) = fetch(addr, "POST", "/login", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let set_cookie = headers
        .get(header::SET_COOKIE)
        .expect("login sets a cookie")
        .to_str()
        .expect("ascii");
    let pair = set_cookie.split(';').next().expect("pair").to_owned();
    let (status, headers, body) = fetch(addr, "GET", "/me", &[("cookie", &pair)]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ada"));
    assert!(headers.get(header::SET_COOKIE).is_none());
    let (status, _, _) = fetch(addr, "GET", "/me", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
