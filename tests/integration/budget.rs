//! Cookie size budgets, both ways.
//!
//! Inbound: a session cookie over its budget, or a `Cookie` header over its budget, is
//! answered 431 by the layer (or the session is dropped) before any decoding, and the
//! client recovers on its next request. Outbound: a session that grows past the budget is
//! not sent, the previous cookie keeps working, and crossing 75 % of the budget is logged
//! once. Where real HTTP matters the tests run a hyper server on 127.0.0.1; the rest use
//! `oneshot`, which also exposes the response extensions.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
#[cfg(feature = "tracing")]
use std::time::Duration;

use crate::common::*;
use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header};
use tower_stateless_session::server::{
    DEFAULT_COOKIE_BUDGET, DEFAULT_COOKIE_HEADER_BUDGET, IssuedToken, Oversize, OversizeAction,
};
use tower_stateless_session::{
    Rejection, RejectionKind, Session, SessionError, SessionHandle, SessionLayer,
};

/// The test app of `common`, plus routes that grow and shrink the session, report the
/// inbound token size, and count how often a handler ran.
struct BudgetApp {
    router: Router,
    hits: Arc<AtomicUsize>,
}

fn budget_app(layer: SessionLayer<User>) -> BudgetApp {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let router = routes()
        .route("/grow/{bytes}", post(grow))
        .route("/shrink", post(shrink))
        .route("/size", get(size))
        .route(
            "/counted",
            get(move || async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "counted"
            }),
        )
        .layer(layer);
    BudgetApp { router, hits }
}

/// Appends an entry of `bytes` characters to the session's `roles` (a `Vec<String>`).
async fn grow(session: Session<User>, Path(bytes): Path<usize>) -> Result<String, SessionError> {
    let entries = session.modify(|u| {
        u.roles.push("n".repeat(bytes));
        u.roles.len()
    })?;
    Ok(format!("{entries} entries"))
}

/// Drops every entry but the first.
async fn shrink(session: Session<User>) -> Result<&'static str, SessionError> {
    session.modify(|u| u.roles.truncate(1))?;
    Ok("shrunk")
}

/// The size of the token the request carried, as the handler sees it.
async fn size(session: SessionHandle<User>) -> String {
    match session.token_size() {
        Some(size) => size.to_string(),
        None => "none".to_owned(),
    }
}

/// A cookie whose `name=value` is exactly `len` bytes.
fn cookie_of(name: &str, len: usize) -> String {
    assert!(len > name.len() + 1, "{len} bytes cannot hold {name}=");
    format!("{name}={}", "v".repeat(len - name.len() - 1))
}

/// A correctly signed session token of the fixture's key whose cookie is well over the
/// default budget: the budget is about size, not validity.
fn big_valid_session_cookie(f: &Fixture) -> String {
    let codec = f.layer.codec().clone().with_max_token_len(16 * 1024);
    let mut data = user("ada");
    data.roles.push("r".repeat(4000));
    let claims = codec.new_claims(data).expect("claims for the big session");
    let token = codec
        .sign(&claims)
        .expect("a roomy codec signs the big session");
    assert!(
        codec.verify::<User>(&token).is_ok(),
        "the big token is validly signed"
    );
    let cookie = format!("session={token}");
    assert!(
        cookie.len() > DEFAULT_COOKIE_BUDGET,
        "the big cookie ({} bytes) must exceed the default budget",
        cookie.len()
    );
    cookie
}

fn set_cookie_values(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("Set-Cookie is ASCII").to_owned())
        .collect()
}

/// The single `Set-Cookie` of `headers`, parsed.
fn only_set_cookie(headers: &HeaderMap) -> cookie::Cookie<'static> {
    let all = set_cookie_values(headers);
    assert_eq!(all.len(), 1, "expected exactly one Set-Cookie, got {all:?}");
    cookie::Cookie::parse(all[0].clone()).expect("the Set-Cookie parses")
}

