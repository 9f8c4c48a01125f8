//! The demo's page in a real browser: headless chromium, driven through chromedriver.
//!
//! The demo's own app (`examples/demo/`) is served in-process on a free loopback port. A
//! person's visit is replayed: log in through the form, see the countdowns, the size gauges
//! and the token taken apart, press the request button before and after the refresh is due,
//! add notes until the cookie gauge passes its 75 % mark, reload, log out. Along the way
//! the session cookie must be HttpOnly and invisible to page script, and axe-core checks
//! labels, contrast and the rest of WCAG 2 A/AA on every page state. A second visit
//! (`modes.rs`, `refusals.rs`) shows the page with node keys (two nodes sharing one key
//! registry: "this node" on one, "another node" on the other, and the JWKS they link) and
//! with encrypted sessions (`A256KW`, `dir`), then a forged, a revoked, an expired and a too
//! large cookie. A third visit with JavaScript off shows that login, notes and logout work
//! with plain forms. A fourth (`dbsc.rs`) registers a device-bound session over TLS with a
//! 10 s bound cookie, refreshes it and ends it at logout. A fifth (`cross_site.rs`) submits
//! a form to the demo from a page on another port: refused, the note not saved, with and
//! without `SESSION_CSRF=token`.
//!
//! Screenshots land in `target/tmp/browser/` for a person to look at (`01` to `06` from the
//! first and third visits, `07` to `14` from the second, `15` to `17` from the fourth, `18`
//! to `22` from the fifth); `docs/demo.png` in the README is
//! made from `03-notes-past-75-percent.png` (`scripts/demo-screenshot.sh`).
//!
//! Needs `chromium`, `chromedriver` (Debian `chromium-driver`) and, on the first run, `npm`
//! to fetch axe-core. Without them the tests are reported as ignored, except under
//! `CI=true`, where they fail (see `common::external`).

#[path = "../common/mod.rs"]
mod common;

// The demo itself, compiled into this test. Its `main` goes unused here, and so do the
// imports of its unit tests, which only its own test build runs.
#[allow(dead_code, unused_imports)]
#[path = "../../examples/demo/main.rs"]
mod demo;

mod axe;
mod cross_site;
mod dbsc;
mod driver;
mod modes;
mod refusals;

use std::sync::Arc;
use std::time::Duration;

use common::external;
use driver::Browser;
use tower_stateless_session::revocation::MemoryRevocations;
use tower_stateless_session::{Key, KeyRing, KeyRingHandle};

/// The axe rules that must find something to check, and pass, on a page with forms.
pub(crate) const FORMS: &[&str] = &["label", "color-contrast", "page-has-heading-one"];

/// How old a token gets before a request re-signs it, in this test: long enough to see
/// "not re-signed" right after login, short enough to wait for.
const REFRESH_SECS: u64 = 8;

/// The notes a person adds: short ones, then long ones that fill the cookie.
const NOTES: &[&str] = &[
    "Buy milk, eggs and bread on the way home; the bakery closes at six.",
    "Call Bob about the release notes at noon.",
    "Wiki draft: a stateless session keeps everything the server needs in one signed cookie. \
     The server checks the signature on every request and stores nothing, so any instance \
     behind the load balancer can serve any user, and a restart logs nobody out. The price \
     is size: every byte of the session travels with every request, and browsers keep only \
     about four kilobytes per cookie. Keep sessions small: ids and roles, not whole profiles.",
    "Meeting notes, Tuesday: rotate the signing key every ninety days; old keys stay \
     verify-only until the idle timeout has passed, so nobody is logged out by a rotation. \
     Revocation goes through Redis so that logging out on one node is seen by all of them \
     within a second. Alice checks the proxy header limits before the next release, since \
     nginx refuses a cookie line over eight kilobytes with its own error page.",
    "Idea for the onboarding page: show people their own token taken apart, with the \
     countdowns ticking, so they see that the idle timeout slides forward on every refresh \
     while the absolute deadline does not move. Seeing the cookie gauge fill up with notes \
     explains the size budget better than any paragraph in the documentation could.",
    "Reminder: a signed token is readable by whoever holds it. Put nothing secret in the \
     session data unless the encrypted mode is on; signing only proves the server wrote it \
     and that nobody changed a single character since then.",
    "Questions from the review: what happens when two tabs refresh at the same moment? \
     Both get a valid token, and the older one stays valid until its own expiry, so neither \
     tab is logged out. What if the clocks of two nodes disagree? A leeway of one minute \
     absorbs that. What if Redis goes away? The last known revocations stay in force.",
    "Spare note, in case the others were not enough to pass three quarters of the budget: \
     the layer logs a warning when an outgoing cookie crosses seventy-five percent, and \
     refuses a change that would pass the full budget, keeping the previous cookie.",
];

