//! A small axum application showing stateless signed sessions end to end.
//!
//! Run it with `cargo run --example demo` and open <http://127.0.0.1:3000/>.
//!
//! Everything about a session lives in one signed cookie named `session`: the server keeps no
//! session store. The page at `/` shows what the cookie currently says (user, session id,
//! when the token was signed, when it expires, when the session ends for good, its notes and
//! the cookie's size) and offers a login form, a note form and a logout button.
//!
//! # Routes
//!
//! | Route          | What it does                                                          |
//! |----------------|-----------------------------------------------------------------------|
//! | `GET /`        | HTML page: the current session and its notes, forms to log in, add a note and log out. |
//! | `POST /login`  | Starts a session. Body is JSON `{"user":"ada","remember":true}` or a form `user=ada&remember=on`, chosen by `Content-Type` (anything else: 415). The name is trimmed and must be 1 to 64 characters without control characters (otherwise 400). JSON gets `200 {"sub","sid"}`, a form gets `303 See Other` to `/`. With `remember` the cookie carries `Max-Age` and survives a browser restart. |
//! | `GET /me`      | `200` JSON `{"sub","sid","iat","exp","auth_time"}`, or `401` without a valid session. |
//! | `POST /note`   | Appends a note to the session (`401` without one). Body is `text/plain` (the note itself) or a form `note=...` (anything else: 415). The note is trimmed, 1 to 2000 bytes (empty: 400, longer: 413), no control characters but line breaks and tabs (400). Plain text gets `200 {"notes","token_size"}`, a form gets `303` to `/`. A note that would push the cookie over its size budget is refused with `413` and is not saved; the session stays as it was. |
//! | `POST /logout` | Ends the session: deletes the cookie and revokes the session, so copies of its token stop working too. Form posts (`Content-Type: application/x-www-form-urlencoded`, or no `Content-Type` with `Accept: text/html`) get `303` to `/`; anything else gets `200 {"ok":true}`. |
//! | `POST /logout-all` | Revokes every session of the current user, on every device, and ends this one (`401` without a session). Same answers as `/logout`. |
//!
//! # Revocation
//!
//! A signed token cannot be recalled by itself; the demo therefore checks every valid token
//! against a revocation set. Without `REDIS_URL` the set lives in this process (one node);
//! with `REDIS_URL=redis://127.0.0.1:6379/0` (build with `--features redis`) revocations are
//! shared through Redis, so a logout on one instance is enforced by all of them within
//! milliseconds, and a Redis outage keeps the last known set in force.
//!
//! # Filling a session up
//!
//! Notes live in the cookie like everything else, so adding them grows the cookie until it
//! meets the layer's budget of 4096 bytes for `session=...` (see the crate's `size_budgets`
//! docs). Every response that issues a new cookie says how large it is in
//! `X-Session-Token-Size` (and the budget in `X-Session-Token-Budget`), read from the
//! `IssuedToken` the layer attaches to the response; the JSON of `POST /note` gives
//! `token_size`, the size of the cookie the request came with. Past 75 % of the budget the
//! server logs a warning; the note that would cross the budget gets a `413` saying it was
//! not saved, no `Set-Cookie` is sent, and the previous cookie, with every earlier note,
//! keeps working. Log out to start over.
//!
//! # Configuration (environment)
//!
//! - `DEMO_ADDR`: listen address, default `127.0.0.1:3000`.
//! - `SESSION_KEYS`: `kid:base64url-secret[,kid:secret...]`; the first key signs, the others
//!   only verify. Secrets must decode to at least 32 bytes, e.g.
//!   `SESSION_KEYS="k1:$(openssl rand -base64 32)"`. Without it a random key is generated
//!   at startup, so sessions die with the process and no other instance can verify them.
//! - `SESSION_IDLE_SECS` (default 1800), `SESSION_ABSOLUTE_SECS` (default 172800),
//!   `SESSION_REFRESH_SECS` (default 60), `SESSION_LEEWAY_SECS` (default 60).
//! - `REDIS_URL`: share revocations through Redis (needs `--features redis`); without it
//!   they are kept in this process.
//!
//! # Trying it with curl
//!
//! ```text
//! curl -i -c jar -H 'content-type: application/json' -d '{"user":"ada"}' http://127.0.0.1:3000/login
//! curl -i -b jar http://127.0.0.1:3000/me
//! curl -i -b jar -c jar -H 'content-type: text/plain' -d 'buy milk' http://127.0.0.1:3000/note
//! curl -i -b jar -c jar -X POST http://127.0.0.1:3000/logout
//! ```
//!
//! The cookie is marked `Secure`. Recent curl versions (7.79 and later) still send `Secure`
//! cookies to `localhost` and `127.0.0.1` over plain HTTP; older ones do not. If `/me` answers
//! 401 right after a login, copy the token from the login's `Set-Cookie` header and pass it
//! by hand: `curl -b 'session=eyJ...' http://127.0.0.1:3000/me`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use tower_stateless_session::revocation::{MemoryRevocations, RevocationStore};
use tower_stateless_session::{
    DEFAULT_COOKIE_BUDGET, IssuedToken, KeyRing, Session, SessionError, SessionHandle,
    SessionLayer, SignError,
};

