//! Both kinds of CSRF defence in the demo: cross-origin protection (always on) and, with
//! `SESSION_CSRF=token` (feature `csrf`), the session-bound token in every form's hidden
//! `_csrf` field and in the script's `X-CSRF-Token` header.

use super::*;

/// A request with `headers` added to `request`.
fn with_headers(mut request: Request<Body>, headers: &[(&str, &str)]) -> Request<Body> {
    for (name, value) in headers {
        request.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(value).expect("value"),
        );
    }
    request
}

#[tokio::test]
async fn a_note_posted_from_another_origin_is_refused_with_a_page_and_not_saved() {
    let app = test_app();
    let cookie = json_login(&app, "ada").await;
    let request = with_headers(
        post(
            "/note",
            Some("application/x-www-form-urlencoded"),
            "note=planted",
            Some(&cookie),
        ),
        &[
            ("sec-fetch-site", "same-site"),
            ("origin", "http://127.0.0.1:4444"),
            ("accept", "text/html"),
        ],
    );
    let response = send(&app, request).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_no_set_cookie(&response, "a cross-site refusal");
    let page = body_text(response).await;
    assert!(
        page.contains("Refused: this came from another site"),
        "the refusal reads as a page:\n{page}"
    );
    let page = body_text(send(&app, get("/", Some(&cookie))).await).await;
    assert!(listed_notes(&page).is_empty(), "nothing saved:\n{page}");
    // Without the tokens, the page's forms carry no hidden field.
    assert!(!page.contains("name=\"_csrf\""), "{page}");
    assert!(!page.contains("data-csrf"), "{page}");
}

#[tokio::test]
async fn a_same_origin_post_from_the_page_goes_through() {
    let app = test_app();
    let cookie = json_login(&app, "ada").await;
    let request = with_headers(
        post(
            "/note",
            Some("application/x-www-form-urlencoded"),
            "note=mine",
            Some(&cookie),
        ),
        &[
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://127.0.0.1:3000"),
        ],
    );
    let response = send(&app, request).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[cfg(feature = "csrf")]
mod tokens {
    use super::*;

    fn token_app() -> Router {
        let layer = with_csrf_tokens(test_layer()).expect("the csrf feature is built in");
        app(layer, Timeouts::default())
    }

    /// Every `_csrf` value on `page`, and its `data-csrf`.
    fn tokens_on(page: &str) -> (Vec<String>, Option<String>) {
        let fields = page
            .split("name=\"_csrf\" value=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
            .collect();
        let data = page
            .split("data-csrf=\"")
            .nth(1)
            .map(|rest| rest.split('"').next().unwrap_or_default().to_owned());
        (fields, data)
    }

    #[tokio::test]
    async fn every_form_carries_the_token_and_the_script_gets_it() {
        let app = token_app();
        let cookie = json_login(&app, "ada").await;
        let page = body_text(send(&app, get("/", Some(&cookie))).await).await;
        let (fields, data) = tokens_on(&page);
        assert_eq!(fields.len(), 3, "note, logout, logout everywhere:\n{page}");
        let data = data.expect("data-csrf for the script");
        assert!(
            fields.iter().all(|field| *field == data),
            "one masking per page: {fields:?} {data}"
        );
        let again = body_text(send(&app, get("/", Some(&cookie))).await).await;
        assert_ne!(
            tokens_on(&again).1.as_deref(),
            Some(data.as_str()),
            "the next page carries another masking"
        );
        let login_page = body_text(send(&app, get("/", None)).await).await;
        assert!(
            !login_page.contains("_csrf"),
            "no session, no token: the login form relies on cross-origin protection"
        );
    }

    #[tokio::test]
    async fn a_form_needs_its_field_and_a_script_its_header() {
        let app = token_app();
        let cookie = json_login(&app, "ada").await;
        let page = body_text(send(&app, get("/", Some(&cookie))).await).await;
        let token = tokens_on(&page).0.remove(0);
        let form = Some("application/x-www-form-urlencoded");

        let response = send(&app, post("/note", form, "note=no+token", Some(&cookie))).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "no field");
        let response = send(
            &app,
            post(
                "/note",
                form,
                &format!("note=ok&_csrf={token}"),
                Some(&cookie),
            ),
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "the page's form");
        let cookie = cookie_header(&set_cookie(&response));

        // The script: text/plain with the header.
        let response = send(
            &app,
            post("/note", Some("text/plain"), "scripted", Some(&cookie)),
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "no header");
        let request = with_headers(
            post("/note", Some("text/plain"), "scripted", Some(&cookie)),
            &[("x-csrf-token", &token)],
        );
        let response = send(&app, request).await;
        assert_eq!(response.status(), StatusCode::OK, "with the header");
        let cookie = cookie_header(&set_cookie(&response));
        let page = body_text(send(&app, get("/", Some(&cookie))).await).await;
        assert_eq!(listed_notes(&page), ["ok", "scripted"]);

        // Logout is a form too.
        let response = send(&app, post("/logout", form, "", Some(&cookie))).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let response = send(
            &app,
            with_headers(
                post("/logout", form, &format!("_csrf={token}"), Some(&cookie)),
                &[("accept", "text/html")],
            ),
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "logged out");
    }

    #[tokio::test]
    async fn a_form_from_before_logging_in_again_reads_as_out_of_date() {
        let app = token_app();
        let first = json_login(&app, "ada").await;
        let page = body_text(send(&app, get("/", Some(&first))).await).await;
        let old = tokens_on(&page).0.remove(0);
        let second = json_login(&app, "ada").await;
        let request = with_headers(
            post(
                "/note",
                Some("application/x-www-form-urlencoded"),
                &format!("note=x&_csrf={old}"),
                Some(&second),
            ),
            &[("accept", "text/html")],
        );
        let response = send(&app, request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let page = body_text(response).await;
        assert!(page.contains("Refused: this form is out of date"), "{page}");
    }
}