/// Asserts that `headers` delete the session cookie the way the layer set it (`Path=/`).
fn assert_deletes_session_cookie(headers: &HeaderMap, context: &str) {
    let removal = only_set_cookie(headers);
    assert_eq!(
        removal.name(),
        "session",
        "{context}: the deletion targets the session cookie"
    );
    assert_eq!(
        removal.value(),
        "",
        "{context}: the deletion carries an empty value"
    );
    assert_eq!(
        removal.max_age(),
        Some(cookie::time::Duration::ZERO),
        "{context}: the deletion has Max-Age=0"
    );
    assert_eq!(
        removal.path(),
        Some("/"),
        "{context}: the deletion has the cookie's own Path, or the browser keeps the cookie"
    );
}

/// What a browser would send after applying `headers`' `Set-Cookie`s to `jar`
/// (`name=value` pairs, in order). Enough of a cookie jar for one host and `Path=/`.
fn apply_set_cookies(jar: &mut Vec<(String, String)>, headers: &HeaderMap) {
    for text in set_cookie_values(headers) {
        let c = cookie::Cookie::parse(text).expect("the Set-Cookie parses");
        jar.retain(|(name, _)| name != c.name());
        if c.max_age() != Some(cookie::time::Duration::ZERO) {
            jar.push((c.name().to_owned(), c.value().to_owned()));
        }
    }
}

fn jar_header(jar: &[(String, String)]) -> String {
    jar.iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where `needle` starts in `body`, failing with the whole body when it is absent.
fn position(body: &str, needle: &str) -> usize {
    body.find(needle)
        .unwrap_or_else(|| panic!("the body should contain {needle:?}:\n{body}"))
}

// ---------------------------------------------------------------------------------------
// Inbound
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn oversized_session_cookie_gets_431_that_deletes_it_and_the_next_request_recovers() {
    let f = fixture();
    let app = budget_app(f.layer.clone());
    let addr = serve(app.router.clone()).await;
    let big = big_valid_session_cookie(&f);
    let mut jar = vec![
        ("theme".to_owned(), "dark".to_owned()),
        (
            "session".to_owned(),
            big.trim_start_matches("session=").to_owned(),
        ),
    ];

    let (status, headers, body) =
        fetch(addr, "GET", "/counted", &[("cookie", &jar_header(&jar))]).await;
    assert_eq!(
        status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "an oversized session cookie is answered 431: {body}"
    );
    assert_eq!(
        app.hits.load(Ordering::SeqCst),
        0,
        "the handler must not run for a 431"
    );
    assert_eq!(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/plain; charset=utf-8"),
        "the 431 body is plain text"
    );
    assert_deletes_session_cookie(&headers, "431 for an oversized session cookie");
    let session_line = format!("session: {} bytes (session)", big.len());
    let session_at = position(&body, &session_line);
    let theme_at = position(&body, "theme: 10 bytes");
    assert!(
        session_at < theme_at,
        "cookies are listed largest first:\n{body}"
    );
    assert!(
        body.contains(&format!(
            "The session cookie is {} bytes, over its limit of 4096 bytes",
            big.len()
        )),
        "the body gives the session cookie's size and budget:\n{body}"
    );

    // The browser applies the deletion; its next requests go through.
    apply_set_cookies(&mut jar, &headers);
    assert_eq!(
        jar_header(&jar),
        "theme=dark",
        "after the 431 only the other cookie is left"
    );
    let (status, headers, body) =
        fetch(addr, "POST", "/login/ada", &[("cookie", &jar_header(&jar))]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "logging in again works after the 431: {body}"
    );
    apply_set_cookies(&mut jar, &headers);
    let (status, _, body) = fetch(addr, "GET", "/me", &[("cookie", &jar_header(&jar))]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the new session is accepted: {body}"
    );
    assert!(body.starts_with("ada "), "the new session is ada's: {body}");
    let (status, _, _) = fetch(addr, "GET", "/counted", &[("cookie", &jar_header(&jar))]).await;
    assert_eq!(status, StatusCode::OK, "the handler runs again");
    assert_eq!(
        app.hits.load(Ordering::SeqCst),
        1,
        "exactly the request after recovery reached the counting handler"
    );
}

#[tokio::test]
async fn oversized_session_cookie_is_refused_whether_or_not_it_is_a_valid_token() {
    let f = fixture();
    let app = budget_app(f.layer.clone());
    let addr = serve(app.router.clone()).await;
    let valid = big_valid_session_cookie(&f);
    let junk = cookie_of("session", 5000);
    let dotted = format!("session={}", "eyJhbGciOiJIUzI1NiJ9.".repeat(240));
    for cookie in [&valid, &junk, &dotted] {
        let (status, headers, body) = fetch(addr, "GET", "/maybe", &[("cookie", cookie)]).await;
        assert_eq!(
            status,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "a {}-byte session cookie is refused by size alone: {body}",
            cookie.len()
        );
        assert_deletes_session_cookie(&headers, "431 for any oversized session cookie");
    }
    assert_eq!(
        app.hits.load(Ordering::SeqCst),
        0,
        "no handler ran for the oversized cookies"
    );
}

#[tokio::test]
async fn session_cookie_of_exactly_the_budget_passes_the_size_check_and_one_byte_more_does_not() {
    let f = fixture();
    let app = budget_app(f.layer.clone().with_cookie_budget(1000));
    let at_budget = cookie_of("session", 1000);
    let response = send(&app.router, "GET", "/maybe", Some(&at_budget)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a cookie of exactly the budget reaches the handler"
    );
    assert_eq!(
        response
            .extensions()
            .get::<Rejection>()
            .map(Rejection::kind),
        Some(RejectionKind::Malformed),
        "within the budget the token is decoded (and this junk is malformed)"
    );

    let over = cookie_of("session", 1001);
    let response = send(&app.router, "GET", "/maybe", Some(&over)).await;
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "one byte over the budget is 431"
    );
    assert_eq!(
        response
            .extensions()
            .get::<Rejection>()
            .map(Rejection::kind),
        Some(RejectionKind::Oversized),
        "the 431 carries the Oversized rejection for logs"
    );
    let body = body_text(response).await;
    assert!(
        body.contains("The session cookie is 1001 bytes, over its limit of 1000 bytes"),
        "the body states the configured budget:\n{body}"
    );
}