/// Where the demo listens unless `DEMO_ADDR` says otherwise.
const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// The environment variable holding the key ring.
const KEYS_VAR: &str = "SESSION_KEYS";

/// The longest user name accepted, in characters.
const MAX_NAME_CHARS: usize = 64;

/// The longest note accepted, in bytes of UTF-8 (after trimming).
const MAX_NOTE_BYTES: usize = 2000;

/// The largest `POST /note` body read: a form may percent-encode every byte of the note
/// as three.
const MAX_NOTE_BODY_BYTES: usize = 3 * MAX_NOTE_BYTES + 64;

/// Response headers giving the size of a newly issued session cookie, and its budget.
const TOKEN_SIZE_HEADER: &str = "x-session-token-size";
const TOKEN_BUDGET_HEADER: &str = "x-session-token-budget";

/// What the demo keeps in a session. Its fields sit next to the registered claims in the
/// token, so `sub` ends up as the standard top-level `sub` claim.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DemoSession {
    sub: String,
    /// Notes added with `POST /note`. `default`: cookies signed before notes existed still
    /// decode; left out of the token while empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

/// The session timeouts, as read from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timeouts {
    idle: Duration,
    absolute: Duration,
    refresh: Duration,
    leeway: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            idle: Duration::from_secs(1800),
            absolute: Duration::from_secs(172_800),
            refresh: Duration::from_secs(60),
            leeway: Duration::from_secs(60),
        }
    }
}

impl Timeouts {
    /// Reads the four `SESSION_*_SECS` variables through `lookup`, which returns a variable's
    /// value, `None` when it is unset, or an error when it cannot be read.
    fn from_lookup(
        mut lookup: impl FnMut(&str) -> Result<Option<String>, String>,
    ) -> Result<Self, String> {
        let defaults = Timeouts::default();
        let mut read = |name: &str, default: Duration, min: u64| -> Result<Duration, String> {
            let raw = lookup(name)?;
            parse_secs(name, raw.as_deref(), default, min)
        };
        Ok(Timeouts {
            idle: read("SESSION_IDLE_SECS", defaults.idle, 1)?,
            absolute: read("SESSION_ABSOLUTE_SECS", defaults.absolute, 1)?,
            refresh: read("SESSION_REFRESH_SECS", defaults.refresh, 0)?,
            leeway: read("SESSION_LEEWAY_SECS", defaults.leeway, 0)?,
        })
    }
}

/// Parses a whole number of seconds from the variable `name`; `None` means "use `default`".
/// Values below `min` are refused too, so a typo cannot silently disable a timeout.
fn parse_secs(
    name: &str,
    raw: Option<&str>,
    default: Duration,
    min: u64,
) -> Result<Duration, String> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    let secs: u64 = raw.trim().parse().map_err(|_| {
        format!("{name} must be a whole number of seconds (for example 1800), got {raw:?}")
    })?;
    if secs < min {
        return Err(format!("{name} must be at least {min}, got {secs}"));
    }
    Ok(Duration::from_secs(secs))
}

