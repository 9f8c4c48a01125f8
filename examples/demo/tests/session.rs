//! Login, `/me` and logout.

use super::*;

#[tokio::test]
async fn json_login_sets_a_hardened_session_cookie_carrying_sub() {
    let app = test_app();
    let response = send(
        &app,
        post(
            "/login",
            Some("application/json"),
            r#"{"user":"ada"}"#,
            None,
        ),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "JSON login should answer 200"
    );
    let cookie = set_cookie(&response);
    assert_eq!(cookie.name(), "session", "cookie name");
    assert_eq!(cookie.http_only(), Some(true), "cookie must be HttpOnly");
    assert_eq!(cookie.secure(), Some(true), "cookie must be Secure");
    assert_eq!(
        cookie.same_site(),
        Some(cookie::SameSite::Lax),
        "cookie must be SameSite=Lax"
    );
    assert_eq!(cookie.path(), Some("/"), "cookie must have Path=/");
    assert_eq!(
        cookie.max_age(),
        None,
        "a plain login is a browser-session cookie"
    );

    let body = body_json(response).await;
    assert_eq!(body["sub"], "ada", "login response names the user");
    let sid = body["sid"]
        .as_str()
        .expect("login response carries the sid");
    assert_eq!(sid.len(), 22, "sid is 22 characters of base64url");

    // The user name travels as the token's top-level `sub` claim.
    let payload = cookie
        .value()
        .split('.')
        .nth(1)
        .expect("token has a payload");
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("payload is base64url");
    let claims: serde_json::Value = serde_json::from_slice(&payload).expect("payload is JSON");
    assert_eq!(claims["sub"], "ada", "token carries sub at the top level");
    assert_eq!(claims["sid"], sid, "token's sid matches the login response");

    let me = send(&app, get("/me", Some(&cookie_header(&cookie)))).await;
    assert_eq!(me.status(), StatusCode::OK, "/me accepts the fresh cookie");
    assert_eq!(
        body_json(me).await["sub"],
        "ada",
        "/me decodes sub from the token"
    );
}

#[tokio::test]
async fn form_login_redirects_home_with_a_cookie() {
    let app = test_app();
    let response = send(
        &app,
        post(
            "/login",
            Some("application/x-www-form-urlencoded"),
            "user=grace",
            None,
        ),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "form login should answer 303"
    );
    assert_eq!(
        response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.as_bytes()),
        Some(&b"/"[..]),
        "form login redirects to /"
    );
    let cookie = set_cookie(&response);
    assert_eq!(
        cookie.name(),
        "session",
        "form login sets the session cookie"
    );
    let me = send(&app, get("/me", Some(&cookie_header(&cookie)))).await;
    assert_eq!(
        body_json(me).await["sub"],
        "grace",
        "form login's session names the user"
    );
}

#[tokio::test]
async fn remember_me_gives_a_persistent_cookie() {
    let app = test_app();
    let json = send(
        &app,
        post(
            "/login",
            Some("application/json"),
            r#"{"user":"ada","remember":true}"#,
            None,
        ),
    )
    .await;
    assert_eq!(
        json.status(),
        StatusCode::OK,
        "JSON remember login should answer 200"
    );
    assert_eq!(
        set_cookie(&json).max_age(),
        Some(cookie::time::Duration::seconds(1800)),
        "a remembered session's cookie lives until the token expires (idle timeout)"
    );

    let form = send(
        &app,
        post(
            "/login",
            Some("application/x-www-form-urlencoded"),
            "user=ada&remember=on",
            None,
        ),
    )
    .await;
    assert_eq!(
        form.status(),
        StatusCode::SEE_OTHER,
        "form remember login should answer 303"
    );
    assert!(
        set_cookie(&form).max_age().is_some(),
        "a ticked remember checkbox gives the cookie a Max-Age"
    );
}

#[tokio::test]
async fn me_without_a_cookie_is_401() {
    let app = test_app();
    let response = send(&app, get("/me", None)).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "/me needs a session"
    );
    assert!(
        response.headers().get(header::SET_COOKIE).is_none(),
        "a request without a session gets no cookie"
    );
}

#[tokio::test]
async fn me_reports_the_session_claims() {
    let app = test_app();
    let cookie = json_login(&app, "ada").await;
    let response = send(&app, get("/me", Some(&cookie))).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "/me with a session is 200"
    );
    let body = body_json(response).await;
    assert_eq!(body["sub"], "ada", "sub");
    assert!(
        body["sid"].as_str().is_some_and(|s| s.len() == 22),
        "sid is a 22-character string, got {}",
        body["sid"]
    );
    assert_eq!(
        body["iat"].as_u64(),
        Some(T0),
        "iat is the login time, as a number"
    );
    assert_eq!(
        body["exp"].as_u64(),
        Some(T0 + 1800),
        "exp is iat plus the idle timeout"
    );
    assert_eq!(
        body["auth_time"].as_u64(),
        Some(T0),
        "auth_time is the login time"
    );
}