fn main() {
    external::run(vec![
        // npm fetches axe-core (once; it is cached under target/ afterwards).
        external::trial(
            "a_person_logs_in_fills_the_cookie_and_logs_out_in_a_real_browser",
            &["chromium", "chromedriver", "npm"],
            a_person_logs_in_fills_the_cookie_and_logs_out_in_a_real_browser,
        ),
        external::trial(
            "key_modes_and_refusals_read_plainly_in_a_real_browser",
            &["chromium", "chromedriver", "npm"],
            modes::key_modes_and_refusals_read_plainly_in_a_real_browser,
        ),
        external::trial(
            "a_device_bound_session_registers_refreshes_and_ends_in_a_real_browser",
            &["chromium", "chromedriver", "npm"],
            dbsc::a_device_bound_session_registers_refreshes_and_ends_in_a_real_browser,
        ),
        external::trial(
            "a_form_from_another_origin_is_refused_in_a_real_browser",
            &["chromium", "chromedriver"],
            || {
                with_browser(true, |browser| async move {
                    cross_site::a_form_from_another_origin_is_refused_in_a_real_browser(&browser)
                        .await;
                })
            },
        ),
        external::trial(
            "login_notes_and_logout_work_without_javascript",
            &["chromium", "chromedriver"],
            login_notes_and_logout_work_without_javascript,
        ),
    ]);
}

/// Serves the demo's app with `keys` on a free loopback port, named by its address as the
/// demo's `main` names it; returns its base URL.
async fn serve(keys: impl Into<KeyRingHandle>, timeouts: demo::Timeouts) -> String {
    let layer = demo::session_layer(keys, &timeouts, Arc::new(MemoryRevocations::new()));
    serve_layer(layer, timeouts).await
}