/// Parses the listen address; `None` means the default.
fn parse_addr(raw: Option<&str>) -> Result<SocketAddr, String> {
    let raw = raw.unwrap_or(DEFAULT_ADDR);
    raw.trim()
        .parse()
        .map_err(|_| format!("DEMO_ADDR must be an address like {DEFAULT_ADDR}, got {raw:?}"))
}

/// One environment variable: `Ok(None)` when unset, an error when it is not Unicode.
fn env_var(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid Unicode")),
    }
}

/// The key ring from `SESSION_KEYS`, or a throw-away key (with a warning) when it is unset.
/// The error text comes from [`ConfigError`](tower_stateless_session::ConfigError), which
/// names keys by position or id and never repeats a secret.
fn load_keys() -> Result<KeyRing, String> {
    if std::env::var_os(KEYS_VAR).is_some() {
        return KeyRing::from_env(KEYS_VAR).map_err(|e| format!("{KEYS_VAR} is invalid: {e}"));
    }
    eprintln!(
        "warning: {KEYS_VAR} is not set, so a random signing key was generated for this run.\n\
         warning: sessions will not survive a restart, and other instances cannot verify them.\n\
         warning: set it as `kid:base64url-secret[,kid:secret...]` (the first key signs, the\n\
         warning: others only verify; secrets must be at least 32 bytes), for example:\n\
         warning:   export {KEYS_VAR}=\"k1:$(openssl rand -base64 32)\""
    );
    KeyRing::generate("demo").map_err(|e| format!("cannot generate a key: {e}"))
}

/// The session layer with the demo's settings (cookie `session`, the default size budgets,
/// a friendlier answer when a change cannot be saved, revocation by session and by user).
fn session_layer(
    keys: KeyRing,
    timeouts: &Timeouts,
    revocations: Arc<dyn RevocationStore>,
) -> SessionLayer<DemoSession> {
    SessionLayer::new(keys)
        .with_idle_timeout(timeouts.idle)
        .with_absolute_timeout(timeouts.absolute)
        .with_refresh_after(timeouts.refresh)
        .with_leeway(timeouts.leeway)
        .with_sign_failure_response(unsaved_change_response)
        .with_revocation(revocations, |session: &DemoSession| {
            Some(session.sub.as_str())
        })
}

/// The revocation store: Redis when `REDIS_URL` is set, this process's memory otherwise.
async fn revocation_store() -> Result<Arc<dyn RevocationStore>, String> {
    let Some(url) = env_var("REDIS_URL")? else {
        eprintln!("revocations are kept in this process (set REDIS_URL to share them)");
        return Ok(Arc::new(MemoryRevocations::new()));
    };
    redis_store(&url).await
}

#[cfg(feature = "redis")]
async fn redis_store(url: &str) -> Result<Arc<dyn RevocationStore>, String> {
    let store = tower_stateless_session::revocation::RedisRevocations::builder(url)
        .with_prefix("demo:revocations")
        .start()
        .map_err(|e| format!("REDIS_URL: {e}"))?;
    if store.wait_loaded(std::time::Duration::from_secs(3)).await {
        eprintln!("revocations are shared through Redis");
    } else {
        eprintln!(
            "warning: Redis is not reachable yet; serving with an empty revocation set and \
             retrying in the background"
        );
    }
    Ok(Arc::new(store))
}

#[cfg(not(feature = "redis"))]
async fn redis_store(_: &str) -> Result<Arc<dyn RevocationStore>, String> {
    Err(
        "REDIS_URL is set but the demo was built without Redis support: \
         run `cargo run --example demo --features redis`"
            .to_owned(),
    )
}

/// What the layer answers instead of the handler's response when the changed session cannot
/// be signed. In this demo only notes grow a session, so a session over its budget means
/// the user added too much: a 413 that says so. Anything else is a server fault: 500.
fn unsaved_change_response(error: &SignError) -> axum::http::Response<Bytes> {
    let (status, message) = match error {
        SignError::Oversized { len, max } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The note was not saved: with it the session cookie would be {len} bytes, \
                 over its budget of {max} bytes.\n\
                 Your session is unchanged and keeps your earlier notes. Log out to start over.\n"
            ),
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "The change could not be saved. Your session is unchanged.\n".to_owned(),
        ),
    };
    let mut response = axum::http::Response::new(Bytes::from(message));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

