//! The page: what it shows of a session, and how it words each refusal.

use super::*;

use std::time::Duration;

/// `GET /` as a browser sends it.
fn browse(uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = get(uri, cookie);
    request.headers_mut().insert(
        header::ACCEPT,
        HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"),
    );
    request
}

/// The token inside `session=...`.
fn token_of(cookie: &str) -> &str {
    cookie.trim_start_matches("session=")
}

/// The banner of a page (the first `<section class="banner ...">`), or "" without one.
fn banner(page: &str) -> &str {
    let Some(start) = page.find("<section class=\"banner") else {
        return "";
    };
    let rest = &page[start..];
    &rest[..rest.find("</section>").map_or(rest.len(), |end| end + 10)]
}

#[tokio::test]
async fn the_page_escapes_the_user_name() {
    let app = test_app();
    let anonymous = body_text(send(&app, get("/", None)).await).await;
    assert!(
        anonymous.contains("<label for=\"user\">User name</label>"),
        "without a session the page offers the login form:\n{anonymous}"
    );
    assert_eq!(banner(&anonymous), "", "no token, no message");

    let cookie = json_login(&app, "<script>alert(1)</script>").await;
    let response = send(&app, get("/", Some(&cookie))).await;
    assert_eq!(response.status(), StatusCode::OK, "the page renders");
    let page = body_text(response).await;
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the name is shown escaped"
    );
    assert!(
        !page.contains("<script>alert(1)"),
        "no markup from the name reaches the page"
    );
}

#[tokio::test]
async fn the_page_shows_countdowns_gauges_and_the_token_taken_apart() {
    let app = test_app();
    let cookie = json_login(&app, "ada").await;
    let response = send(&app, get("/", Some(&cookie))).await;
    assert!(
        response.headers().get(header::SET_COOKIE).is_none(),
        "a young token is not re-signed"
    );
    let csp = response
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'sha256-"),
        "the page allows only its own script: {csp}"
    );
    assert_eq!(
        response
            .headers()
            .get(header::CACHE_CONTROL)
            .map(|v| v.as_bytes()),
        Some(&b"no-store"[..]),
        "a page showing a token is never cached"
    );
    let page = body_text(response).await;

    for (what, deadline) in [
        ("expiry (idle timeout)", T0 + 1800),
        ("next refresh", T0 + 60),
        ("absolute deadline", T0 + 172_800),
    ] {
        assert!(
            page.contains(&format!("data-deadline=\"{deadline}\"")),
            "a countdown to the {what}:\n{page}"
        );
    }
    assert!(
        page.contains(&format!("data-now=\"{T0}\"")),
        "the script counts from the layer's clock"
    );
    assert!(
        page.contains("<meter id=\"header-size\" min=\"0\" max=\"8000\" low=\"6000\""),
        "the whole Cookie header has its own gauge:\n{page}"
    );

    let token = token_of(&cookie);
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3, "a JWS has three parts");
    for (i, segment) in segments.iter().enumerate() {
        assert!(
            page.contains(&format!("<span class=\"seg seg-{i}\">{segment}</span>")),
            "part {i} of the token is shown in its colour"
        );
    }
    assert!(
        page.contains(
            "Signed by the key <code class=\"kid\">test</code> with <strong>HS256</strong>"
        ),
        "the page names the key and the algorithm:\n{page}"
    );
    assert!(
        page.contains("<code>&quot;ada&quot;</code>"),
        "the decoded claims show the user"
    );
    assert!(
        page.contains("HttpOnly") && page.contains("demo choice"),
        "the page says why it can show an HttpOnly cookie's token"
    );
}

