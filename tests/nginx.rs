//! End to end behind a real nginx with its default header buffers.
//!
//! nginx refuses a request whose single header line does not fit one of its
//! `large_client_header_buffers` (8 KiB by default) with its own "400 Request Header Or
//! Cookie Too Large", which carries no `Set-Cookie`: a client stuck with a huge cookie
//! stays stuck. The layer's cookie budget sits well below that line, so an oversized
//! session cookie reaches us and gets our 431, which deletes it. The line holds `Cookie: `
//! and CRLF too, so a `Cookie` value passes nginx only up to 8182 bytes: a header budget
//! meant to answer before nginx must be below that (the default, 8192, is not). On the way
//! back, nginx reads an upstream's response headers into `proxy_buffer_size` (one memory
//! page, 4 KiB here), so a `Set-Cookie` near 4 KiB trips a 502 unless that buffer is raised.
//!
//! Needs nginx (Debian package `nginx`). Without it the tests are reported as ignored,
//! except under `CI=true`, where they fail (see `common::external`).

mod common;

use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use common::{external, fetch};
use http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use tower::util::MapRequestLayer;
use tower_stateless_session::server::DEFAULT_COOKIE_HEADER_BUDGET;
use tower_stateless_session::{Key, KeyRing, Session, SessionError, SessionHandle, SessionLayer};

/// A line from our 431 body that nginx's own error pages never contain.
const OUR_MARKER: &str = "431 Request Header Fields Too Large";

/// nginx's page for a header line over its buffer.
const NGINX_TOO_LARGE: &str = "Request Header Or Cookie Too Large";

fn main() {
    external::run(external::trials!(["nginx"] =>
        behind_nginx_a_session_cookie_over_our_budget_gets_our_431_and_the_client_recovers,
        behind_nginx_a_cookie_line_over_8_kib_gets_nginx_400_and_never_reaches_us,
        behind_nginx_a_set_cookie_near_4_kib_overflows_the_default_proxy_buffer,
        behind_nginx_the_default_header_budget_sits_below_the_cookie_line_limit,
        behind_nginx_a_header_budget_under_its_line_limit_gets_our_431_naming_the_cookies,
    ));
}

// ---------------------------------------------------------------------------------------
// The application behind nginx: the demo's session settings
// ---------------------------------------------------------------------------------------

/// The demo's session data.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DemoSession {
    sub: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

/// The session layer exactly as the demo configures it.
fn demo_layer(keys: KeyRing) -> SessionLayer<DemoSession> {
    SessionLayer::new(keys)
        .with_idle_timeout(Duration::from_secs(1800))
        .with_absolute_timeout(Duration::from_secs(172_800))
        .with_refresh_after(Duration::from_secs(60))
        .with_leeway(Duration::from_secs(60))
}

struct Upstream {
    addr: SocketAddr,
    layer: SessionLayer<DemoSession>,
    /// Requests that reached the upstream at all (counted outside the session layer).
    requests: Arc<AtomicUsize>,
}

async fn login(
    session: SessionHandle<DemoSession>,
    Path(name): Path<String>,
) -> Result<&'static str, SessionError> {
    session.login(DemoSession {
        sub: name,
        notes: Vec::new(),
    })?;
    Ok("logged in")
}

/// Logs in with one note of `bytes` characters, to make a cookie of a chosen size.
async fn login_padded(
    session: SessionHandle<DemoSession>,
    Path(bytes): Path<usize>,
) -> Result<&'static str, SessionError> {
    session.login(DemoSession {
        sub: "ada".to_owned(),
        notes: vec!["p".repeat(bytes)],
    })?;
    Ok("logged in")
}

async fn me(session: Session<DemoSession>) -> String {
    session.with(|d| d.sub.clone()).unwrap_or_default()
}

async fn start_upstream() -> Upstream {
    start_upstream_with(|layer| layer).await
}

/// The upstream, with `adjust` applied to the demo's layer.
async fn start_upstream_with(
    adjust: impl FnOnce(SessionLayer<DemoSession>) -> SessionLayer<DemoSession>,
) -> Upstream {
    let layer = adjust(demo_layer(KeyRing::new(
        Key::generate_hs256("k1").expect("a generated key ring"),
    )));
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    let router = Router::new()
        .route("/", get(|| async { "home" }))
        .route("/login/{name}", post(login))
        .route("/pad/{bytes}", post(login_padded))
        .route("/me", get(me))
        .layer(layer.clone())
        .layer(MapRequestLayer::new(move |request| {
            counter.fetch_add(1, Ordering::SeqCst);
            request
        }));
    let addr = common::serve(router).await;
    Upstream {
        addr,
        layer,
        requests,
    }
}