// ---------------------------------------------------------------------------------------
// The application
// ---------------------------------------------------------------------------------------

/// The demo's routes, wrapped in `layer`.
fn app(layer: SessionLayer<DemoSession>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/me", get(me))
        .route(
            "/note",
            post(add_note).layer(DefaultBodyLimit::max(MAX_NOTE_BODY_BYTES)),
        )
        .route("/logout", post(logout))
        .route("/logout-all", post(logout_all))
        .layer(layer)
        .layer(axum::middleware::map_response(report_token_size))
}

/// Copies the size of a session cookie issued on this response, which the layer records as
/// an [`IssuedToken`] in the response's extensions, into response headers. A real service
/// would feed it to a metric instead.
async fn report_token_size(mut response: Response) -> Response {
    if let Some(issued) = response.extensions().get::<IssuedToken>().copied() {
        let headers = response.headers_mut();
        headers.insert(TOKEN_SIZE_HEADER, HeaderValue::from(issued.size));
        headers.insert(TOKEN_BUDGET_HEADER, HeaderValue::from(issued.budget));
    }
    response
}

/// A plain-text response.
fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// The media type of the request body, lowercased, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    Some(essence.to_ascii_lowercase())
}

/// Checks a user name and returns it trimmed.
fn validate_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("user name must not be empty");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err("user name must be at most 64 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("user name must not contain control characters");
    }
    Ok(name.to_owned())
}

/// Escapes text for an HTML element body or a quoted attribute.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `t` relative to `now`, in words.
fn relative(t: u64, now: u64) -> String {
    if t >= now {
        format!("in {} s", t - now)
    } else {
        format!("{} s ago", now - t)
    }
}

/// `GET /`: the session as the server sees it, and forms to change it.
async fn index(session: Option<Session<DemoSession>>) -> Response {
    let details = session.as_ref().and_then(|s| {
        let info = s.info()?;
        let (sub, notes) = s.with(|d| (d.sub.clone(), d.notes.clone()))?;
        // The layer's clock: a ManualClock in the tests.
        Some((info, sub, notes, s.now(), s.token_size()))
    });
    let status = match details {
        Some((info, sub, notes, now, token_size)) => {
            let row = |label: &str, t: u64| {
                format!(
                    "<tr><th>{label}</th><td>{t}</td><td>{}</td></tr>\n",
                    relative(t, now)
                )
            };
            format!(
                "<p>Signed in as <strong>{user}</strong>.</p>\n\
                 <table>\n\
                 <tr><th>session id</th><td colspan=\"2\"><code>{sid}</code></td></tr>\n\
                 <tr><th>remember me</th><td colspan=\"2\">{remember}</td></tr>\n\
                 {authenticated}{issued}{expires}{deadline}\
                 <tr><th>cookie size</th><td colspan=\"2\">{size}</td></tr>\n\
                 </table>\n\
                 <h2>Notes</h2>\n\
                 {notes}\
                 <form method=\"post\" action=\"/note\">\n\
                 <label>Note <textarea name=\"note\" maxlength=\"{MAX_NOTE_BYTES}\" required></textarea></label>\n\
                 <button type=\"submit\">Add note</button>\n\
                 </form>\n\
                 <form method=\"post\" action=\"/logout\"><button type=\"submit\">Log out</button></form>\n\
                 <form method=\"post\" action=\"/logout-all\"><button type=\"submit\">Log out everywhere</button></form>\n",
                user = escape_html(&sub),
                sid = escape_html(&info.sid.to_string()),
                remember = if info.remember { "yes" } else { "no" },
                authenticated = row("logged in at", info.auth_time),
                issued = row("token issued at", info.issued_at),
                expires = row("token expires at", info.expires_at),
                deadline = row("absolute deadline", info.absolute_deadline),
                // The demo keeps the layer's default budget.
                size = match token_size {
                    Some(size) => format!(
                        "{size} of {DEFAULT_COOKIE_BUDGET} bytes ({}%)",
                        size * 100 / DEFAULT_COOKIE_BUDGET
                    ),
                    None => "unknown".to_owned(),
                },
                notes = notes_html(&notes),
            )
        }
        None => "<p>No session: you are not signed in.</p>\n".to_owned(),
    };
    let page = format!(
        "<!doctype html>\n\
         <html lang=\"en\">\n\
         <head><meta charset=\"utf-8\"><title>tower-stateless-session demo</title></head>\n\
         <body>\n\
         <h1>tower-stateless-session demo</h1>\n\
         {status}\
         <p>Times are shown as Unix seconds and relative to now.</p>\n\
         <h2>Log in</h2>\n\
         <form method=\"post\" action=\"/login\">\n\
         <label>User <input name=\"user\" maxlength=\"64\" required></label>\n\
         <label><input type=\"checkbox\" name=\"remember\"> remember me</label>\n\
         <button type=\"submit\">Log in</button>\n\
         </form>\n\
         </body>\n\
         </html>\n"
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(page)).into_response()
}

