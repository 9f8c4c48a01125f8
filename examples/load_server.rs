//! A small HTTP/1 server for load tests with `wrk` (see `scripts/load.sh`).
//!
//! ```text
//! cargo run --release --example load_server -- <bare|ours_verify|tower_sessions_memory> <port>
//! ```
//!
//! It serves `GET /` on 127.0.0.1 with the same handlers as `benches/request.rs`: `bare`
//! answers a static string; `ours_verify` reads the session data through `Session<User>`
//! behind `SessionLayer<User>`; `tower_sessions_memory` reads the same data from a
//! tower-sessions memory store. Before serving it prints one line on stdout, the `Cookie`
//! header value a client should send (`name=value`), then `listening on ADDR` on stderr.
//!
//! The runtime is current-thread, so the server uses one core; pin it with `taskset` and
//! give the load generator the other cores.

use std::hint::black_box;
use std::io::Write as _;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::routing::{get, post};
use http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use tower::ServiceExt;
use tower_stateless_session::{Key, KeyRing, Session, SessionLayer};

const BODY: &str = "hello";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct User {
    sub: String,
    roles: Vec<String>,
}

fn reference_user() -> User {
    User {
        sub: "user-12345".into(),
        roles: vec!["reader".into(), "editor".into()],
    }
}

async fn bare_handler() -> &'static str {
    BODY
}

async fn ours_handler(session: Session<User>) -> &'static str {
    session.with(|user| black_box(user).sub.len());
    BODY
}

async fn tower_sessions_handler(
    session: tower_sessions::Session,
) -> Result<&'static str, StatusCode> {
    let user: User = session
        .get("user")
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .ok_or(StatusCode::UNAUTHORIZED)?;
    black_box(&user);
    Ok(BODY)
}

async fn tower_sessions_login(
    session: tower_sessions::Session,
) -> Result<&'static str, StatusCode> {
    session
        .insert("user", reference_user())
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(BODY)
}

/// The app for `mode` and the cookie pair a client sends to it.
async fn app(mode: &str) -> Result<(Router, String), String> {
    match mode {
        "bare" => Ok((
            Router::new().route("/", get(bare_handler)),
            "session=unread".to_owned(),
        )),
        "ours_verify" => {
            // A fresh random key: a login signs with it, like a real deployment. The token
            // is younger than the refresh age (60 s) for the few seconds of a load run, so
            // no response carries a `Set-Cookie`.
            let keys = KeyRing::new(Key::generate("k1").map_err(|e| e.to_string())?);
            let layer = SessionLayer::<User>::new(keys);
            let codec = layer.codec_ref();
            let claims = codec
                .new_claims(reference_user())
                .map_err(|e| e.to_string())?;
            let token = codec.sign(&claims).map_err(|e| e.to_string())?;
            let router = Router::new().route("/", get(ours_handler)).layer(layer);
            Ok((router, format!("session={token}")))
        }
        "tower_sessions_memory" => {
            let store = tower_sessions::MemoryStore::default();
            let login = Router::new()
                .route("/login", post(tower_sessions_login))
                .layer(tower_sessions::SessionManagerLayer::new(store.clone()));
            let request = Request::post("/login")
                .body(Body::empty())
                .map_err(|e| e.to_string())?;
            let response = login.oneshot(request).await.map_err(|e| e.to_string())?;
            let set_cookie = response
                .headers()
                .get(header::SET_COOKIE)
                .and_then(|v| v.to_str().ok())
                .ok_or("the login set no cookie")?;
            let pair = set_cookie.split(';').next().unwrap_or(set_cookie).trim();
            let router = Router::new()
                .route("/", get(tower_sessions_handler))
                .layer(tower_sessions::SessionManagerLayer::new(store));
            Ok((router, pair.to_owned()))
        }
        other => Err(format!(
            "unknown mode {other:?}: use bare, ours_verify or tower_sessions_memory"
        )),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: load_server <bare|ours_verify|tower_sessions_memory> <port>";
    let mode = args.next().ok_or(usage)?;
    let port: u16 = args.next().ok_or(usage)?.parse()?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (router, cookie) = app(&mode).await?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{cookie}")?;
        stdout.flush()?;
        drop(stdout);
        eprintln!("{mode}: listening on {}", listener.local_addr()?);
        axum::serve(listener, router).await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