/// Serves the demo's app with `layer` (built with `timeouts`), as [`serve`] does.
async fn serve_layer(
    layer: tower_stateless_session::SessionLayer<demo::DemoSession>,
    timeouts: demo::Timeouts,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("the bound address");
    let app = demo::app(layer, timeouts).layer(axum::Extension(demo::ThisNode(addr.to_string())));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Serves the demo with an HS256 key, refreshing after [`REFRESH_SECS`].
async fn serve_demo() -> String {
    let timeouts = demo::Timeouts {
        refresh: Duration::from_secs(REFRESH_SECS),
        ..demo::Timeouts::default()
    };
    let key = Key::hs256("demo-k1", &[42u8; 32]).expect("a 32-byte key");
    serve(KeyRing::new(key), timeouts).await
}

/// Runs `body` with a browser, closing it whatever happens, then passes on a failure.
async fn with_browser<F, Fut>(javascript: bool, body: F)
where
    F: FnOnce(Arc<Browser>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    std::fs::create_dir_all(driver::work_dir()).expect("create target/tmp/browser");
    let browser = Arc::new(Browser::start(javascript).await);
    let outcome = tokio::spawn(body(Arc::clone(&browser))).await;
    if let Ok(browser) = Arc::try_unwrap(browser) {
        browser.close().await;
    }
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// The session cookie as the browser holds it.
async fn session_cookie(browser: &Browser) -> Option<fantoccini::cookies::Cookie<'static>> {
    let cookies = browser
        .client
        .get_all_cookies()
        .await
        .expect("read cookies");
    cookies.into_iter().find(|c| c.name() == "session")
}

/// The cookie gauge's value and its class list.
async fn cookie_gauge(browser: &Browser) -> (u64, String) {
    let value = browser
        .attr("#cookie-size", "value")
        .await
        .and_then(|v| v.parse().ok())
        .expect("the cookie gauge has a value");
    let class = browser
        .js(
            "return document.getElementById('cookie-size').closest('.gauge').className;",
            vec![],
        )
        .await;
    (value, class.as_str().unwrap_or_default().to_owned())
}

/// Clicks "Make a request" and returns the verdict's text once it changes.
async fn press_request_button(browser: &Browser) -> String {
    let before = browser.text("#ping-result").await;
    browser
        .find("#ping")
        .await
        .click()
        .await
        .expect("click the button");
    let mut verdict = String::new();
    for _ in 0..200 {
        verdict = browser.text("#ping-result").await;
        if !verdict.is_empty() && verdict != before {
            return verdict;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the request button showed no new verdict (last: {verdict:?})");
}

async fn a_person_logs_in_fills_the_cookie_and_logs_out_in_a_real_browser() {
    with_browser(true, |browser| async move {
        let base = serve_demo().await;
        let axe = axe::script();
        let b = &*browser;
        b.client.goto(&base).await.expect("open the demo");
        assert!(
            b.text("h1").await.contains("Log in"),
            "a visitor without a session sees the login form"
        );
        axe::check(b, &axe, "the login page", FORMS).await;

        // Log in through the form.
        b.submit(Some(("#user", "ada")), "form[action='/login'] button")
            .await;
        assert_eq!(b.text("#who-h").await, "Signed in as ada", "signed in");

        // Right after login the token is young: the button's request is not re-signed.
        let verdict = press_request_button(b).await;
        assert!(
            verdict.starts_with("Not re-signed."),
            "a young token is not re-signed: {verdict}"
        );

        // The cookie is HttpOnly, so page script cannot see it.
        let cookie = session_cookie(b).await.expect("the session cookie is set");
        assert_eq!(cookie.http_only(), Some(true), "the cookie is HttpOnly");
        assert_eq!(cookie.secure(), Some(true), "the cookie is Secure");
        let visible = b.js("return document.cookie;", vec![]).await;
        assert!(
            !visible.as_str().unwrap_or_default().contains("session="),
            "document.cookie must not show the session: {visible}"
        );

        // The page takes apart the very token the browser holds.
        let shown = b.text("#token-text").await;
        assert_eq!(
            shown,
            cookie.value(),
            "the token shown is the browser's own"
        );
        let parts = b
            .client
            .find_all(fantoccini::Locator::Css("#token-text .seg"))
            .await;
        assert_eq!(parts.map(|p| p.len()).ok(), Some(3), "three coloured parts");
        let signer = b.text(".signer").await;
        assert!(
            signer.contains("demo-k1") && signer.contains("HS256"),
            "the page names the key and algorithm: {signer}"
        );
        let claims = b.text("#token table.claims:last-of-type").await;
        assert!(claims.contains("\"ada\""), "decoded claims: {claims}");
        let (size, _) = cookie_gauge(b).await;
        let cookie_len = "session=".len() + cookie.value().len();
        assert_eq!(
            size as usize, cookie_len,
            "the gauge shows the cookie's size"
        );
        let header_gauge = b.attr("#header-size", "value").await;
        assert_eq!(
            header_gauge.and_then(|v| v.parse::<usize>().ok()),
            Some(cookie_len),
            "the Cookie header gauge counts this site's only cookie"
        );
        let countdown = b.text("#clock-exp .clock-value").await;
        assert!(
            countdown.starts_with("29:") || countdown.starts_with("30:"),
            "the script counts down the idle timeout: {countdown}"
        );
        b.screenshot("01-signed-in.png").await;

        // Once the token is old enough, the same button gets a re-signed token.
        tokio::time::sleep(Duration::from_secs(REFRESH_SECS + 1)).await;
        let verdict = press_request_button(b).await;
        assert!(
            verdict.starts_with("Re-signed."),
            "a token past the refresh age is re-signed: {verdict}"
        );
        let fresh = session_cookie(b).await.expect("still signed in");
        assert_ne!(
            fresh.value(),
            cookie.value(),
            "the browser got the new token"
        );
        assert!(
            b.find("#token-stale")
                .await
                .is_displayed()
                .await
                .unwrap_or(false),
            "the page says its token view is now out of date"
        );
        b.screenshot("02-re-signed.png").await;

        // Fill the cookie with notes until its gauge passes the 75 % mark.
        let mut notes = 0;
        loop {
            let (size, class) = cookie_gauge(b).await;
            if size > 3072 {
                assert!(class.contains("over"), "past 75 % the gauge says so");
                break;
            }
            assert!(
                !class.contains("over"),
                "under 75 % no warning ({size} bytes)"
            );
            assert!(notes < NOTES.len(), "the notes must pass 75 % of 4 KB");
            b.submit(Some(("#note", NOTES[notes])), "form[action='/note'] button")
                .await;
            notes += 1;
            assert_eq!(
                b.text("#notes-h .count").await,
                notes.to_string(),
                "note {notes} is listed"
            );
        }
        let verdict = press_request_button(b).await;
        assert!(verdict.starts_with("Not re-signed."), "{verdict}");
        // A long token is shown by the ends of its parts; the whole of it is one click away.
        let cookie = session_cookie(b).await.expect("still signed in");
        let whole = b
            .js(
                "return document.getElementById('token-full').textContent;",
                vec![],
            )
            .await;
        assert_eq!(whole.as_str(), Some(cookie.value()), "the whole token");
        let parts = b
            .client
            .find_all(fantoccini::Locator::Css("#token-text .seg"))
            .await;
        assert_eq!(
            parts.map(|p| p.len()).ok(),
            Some(4),
            "header, the ends of the claims, signature"
        );
        assert!(
            b.text("#token-text .elided")
                .await
                .ends_with("more characters \u{2026}")
        );
        axe::check(b, &axe, "the signed-in page past 75 %", FORMS).await;
        b.screenshot("03-notes-past-75-percent.png").await;

        // A note that would pass the budget is refused with a page saying so; the session
        // keeps its earlier notes.
        let too_much = "This note does not fit. ".repeat(60);
        b.submit(Some(("#note", &too_much)), "form[action='/note'] button")
            .await;
        assert_eq!(
            b.text("h1").await,
            "Not saved",
            "the refusal reads as a page"
        );
        assert!(
            b.text(".server-text")
                .await
                .contains("over its budget of 4096 bytes"),
            "the page gives the server's reason"
        );
        axe::check(
            b,
            &axe,
            "the page refusing a note",
            &["color-contrast", "link-name"],
        )
        .await;
        b.screenshot("04-note-refused.png").await;
        b.find("a.button")
            .await
            .click()
            .await
            .expect("back to the demo");
        b.wait_for("the demo page again", || async {
            b.client
                .find(fantoccini::Locator::Css("#notes-h .count"))
                .await
                .is_ok()
        })
        .await;
        assert_eq!(
            b.text("#notes-h .count").await,
            notes.to_string(),
            "the refused note was not added"
        );

        // A reload keeps everything: the session is the cookie.
        b.client.refresh().await.expect("reload");
        assert_eq!(b.text("#notes-h .count").await, notes.to_string());
        assert_eq!(b.text("#who-h").await, "Signed in as ada");

        // Log out: the cookie goes and the page says what that means.
        b.submit(None, "form[action='/logout'] button").await;
        assert!(
            session_cookie(b).await.is_none(),
            "logout deletes the cookie"
        );
        let banner = b.text(".banner").await;
        assert!(banner.contains("You are logged out"), "{banner}");
        axe::check(b, &axe, "the page after logout", FORMS).await;
        b.screenshot("05-logged-out.png").await;
    })
    .await;
}

async fn login_notes_and_logout_work_without_javascript() {
    with_browser(false, |browser| async move {
        let base = serve_demo().await;
        let b = &*browser;
        b.client.goto(&base).await.expect("open the demo");
        b.submit(Some(("#user", "grace")), "form[action='/login'] button")
            .await;
        assert_eq!(b.text("#who-h").await, "Signed in as grace");
        let shown = b.find("#ping").await.is_displayed().await;
        assert!(
            matches!(shown, Ok(false)),
            "without JavaScript the request button stays hidden: {shown:?}"
        );
        let countdown = b.text("#clock-exp .clock-value").await;
        assert!(
            countdown == "30 min" || countdown == "29 min",
            "the server's own countdown text: {countdown}"
        );
        b.submit(
            Some(("#note", "works without scripts")),
            "form[action='/note'] button",
        )
        .await;
        assert_eq!(b.text(".notes li").await, "works without scripts");
        b.screenshot("06-without-javascript.png").await;
        b.submit(None, "form[action='/logout'] button").await;
        assert!(session_cookie(b).await.is_none(), "logged out");
        assert!(b.text(".banner").await.contains("You are logged out"));
    })
    .await;
}