/// The session's notes as an HTML list, escaped.
fn notes_html(notes: &[String]) -> String {
    if notes.is_empty() {
        return "<p>No notes yet.</p>\n".to_owned();
    }
    let mut html = String::from("<ol>\n");
    for note in notes {
        html.push_str("<li style=\"white-space: pre-wrap\">");
        html.push_str(&escape_html(note));
        html.push_str("</li>\n");
    }
    html.push_str("</ol>\n");
    html
}

/// The JSON body of `POST /login`.
#[derive(Deserialize)]
struct JsonLogin {
    user: String,
    #[serde(default)]
    remember: bool,
}

/// The form body of `POST /login`: an HTML checkbox sends `remember=on` when ticked and
/// nothing otherwise.
#[derive(Deserialize)]
struct FormLogin {
    user: String,
    remember: Option<String>,
}

fn checkbox_ticked(value: Option<&str>) -> bool {
    value.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "1" | "yes"))
}

/// `POST /login`: JSON or form, see the module documentation.
async fn login(session: SessionHandle<DemoSession>, request: Request) -> Response {
    let is_json = match media_type(request.headers()).as_deref() {
        Some("application/json") => true,
        Some("application/x-www-form-urlencoded") => false,
        _ => {
            return plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send application/json or application/x-www-form-urlencoded",
            );
        }
    };
    let (user, remember) = if is_json {
        match Json::<JsonLogin>::from_request(request, &()).await {
            Ok(Json(body)) => (body.user, body.remember),
            Err(rejection) => {
                let message = format!("invalid JSON body: {}", rejection.body_text());
                return plain(StatusCode::BAD_REQUEST, &message);
            }
        }
    } else {
        match Form::<FormLogin>::from_request(request, &()).await {
            Ok(Form(body)) => {
                let remember = checkbox_ticked(body.remember.as_deref());
                (body.user, remember)
            }
            Err(rejection) => {
                let message = format!("invalid form body: {}", rejection.body_text());
                return plain(StatusCode::BAD_REQUEST, &message);
            }
        }
    };
    let user = match validate_name(&user) {
        Ok(user) => user,
        Err(message) => return plain(StatusCode::BAD_REQUEST, message),
    };
    let data = DemoSession {
        sub: user.clone(),
        notes: Vec::new(),
    };
    let started = if remember {
        session.login_persistent(data)
    } else {
        session.login(data)
    };
    let info = match started {
        Ok(info) => info,
        Err(e) => return e.into_response(),
    };
    if !is_json {
        return Redirect::to("/").into_response();
    }
    Json(serde_json::json!({ "sub": user, "sid": info.sid.to_string() })).into_response()
}

/// `GET /me`: the extractor answers 401 by itself when there is no valid session.
async fn me(session: Session<DemoSession>) -> Response {
    let (Some(info), Some(sub)) = (session.info(), session.with(|d| d.sub.clone())) else {
        return plain(StatusCode::UNAUTHORIZED, "a valid session is required");
    };
    Json(serde_json::json!({
        "sub": sub,
        "sid": info.sid.to_string(),
        "iat": info.issued_at,
        "exp": info.expires_at,
        "auth_time": info.auth_time,
    }))
    .into_response()
}

