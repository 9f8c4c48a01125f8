//! Each way a session cookie can be refused, as a person meets it in the browser: forged,
//! revoked (a copy kept across a logout), expired, and too large (the whole `Cookie` header
//! over its budget; chromium keeps no single cookie over 4096 bytes, so the session cookie's
//! own budget cannot be broken from a browser). Each gets a page that says what happened,
//! checked by axe and photographed.
//!
//! The cookies are set through the driver, as a person with the browser's developer tools
//! could: page script cannot touch the HttpOnly session cookie.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fantoccini::cookies::Cookie;
use tower_stateless_session::revocation::MemoryRevocations;
use tower_stateless_session::time::ManualClock;
use tower_stateless_session::{Key, KeyRing};

use crate::driver::Browser;
use crate::{FORMS, axe, demo, serve_layer, session_cookie};

/// Replaces the browser's cookie `name` with one holding `value`, as the server would set it
/// (for the host of `base`: the driver wants a domain, and for an IP address it names just
/// that host).
async fn set_cookie(b: &Browser, base: &str, name: &'static str, value: String) {
    let _ = b.client.delete_cookie(name).await;
    let host = base
        .trim_start_matches("http://")
        .rsplit_once(':')
        .map_or(base, |(host, _port)| host)
        .to_owned();
    let mut cookie = Cookie::new(name, value);
    cookie.set_domain(host);
    cookie.set_path("/");
    cookie.set_http_only(true);
    cookie.set_secure(true);
    b.client.add_cookie(cookie).await.expect("set the cookie");
}

/// Logs in as `user` through the form on `base`; the token the browser then holds.
async fn log_in(b: &Browser, base: &str, user: &str) -> String {
    b.client.goto(base).await.expect("open the demo");
    b.submit(Some(("#user", user)), "form[action='/login'] button")
        .await;
    assert_eq!(b.text("#who-h").await, format!("Signed in as {user}"));
    session_cookie(b)
        .await
        .expect("the session cookie")
        .value()
        .to_owned()
}

/// Loads `base` and checks the page: the banner's headline, the login form, no cookie left,
/// accessibility; then the screenshot.
async fn refused(b: &Browser, axe_script: &str, base: &str, headline: &str, shot: &str) {
    b.client.goto(base).await.expect("load the page");
    let banner = b.text(".banner-error").await;
    assert!(
        banner.starts_with(headline),
        "the page says {headline:?}: {banner}"
    );
    assert!(
        b.text("h1").await.contains("Log in"),
        "the page offers a new login"
    );
    assert!(
        session_cookie(b).await.is_none(),
        "{headline}: the refused cookie is deleted"
    );
    axe::check(
        b,
        axe_script,
        &format!("the page after {headline:?}"),
        FORMS,
    )
    .await;
    b.screenshot(shot).await;
}

/// Forged, revoked, expired and too large, one after another in browser `b`.
pub async fn each_refusal_reads_as_a_plain_message(b: &Browser, axe_script: &str) {
    // The layer reads a clock the test moves, so expiry needs no waiting (and no race with
    // a slow machine).
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let clock = ManualClock::new(now);
    let timeouts = demo::Timeouts::default();
    let key = Key::hs256("demo-k1", &[42u8; 32]).expect("a 32-byte key");
    let layer = demo::session_layer(
        KeyRing::new(key),
        &timeouts,
        Arc::new(MemoryRevocations::new()),
    )
    .with_clock(clock.clone());
    let base = serve_layer(layer, timeouts).await;

    // Forged: one character of the signature changed.
    let token = log_in(b, &base, "eve").await;
    let (signed, signature) = token.rsplit_once('.').expect("three parts");
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    set_cookie(
        b,
        &base,
        "session",
        format!("{signed}.{flipped}{}", &signature[1..]),
    )
    .await;
    refused(
        b,
        axe_script,
        &base,
        "Your session cookie was not accepted",
        "11-refused-forged.png",
    )
    .await;

    // Revoked: a copy of the token, put back after logging out.
    let copy = log_in(b, &base, "eve").await;
    b.submit(None, "form[action='/logout'] button").await;
    set_cookie(b, &base, "session", copy).await;
    refused(
        b,
        axe_script,
        &base,
        "Your session was ended",
        "12-refused-revoked.png",
    )
    .await;

    // Expired: unused for longer than the idle timeout.
    log_in(b, &base, "eve").await;
    clock.advance(timeouts.idle + timeouts.leeway + Duration::from_secs(1));
    refused(
        b,
        axe_script,
        &base,
        "Your session expired",
        "13-refused-expired.png",
    )
    .await;

    // Too large: two other cookies of this site push the Cookie header past its budget of
    // 8,000 bytes. The session cookie is within its own budget, so it is kept.
    log_in(b, &base, "eve").await;
    for name in ["big1", "big2"] {
        set_cookie(b, &base, name, "x".repeat(3880)).await;
    }
    b.client.goto(&base).await.expect("load the page");
    assert_eq!(
        b.text("h1").await,
        "This site's cookies are too large together",
        "the 431 page"
    );
    let said = b.text(".server-text").await;
    assert!(
        said.contains("big1: 3885 bytes") && said.contains("over its limit of 8000 bytes"),
        "the page lists the cookies and the budget: {said}"
    );
    assert!(
        session_cookie(b).await.is_some(),
        "a session cookie within its own budget is kept"
    );
    axe::check(
        b,
        axe_script,
        "the page refusing a too large Cookie header",
        &["color-contrast", "link-name"],
    )
    .await;
    b.screenshot("14-refused-too-large.png").await;
    for name in ["big1", "big2"] {
        b.client.delete_cookie(name).await.expect("delete a cookie");
    }
    b.client.goto(&base).await.expect("reload");
    assert_eq!(
        b.text("#who-h").await,
        "Signed in as eve",
        "without the other cookies the session works again"
    );
}