#[tokio::test]
async fn oversized_cookie_header_of_other_cookies_gets_431_naming_them_largest_first_and_keeps_the_session()
 {
    let f = fixture();
    let app = budget_app(f.layer.clone());
    let addr = serve(app.router.clone()).await;

    let (status, headers, _) = fetch(addr, "POST", "/login/ada", &[]).await;
    assert_eq!(status, StatusCode::OK, "login");
    let login = only_set_cookie(&headers);
    let session = format!("{}={}", login.name(), login.value());
    assert!(
        session.len() < 1000,
        "the session cookie is small ({} bytes)",
        session.len()
    );

    let alpha = cookie_of("alpha", 3000);
    let bravo = cookie_of("bravo", 2500);
    let charlie = cookie_of("charlie", 3500);
    let header_value = [alpha.as_str(), session.as_str(), bravo.as_str(), &charlie].join("; ");
    assert!(
        header_value.len() > DEFAULT_COOKIE_HEADER_BUDGET,
        "the Cookie header ({} bytes) must exceed its budget",
        header_value.len()
    );

    let (status, headers, body) =
        fetch(addr, "GET", "/counted", &[("cookie", &header_value)]).await;
    assert_eq!(
        status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "a Cookie header over its budget is 431: {body}"
    );
    assert_eq!(
        app.hits.load(Ordering::SeqCst),
        0,
        "the handler must not run"
    );
    assert!(
        set_cookie_values(&headers).is_empty(),
        "a small session cookie is not deleted when other cookies are at fault: {:?}",
        set_cookie_values(&headers)
    );
    assert!(
        body.contains(&format!(
            "The Cookie header field is {} bytes, over its limit of 8000 bytes",
            header_value.len()
        )),
        "the body names the Cookie header field with its size and budget:\n{body}"
    );
    let order = [
        position(&body, "charlie: 3500 bytes"),
        position(&body, "alpha: 3000 bytes"),
        position(&body, "bravo: 2500 bytes"),
        position(
            &body,
            &format!("session: {} bytes (session)", session.len()),
        ),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "cookies are listed largest first:\n{body}"
    );
    assert!(
        !body.contains("The session cookie is"),
        "the session cookie is not blamed:\n{body}"
    );

    // Once the user clears the other cookies, the same session works.
    let (status, _, body) = fetch(addr, "GET", "/me", &[("cookie", &session)]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the untouched session still works: {body}"
    );
}