/// The form body of `POST /note`.
#[derive(Deserialize)]
struct FormNote {
    note: String,
}

/// Checks a note and returns it trimmed, or the status and message to refuse it with.
fn validate_note(raw: &str) -> Result<String, (StatusCode, String)> {
    let note = raw.trim();
    if note.is_empty() {
        return Err((
            StatusCode::BAD_REQUEST,
            "a note must not be empty".to_owned(),
        ));
    }
    if note.len() > MAX_NOTE_BYTES {
        return Err(note_too_long(note.len()));
    }
    if note
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err((
            StatusCode::BAD_REQUEST,
            "a note must not contain control characters other than line breaks and tabs".to_owned(),
        ));
    }
    Ok(note.to_owned())
}

fn note_too_long(len: usize) -> (StatusCode, String) {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("a note may be at most {MAX_NOTE_BYTES} bytes, this one is {len}"),
    )
}

/// `POST /note`: appends a note to the session; see the module documentation.
async fn add_note(session: Option<Session<DemoSession>>, request: Request) -> Response {
    let Some(session) = session else {
        return plain(
            StatusCode::UNAUTHORIZED,
            "log in first: notes are kept in the session",
        );
    };
    let is_form = match media_type(request.headers()).as_deref() {
        Some("text/plain") => false,
        Some("application/x-www-form-urlencoded") => true,
        _ => {
            return plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the note as text/plain, or as a form field `note`",
            );
        }
    };
    // The route's `DefaultBodyLimit` caps what the extractors read.
    let raw = if is_form {
        Form::<FormNote>::from_request(request, &())
            .await
            .map(|Form(form)| form.note)
            .map_err(|rejection| (rejection.status(), rejection.body_text()))
    } else {
        String::from_request(request, &())
            .await
            .map_err(|rejection| (rejection.status(), rejection.body_text()))
    };
    let note = match raw {
        Ok(raw) => validate_note(&raw),
        Err((StatusCode::PAYLOAD_TOO_LARGE, _)) => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a note may be at most {MAX_NOTE_BYTES} bytes"),
        )),
        Err((_, text)) => Err((StatusCode::BAD_REQUEST, format!("invalid note: {text}"))),
    };
    let note = match note {
        Ok(note) => note,
        Err((status, message)) => return plain(status, &message),
    };
    let count = match session.modify(|data| {
        data.notes.push(note);
        data.notes.len()
    }) {
        Ok(count) => count,
        Err(e) => return e.into_response(),
    };
    // The layer signs the grown session after this returns; if it no longer fits its
    // budget, the layer replaces this response with `unsaved_change_response`.
    if is_form {
        return Redirect::to("/").into_response();
    }
    Json(serde_json::json!({
        "notes": count,
        "token_size": session.token_size(),
    }))
    .into_response()
}

/// Whether a logout came from an HTML form (and so wants a redirect rather than JSON).
fn is_form_post(headers: &HeaderMap) -> bool {
    match media_type(headers).as_deref() {
        Some("application/x-www-form-urlencoded") => true,
        Some(_) => false,
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.to_ascii_lowercase().contains("text/html")),
    }
}

/// `POST /logout`: deletes the cookie and revokes the session; harmless without one.
async fn logout(
    session: SessionHandle<DemoSession>,
    headers: HeaderMap,
) -> Result<Response, SessionError> {
    session.logout()?;
    Ok(logged_out(&headers))
}

/// `POST /logout-all`: revokes every session of this user and ends this one.
async fn logout_all(
    session: Session<DemoSession>,
    headers: HeaderMap,
) -> Result<Response, SessionError> {
    session.logout_everywhere()?;
    Ok(logged_out(&headers))
}

fn logged_out(headers: &HeaderMap) -> Response {
    if is_form_post(headers) {
        Redirect::to("/").into_response()
    } else {
        Json(serde_json::json!({ "ok": true })).into_response()
    }
}

// ---------------------------------------------------------------------------------------
// Startup
// ---------------------------------------------------------------------------------------

