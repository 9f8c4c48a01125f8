//! The page and its notes, up to the cookie budget.

use super::*;

#[tokio::test]
async fn notes_grow_the_session_and_show_escaped_on_the_page() {
    let app = test_app();
    let mut cookie = json_login(&app, "ada").await;
    let notes = ["buy <milk> & eggs", "call \"bob\"\nat noon"];
    for (i, note) in notes.iter().enumerate() {
        let response = post_note(&app, &cookie, note).await;
        assert_eq!(response.status(), StatusCode::OK, "note {i} is accepted");
        let grown = cookie_header(&set_cookie(&response));
        assert!(
            grown.len() > cookie.len(),
            "note {i} grows the cookie ({} -> {} bytes)",
            cookie.len(),
            grown.len()
        );
        assert_eq!(
            header_number(&response, TOKEN_SIZE_HEADER),
            Some(grown.len()),
            "X-Session-Token-Size is the size of the new cookie"
        );
        assert_eq!(
            header_number(&response, TOKEN_BUDGET_HEADER),
            Some(DEFAULT_COOKIE_BUDGET),
            "X-Session-Token-Budget is the cookie budget"
        );
        let body = body_json(response).await;
        assert_eq!(body["notes"], i + 1, "the note count after note {i}");
        assert_eq!(
            body["token_size"],
            cookie.len(),
            "token_size is the size of the cookie the request came with"
        );
        cookie = grown;
    }

    let page = body_text(send(&app, get("/", Some(&cookie))).await).await;
    assert!(
        page.contains("buy &lt;milk&gt; &amp; eggs"),
        "the first note is listed, escaped:\n{page}"
    );
    assert!(
        page.contains("call &quot;bob&quot;\nat noon"),
        "the second note is listed, escaped, line break kept:\n{page}"
    );
    assert!(!page.contains("<milk>"), "no raw markup from a note");
    assert!(
        page.contains(&format!(
            "<meter id=\"cookie-size\" min=\"0\" max=\"4096\" low=\"3072\" high=\"3891\" \
             optimum=\"0\" value=\"{}\">",
            cookie.len()
        )),
        "the page gauges the cookie's size against its budget, warning at 75 %:\n{page}"
    );
    assert_eq!(
        listed_notes(&page).len(),
        2,
        "both notes are listed:\n{page}"
    );
    assert!(
        page.contains("action=\"/note\""),
        "the page has a form to add a note"
    );
}

#[tokio::test]
async fn form_note_redirects_home_and_is_listed() {
    let app = test_app();
    let cookie = json_login(&app, "ada").await;
    let response = send(
        &app,
        post(
            "/note",
            Some("application/x-www-form-urlencoded"),
            "note=hello+world%21",
            Some(&cookie),
        ),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "a form note answers 303"
    );
    assert_eq!(
        response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.as_bytes()),
        Some(&b"/#notes"[..]),
        "a form note redirects to the notes on the page"
    );
    let cookie = cookie_header(&set_cookie(&response));
    let page = body_text(send(&app, get("/", Some(&cookie))).await).await;
    assert_eq!(
        listed_notes(&page),
        ["hello world!"],
        "the decoded note is listed:\n{page}"
    );
}

#[tokio::test]
async fn note_without_a_session_is_401() {
    let app = test_app();
    let response = send(&app, post("/note", Some("text/plain"), "hi", None)).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a note needs a session"
    );
    assert_no_set_cookie(&response, "note without a session");
    assert!(
        body_text(response).await.contains("log in first"),
        "the 401 says what to do"
    );
}

#[tokio::test]
async fn invalid_notes_are_refused_with_a_clear_status() {
    let app = test_app();
    let cookie = json_login(&app, "ada").await;
    let form = Some("application/x-www-form-urlencoded");
    let text = Some("text/plain");
    let too_long = "x".repeat(MAX_NOTE_BYTES + 1);
    // 1001 two-byte characters: the limit counts bytes.
    let too_many_bytes = "é".repeat(MAX_NOTE_BYTES / 2 + 1);
    let encoded_too_long = format!("note={}", "%41".repeat(MAX_NOTE_BYTES + 1));
    let over_body_limit = "x".repeat(MAX_NOTE_BODY_BYTES + 1);
    let form_over_body_limit = format!("note={over_body_limit}");
    let cases: [(Option<&str>, &str, StatusCode); 11] = [
        (text, "", StatusCode::BAD_REQUEST),
        (text, " \n\t ", StatusCode::BAD_REQUEST),
        (text, "bell\u{7}", StatusCode::BAD_REQUEST),
        (text, &too_long, StatusCode::PAYLOAD_TOO_LARGE),
        (text, &too_many_bytes, StatusCode::PAYLOAD_TOO_LARGE),
        (text, &over_body_limit, StatusCode::PAYLOAD_TOO_LARGE),
        (form, &encoded_too_long, StatusCode::PAYLOAD_TOO_LARGE),
        (form, &form_over_body_limit, StatusCode::PAYLOAD_TOO_LARGE),
        (form, "other=1", StatusCode::BAD_REQUEST),
        (
            Some("application/json"),
            r#"{"note":"hi"}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (None, "hi", StatusCode::UNSUPPORTED_MEDIA_TYPE),
    ];
    for (content_type, body, expected) in cases {
        let shown: String = body.chars().take(24).collect();
        let response = send(&app, post("/note", content_type, body, Some(&cookie))).await;
        assert_eq!(
            response.status(),
            expected,
            "{content_type:?} body {shown:?}... ({} bytes)",
            body.len()
        );
        assert_no_set_cookie(&response, "a refused note");
        if expected == StatusCode::PAYLOAD_TOO_LARGE {
            let message = body_text(response).await;
            assert!(
                message.contains("at most 2000 bytes"),
                "the 413 states the limit: {message}"
            );
        }
    }

    let not_utf8 = Request::post("/note")
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::COOKIE, &cookie)
        .body(Body::from(vec![b'h', 0xff, b'i']))
        .expect("valid request");
    let response = send(&app, not_utf8).await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "a note that is not UTF-8 is refused"
    );

    let longest = "x".repeat(MAX_NOTE_BYTES);
    let response = post_note(&app, &cookie, &longest).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a note of exactly 2000 bytes is accepted"
    );
}

