//! axum extractors (feature `axum`): [`SessionHandle<T>`], [`Session<T>`] and
//! `Option<Session<T>>`, and the responses of their refusals.
//!
//! Without a [`SessionLayer<T>`](crate::SessionLayer) for the handler's `T` in front of it,
//! every one of them answers 500 and logs which layer is missing, `Option<Session<T>>`
//! included: reading "logged out" from a missing layer would hide a configuration bug.

use std::any::type_name;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use super::handle::{Session, SessionData, SessionError, SessionHandle};
use super::rejection::FORBIDDEN_BODY;
use crate::error::{Rejection, RejectionKind};

/// The handle the layer left in the request, or [`RejectionKind::LayerMissing`] (logged
/// with the type the handler asked for).
fn handle<T: SessionData>(parts: &Parts) -> Result<SessionHandle<T>, Rejection> {
    match SessionHandle::<T>::from_extensions(&parts.extensions) {
        Some(handle) => Ok(handle.clone()),
        None => {
            layer_missing(type_name::<T>());
            Err(Rejection::new(RejectionKind::LayerMissing))
        }
    }
}

/// Always succeeds when the layer is installed, session or not (use it to log in).
impl<T: SessionData, S: Send + Sync> FromRequestParts<S> for SessionHandle<T> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Rejection> {
        handle(parts)
    }
}

/// 401 without a valid session (the rejection carries the reason, for logs), 500 without
/// the layer.
impl<T: SessionData, S: Send + Sync> FromRequestParts<S> for Session<T> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Rejection> {
        let handle = handle(parts)?;
        if handle.is_active() {
            return Ok(Session(handle));
        }
        let kind = handle.rejection().unwrap_or(RejectionKind::Missing);
        Err(Rejection::new(kind))
    }
}

/// `Option<Session<T>>`: `None` without a valid session; 500 without the layer.
impl<T: SessionData, S: Send + Sync> OptionalFromRequestParts<S> for Session<T> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Rejection> {
        Ok(Some(handle::<T>(parts)?)
            .filter(SessionHandle::is_active)
            .map(Session))
    }
}

/// 500 for [`RejectionKind::LayerMissing`] (a configuration bug), 403 for the cross-site
/// refusals ([`RejectionKind::CrossOrigin`], [`RejectionKind::CsrfTokenMissing`],
/// [`RejectionKind::CsrfTokenInvalid`]), 401 for everything else, with a body that names
/// neither the reason nor any type.
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self.kind() {
            RejectionKind::LayerMissing => plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "500 Internal Server Error\n",
            ),
            RejectionKind::CrossOrigin
            | RejectionKind::CsrfTokenMissing
            | RejectionKind::CsrfTokenInvalid => plain(StatusCode::FORBIDDEN, FORBIDDEN_BODY),
            _ => plain(
                StatusCode::UNAUTHORIZED,
                "401 Unauthorized: a valid session is required\n",
            ),
        }
    }
}

/// A refused session change is a server-side bug or failure: 500, the reason in the log
/// only.
impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        change_refused(&self);
        if matches!(self, SessionError::ProofRequired) {
            return plain(
                StatusCode::UNAUTHORIZED,
                "401 Unauthorized: a proof of possession is required\n",
            );
        }
        plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500 Internal Server Error: the session could not be changed\n",
        )
    }
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Log event: a handler asked for a session no layer provides.
fn layer_missing(data_type: &'static str) {
    #[cfg(feature = "tracing")]
    tracing::error!(
        data_type,
        "no SessionLayer for this session type runs in front of the handler: add \
         `.layer(SessionLayer::<{data_type}>::new(keys))` to its router"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = data_type;
}

/// Log event: a handler's session change was refused and answered 500.
fn change_refused(error: &SessionError) {
    #[cfg(feature = "tracing")]
    tracing::error!(%error, "session change refused: answered 500");
    #[cfg(not(feature = "tracing"))]
    let _ = error;
}