#[tokio::test]
async fn a_page_load_after_the_refresh_is_due_re_signs_and_says_so() {
    let (app, clock) = test_app_with_clock();
    let cookie = json_login(&app, "ada").await;
    let page = body_text(send(&app, get("/", Some(&cookie))).await).await;
    assert!(
        !page.contains("Loading this page re-signed"),
        "nothing to say yet"
    );

    clock.advance(Duration::from_secs(61));
    let response = send(&app, get("/", Some(&cookie))).await;
    let fresh = cookie_header(&set_cookie(&response));
    assert_ne!(fresh, cookie, "the refresh issued a new token");
    let page = body_text(response).await;
    assert!(
        page.contains("Loading this page re-signed your token"),
        "the page says it re-signed the token:\n{page}"
    );
    let signature = token_of(&fresh).rsplit('.').next().expect("a signature");
    assert!(
        page.contains(signature),
        "the page takes apart the new token, the one the browser now holds"
    );
    assert!(
        page.contains(&format!("data-deadline=\"{}\"", T0 + 61 + 1800)),
        "the idle timeout slid forward"
    );
}

#[tokio::test]
async fn me_tells_a_script_whether_it_re_signed() {
    let (app, clock) = test_app_with_clock();
    let cookie = json_login(&app, "ada").await;
    let young = send(&app, get("/me", Some(&cookie))).await;
    assert!(
        young.headers().get(TOKEN_SIZE_HEADER).is_none(),
        "no new token, no size header"
    );
    clock.advance(Duration::from_secs(61));
    let due = send(&app, get("/me", Some(&cookie))).await;
    assert!(
        header_number(&due, TOKEN_SIZE_HEADER).is_some(),
        "a re-signed token announces its size"
    );
    let body = body_json(due).await;
    assert_eq!(body["iat"], T0 + 61, "the times are the new token's");
    assert_eq!(body["exp"], T0 + 61 + 1800, "the expiry slid forward");
}

#[tokio::test]
async fn each_refusal_reads_as_its_outcome_and_forgeries_all_read_alike() {
    let (app, clock) = test_app_with_clock();

    // Revoked: a copy of a token whose session logged out.
    let copy = json_login(&app, "ada").await;
    send(&app, post("/logout", None, "", Some(&copy))).await;
    let response = send(&app, browse("/", Some(&copy))).await;
    assert!(
        set_cookie(&response).max_age() == Some(cookie::time::Duration::ZERO),
        "the refused cookie is deleted"
    );
    let page = body_text(response).await;
    assert!(
        banner(&page).contains("Your session was ended"),
        "revoked:\n{page}"
    );
    let me = body_json(send(&app, get("/me", Some(&copy))).await).await;
    assert_eq!(me["error"], "revoked", "/me gives the same outcome as JSON");

    // Forged or damaged: every integrity failure reads the same.
    let cookie = json_login(&app, "ada").await;
    let token = token_of(&cookie);
    let (head, signature) = token.rsplit_once('.').expect("three parts");
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forgeries = [
        format!("session={head}.{flipped}{}", &signature[1..]),
        format!("session={}", token.replacen('.', "..", 1)),
        format!("session=x{token}"),
        "session=not-a-token".to_owned(),
    ];
    let mut banners = Vec::new();
    for forged in &forgeries {
        let page = body_text(send(&app, browse("/", Some(forged))).await).await;
        banners.push(banner(&page).to_owned());
    }
    assert!(
        banners[0].contains("was not accepted"),
        "a bad signature:\n{}",
        banners[0]
    );
    assert!(
        banners.iter().all(|b| b == &banners[0]),
        "all forgeries get the same words: {banners:#?}"
    );
    let me = body_json(send(&app, get("/me", Some(&forgeries[0]))).await).await;
    assert_eq!(me["error"], "not_accepted");

    // Expired: past the idle timeout and the leeway.
    clock.advance(Duration::from_secs(1800 + 60 + 1));
    let page = body_text(send(&app, browse("/", Some(&cookie))).await).await;
    assert!(
        banner(&page).contains("Your session expired"),
        "expired:\n{page}"
    );

    // Too large: the layer answers 431 before any handler; a browser gets it as a page.
    let huge = format!("session={}", "a".repeat(5000));
    let response = send(&app, browse("/", Some(&huge))).await;
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "an oversized cookie gets the layer's 431"
    );
    assert!(
        response.headers().get(header::SET_COOKIE).is_some(),
        "the page keeps the layer's deletion of the cookie"
    );
    let page = body_text(response).await;
    assert!(
        page.contains("Your session cookie was too large") && page.contains("href=\"/\""),
        "the 431 reads as a page with a way back:\n{page}"
    );
    // Too large together: other cookies of the site push the whole header over its budget;
    // the session cookie is within its own, so it is kept, and the page says so.
    let fresh = json_login(&app, "ada").await;
    let crowded = format!("big1={0}; big2={0}; {fresh}", "x".repeat(3900));
    let response = send(&app, browse("/", Some(&crowded))).await;
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    assert!(
        response.headers().get(header::SET_COOKIE).is_none(),
        "the session cookie is not deleted"
    );
    let page = body_text(response).await;
    assert!(
        page.contains("too large together") && page.contains("Your session cookie is fine"),
        "the page does not claim the session cookie was deleted:\n{page}"
    );

    let api = send(&app, get("/", Some(&huge))).await;
    let text = body_text(api).await;
    assert!(
        text.starts_with("431 Request Header Fields Too Large"),
        "API clients keep the layer's plain text: {text}"
    );
}