#[tokio::test]
async fn logout_deletes_the_cookie() {
    let app = test_app();
    let cookie = json_login(&app, "ada").await;

    let response = send(&app, post("/logout", None, "", Some(&cookie))).await;
    assert_eq!(response.status(), StatusCode::OK, "API logout answers 200");
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
    assert_eq!(
        body_json(response).await["ok"],
        true,
        "API logout body is {{\"ok\":true}}"
    );

    let form = send(
        &app,
        post(
            "/logout",
            Some("application/x-www-form-urlencoded"),
            "",
            Some(&cookie),
        ),
    )
    .await;
    assert_eq!(
        form.status(),
        StatusCode::SEE_OTHER,
        "form logout redirects"
    );
    assert_eq!(
        set_cookie(&form).max_age(),
        Some(cookie::time::Duration::ZERO),
        "form logout also deletes the cookie"
    );
}

#[tokio::test]
async fn logout_revokes_copies_of_the_token() {
    let app = test_app();
    let cookie = json_login(&app, "ada").await;
    let copy = cookie.clone();
    send(&app, post("/logout", None, "", Some(&cookie))).await;
    let response = send(&app, get("/me", Some(&copy))).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a copy of a logged-out token is refused"
    );
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_only() {
    let app = test_app();
    let laptop = json_login(&app, "ada").await;
    let phone = json_login(&app, "ada").await;
    let other = json_login(&app, "bob").await;
    let response = send(&app, post("/logout-all", None, "", Some(&phone))).await;
    assert_eq!(response.status(), StatusCode::OK, "logout-all answers 200");
    for (device, cookie) in [("laptop", &laptop), ("phone", &phone)] {
        let response = send(&app, get("/me", Some(cookie))).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "the {device} session of the same user is revoked"
        );
    }
    let response = send(&app, get("/me", Some(&other))).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "another user is untouched"
    );
    let response = send(&app, post("/logout-all", None, "", None)).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "logout-all needs a session"
    );
}

/// As a new user would try it: log out everywhere, log in again at once (the same second),
/// and the new session works.
#[tokio::test]
async fn logging_in_right_after_logout_all_works() {
    let app = test_app();
    let cookie = json_login(&app, "ada").await;
    let response = send(&app, post("/logout-all", None, "", Some(&cookie))).await;
    assert_eq!(response.status(), StatusCode::OK, "logout-all answers 200");
    let fresh = json_login(&app, "ada").await;
    let response = send(&app, get("/me", Some(&fresh))).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the session begun after logout-all is accepted"
    );
    let response = send(&app, get("/me", Some(&cookie))).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "the session ended by logout-all stays refused"
    );
}

#[tokio::test]
async fn invalid_names_are_400() {
    let app = test_app();
    let too_long = "x".repeat(MAX_NAME_CHARS + 1);
    for name in ["", "   ", "a\u{7}b", "tab\there", too_long.as_str()] {
        let body = serde_json::json!({ "user": name }).to_string();
        let response = send(&app, post("/login", Some("application/json"), &body, None)).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "name {name:?} should be refused"
        );
        assert!(
            response.headers().get(header::SET_COOKIE).is_none(),
            "a refused login sets no cookie (name {name:?})"
        );
    }
    let missing = send(&app, post("/login", Some("application/json"), "{}", None)).await;
    assert_eq!(
        missing.status(),
        StatusCode::BAD_REQUEST,
        "a missing user is refused"
    );

    // The limit counts characters, and surrounding spaces are trimmed.
    let longest = "é".repeat(MAX_NAME_CHARS);
    let body = serde_json::json!({ "user": format!("  {longest}  ") }).to_string();
    let response = send(&app, post("/login", Some("application/json"), &body, None)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "64 characters are accepted"
    );
    assert_eq!(
        body_json(response).await["sub"],
        longest.as_str(),
        "the name is trimmed"
    );
}

#[tokio::test]
async fn unsupported_content_type_is_415() {
    let app = test_app();
    for content_type in [Some("text/plain"), None] {
        let response = send(&app, post("/login", content_type, "user=ada", None)).await;
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content type {content_type:?} should be refused"
        );
    }
}
