//! axum extractors (feature `axum`).

use std::convert::Infallible;
use std::fmt;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::server::handle::{Session, SessionData, SessionError, SessionHandle};

/// Why the [`Session<T>`] or [`SessionHandle<T>`] extractor refused a request.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRejection {
    /// There is no valid session: 401.
    Unauthorized,
    /// No `SessionLayer<T>` for this data type ran before the handler: 500. A
    /// configuration bug, reported as such.
    LayerMissing {
        /// The session data type the handler asked for.
        data_type: &'static str,
    },
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionRejection::Unauthorized => f.write_str("a valid session is required"),
            SessionRejection::LayerMissing { data_type } => write!(
                f,
                "no SessionLayer<{data_type}> is installed in front of this handler; \
                 add it with `.layer(SessionLayer::<{data_type}>::new(keys))`"
            ),
        }
    }
}

impl std::error::Error for SessionRejection {}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        let status = match self {
            SessionRejection::Unauthorized => StatusCode::UNAUTHORIZED,
            SessionRejection::LayerMissing { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = format!(
            "{} {}: {self}\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        (
            status,
            [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

fn handle<T: SessionData>(parts: &Parts) -> Result<SessionHandle<T>, SessionRejection> {
    SessionHandle::<T>::from_extensions(&parts.extensions)
        .cloned()
        .ok_or(SessionRejection::LayerMissing {
            data_type: std::any::type_name::<T>(),
        })
}

/// Always succeeds when the layer is installed, session or not (use it to log in).
impl<T: SessionData, S: Send + Sync> FromRequestParts<S> for SessionHandle<T> {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        handle(parts)
    }
}

/// 401 without a valid session, 500 without the layer.
impl<T: SessionData, S: Send + Sync> FromRequestParts<S> for Session<T> {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let handle = handle(parts)?;
        if handle.is_active() {
            Ok(Session(handle))
        } else {
            Err(SessionRejection::Unauthorized)
        }
    }
}

/// `Option<Session<T>>`: `None` without a valid session (or without the layer); never
/// rejects.
impl<T: SessionData, S: Send + Sync> OptionalFromRequestParts<S> for Session<T> {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Infallible> {
        Ok(handle::<T>(parts)
            .ok()
            .filter(|h| h.is_active())
            .map(Session))
    }
}

/// A refused session change is a server-side bug or failure: 500 with the reason.
impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        let body = format!("500 Internal Server Error: {self}\n");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    }
}