#[tokio::test]
async fn a_refused_form_post_reads_as_a_page_with_a_way_back() {
    let app = test_app();
    let request = |cookie: Option<&str>, body: &str| {
        let mut request = post(
            "/note",
            Some("application/x-www-form-urlencoded"),
            body,
            cookie,
        );
        request
            .headers_mut()
            .insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        request
    };
    let response = send(&app, request(None, "note=hi")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let page = body_text(response).await;
    assert!(
        page.contains("You are not signed in") && page.contains("log in first"),
        "a 401 page with the server's words:\n{page}"
    );

    let cookie = json_login(&app, "ada").await;
    let mut cookie = cookie;
    let refused = loop {
        let body = format!("note={}", "z".repeat(1500));
        let response = send(&app, request(Some(&cookie), &body)).await;
        if response.status() != StatusCode::SEE_OTHER {
            break response;
        }
        cookie = cookie_header(&set_cookie(&response));
    };
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let page = body_text(refused).await;
    assert!(
        page.contains("<h1>Not saved</h1>") && page.contains("over its budget of 4096 bytes"),
        "the 413 reads as a page saying why:\n{page}"
    );
}

#[tokio::test]
async fn logging_out_through_the_form_says_so_on_the_page() {
    let app = test_app();
    for (route, expected, words) in [
        ("/logout", "/?done=logout", "You are logged out"),
        (
            "/logout-all",
            "/?done=logout-all",
            "You are logged out everywhere",
        ),
    ] {
        let cookie = json_login(&app, "ada").await;
        let response = send(
            &app,
            post(
                route,
                Some("application/x-www-form-urlencoded"),
                "",
                Some(&cookie),
            ),
        )
        .await;
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        assert_eq!(location.as_deref(), Some(expected), "{route} redirects");
        let page = body_text(send(&app, browse(expected, None)).await).await;
        assert!(banner(&page).contains(words), "{route}:\n{page}");
    }
    let page = body_text(send(&app, browse("/?done=%3Cb%3E", None)).await).await;
    assert_eq!(banner(&page), "", "an unknown value shows nothing");
}

#[tokio::test]
async fn the_page_after_a_logout_says_logged_out_even_with_a_revoked_copy_of_the_token() {
    // A DBSC refresh the browser had under way as the user logged out can bring back a
    // cookie of the revoked session: the landing page says "logged out" once, not "your
    // session was ended" above it.
    let app = test_app();
    let cookie = json_login(&app, "ada").await;
    let logout = post(
        "/logout",
        Some("application/x-www-form-urlencoded"),
        "",
        Some(&cookie),
    );
    assert_eq!(send(&app, logout).await.status(), StatusCode::SEE_OTHER);
    let page = body_text(send(&app, browse("/?done=logout", Some(&cookie))).await).await;
    assert!(
        banner(&page).contains("You are logged out"),
        "the first banner:\n{page}"
    );
    assert_eq!(page.matches("<section class=\"banner").count(), 1, "{page}");
    // Without the logout just made, the same copy is still explained as revoked.
    let page = body_text(send(&app, browse("/", Some(&cookie))).await).await;
    assert!(
        banner(&page).contains("banner-error"),
        "a revoked copy on its own is explained:\n{page}"
    );
}
