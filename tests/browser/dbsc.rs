//! Device-bound sessions in a real browser: headless chromium with software keys (the
//! flags of the shared DBSC note) against the demo over TLS, with a certificate made here
//! and trusted through its SPKI hash, and a 10 s bound cookie.
//!
//! The visit: log in; chromium registers a key (the layer verifies its proof); the page
//! says the session is device-bound and shows the key's thumbprint; once the bound cookie
//! has expired, a request succeeds through a refresh (chromium holds it back, proves the
//! key, and gets a new bound cookie); after logout the refresh answers `continue: false`
//! and chromium stops refreshing. Every request to the DBSC endpoints is recorded with its
//! answer, so the test sees what chromium did.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use tower_stateless_session::pop::dbsc::{DEFAULT_REFRESH_PATH, DEFAULT_REGISTRATION_PATH};
use tower_stateless_session::revocation::MemoryRevocations;
use tower_stateless_session::{Key, KeyRing};

use crate::driver::{Browser, work_dir};
use crate::{axe, demo, session_cookie};

/// The bound cookie's lifetime in this test.
const BOUND_SECS: u64 = 10;

/// What chromium sent to a DBSC endpoint and what it got.
#[derive(Debug, Clone)]
struct Exchange {
    path: String,
    with_proof: bool,
    status: u16,
    body: String,
}

type Log = Arc<Mutex<Vec<Exchange>>>;

/// A certificate for `localhost` made now: its PEM files and the base64 SHA-256 of its
/// SubjectPublicKeyInfo (what `--ignore-certificate-errors-spki-list` takes).
fn certificate() -> (std::path::PathBuf, std::path::PathBuf, String) {
    let key = rcgen::KeyPair::generate().expect("a key pair");
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    let cert = params.self_signed(&key).expect("a self-signed certificate");
    let spki = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(
        rcgen::PublicKeyData::subject_public_key_info(&key),
    ));
    let dir = work_dir();
    let cert_path = dir.join(format!("dbsc-cert-{}.pem", std::process::id()));
    let key_path = dir.join(format!("dbsc-key-{}.pem", std::process::id()));
    std::fs::write(&cert_path, cert.pem()).expect("write the certificate");
    std::fs::write(&key_path, key.serialize_pem()).expect("write the key");
    (cert_path, key_path, spki)
}

/// Serves the demo with DBSC on (a 10 s bound cookie) over TLS; returns its base URL.
async fn serve(cert: &std::path::Path, key: &std::path::Path, log: Log) -> String {
    let timeouts = demo::Timeouts {
        bound: Some(Duration::from_secs(BOUND_SECS)),
        ..demo::Timeouts::default()
    };
    let ring = KeyRing::new(Key::hs256("demo-k1", &[42u8; 32]).expect("a key"));
    let layer = demo::session_layer(ring, &timeouts, Arc::new(MemoryRevocations::new()));
    let acceptor = demo::tls::acceptor(
        cert.to_str().expect("utf-8 path"),
        key.to_str().expect("utf-8 path"),
    )
    .expect("a TLS acceptor");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("the bound address");
    let app = demo::app(layer, timeouts)
        .layer(axum::Extension(demo::ThisNode(addr.to_string())))
        .layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let log = Arc::clone(&log);
                record(request, next, log)
            },
        ));
    tokio::spawn(demo::tls::serve(
        listener,
        app,
        acceptor,
        std::future::pending(),
    ));
    format!("https://localhost:{}", addr.port())
}