/// A session cookie of exactly `len` bytes holding a correctly signed token of `layer`'s
/// keys (signed by a codec allowed to go past the normal cap).
fn signed_cookie_of(layer: &SessionLayer<DemoSession>, len: usize) -> String {
    let codec = layer.codec().clone().with_max_token_len(64 * 1024);
    let sign = |pad: usize| {
        let claims = codec
            .new_claims(DemoSession {
                sub: "ada".to_owned(),
                notes: vec!["n".repeat(pad)],
            })
            .expect("claims");
        format!(
            "session={}",
            codec.sign(&claims).expect("the roomy codec signs")
        )
    };
    // Grow the note until the cookie reaches the size, then pad the token's tail: the size
    // check comes before any decoding, so the exact bytes past the signature do not matter.
    let mut pad = len * 3 / 4;
    let mut cookie = sign(pad);
    while cookie.len() > len && pad > 0 {
        pad -= 1;
        cookie = sign(pad);
    }
    while cookie.len() < len {
        cookie.push('A');
    }
    assert_eq!(cookie.len(), len, "the cookie has the size asked for");
    cookie
}

// ---------------------------------------------------------------------------------------
// nginx as a child process
// ---------------------------------------------------------------------------------------

/// An nginx in single-process mode, everything it writes inside a temporary folder; it is
/// killed and the folder removed on drop.
struct Nginx {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Nginx {
    /// Starts nginx proxying 127.0.0.1:`port` to `upstream`, with `extra` directives in the
    /// `location` block (empty for nginx's defaults), and waits until it accepts.
    async fn start(upstream: SocketAddr, extra: &str) -> Nginx {
        // A probed free port can be taken by another process before nginx binds it; nginx
        // then exits, and a new port is tried.
        for _ in 0..5 {
            if let Some(nginx) = Self::try_start(upstream, extra).await {
                return nginx;
            }
        }
        panic!("nginx could not bind a free port in five attempts");
    }

    async fn try_start(upstream: SocketAddr, extra: &str) -> Option<Nginx> {
        let dir = temp_dir();
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let d = dir.display();
        let conf = format!(
            "daemon off;\n\
             master_process off;\n\
             worker_processes 1;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
             access_log {d}/access.log;\n\
             client_body_temp_path {d}/client_body;\n\
             proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n\
             uwsgi_temp_path {d}/uwsgi;\n\
             scgi_temp_path {d}/scgi;\n\
             server {{\n\
             listen 127.0.0.1:{port};\n\
             location / {{\n\
             proxy_pass http://{upstream};\n\
             {extra}\n\
             }}\n\
             }}\n\
             }}\n"
        );
        let conf_path = dir.join("nginx.conf");
        fs::write(&conf_path, conf).expect("write nginx.conf");
        let stderr = fs::File::create(dir.join("stderr.log")).expect("create stderr.log");
        let child = Command::new(external::require("nginx"))
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn nginx");
        let mut nginx = Nginx { child, dir, addr };
        nginx.wait_until_listening().await.then_some(nginx)
    }

    /// Polls (bounded: five seconds) until nginx listens. nginx writes its pid file only
    /// after binding its sockets, so the pid file, a live child and a connectable port
    /// together mean the port is ours. `false` when nginx exited (the port was taken).
    async fn wait_until_listening(&mut self) -> bool {
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                return false;
            }
            if self.dir.join("nginx.pid").exists()
                && tokio::net::TcpStream::connect(self.addr).await.is_ok()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "nginx did not listen on {} within 5 s:\n{}",
            self.addr,
            self.logs()
        );
    }

    /// nginx's stderr and error log, for failure messages.
    fn logs(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!(
            "--- stderr\n{}--- error.log\n{}",
            read("stderr.log"),
            read("error.log")
        )
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "tss-nginx-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    fs::create_dir_all(&dir).expect("create the temporary folder");
    dir
}