#[tokio::test]
async fn the_note_that_would_cross_the_budget_is_refused_and_the_session_before_it_still_works() {
    let app = test_app();
    let mut cookie = json_login(&app, "ada").await;
    let note = |i: usize| format!("note-{i} {}", "z".repeat(900));

    let mut saved = 0;
    let refused = loop {
        assert!(saved < 10, "900-byte notes must exhaust a 4096-byte budget");
        let response = post_note(&app, &cookie, &note(saved)).await;
        if response.status() != StatusCode::OK {
            break response;
        }
        cookie = cookie_header(&set_cookie(&response));
        assert!(
            cookie.len() <= DEFAULT_COOKIE_BUDGET,
            "an accepted cookie is within the budget"
        );
        saved += 1;
    };
    assert!(saved >= 2, "a few notes fit before the budget ({saved})");
    assert_eq!(
        refused.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "the note past the budget gets the over-budget answer"
    );
    assert_no_set_cookie(&refused, "an over-budget note");
    assert!(
        refused.headers().get(TOKEN_SIZE_HEADER).is_none(),
        "no token was issued"
    );
    let message = body_text(refused).await;
    for needle in ["not saved", "over its budget of 4096 bytes", "unchanged"] {
        assert!(
            message.contains(needle),
            "the message says {needle:?}: {message}"
        );
    }

    // The same note as a form post: the same refusal.
    let form_body = format!("note={}", note(saved));
    let response = send(
        &app,
        post(
            "/note",
            Some("application/x-www-form-urlencoded"),
            &form_body,
            Some(&cookie),
        ),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "a form post is refused the same way"
    );
    assert_no_set_cookie(&response, "an over-budget form note");

    // The cookie from before the refusal is intact.
    let me = send(&app, get("/me", Some(&cookie))).await;
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "the previous cookie still works"
    );
    let page = body_text(send(&app, get("/", Some(&cookie))).await).await;
    let listed = listed_notes(&page);
    assert_eq!(listed.len(), saved, "exactly the saved notes are listed");
    for (i, note) in listed.iter().enumerate() {
        assert!(
            note.starts_with(&format!("note-{i} ")),
            "saved note {i} is still listed in place"
        );
    }
    let small = post_note(&app, &cookie, "short").await;
    assert_eq!(
        small.status(),
        StatusCode::OK,
        "a note that fits is still accepted"
    );
}

#[tokio::test]
async fn cookies_signed_before_notes_existed_still_decode() {
    /// The session data before notes were added.
    #[derive(Serialize)]
    struct OldSession {
        sub: String,
    }
    let layer = test_layer();
    let codec = layer.codec();
    let claims = codec
        .new_claims(OldSession {
            sub: "ada".to_owned(),
        })
        .expect("claims");
    let old = format!("session={}", codec.sign(&claims).expect("signs"));
    let app = app(layer, Timeouts::default());

    let me = send(&app, get("/me", Some(&old))).await;
    assert_eq!(me.status(), StatusCode::OK, "an old cookie is accepted");
    assert_eq!(body_json(me).await["sub"], "ada", "and decodes");
    let response = post_note(&app, &old, "first").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "an old session can take notes"
    );
    assert_eq!(body_json(response).await["notes"], 1, "its first note");

    // New sessions without notes leave the claim out.
    let fresh = json_login(&app, "grace").await;
    let payload = fresh
        .trim_start_matches("session=")
        .split('.')
        .nth(1)
        .expect("a payload");
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    let claims: serde_json::Value = serde_json::from_slice(&payload).expect("JSON claims");
    assert!(
        claims.get("notes").is_none(),
        "an empty notes list is not written: {claims}"
    );
}
