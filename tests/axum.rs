mod common;

use common::*;
use http::StatusCode;

#[tokio::test]
async fn smoke() {
    let f = fixture();
    let app = app(f.layer.clone());
    let cookie = login_cookie(&app, "ada").await;
    let r = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(r.status(), StatusCode::OK);
}