/// A port nobody listens on right now (the OS picks it; nginx binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// A cookie whose `name=value` is exactly `len` bytes.
fn cookie_of(name: &str, len: usize) -> String {
    format!("{name}={}", "v".repeat(len - name.len() - 1))
}

/// Other cookies (each well under the session budget) making a `Cookie` value of exactly
/// `len` bytes.
fn other_cookies(len: usize) -> String {
    let first = cookie_of("a", 4000);
    let second = cookie_of("b", len - first.len() - 2);
    let value = format!("{first}; {second}");
    assert_eq!(value.len(), len, "the Cookie value has the size asked for");
    value
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("Set-Cookie is ASCII").to_owned())
        .collect()
}

/// The `name=value` of the only `Set-Cookie`.
fn only_cookie_pair(headers: &HeaderMap) -> String {
    let all = set_cookies(headers);
    assert_eq!(all.len(), 1, "expected exactly one Set-Cookie, got {all:?}");
    let c = cookie::Cookie::parse(all[0].clone()).expect("the Set-Cookie parses");
    format!("{}={}", c.name(), c.value())
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

async fn behind_nginx_a_session_cookie_over_our_budget_gets_our_431_and_the_client_recovers() {
    let upstream = start_upstream().await;
    let nginx = Nginx::start(upstream.addr, "").await;

    // About 6000 bytes: over our 4096 budget, well inside nginx's 8 KiB line buffer.
    let big = signed_cookie_of(&upstream.layer, 6000);
    let (status, headers, body) = fetch(nginx.addr, "GET", "/me", &[("cookie", &big)]).await;
    assert_eq!(
        status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "nginx passes our 431 through: {body}\n{}",
        nginx.logs()
    );
    assert!(
        body.contains(OUR_MARKER) && body.contains("The session cookie is 6000 bytes"),
        "the body is ours, naming the cookie's size:\n{body}"
    );
    assert!(
        !body.contains(NGINX_TOO_LARGE),
        "nginx did not answer by itself:\n{body}"
    );
    let deletion = set_cookies(&headers);
    assert!(
        deletion.len() == 1
            && deletion[0].starts_with("session=;")
            && deletion[0].contains("Max-Age=0")
            && deletion[0].contains("Path=/"),
        "the deleting Set-Cookie reaches the client through nginx: {deletion:?}"
    );

    // The browser dropped the cookie: logging in again works through nginx.
    let (status, headers, body) = fetch(nginx.addr, "POST", "/login/ada", &[]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "login through nginx after the 431: {body}"
    );
    let pair = only_cookie_pair(&headers);
    let (status, _, body) = fetch(nginx.addr, "GET", "/me", &[("cookie", &pair)]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the new session works through nginx: {body}"
    );
    assert_eq!(body, "ada", "the new session is ada's");
}

async fn behind_nginx_a_cookie_line_over_8_kib_gets_nginx_400_and_never_reaches_us() {
    let upstream = start_upstream().await;
    let nginx = Nginx::start(upstream.addr, "").await;

    let (status, _, _) = fetch(nginx.addr, "GET", "/", &[]).await;
    assert_eq!(status, StatusCode::OK, "nginx proxies to the upstream");
    let before = upstream.requests.load(Ordering::SeqCst);
    assert_eq!(before, 1, "the upstream saw the first request");

    // One `Cookie: ...` line of about 9000 bytes does not fit an 8 KiB buffer.
    let huge = signed_cookie_of(&upstream.layer, 9000);
    let (status, headers, body) = fetch(nginx.addr, "GET", "/me", &[("cookie", &huge)]).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "nginx refuses the line by itself: {body}"
    );
    assert!(body.contains(NGINX_TOO_LARGE), "nginx's own page:\n{body}");
    assert!(
        !body.contains(OUR_MARKER),
        "our layer never saw the request:\n{body}"
    );
    assert!(
        set_cookies(&headers).is_empty(),
        "nginx's 400 cannot delete the cookie, so the client would stay stuck: {:?}",
        set_cookies(&headers)
    );
    assert_eq!(
        upstream.requests.load(Ordering::SeqCst),
        before,
        "the upstream received nothing"
    );
}