#[tokio::test]
async fn cookie_header_budget_counts_every_cookie_field_joined_like_a_proxy() {
    let f = fixture();
    let app = budget_app(f.layer.clone());
    let addr = serve(app.router.clone()).await;

    // Two `Cookie` fields, joined with "; ": 3999 + 2 + 3999 = 8000, exactly the budget.
    let first = cookie_of("a", 3999);
    let at_budget = cookie_of("b", 3999);
    let (status, _, body) = fetch(
        addr,
        "GET",
        "/counted",
        &[("cookie", &first), ("cookie", &at_budget)],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "two Cookie fields adding up to exactly 8000 bytes pass: {body}"
    );

    let over = cookie_of("b", 4000);
    let (status, _, body) = fetch(
        addr,
        "GET",
        "/counted",
        &[("cookie", &first), ("cookie", &over)],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "two Cookie fields adding up to 8001 bytes are refused: {body}"
    );
    assert!(
        body.contains("The Cookie header field is 8001 bytes"),
        "the size counts both fields and the separator:\n{body}"
    );
    let b_at = position(&body, "b: 4000 bytes");
    let a_at = position(&body, "a: 3999 bytes");
    assert!(
        b_at < a_at,
        "cookies of both fields are listed, largest first:\n{body}"
    );
    assert_eq!(
        app.hits.load(Ordering::SeqCst),
        1,
        "only the request within the budget reached the handler"
    );
}

#[tokio::test]
async fn drop_session_mode_continues_anonymously_and_deletes_the_cookie() {
    let f = fixture();
    let layer = f
        .layer
        .clone()
        .with_oversize_action(OversizeAction::DropSession);
    let app = budget_app(layer);
    let addr = serve(app.router.clone()).await;

    // An oversized (and validly signed) session cookie: the handler runs without a session.
    let big = big_valid_session_cookie(&f);
    let (status, headers, body) = fetch(addr, "GET", "/maybe", &[("cookie", &big)]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "DropSession lets the request through: {body}"
    );
    assert_eq!(
        body, "anonymous",
        "the oversized session is ignored, not decoded"
    );
    assert_deletes_session_cookie(&headers, "DropSession with an oversized session cookie");

    // The whole header over budget, with a small valid session: the session is not to
    // blame, so it is kept and the request served with it.
    let (_, headers, _) = fetch(addr, "POST", "/login/ada", &[]).await;
    let login = only_set_cookie(&headers);
    let session = format!("{}={}", login.name(), login.value());
    let crowd = [
        cookie_of("alpha", 4000),
        cookie_of("bravo", 4000),
        session.clone(),
    ]
    .join("; ");
    let (status, headers, body) = fetch(addr, "GET", "/maybe", &[("cookie", &crowd)]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an oversized Cookie header is let through too: {body}"
    );
    assert_eq!(
        body, "ada",
        "a session within its own budget is kept when other cookies overflow the header"
    );
    assert!(
        headers.get(http::header::SET_COOKIE).is_none(),
        "the kept session cookie is not deleted"
    );

    // The rejection is visible to logging layers.
    let response = send(&app.router, "GET", "/maybe", Some(&big)).await;
    assert_eq!(
        response
            .extensions()
            .get::<Rejection>()
            .map(Rejection::kind),
        Some(RejectionKind::Oversized),
        "DropSession records the Oversized rejection"
    );
}