/// Records the exchanges with the DBSC endpoints.
async fn record(request: Request, next: Next, log: Log) -> Response {
    let path = request.uri().path().to_owned();
    let dbsc = path == DEFAULT_REGISTRATION_PATH || path == DEFAULT_REFRESH_PATH;
    let with_proof = request.headers().contains_key("secure-session-response");
    let response = next.run(request).await;
    if !dbsc {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    log.lock().expect("log").push(Exchange {
        path,
        with_proof,
        status: parts.status.as_u16(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    });
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn exchanges(log: &Log) -> Vec<Exchange> {
    log.lock().expect("log").clone()
}

/// Reloads the page until `done` holds (at most 20 s).
async fn reload_until(b: &Browser, what: &str, done: impl Fn(&str) -> bool) {
    for _ in 0..40 {
        b.client.refresh().await.expect("reload");
        let state = b
            .js(
                "const e = document.getElementById('binding-state'); return e ? e.textContent : '';",
                vec![],
            )
            .await;
        if done(state.as_str().unwrap_or_default()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("gave up waiting for {what}");
}

pub async fn a_device_bound_session_registers_refreshes_and_ends_in_a_real_browser() {
    std::fs::create_dir_all(work_dir()).expect("create target/tmp/browser");
    let (cert, key, spki) = certificate();
    let log: Log = Arc::default();
    let base = serve(&cert, &key, Arc::clone(&log)).await;
    let flags = vec![
        "--enable-features=DeviceBoundSessions:RequireOriginTrialTokens/false/RefreshQuota/false/\
         CheckSubdomainRegistration/false/OriginTrialFeedback/true/SchemaVersion/2,\
         EnableBoundSessionCredentialsSoftwareKeysForManualTesting"
            .to_owned(),
        format!("--ignore-certificate-errors-spki-list={spki}"),
    ];
    let browser = Arc::new(Browser::start_with(true, &flags).await);
    let b2 = Arc::clone(&browser);
    let outcome = tokio::spawn(async move {
        let b = &*b2;
        let axe = axe::script();
        b.client.goto(&base).await.expect("open the demo over TLS");
        assert!(
            b.text("h1").await.contains("Log in"),
            "the login page over TLS"
        );
        b.submit(Some(("#user", "ada")), "form[action='/login'] button")
            .await;
        // Chromium registers a key in the background while it follows the login's redirect;
        // registration rotates the session id and revokes the unbound one, so that page may
        // have gone out with the unbound cookie just after (see SECURITY.md). Once
        // registered, the page says so.
        reload_until(b, "the registration", |state| state == "Device-bound").await;
        assert_eq!(b.text("#who-h").await, "Signed in as ada");
        let registrations: Vec<_> = exchanges(&log)
            .into_iter()
            .filter(|e| e.path == DEFAULT_REGISTRATION_PATH)
            .collect();
        assert!(
            registrations
                .iter()
                .any(|e| e.with_proof && e.status == 200),
            "a registration proof was received and verified: {registrations:?}"
        );
        let jkt = b.text("#jkt").await;
        assert_eq!(jkt.len(), 43, "the key's thumbprint is shown: {jkt}");
        let label = b.text("#clock-exp .clock-label").await;
        assert_eq!(label, "Bound cookie expires in");
        let cookie = session_cookie(b).await.expect("the bound cookie");
        let claims = b.text("#token table.claims:last-of-type").await;
        assert!(
            claims.contains("cnf") && claims.contains(&jkt),
            "the token view shows cnf: {claims}"
        );
        axe::check(b, &axe, "the device-bound page", crate::FORMS).await;
        b.screenshot("15-device-bound.png").await;

        // Past the bound cookie's life, a request goes through a refresh.
        tokio::time::sleep(Duration::from_secs(BOUND_SECS + 2)).await;
        let refreshes_before = exchanges(&log)
            .iter()
            .filter(|e| e.path == DEFAULT_REFRESH_PATH && e.status == 200)
            .count();
        b.client.refresh().await.expect("reload after expiry");
        assert_eq!(
            b.text("#who-h").await,
            "Signed in as ada",
            "the request after expiry succeeded"
        );
        assert_eq!(b.text("#binding-state").await, "Device-bound");
        let refreshed: Vec<_> = exchanges(&log)
            .into_iter()
            .filter(|e| e.path == DEFAULT_REFRESH_PATH)
            .collect();
        assert!(
            refreshed.iter().filter(|e| e.status == 200).count() > refreshes_before,
            "a refresh with a proof answered 200: {refreshed:?}"
        );
        assert!(
            refreshed.iter().any(|e| e.with_proof),
            "the refresh carried a proof"
        );
        let fresh = session_cookie(b).await.expect("a new bound cookie");
        assert_ne!(
            fresh.value(),
            cookie.value(),
            "the bound cookie was replaced"
        );
        b.screenshot("16-refreshed.png").await;

        // Logout: the next refresh answers continue: false, and chromium stops refreshing.
        b.submit(None, "form[action='/logout'] button").await;
        let banner = b.text(".banner").await;
        assert!(
            banner.contains("You are logged out"),
            "the logout page: {banner:?}; exchanges: {:?}",
            exchanges(&log)
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        b.client.refresh().await.expect("reload after logout");
        let ended = exchanges(&log)
            .into_iter()
            .filter(|e| e.path == DEFAULT_REFRESH_PATH && e.body.contains("\"continue\":false"))
            .count();
        assert!(
            ended >= 1,
            "a refresh answered continue: false: {:?}",
            exchanges(&log)
        );
        let seen = exchanges(&log).len();
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            b.client.refresh().await.expect("reload");
        }
        assert_eq!(
            exchanges(&log).len(),
            seen,
            "no more refreshes after continue: false: {:?}",
            &exchanges(&log)[seen..]
        );
        assert!(b.text("h1").await.contains("Log in"));
        b.screenshot("17-after-logout.png").await;
    })
    .await;
    if let Ok(browser) = Arc::try_unwrap(browser) {
        browser.close().await;
    }
    let _ = std::fs::remove_file(cert);
    let _ = std::fs::remove_file(key);
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}
