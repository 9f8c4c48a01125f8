//! A small axum application showing stateless signed sessions end to end.
//!
//! Run it with `cargo run --example demo` and open <http://127.0.0.1:3000/>. The default
//! build signs sessions with HS256; encrypted sessions, node keys, Redis and `/metrics` need
//! their features (`cargo run --example demo --features jwe,node-keys,redis,metrics` has
//! them all; see "Configuration" below).
//!
//! Everything about a session lives in one signed cookie named `session`: the server keeps no
//! session store. The page at `/` shows what the cookie holds, as the server sees it: live
//! countdowns to the token's expiry (the idle timeout, which slides on every refresh), to the
//! next refresh and to the absolute deadline; the cookie and the whole `Cookie` header as
//! gauges against their budgets, with the 75 % warning mark; the token split into its parts
//! with its header and claims decoded and the key that made it (and, with node keys, whether
//! this node or another one signed it); the notes; logout and "log out everywhere"; and a
//! button that makes a request and says whether the answer re-signed the token. A refused cookie (expired, revoked, too large, forged) gets a plain message,
//! with every kind of forgery worded the same. The cookie is `HttpOnly`; the page shows the
//! token only because the server writes it into the HTML for its owner, a demo choice that
//! the page itself points out. Login, notes and logout are plain forms that work without
//! JavaScript.
//!
//! # Routes
//!
//! | Route          | What it does                                                          |
//! |----------------|-----------------------------------------------------------------------|
//! | `GET /`        | HTML page: the session taken apart (see above), or the login form. After a refused cookie it says why; `?done=logout` and `?done=logout-all` confirm a logout. Sent with a `Content-Security-Policy` that admits only the page's own script and style. |
//! | `POST /login`  | Starts a session. Body is JSON `{"user":"ada","remember":true}` or a form `user=ada&remember=on`, chosen by `Content-Type` (anything else: 415). The name is trimmed and must be 1 to 64 characters without control characters (otherwise 400). JSON gets `200 {"sub","sid"}`, a form gets `303 See Other` to `/`. With `remember` the cookie carries `Max-Age` and survives a browser restart. |
//! | `GET /me`      | `200` JSON `{"sub","sid","iat","exp","auth_time"}` of the token the response leaves the client with (re-signed first when a refresh is due; the response then has `X-Session-Token-Size`), or `401` JSON `{"error","title","message"}` with `error` one of `missing`, `expired`, `revoked`, `too_large`, `not_accepted`. |
//! | `POST /note`   | Appends a note to the session (`401` without one). Body is `text/plain` (the note itself) or a form `note=...` (anything else: 415). The note is trimmed, 1 to 2000 bytes (empty: 400, longer: 413), no control characters but line breaks and tabs (400). Plain text gets `200 {"notes","token_size"}`, a form gets `303` to `/#notes`. A note that would push the cookie over its size budget is refused with `413` and is not saved; the session stays as it was. |
//! | `POST /logout` | Ends the session: deletes the cookie and revokes the session, so copies of its token stop working too. Form posts (`Content-Type: application/x-www-form-urlencoded`, or no `Content-Type` with `Accept: text/html`) get `303` to `/?done=logout`; anything else gets `200 {"ok":true}`. |
//! | `POST /logout-all` | Revokes every session of the current user, on every device, and ends this one (`401` without a session). Same answers as `/logout`, the redirect going to `/?done=logout-all`. |
//! | `GET /.well-known/jwks.json` | The public keys that verify the sessions, as a JWK set (`application/json`, `Cache-Control: max-age=60`, `ETag`/304): this instance's node key and the other instances' with `SESSION_SIGNING=node`, an empty set with HS256. |
//!
//! Refusals (400, 401, 413, 415, the layer's 403 and 431, ...) are plain text; a browser
//! that asks for HTML (`Accept: text/html`) gets them as a small page saying what happened,
//! with a link back.
//!
//! # Cross-site requests
//!
//! Cross-origin protection is on (the layer's default with cookies): a form or script on
//! another site, or on another port of this host, that posts to the demo is refused with
//! 403 before the session is read, login included ("Refused: this came from another
//! site"). With `SESSION_CSRF=token` (needs `--features csrf`) the demo adds the
//! session-bound tokens users of Rails and Django expect: each page carries the session's
//! token, masked afresh, in a hidden `_csrf` field of its forms (notes, logout, log out
//! everywhere; the login form has no session to bind to) and in `data-csrf` for its
//! script, which then sends notes as `text/plain` with the `X-CSRF-Token` header. A form
//! without the field, or with the field of a page from before a new login, is refused
//! with 403 ("Refused: this form is out of date"); so is a script or curl request without
//! the header (with curl, read a token from the `data-csrf` attribute of `GET /`).
//!
//! # Revocation
//!
//! A signed token cannot be recalled by itself; the demo therefore checks every valid token
//! against a revocation set. Without Redis settings the set lives in this process (one node);
//! with `REDIS_URL=redis://127.0.0.1:6379/0` (build with `--features redis`), or a Sentinel
//! or Cluster (below), revocations are shared through Redis, so a logout on one instance is
//! enforced by all of them within milliseconds, and a Redis outage keeps the last known set
//! in force.
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
//! - `SESSION_ENCRYPTION_KEYS` (needs `--features jwe`):
//!   `kid:base64url-32-bytes[,kid:secret...]` turns the encrypted mode on: the first key
//!   encrypts every new token (a JWE the browser cannot read), the others only decrypt.
//!   Secrets are exactly 32 bytes, each its own (never one of `SESSION_KEYS`), e.g.
//!   `SESSION_ENCRYPTION_KEYS="e1:$(openssl rand -base64 32)"`. Keys from `SESSION_KEYS`,
//!   if set too, then only verify: signed sessions move to encrypted tokens at their next
//!   request.
//! - `SESSION_JWE_ALG` (`jwe`): `A256KW` (the default: a fresh content key per token) or
//!   `dir` (the key encrypts directly: smaller tokens, at most 2^32 tokens per key in all).
//! - `SESSION_SIGNING=node` (needs `--features node-keys`): instead of shared secrets, each
//!   process makes its own Ed25519 node key and publishes its public half before signing
//!   with it: through Redis when one is configured (below), so every instance verifies
//!   every other's sessions, and in this process otherwise. No `SESSION_KEYS` needed (when
//!   given, they and any `SESSION_ENCRYPTION_KEYS` accept older sessions, which move to the
//!   node key, and issue while the node key is not published yet).
//!   `SESSION_REGISTRATION_KEY` (`node-keys`; base64url, at least 32 bytes, the same on
//!   every instance) authenticates the published keys; without it one is generated, with a
//!   warning.
//! - `GET /.well-known/jwks.json` serves the public keys in every mode (an empty set with
//!   HS256, whose secrets are never published), for services that verify sessions without
//!   holding a secret.
//! - `SESSION_CSRF=token` (needs `--features csrf`): session-bound CSRF tokens in the
//!   page's forms and script, on top of cross-origin protection (see "Cross-site
//!   requests" above). Unset: cross-origin protection only.
//! - `SESSION_IDLE_SECS` (default 1800), `SESSION_ABSOLUTE_SECS` (default 172800),
//!   `SESSION_REFRESH_SECS` (default 60), `SESSION_LEEWAY_SECS` (default 60).
//! - Redis, to share revocations and node keys (needs `--features redis`, and node keys
//!   `node-keys` too; without any of these they are kept in this process), one of:
//!   - `REDIS_URL`: `redis://[user:password@]host:port[/db]`, or `rediss://...` for TLS;
//!   - `REDIS_SENTINELS` (`host:port,host:port`) with `REDIS_SENTINEL_MASTER` (master name);
//!   - `REDIS_CLUSTER_NODES` (`redis://host:port,redis://host:port`).
//!
//!   Two of them at once is a startup error. `REDIS_CA_FILE`: PEM file of the CA for TLS
//!   (default: the system roots).
//!
//! A setting whose feature the demo was built without stops it at startup with the feature
//! and the command to use (`features.rs`), for example:
//!
//! ```text
//! error: SESSION_ENCRYPTION_KEYS needs the jwe feature: cargo run --example demo --features jwe
//! ```
//!
//! Without `node-keys` the demo signs with HS256 only and its JWKS is always the empty set.
//!
//! # Operations
//!
//! `GET /health` answers `200` with `{"status":"ok"|"degraded","checks":{...}}`: the
//! revocation store's state, and with `SESSION_SIGNING=node` the node key's (`node_key`:
//! whether it issues with its own, published key) and the key registry's
//! (`key_registry`). A Redis outage is `degraded`, never a failure. Built with
//! `--features metrics`, `GET /metrics` serves the layer's metrics in the Prometheus text
//! format (see the crate's `observability` docs for the table and the alert rules). Every
//! request is logged with its headers; the ones carrying tokens (`Cookie`, `Set-Cookie`,
//! `Authorization`) print as `Sensitive`.
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
//!
//! # Layout
//!
//! This file is the part to read for using the layer: the layer's configuration, the
//! routes and the handlers. The rest is the demo's own plumbing: `features.rs` refuses
//! settings this build has no feature for, `signing.rs` reads the keys from the environment
//! (shared secrets, encryption keys, or this node's key and its registry), `config.rs` the
//! address and the timeouts, `redis_env.rs` the Redis settings (shared revocations and node
//! keys), `input.rs` checks request bodies, `page.rs` (with `page.css`, `page.js`),
//! `token_view.rs` and `signer_view.rs` (which key or node made the token) render the HTML
//! page, `outcome.rs` words refusals for people, `ops.rs` serves `/health` and `/metrics`
//! and logs requests, and `tests/` drives the whole router.