#[tokio::test]
async fn drop_session_mode_lets_the_handler_start_a_new_session_in_the_same_request() {
    let f = fixture();
    let app = budget_app(
        f.layer
            .clone()
            .with_oversize_action(OversizeAction::DropSession),
    );
    let addr = serve(app.router.clone()).await;
    let big = big_valid_session_cookie(&f);

    let (status, headers, body) = fetch(addr, "POST", "/login/grace", &[("cookie", &big)]).await;
    assert_eq!(status, StatusCode::OK, "the login runs: {body}");
    let fresh = only_set_cookie(&headers);
    assert_eq!(fresh.name(), "session", "the login sets the session cookie");
    assert!(
        !fresh.value().is_empty() && fresh.max_age().is_none(),
        "the new session replaces the oversized cookie instead of deleting it: {fresh}"
    );
    let pair = format!("{}={}", fresh.name(), fresh.value());
    let (status, _, body) = fetch(addr, "GET", "/me", &[("cookie", &pair)]).await;
    assert_eq!(status, StatusCode::OK, "the new session works: {body}");
    assert!(
        body.starts_with("grace "),
        "the new session is grace's: {body}"
    );
}

#[tokio::test]
async fn custom_oversize_response_is_used_and_the_deleting_set_cookie_is_still_added() {
    let f = fixture();
    let layer = f.layer.clone().with_oversize_response(|o: &Oversize| {
        let largest = o.cookies.first().map_or("", |c| c.name.as_str());
        let body = format!(
            "{{\"error\":\"cookies_too_large\",\"largest\":\"{largest}\",\"session_over\":{},\"header_over\":{}}}",
            o.session_cookie_over,
            o.header_over()
        );
        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        response
    });
    let app = budget_app(layer);
    let addr = serve(app.router.clone()).await;

    let big = cookie_of("session", 4500);
    let (status, headers, body) = fetch(addr, "GET", "/counted", &[("cookie", &big)]).await;
    assert_eq!(
        status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "the custom status is kept"
    );
    assert_eq!(
        body,
        r#"{"error":"cookies_too_large","largest":"session","session_over":true,"header_over":false}"#,
        "the custom body is sent as built"
    );
    assert_eq!(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "the custom content type is kept"
    );
    assert_deletes_session_cookie(&headers, "custom 431");

    // Other cookies at fault: the custom response, and no deletion.
    let crowd = [cookie_of("alpha", 4000), cookie_of("bravo", 4500)].join("; ");
    let (status, headers, body) = fetch(addr, "GET", "/counted", &[("cookie", &crowd)]).await;
    assert_eq!(
        status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "custom 431 for the header"
    );
    assert!(
        body.contains(r#""largest":"bravo""#) && body.contains(r#""header_over":true"#),
        "the hook sees the report of the header: {body}"
    );
    assert!(
        set_cookie_values(&headers).is_empty(),
        "no session cookie to delete: {:?}",
        set_cookie_values(&headers)
    );
    assert_eq!(app.hits.load(Ordering::SeqCst), 0, "the handler never ran");
}

// ---------------------------------------------------------------------------------------
// Outbound
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn session_grown_past_the_budget_gets_500_without_set_cookie_and_the_old_cookie_still_works()
{
    let f = fixture();
    let app = budget_app(f.layer.clone());
    let addr = serve(app.router.clone()).await;

    let (status, headers, _) = fetch(addr, "POST", "/login/ada", &[]).await;
    assert_eq!(status, StatusCode::OK, "login");
    let mut jar = Vec::new();
    apply_set_cookies(&mut jar, &headers);

    // About 2 KB of token per step: the first fits, the second cannot.
    let (status, headers, body) =
        fetch(addr, "POST", "/grow/1500", &[("cookie", &jar_header(&jar))]).await;
    assert_eq!(status, StatusCode::OK, "the first growth fits: {body}");
    apply_set_cookies(&mut jar, &headers);
    let before = jar_header(&jar);
    assert!(
        before.len() < DEFAULT_COOKIE_BUDGET,
        "the grown cookie ({} bytes) is within the budget",
        before.len()
    );

    let (status, headers, body) = fetch(addr, "POST", "/grow/1500", &[("cookie", &before)]).await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "a change that cannot fit is a 500, not a silent loss: {body}"
    );
    assert!(
        set_cookie_values(&headers).is_empty(),
        "no Set-Cookie: the browser keeps the previous cookie: {:?}",
        set_cookie_values(&headers)
    );
    assert!(
        body.contains("over its budget of 4096 bytes"),
        "the 500 names the budget:\n{body}"
    );
    let size: usize = body
        .split("would grow to ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the 500 gives the size it would have had:\n{body}"));
    assert!(
        size > DEFAULT_COOKIE_BUDGET,
        "the reported size {size} is over the budget"
    );
    assert!(
        !body.contains("entries"),
        "the handler's own answer is replaced:\n{body}"
    );

    let (status, _, body) = fetch(addr, "GET", "/me", &[("cookie", &before)]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the previous cookie still verifies: {body}"
    );
    let token = before.trim_start_matches("session=");
    let verified = f
        .layer
        .codec()
        .verify::<User>(token)
        .expect("the previous token is valid");
    assert_eq!(
        verified.claims.data.roles.len(),
        2,
        "the previous session holds the first growth only"
    );
}

