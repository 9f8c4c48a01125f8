//! Proof of possession in the demo: DBSC for the page's cookie session (`SESSION_DBSC=on`,
//! feature `dbsc`) and a DPoP API on a second layer (`SESSION_DPOP=on`, feature `dpop`).
//!
//! `POST /api/login` takes `{"user": NAME}` with a `DPoP` proof and answers
//! `{"token": ..., "token_type": "DPoP"}`: a token bound to the proof's key. `GET /api/me`
//! with `Authorization: DPoP <token>` and a fresh proof answers the session's claims, and
//! `401` (with `WWW-Authenticate: DPoP ...`) otherwise.

#[cfg(feature = "dpop")]
use axum::Router;

use super::config::on_off;

/// Whether `SESSION_DPOP=on`.
pub(crate) fn dpop_on(
    mut lookup: impl FnMut(&str) -> Result<Option<String>, String>,
) -> Result<bool, String> {
    on_off(&mut lookup, "SESSION_DPOP")
}

/// DBSC on `layer`, with a bound cookie of `bound` and a challenge key made here (one node:
/// every instance serving the endpoints needs the same key).
#[cfg(feature = "dbsc")]
pub(crate) fn with_dbsc(
    layer: tower_stateless_session::SessionLayer<super::DemoSession>,
    bound: std::time::Duration,
) -> tower_stateless_session::SessionLayer<super::DemoSession> {
    use tower_stateless_session::pop::ChallengeKey;
    use tower_stateless_session::pop::dbsc::Dbsc;
    match ChallengeKey::generate() {
        Ok(key) => layer.with_dbsc(Dbsc::new(key).with_bound_lifetime(bound)),
        Err(error) => {
            eprintln!("warning: DBSC stays off: {error}");
            layer
        }
    }
}

/// The DPoP API: its own layer (header transport, DPoP on) over `keys`.
#[cfg(feature = "dpop")]
pub(crate) fn api(
    keys: tower_stateless_session::KeyRingHandle,
    timeouts: &super::Timeouts,
) -> Router {
    use axum::routing::{get, post};
    use tower_stateless_session::pop::dpop::Dpop;
    use tower_stateless_session::{SessionLayer, Transport};

    let layer = SessionLayer::<super::DemoSession>::new(keys)
        .with_idle_timeout(timeouts.idle)
        .with_absolute_timeout(timeouts.absolute)
        .with_refresh_after(timeouts.refresh)
        .with_leeway(timeouts.leeway)
        .with_transport(Transport::Bearer)
        .with_dpop(Dpop::new());
    Router::new()
        .route("/api/login", post(api_login))
        .route("/api/me", get(api_me))
        .layer(layer)
        // The scheme `htu` is compared with: the TLS server puts `https` in; plain HTTP
        // otherwise.
        .layer(axum::middleware::map_request(plain_http_by_default))
}

#[cfg(feature = "dpop")]
async fn plain_http_by_default(mut request: axum::extract::Request) -> axum::extract::Request {
    if request
        .extensions()
        .get::<axum::http::uri::Scheme>()
        .is_none()
    {
        request
            .extensions_mut()
            .insert(axum::http::uri::Scheme::HTTP);
    }
    request
}

/// `POST /api/login`: `{"user": NAME}` and a `DPoP` proof; the token, bound to its key.
#[cfg(feature = "dpop")]
async fn api_login(
    session: tower_stateless_session::SessionHandle<super::DemoSession>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::Json;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    #[derive(serde::Deserialize)]
    struct Login {
        user: String,
    }
    let Ok(login) = serde_json::from_slice::<Login>(&body) else {
        return super::plain(StatusCode::BAD_REQUEST, "send JSON {\"user\": NAME}");
    };
    let user = login.user.trim();
    if user.is_empty()
        || user.chars().count() > super::MAX_NAME_CHARS
        || user.chars().any(char::is_control)
    {
        return super::plain(StatusCode::BAD_REQUEST, "the name is 1 to 64 characters");
    }
    let data = super::DemoSession {
        sub: user.to_owned(),
        notes: Vec::new(),
    };
    if let Err(error) = session.login(data) {
        return error.into_response();
    }
    match session.token() {
        Some(token) => Json(serde_json::json!({ "token": token.as_str(), "token_type": "DPoP" }))
            .into_response(),
        None => super::plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the token could not be signed",
        ),
    }
}

/// `GET /api/me`: the session's claims as JSON, or 401.
#[cfg(feature = "dpop")]
async fn api_me(
    session: tower_stateless_session::SessionHandle<super::DemoSession>,
) -> axum::response::Response {
    use axum::Json;
    use axum::response::IntoResponse;

    let (Some(info), Some(data)) = (session.info(), session.data()) else {
        return super::outcome::unauthorized_json(session.rejection());
    };
    let cnf = session.confirmation();
    Json(serde_json::json!({
        "sub": data.sub,
        "sid": info.sid.to_string(),
        "iat": info.issued_at,
        "exp": info.expires_at,
        "auth_time": info.auth_time,
        "cnf": cnf.map(|c| serde_json::json!({ "jkt": c.jkt, "pop": c.binding.as_str() })),
    }))
    .into_response()
}
