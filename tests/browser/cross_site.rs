//! The demo's forms attacked from another origin, in a real browser: a page served on
//! another port of the same host (another origin, the same site, so `SameSite=Lax` still
//! sends the session cookie) submits a form to the demo. Cross-origin protection refuses
//! it with a page saying so, and the note is not saved. Then the same with the demo's
//! `SESSION_CSRF=token` mode, whose own page adds notes through its script with the token
//! in the `X-CSRF-Token` header.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use tower_stateless_session::revocation::MemoryRevocations;
use tower_stateless_session::{Key, KeyRing};

use crate::driver::Browser;
use crate::{demo, serve_layer};

/// Serves, on another loopback port, a page whose form posts a note to the demo at `base`;
/// returns the page's URL.
async fn serve_other_origin(base: &str) -> String {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Win a prize\
         </title></head><body><h1>Win a prize</h1>\
         <form method=\"post\" action=\"{base}/note\">\
         <input type=\"hidden\" name=\"note\" value=\"planted by another origin\">\
         <button type=\"submit\">Claim it</button></form></body></html>"
    );
    let app = Router::new().route("/", get(move || std::future::ready(Html(page.clone()))));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("the bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/")
}

/// The notes listed on the demo's page at `base`.
async fn notes(b: &Browser, base: &str) -> Vec<String> {
    b.client.goto(base).await.expect("open the demo");
    let listed = b
        .client
        .find_all(fantoccini::Locator::Css(".notes li"))
        .await
        .expect("find the notes");
    let mut texts = Vec::new();
    for item in listed {
        texts.push(item.text().await.expect("a note's text"));
    }
    texts
}

/// Logs in, adds a note from the demo's own page, then submits the other origin's form:
/// refused, with the page saying why, and the note list unchanged.
async fn attack(b: &Browser, base: &str, shots: (&str, &str)) {
    b.client.goto(base).await.expect("open the demo");
    b.submit(Some(("#user", "ada")), "form[action='/login'] button")
        .await;
    assert_eq!(b.text("#who-h").await, "Signed in as ada");
    b.submit(
        Some(("#note", "my own note")),
        "form[action='/note'] button",
    )
    .await;
    b.wait_for("the note from the demo's own page", || async {
        b.text("#notes-h .count").await == "1"
    })
    .await;

    let other = serve_other_origin(base.trim_end_matches('/')).await;
    assert_ne!(other.trim_end_matches('/'), base, "another origin");
    b.client
        .goto(&other)
        .await
        .expect("open the other origin's page");
    b.screenshot(shots.0).await;
    b.submit(None, "form button").await;
    assert_eq!(
        b.text("h1").await,
        "Refused: this came from another site",
        "the demo refused the cross-origin form"
    );
    let said = b.text(".server-text").await;
    assert!(said.contains("403 Forbidden"), "the layer's answer: {said}");
    b.screenshot(shots.1).await;

    assert_eq!(
        notes(b, base).await,
        ["my own note"],
        "the other origin's note was not saved"
    );
    assert_eq!(
        b.text("#who-h").await,
        "Signed in as ada",
        "the session is intact"
    );
}

pub async fn a_form_from_another_origin_is_refused_in_a_real_browser(b: &Browser) {
    let timeouts = demo::Timeouts::default();
    let key = Key::hs256("demo-k1", &[42u8; 32]).expect("a 32-byte key");
    let layer = || {
        demo::session_layer(
            KeyRing::new(key.clone()),
            &timeouts,
            Arc::new(MemoryRevocations::new()),
        )
    };

    // Cross-origin protection alone (the demo's default).
    let base = serve_layer(layer(), timeouts).await;
    attack(
        b,
        &base,
        ("18-other-origin-page.png", "19-other-origin-refused.png"),
    )
    .await;
    b.submit(None, "form[action='/logout'] button").await;

    // With SESSION_CSRF=token: the page's forms carry the token, its script sends notes
    // with the header, and the other origin is refused all the same.
    let tokens = demo::with_csrf_tokens(layer()).expect("the csrf feature is built in");
    let base = serve_layer(tokens, timeouts).await;
    attack(
        b,
        &base,
        (
            "20-other-origin-page-tokens.png",
            "21-other-origin-refused-tokens.png",
        ),
    )
    .await;
    let field = b
        .attr("form[action='/note'] input[name='_csrf']", "value")
        .await;
    let data = b.attr("body", "data-csrf").await;
    assert!(
        field.as_ref().is_some_and(|t| t.len() == 48) && field == data,
        "the page carries the session's token: {field:?} {data:?}"
    );
    // The script's note, through the header: the form's field is taken away first, so
    // only the header can carry the token (the form's fallback would be refused).
    b.js(
        "document.querySelector(\"form[action='/note'] input[name='_csrf']\").remove();",
        vec![],
    )
    .await;
    b.submit(
        Some(("#note", "sent by the script")),
        "form[action='/note'] button",
    )
    .await;
    b.wait_for("the scripted note", || async {
        b.text("#notes-h .count").await == "2"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(notes(b, &base).await, ["my own note", "sent by the script"]);
    b.screenshot("22-notes-with-tokens.png").await;
}