mod binding;
mod config;
mod features;
mod input;
mod ops;
mod outcome;
mod page;
mod redis_env;
mod signer_view;
mod signing;
#[cfg(test)]
mod tests;
pub(crate) mod tls;
mod token_view;

use std::process::ExitCode;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, RawQuery, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower_stateless_session::revocation::RevocationStore;
use tower_stateless_session::server::{DEFAULT_COOKIE_NAME, IssuedToken};
use tower_stateless_session::token::SignError;
use tower_stateless_session::{KeyRingHandle, Session, SessionHandle, SessionLayer};

// `pub(crate)`: the browser test (`tests/browser/`) includes this file as a module and serves
// the same app.
pub(crate) use config::Timeouts;
use config::{csrf_tokens, env_var, parse_addr};
use input::{check_form, is_form_post, plain, read_login, read_note};
use outcome::Outcome;
pub(crate) use signer_view::ThisNode;

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
pub(crate) struct DemoSession {
    sub: String,
    /// Notes added with `POST /note`. `default`: cookies signed before notes existed still
    /// decode; left out of the token while empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// The session layer (its keys come from `signing.rs`)
// ---------------------------------------------------------------------------------------

/// The session layer with the demo's settings (cookie `session`, the default size budgets,
/// a friendlier answer when a change cannot be saved, revocation by session and by user).
pub(crate) fn session_layer(
    keys: impl Into<KeyRingHandle>,
    timeouts: &Timeouts,
    revocations: Arc<dyn RevocationStore>,
) -> SessionLayer<DemoSession> {
    let layer = SessionLayer::new(keys)
        .with_idle_timeout(timeouts.idle)
        .with_absolute_timeout(timeouts.absolute)
        .with_refresh_after(timeouts.refresh)
        .with_leeway(timeouts.leeway)
        .with_sign_failure_response(unsaved_change_response)
        .with_revocation(revocations, |session: &DemoSession| {
            Some(session.sub.as_str())
        });
    // Device-bound sessions (`SESSION_DBSC=on`): the layer answers DBSC's endpoints itself.
    #[cfg(feature = "dbsc")]
    if let Some(bound) = timeouts.bound {
        return binding::with_dbsc(layer, bound);
    }
    layer
}

/// The demo's layer with session-bound CSRF tokens on (`SESSION_CSRF=token`): its pages
/// then carry the token in a hidden `_csrf` field, and its script sends it in the
/// `X-CSRF-Token` header. Cross-origin protection is on either way (the layer's default
/// with cookies).
#[cfg(feature = "csrf")]
pub(crate) fn with_csrf_tokens(
    layer: SessionLayer<DemoSession>,
) -> Result<SessionLayer<DemoSession>, String> {
    Ok(layer.with_csrf_tokens(true))
}

/// Without the `csrf` feature there are no tokens (`features::check` stops earlier).
#[cfg(not(feature = "csrf"))]
pub(crate) fn with_csrf_tokens(
    _layer: SessionLayer<DemoSession>,
) -> Result<SessionLayer<DemoSession>, String> {
    Err(features::needs("SESSION_CSRF=token", "csrf"))
}

/// The session's CSRF token for the page's forms and script; `None` without tokens.
fn csrf_token(session: &SessionHandle<DemoSession>) -> Option<String> {
    #[cfg(feature = "csrf")]
    return session.csrf_token().map(|token| token.as_str().to_owned());
    #[cfg(not(feature = "csrf"))]
    {
        let _ = session;
        None
    }
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

/// The demo's routes, wrapped in `layer`; `timeouts` are the layer's, for the page to show.
/// `/health` and `/metrics` sit next to them, outside the session layer; every request is
/// logged without its tokens.
pub(crate) fn app(layer: SessionLayer<DemoSession>, timeouts: Timeouts) -> Router {
    #[cfg(feature = "metrics")]
    if ops::prometheus().is_none() {
        eprintln!("warning: another metrics recorder is installed; /metrics is unavailable");
    }
    let operations = ops::routes(layer.health());
    let sensitive = layer.sensitive_headers();
    let sessions = Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/me", get(me))
        .route(
            "/note",
            post(add_note).layer(DefaultBodyLimit::max(MAX_NOTE_BODY_BYTES)),
        )
        .route("/logout", post(logout))
        .route("/logout-all", post(logout_all));
    // DBSC's endpoints are answered by the layer itself; these routes only put them under
    // it (and answer 404 when DBSC is off).
    #[cfg(feature = "dbsc")]
    let sessions = {
        use tower_stateless_session::pop::dbsc::{DEFAULT_REFRESH_PATH, DEFAULT_REGISTRATION_PATH};
        sessions
            .route(DEFAULT_REGISTRATION_PATH, post(dbsc_off))
            .route(DEFAULT_REFRESH_PATH, post(dbsc_off))
    };
    let sessions = sessions
        .layer(layer.clone())
        // The public keys, for services that verify sessions without a secret.
        .merge(jwks(layer.keys()))
        .layer(axum::middleware::map_response(report_token_size))
        .layer(Extension(timeouts))
        // The page says which key made the token: this node's ring tells.
        .layer(Extension(layer.keys().clone()))
        // Browsers get the refusals of the layer and the handlers as a page, not plain text.
        .layer(axum::middleware::from_fn(outcome::html_errors));
    ops::request_logging(sessions.merge(operations), sensitive)
}

/// `GET /.well-known/jwks.json`: the public keys of this node's ring, as it changes (node
/// keys join and leave it); HS256 keys, whose secrets are never published, are left out.
#[cfg(feature = "node-keys")]
fn jwks(keys: &KeyRingHandle) -> Router {
    use tower_stateless_session::keys::jwks::JwksService;
    Router::new().route_service(signer_view::JWKS_PATH, JwksService::new(keys.clone()))
}

/// `GET /.well-known/jwks.json` in a build without the `node-keys` feature: sessions are
/// signed with HS256 (or encrypted), whose keys are secrets, so the set is always empty.
#[cfg(not(feature = "node-keys"))]
fn jwks(_keys: &KeyRingHandle) -> Router {
    Router::new().route(signer_view::JWKS_PATH, get(empty_jwks))
}

/// The empty set, sent as `JwksService` sends a document (its type, caching and `ETag`, and
/// `304` for a client that holds it already).
#[cfg(not(feature = "node-keys"))]
async fn empty_jwks(headers: HeaderMap) -> Response {
    const ETAG: &str = "\"empty\"";
    let held = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|tags| tags.split(','))
        .any(|tag| tag.trim() == ETAG);
    let cached = [
        (header::ETAG, ETAG),
        (header::CACHE_CONTROL, "public, max-age=60"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    if held {
        return (StatusCode::NOT_MODIFIED, cached).into_response();
    }
    let json = [(header::CONTENT_TYPE, "application/json")];
    (cached, json, r#"{"keys":[]}"#).into_response()
}

/// DBSC's paths when DBSC is off (with it on, the layer answers them before any handler).
#[cfg(feature = "dbsc")]
async fn dbsc_off() -> Response {
    plain(
        StatusCode::NOT_FOUND,
        "device-bound sessions are off (SESSION_DBSC)",
    )
}

/// The demo's routes and, with `SESSION_DPOP=on` (feature `dpop`), the DPoP API on its own
/// layer over the same keys (see `binding.rs`).
pub(crate) fn with_api(
    app: Router,
    keys: KeyRingHandle,
    timeouts: &Timeouts,
    dpop: bool,
) -> Router {
    #[cfg(feature = "dpop")]
    if dpop {
        return app.merge(binding::api(keys, timeouts));
    }
    let _ = (keys, timeouts, dpop);
    app
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

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

/// `GET /`: the page. It shows the session as the layer sees it, so it doubles as a tour of
/// what a handler can ask a [`SessionHandle`].
async fn index(
    session: SessionHandle<DemoSession>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    Extension(timeouts): Extension<Timeouts>,
    Extension(keys): Extension<KeyRingHandle>,
    this_node: Option<Extension<ThisNode>>,
) -> Response {
    // Why the token the request carried was refused, if it was (the layer also deletes
    // that cookie in this response).
    let refused = session.rejection().and_then(Outcome::from_kind);
    let signed_before = session.info().map(|info| info.issued_at);
    // The token the browser holds once this response arrives: the one it sent, or, when a
    // refresh is due, a new one that the layer signs now and sends with this response.
    let token = session.token();
    let signed_in = match (token, session.info(), session.data()) {
        (Some(token), Some(info), Some(data)) => Some(page::SignedIn {
            resigned: signed_before != Some(info.issued_at),
            cookie_len: DEFAULT_COOKIE_NAME.len() + 1 + token.len(),
            claims: token_view::server_claims(&info, &data),
            keys: signer_view::Keys::new(&keys.current(), this_node.map(|Extension(node)| node.0)),
            binding: session.confirmation(),
            token: token.as_str().to_owned(),
            csrf: csrf_token(&session),
            user: data.sub,
            notes: data.notes,
            info,
        }),
        _ => None,
    };
    let cookies = headers.get_all(header::COOKIE);
    let view = page::View {
        now: session.now(),
        refresh_after: timeouts.refresh.as_secs(),
        idle_timeout: timeouts.idle.as_secs(),
        dbsc_bound: timeouts.bound.map(|b| b.as_secs()),
        refused,
        done: page::Done::parse(query.as_deref().and_then(|q| q.strip_prefix("done="))),
        // Values joined with "; ", as one header line would carry them.
        cookie_header_len: cookies
            .iter()
            .map(|v| v.len() + 2)
            .sum::<usize>()
            .saturating_sub(2),
        session: signed_in,
    };
    page::render(&view)
}

/// `POST /login`: JSON or form, see the module documentation.
async fn login(session: SessionHandle<DemoSession>, request: Request) -> Response {
    let login = match read_login(request).await {
        Ok(login) => login,
        Err(refusal) => return refusal,
    };
    let data = DemoSession {
        sub: login.user.clone(),
        notes: Vec::new(),
    };
    let started = if login.remember {
        session.login_persistent(data)
    } else {
        session.login(data)
    };
    let info = match started {
        Ok(info) => info,
        Err(e) => return e.into_response(),
    };
    if !login.json {
        return Redirect::to("/").into_response();
    }
    Json(serde_json::json!({ "sub": login.user, "sid": info.sid.to_string() })).into_response()
}

/// `GET /me`: the session's claims as JSON, or a 401 saying why there is none (in the
/// page's words, see `outcome.rs`).
async fn me(session: SessionHandle<DemoSession>) -> Response {
    // When a refresh is due, sign now, so the times below are those of the token that this
    // response carries (the layer sends the same one).
    let _fresh = session.token();
    let (Some(info), Some(sub)) = (session.info(), session.with(|d| d.sub.clone())) else {
        return outcome::unauthorized_json(session.rejection());
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

/// `POST /note`: appends a note to the session; see the module documentation.
async fn add_note(session: Option<Session<DemoSession>>, request: Request) -> Response {
    let Some(session) = session else {
        return plain(
            StatusCode::UNAUTHORIZED,
            "log in first: notes are kept in the session",
        );
    };
    let note = match read_note(request).await {
        Ok(note) => note,
        Err(refusal) => return refusal,
    };
    let count = match session.modify(|data| {
        data.notes.push(note.text);
        data.notes.len()
    }) {
        Ok(count) => count,
        Err(e) => return e.into_response(),
    };
    // The layer signs the grown session after this returns; if it no longer fits its
    // budget, the layer replaces this response with `unsaved_change_response`.
    if note.form {
        return Redirect::to("/#notes").into_response();
    }
    Json(serde_json::json!({
        "notes": count,
        "token_size": session.token_size(),
    }))
    .into_response()
}

/// `POST /logout`: deletes the cookie and revokes the session; harmless without one.
async fn logout(session: SessionHandle<DemoSession>, request: Request) -> Response {
    let headers = request.headers().clone();
    if let Err(refusal) = check_form(request).await {
        return refusal;
    }
    match session.logout() {
        Ok(()) => logged_out(&headers, "/?done=logout"),
        Err(e) => e.into_response(),
    }
}

/// `POST /logout-all`: revokes every session of this user and ends this one.
async fn logout_all(session: Session<DemoSession>, request: Request) -> Response {
    let headers = request.headers().clone();
    if let Err(refusal) = check_form(request).await {
        return refusal;
    }
    match session.logout_everywhere() {
        Ok(()) => logged_out(&headers, "/?done=logout-all"),
        Err(e) => e.into_response(),
    }
}

fn logged_out(headers: &HeaderMap, page: &str) -> Response {
    if is_form_post(headers) {
        Redirect::to(page).into_response()
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
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the settings, starts the revocation store and the keys, and serves until Ctrl-C.
async fn run() -> Result<(), String> {
    // The recorder first: the revocation store, the key registry and the node key report
    // their state from the moment they start (`app` warns if another recorder won). Its
    // upkeep drains the histogram samples that no scrape has read yet.
    #[cfg(feature = "metrics")]
    ops::run_prometheus_upkeep();

    // Settings for a product this build does not have stop here, naming the feature.
    features::check(env_var)?;
    let addr = parse_addr(env_var("DEMO_ADDR")?.as_deref())?;
    let timeouts = Timeouts::from_lookup(env_var)?;
    let revocations = redis_env::revocation_store(env_var).await?;
    // `signer` keeps the node key's heartbeat running while the server does.
    let signer = signing::load().await?;
    if timeouts.refresh >= timeouts.idle {
        eprintln!(
            "warning: SESSION_REFRESH_SECS ({}) is not below SESSION_IDLE_SECS ({}): \
             sessions will never be extended",
            timeouts.refresh.as_secs(),
            timeouts.idle.as_secs()
        );
    }

    let tls = tls::from_lookup(env_var)?;
    let dpop = binding::dpop_on(env_var)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().unwrap_or(addr);
    // The page names this process by its address: shown only, never put in a token.
    let mut layer = session_layer(signer.keys(), &timeouts, revocations);
    if csrf_tokens(env_var("SESSION_CSRF")?.as_deref())? {
        layer = with_csrf_tokens(layer)?;
    }
    let router = with_api(app(layer, timeouts), signer.keys(), &timeouts, dpop)
        .layer(Extension(ThisNode(bound.to_string())));
    let Some(acceptor) = tls else {
        println!("demo listening on http://{bound}/ (Ctrl-C to stop)");
        return axum::serve(listener, router)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| format!("server failed: {e}"));
    };
    println!("demo listening on https://{bound}/ (Ctrl-C to stop)");
    tls::serve(listener, router, acceptor, shutdown_signal()).await;
    Ok(())
}