#[tokio::test]
async fn issued_token_reports_the_sent_size_and_budget_and_token_size_reports_the_inbound_size() {
    let f = fixture();
    let app = budget_app(f.layer.clone());

    let response = send(&app.router, "GET", "/size", None).await;
    assert_eq!(
        body_text(response).await,
        "none",
        "no token, no inbound size"
    );

    let response = send(&app.router, "POST", "/login/ada", None).await;
    let issued = *response
        .extensions()
        .get::<IssuedToken>()
        .expect("a signed token is reported in the extensions");
    let pair = cookie_pair(&response);
    assert_eq!(
        issued.size,
        pair.len(),
        "IssuedToken.size is the cookie's name=value"
    );
    assert_eq!(
        issued.budget, DEFAULT_COOKIE_BUDGET,
        "IssuedToken.budget is the cookie budget"
    );

    let response = send(&app.router, "GET", "/size", Some(&pair)).await;
    assert!(
        response.extensions().get::<IssuedToken>().is_none(),
        "a response without a new token reports none"
    );
    assert_eq!(
        body_text(response).await,
        pair.len().to_string(),
        "token_size() is the inbound cookie's name=value"
    );

    let response = send(&app.router, "POST", "/grow/100", Some(&pair)).await;
    let grown = *response
        .extensions()
        .get::<IssuedToken>()
        .expect("the grown token is reported");
    let grown_pair = cookie_pair(&response);
    assert_eq!(grown.size, grown_pair.len(), "the new size is reported");
    assert!(grown.size > issued.size, "the session grew");

    // A lower budget is what IssuedToken reports.
    let small = budget_app(f.layer.clone().with_cookie_budget(2000));
    let response = send(&small.router, "POST", "/login/ada", None).await;
    assert_eq!(
        response.extensions().get::<IssuedToken>().map(|t| t.budget),
        Some(2000),
        "IssuedToken.budget follows with_cookie_budget"
    );
}

