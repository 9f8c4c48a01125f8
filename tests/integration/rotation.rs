//! Key rotation through the layer: old tokens keep working and move to the new key at once.

use crate::common::*;
use http::StatusCode;
use tower_stateless_session::{KeyRing, Rejection, RejectionKind};

#[tokio::test]
async fn a_token_of_the_old_key_is_re_signed_at_once_with_the_new_one() {
    let f = fixture();
    let app = app(f.layer.clone());
    let old_cookie = login_cookie(&app, "ada").await;
    assert_eq!(kid_of(&old_cookie), "k1");

    // Rotate: k2 signs, k1 only verifies. No restart, same layer.
    f.keys
        .replace(KeyRing::from_keys([key("k2"), key("k1")]).expect("ring"));
    // Inside refresh_after, yet the token is re-signed because its key no longer signs.
    let response = send(&app, "GET", "/me", Some(&old_cookie)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "old-key tokens still verify"
    );
    let migrated = cookie_pair(&response);
    assert_eq!(kid_of(&migrated), "k2", "migrated to the signing key");
    let before = body_text(send(&app, "GET", "/me", Some(&old_cookie)).await).await;
    let after = body_text(send(&app, "GET", "/me", Some(&migrated)).await).await;
    assert_eq!(
        before, after,
        "same session: sub, sid, and timestamps of this second"
    );

    // A token of the new key is not re-signed inside refresh_after.
    let response = send(&app, "GET", "/me", Some(&migrated)).await;
    assert!(set_cookies(&response).is_empty());

    // Retire k1: old tokens are refused (and deleted), migrated ones live on.
    f.keys.replace(KeyRing::new(key("k2")));
    let response = send(&app, "GET", "/me", Some(&old_cookie)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.extensions().get::<Rejection>().map(|r| r.kind()),
        Some(RejectionKind::UnknownKey)
    );
    let response = send(&app, "GET", "/me", Some(&migrated)).await;
    assert_eq!(response.status(), StatusCode::OK);
}