async fn behind_nginx_a_set_cookie_near_4_kib_overflows_the_default_proxy_buffer() {
    let upstream = start_upstream().await;

    // Directly, the padded login is within our budget and is sent.
    let pad = "/pad/2800";
    let (status, headers, body) = fetch(upstream.addr, "POST", pad, &[]).await;
    assert_eq!(status, StatusCode::OK, "the padded login fits: {body}");
    let size = only_cookie_pair(&headers).len();
    assert!(
        (3800..=4096).contains(&size),
        "the cookie ({size} bytes) is near but within the 4096 budget"
    );

    // Through nginx with its defaults, the upstream's response headers do not fit.
    let nginx = Nginx::start(upstream.addr, "").await;
    let (status, headers, body) = fetch(nginx.addr, "POST", pad, &[]).await;
    assert_eq!(
        status,
        StatusCode::BAD_GATEWAY,
        "a {size}-byte Set-Cookie overflows proxy_buffer_size: {body}"
    );
    assert!(
        set_cookies(&headers).is_empty(),
        "the session cookie is lost on the way"
    );
    assert!(
        nginx.logs().contains("upstream sent too big header"),
        "nginx logs why:\n{}",
        nginx.logs()
    );
    drop(nginx);

    // With proxy_buffer_size raised it goes through.
    let nginx = Nginx::start(upstream.addr, "proxy_buffer_size 8k;").await;
    let (status, headers, body) = fetch(nginx.addr, "POST", pad, &[]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "proxy_buffer_size 8k carries the cookie: {body}\n{}",
        nginx.logs()
    );
    let pair = only_cookie_pair(&headers);
    assert_eq!(pair.len(), size, "the whole cookie arrives");
    let (status, _, body) = fetch(nginx.addr, "GET", "/me", &[("cookie", &pair)]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "and it works on the way back in: {body}"
    );
}

async fn behind_nginx_the_default_header_budget_sits_below_the_cookie_line_limit() {
    let upstream = start_upstream().await;
    let nginx = Nginx::start(upstream.addr, "").await;

    // Within our default budget: served.
    let within = other_cookies(DEFAULT_COOKIE_HEADER_BUDGET);
    let (status, _, body) = fetch(nginx.addr, "GET", "/", &[("cookie", &within)]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a {DEFAULT_COOKIE_HEADER_BUDGET}-byte Cookie value is within every limit: {body}"
    );

    // `Cookie: ` + value + CRLF must fit one 8192-byte buffer: values up to 8182 bytes
    // pass nginx. Everything between our budget and that limit gets OUR 431, which the
    // client can act on, not nginx's blank 400.
    for len in [DEFAULT_COOKIE_HEADER_BUDGET + 1, 8182] {
        let over_ours = other_cookies(len);
        let (status, _, body) = fetch(nginx.addr, "GET", "/", &[("cookie", &over_ours)]).await;
        assert_eq!(
            status,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "a {len}-byte Cookie value passes nginx and reaches our budget check: {body}"
        );
        assert!(body.contains(OUR_MARKER), "our own page:\n{body}");
    }
    let reached = upstream.requests.load(Ordering::SeqCst);

    // One byte more and nginx answers by itself: the reason the budget sits below 8182.
    let over_nginx = other_cookies(8183);
    let (status, _, body) = fetch(nginx.addr, "GET", "/", &[("cookie", &over_nginx)]).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "nginx's line limit: {body}"
    );
    assert!(body.contains(NGINX_TOO_LARGE), "nginx's own page:\n{body}");
    assert_eq!(
        upstream.requests.load(Ordering::SeqCst),
        reached,
        "the request over nginx's limit never reached the upstream"
    );
}

async fn behind_nginx_a_header_budget_under_its_line_limit_gets_our_431_naming_the_cookies() {
    let upstream = start_upstream_with(|layer| layer.with_cookie_header_budget(8000)).await;
    let nginx = Nginx::start(upstream.addr, "").await;

    let crowd = other_cookies(8100);
    let (status, headers, body) = fetch(nginx.addr, "GET", "/", &[("cookie", &crowd)]).await;
    assert_eq!(
        status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "with the budget under nginx's line limit, the request reaches us: {body}"
    );
    assert!(
        body.contains(OUR_MARKER)
            && body.contains("The Cookie header field is 8100 bytes, over its limit of 8000 bytes")
            && body.contains("a: 4000 bytes"),
        "our body names the header and the cookies:\n{body}"
    );
    assert!(
        set_cookies(&headers).is_empty(),
        "no session cookie to delete: {:?}",
        set_cookies(&headers)
    );
}