#[tokio::test]
async fn raising_the_cookie_budget_raises_the_token_cap_with_it() {
    let f = fixture();
    // Raising the cookie budget alone lets sessions grow past 4 KiB, both ways.
    let roomy = budget_app(f.layer.clone().with_cookie_budget(8000));
    let response = send(&roomy.router, "POST", "/login/ada", None).await;
    assert_eq!(
        response.extensions().get::<IssuedToken>().map(|t| t.budget),
        Some(8000),
        "the outbound budget is the cookie budget"
    );
    let pair = cookie_pair(&response);
    let response = send(&roomy.router, "POST", "/grow/3500", Some(&pair)).await;
    let issued = response
        .extensions()
        .get::<IssuedToken>()
        .copied()
        .expect("the grown token is issued");
    assert!(
        issued.size > 4096 && issued.budget == 8000,
        "a {} byte token is issued against a budget of {}",
        issued.size,
        issued.budget
    );
    let grown = cookie_pair(&response);
    let response = send(&roomy.router, "GET", "/me", Some(&grown)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "and accepted on the way back in, not dropped as oversized"
    );

    // A token cap set afterwards still applies: the outbound budget is the lower one.
    let capped = budget_app(
        f.layer
            .clone()
            .with_cookie_budget(8000)
            .with_max_token_len(3000),
    );
    let response = send(&capped.router, "POST", "/login/ada", None).await;
    assert_eq!(
        response.extensions().get::<IssuedToken>().map(|t| t.budget),
        Some(3000 + "session=".len()),
        "the outbound budget is the max token length plus the cookie name"
    );
}

#[cfg(feature = "tracing")]
#[tokio::test]
async fn budget_warning_is_logged_once_per_crossing_of_75_percent() {
    const WARNING: &str = "session token crossed 75% of its size budget";
    // `#[tokio::test]` runs everything on this thread.
    let logs = crate::capture::LogCapture::start();

    let f = fixture();
    let app = budget_app(f.layer.clone());
    let line = DEFAULT_COOKIE_BUDGET * 3 / 4;

    let response = send(&app.router, "POST", "/login/ada", None).await;
    let mut cookie = cookie_pair(&response);

    // Grow in small steps until the token is over the line.
    let mut steps = 0;
    let crossed_at = loop {
        steps += 1;
        assert!(steps < 100, "the session should cross the line");
        let response = send(&app.router, "POST", "/grow/200", Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::OK, "growth step {steps}");
        let size = response
            .extensions()
            .get::<IssuedToken>()
            .expect("each growth issues a token")
            .size;
        cookie = cookie_pair(&response);
        if size > line {
            break size;
        }
        assert_eq!(
            logs.count(WARNING),
            0,
            "no warning at {size} bytes, below the line of {line}:\n{}",
            logs.text()
        );
    };
    assert!(
        crossed_at <= DEFAULT_COOKIE_BUDGET,
        "the crossing token ({crossed_at} bytes) still fits"
    );
    assert_eq!(
        logs.count(WARNING),
        1,
        "one warning when the token crosses the line:\n{}",
        logs.text()
    );
    let text = logs.text();
    assert!(
        text.contains(&format!("size={crossed_at}")) && text.contains("budget=4096"),
        "the warning carries the size and the budget:\n{text}"
    );
    assert!(
        text.contains("WARN"),
        "the crossing is logged at WARN:\n{text}"
    );

    // Further growth above the line, and a refresh above it: no repeat.
    for step in 0..2 {
        let response = send(&app.router, "POST", "/grow/200", Some(&cookie)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "growth {step} above the line still fits the budget"
        );
        cookie = cookie_pair(&response);
    }
    f.clock.advance(Duration::from_secs(REFRESH + 1));
    let response = send(&app.router, "GET", "/me", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK, "refresh above the line");
    cookie = cookie_pair(&response);
    assert_eq!(
        logs.count(WARNING),
        1,
        "no second warning while the token stays above the line:\n{}",
        logs.text()
    );

    // Back below the line, then across it again: a second crossing, a second warning.
    let response = send(&app.router, "POST", "/shrink", Some(&cookie)).await;
    assert!(
        response
            .extensions()
            .get::<IssuedToken>()
            .is_some_and(|t| t.size <= line),
        "the shrunk token is below the line"
    );
    cookie = cookie_pair(&response);
    let response = send(&app.router, "POST", "/grow/2500", Some(&cookie)).await;
    assert!(
        response
            .extensions()
            .get::<IssuedToken>()
            .is_some_and(|t| t.size > line && t.size <= DEFAULT_COOKIE_BUDGET),
        "one large step crosses the line again"
    );
    assert_eq!(
        logs.count(WARNING),
        2,
        "a new crossing warns again:\n{}",
        logs.text()
    );
}