async fn shutdown_signal() {
    match tokio::signal::ctrl_c().await {
        Ok(()) => eprintln!("Ctrl-C received, finishing open requests"),
        Err(e) => {
            eprintln!("cannot listen for Ctrl-C ({e}); stop the process another way");
            std::future::pending::<()>().await;
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().init();

    let setup = (|| -> Result<_, String> {
        let addr = parse_addr(env_var("DEMO_ADDR")?.as_deref())?;
        let timeouts = Timeouts::from_lookup(env_var)?;
        let keys = load_keys()?;
        Ok((addr, timeouts, keys))
    })();
    let revocations = match revocation_store().await {
        Ok(store) => store,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let (addr, timeouts, keys) = match setup {
        Ok(setup) => setup,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    if timeouts.refresh >= timeouts.idle {
        eprintln!(
            "warning: SESSION_REFRESH_SECS ({}) is not below SESSION_IDLE_SECS ({}): \
             sessions will never be extended",
            timeouts.refresh.as_secs(),
            timeouts.idle.as_secs()
        );
    }

    let router = app(session_layer(keys, &timeouts, revocations));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let url = listener
        .local_addr()
        .map_or_else(|_| format!("http://{addr}/"), |a| format!("http://{a}/"));
    println!("demo listening on {url} (Ctrl-C to stop)");

    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        eprintln!("error: server failed: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    use axum::body::Body;
    use axum::http::Request;
    use base64::Engine as _;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    use tower_stateless_session::{Key, ManualClock};

    const T0: u64 = 1_800_000_000;

    fn test_layer() -> SessionLayer<DemoSession> {
        let key = Key::hs256("test", &[7u8; 32]).expect("a 32-byte secret is valid");
        session_layer(
            KeyRing::new(key),
            &Timeouts::default(),
            Arc::new(MemoryRevocations::new()),
        )
        .with_clock(ManualClock::new(T0))
    }

    fn test_app() -> Router {
        app(test_layer())
    }

    async fn send(app: &Router, request: Request<Body>) -> Response {
        app.clone()
            .oneshot(request)
            .await
            .expect("the router never fails")
    }

    fn post(
        uri: &str,
        content_type: Option<&str>,
        body: &str,
        cookie: Option<&str>,
    ) -> Request<Body> {
        let mut builder = Request::post(uri);
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        if let Some(cookie) = cookie {
            builder = builder.header(header::COOKIE, cookie);
        }
        builder
            .body(Body::from(body.to_owned()))
            .expect("valid request")
    }

    fn get(uri: &str, cookie: Option<&str>) -> Request<Body> {
        let mut builder = Request::get(uri);
        if let Some(cookie) = cookie {
            builder = builder.header(header::COOKIE, cookie);
        }
        builder.body(Body::empty()).expect("valid request")
    }

    async fn body_text(response: Response) -> String {
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body is readable")
            .to_bytes();
        String::from_utf8(bytes.to_vec()).expect("body is UTF-8")
    }

    async fn body_json(response: Response) -> serde_json::Value {
        let text = body_text(response).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("body {text:?} is not JSON: {e}"))
    }

    /// The response's single `Set-Cookie`, parsed.
    fn set_cookie(response: &Response) -> cookie::Cookie<'static> {
        let all: Vec<_> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .collect();
        assert_eq!(all.len(), 1, "expected exactly one Set-Cookie, got {all:?}");
        let text = all[0].to_str().expect("Set-Cookie is ASCII").to_owned();
        cookie::Cookie::parse(text).expect("Set-Cookie parses")
    }

    /// `session=...`, ready to send back.
    fn cookie_header(cookie: &cookie::Cookie<'_>) -> String {
        format!("{}={}", cookie.name(), cookie.value())
    }

    async fn json_login(app: &Router, user: &str) -> String {
        let body = serde_json::json!({ "user": user }).to_string();
        let response = send(app, post("/login", Some("application/json"), &body, None)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "JSON login of {user:?} failed"
        );
        cookie_header(&set_cookie(&response))
    }

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

    #[tokio::test]
    async fn the_page_escapes_the_user_name() {
        let app = test_app();
        let anonymous = body_text(send(&app, get("/", None)).await).await;
        assert!(
            anonymous.contains("No session"),
            "the page says when there is no session"
        );

        let cookie = json_login(&app, "<script>alert(1)</script>").await;
        let response = send(&app, get("/", Some(&cookie))).await;
        assert_eq!(response.status(), StatusCode::OK, "the page renders");
        let page = body_text(response).await;
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "the name is shown escaped"
        );
        assert!(
            !page.contains("<script>"),
            "no raw script tag reaches the page"
        );
        assert!(
            page.contains("in 1800 s"),
            "expiry is shown relative to the layer's clock"
        );
    }

    #[test]
    fn escape_html_neutralises_markup() {
        assert_eq!(
            escape_html(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
            "all five special characters are escaped"
        );
    }

    #[test]
    fn env_helpers_reject_bad_values() {
        let default = Duration::from_secs(5);
        for raw in ["abc", "-5", "1.5", "", "10s"] {
            assert!(
                parse_secs("SESSION_IDLE_SECS", Some(raw), default, 1).is_err(),
                "{raw:?} is not a number of seconds"
            );
        }
        assert_eq!(
            parse_secs("SESSION_IDLE_SECS", None, default, 1),
            Ok(default),
            "unset means the default"
        );
        assert_eq!(
            parse_secs("SESSION_IDLE_SECS", Some(" 90 "), default, 1),
            Ok(Duration::from_secs(90)),
            "surrounding spaces are fine"
        );
        assert!(
            parse_secs("SESSION_IDLE_SECS", Some("0"), default, 1).is_err(),
            "a zero idle timeout is refused"
        );

        let error = Timeouts::from_lookup(|name| {
            Ok((name == "SESSION_LEEWAY_SECS").then(|| "soon".to_owned()))
        })
        .expect_err("a non-numeric leeway is refused");
        assert!(
            error.contains("SESSION_LEEWAY_SECS"),
            "the error names the variable: {error}"
        );
        assert_eq!(
            Timeouts::from_lookup(|_| Ok(None)),
            Ok(Timeouts::default()),
            "no variables means the defaults"
        );

        assert!(
            parse_addr(Some("localhost:http")).is_err(),
            "a bad DEMO_ADDR is refused"
        );
        assert_eq!(
            parse_addr(None).map(|a| a.port()),
            Ok(3000),
            "DEMO_ADDR defaults to port 3000"
        );
    }

    async fn post_note(app: &Router, cookie: &str, note: &str) -> Response {
        send(app, post("/note", Some("text/plain"), note, Some(cookie))).await
    }

    /// A numeric response header.
    fn header_number(response: &Response, name: &str) -> Option<usize> {
        response.headers().get(name)?.to_str().ok()?.parse().ok()
    }

    fn assert_no_set_cookie(response: &Response, context: &str) {
        assert!(
            response.headers().get(header::SET_COOKIE).is_none(),
            "{context}: no Set-Cookie may be sent"
        );
    }

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
            page.contains(&format!("{} of 4096 bytes", cookie.len())),
            "the page shows the cookie's size against its budget:\n{page}"
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
            Some(&b"/"[..]),
            "a form note redirects to /"
        );
        let cookie = cookie_header(&set_cookie(&response));
        let page = body_text(send(&app, get("/", Some(&cookie))).await).await;
        assert!(
            page.contains("<li style=\"white-space: pre-wrap\">hello world!</li>"),
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
    async fn the_note_that_would_cross_the_budget_is_refused_and_the_session_before_it_still_works()
    {
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
        for i in 0..saved {
            assert!(
                page.contains(&format!("note-{i} ")),
                "saved note {i} is still listed"
            );
        }
        assert!(
            !page.contains(&format!("note-{saved} ")),
            "the refused note is not listed"
        );
        assert_eq!(
            page.matches("<li ").count(),
            saved,
            "exactly the saved notes are listed"
        );
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
        let codec = layer.codec_ref();
        let claims = codec
            .new_claims(OldSession {
                sub: "ada".to_owned(),
            })
            .expect("claims");
        let old = format!("session={}", codec.sign(&claims).expect("signs"));
        let app = app(layer);

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
}
