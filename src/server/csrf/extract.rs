//! [`CsrfForm`]: axum's `Form`, with the session's CSRF token checked first.

use std::fmt;

use axum_core::extract::rejection::BytesRejection;
use axum_core::extract::{FromRequest, Request};
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::de::DeserializeOwned;

use super::check::CsrfContext;
use super::{CSRF_FIELD, CSRF_HEADER};
use crate::error::{Rejection, RejectionKind};
use crate::server::cross_origin::is_safe;

/// A form body (`application/x-www-form-urlencoded`) deserialized into `F`, after its
/// [`CSRF_FIELD`] (`_csrf`) field was checked against the request's session (feature
/// `csrf` and `axum`). `F` need not declare the field (serde ignores fields it does not
/// know).
///
/// What it checks, on unsafe methods, is what the layer is set to check (see
/// [`server::csrf`](super) for the whole table):
/// - with CSRF tokens on and a session: the `_csrf` field, or when the form has none the
///   `X-CSRF-Token` header (not checked twice when the layer checked it); a missing or
///   wrong token is refused with the layer's 403 before `F` is read;
/// - without a session, with tokens off, on an exempt path, or on a safe method: nothing
///   (it reads the form as axum's `Form` does).
///
/// Answers 500 on an unsafe request no session layer ran for (a configuration bug, never
/// a silent pass), 415 for another content type (for `multipart/form-data`, read the field
/// yourself and call [`check_csrf_token`](crate::SessionHandle::check_csrf_token)), the
/// body extractor's answer when the body cannot be read (413 over axum's body limit), and
/// 422 when the form does not deserialize into `F`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsrfForm<F>(pub F);

/// Why [`CsrfForm`] refused a request; answers with the status of [`status`](Self::status).
pub struct CsrfFormRejection(Refusal);

enum Refusal {
    /// A missing or invalid token: the layer's 403.
    Forbidden(Rejection, CsrfContext),
    LayerMissing,
    UnsupportedMediaType,
    Body(BytesRejection),
    InvalidForm(serde_urlencoded::de::Error),
}

impl CsrfFormRejection {
    /// The status of the answer: 403, 500, 415, the body's, or 422.
    pub fn status(&self) -> StatusCode {
        match &self.0 {
            Refusal::Forbidden(..) => StatusCode::FORBIDDEN,
            Refusal::LayerMissing => StatusCode::INTERNAL_SERVER_ERROR,
            Refusal::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::Body(rejection) => rejection.status(),
            Refusal::InvalidForm(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// The rejection for the 403 ([`RejectionKind::CsrfTokenMissing`],
    /// [`RejectionKind::CsrfTokenInvalid`]) and the 500
    /// ([`RejectionKind::LayerMissing`]); `None` for the other refusals.
    pub fn rejection(&self) -> Option<Rejection> {
        match &self.0 {
            Refusal::Forbidden(rejection, _) => Some(*rejection),
            Refusal::LayerMissing => Some(Rejection::new(RejectionKind::LayerMissing)),
            _ => None,
        }
    }
}

impl fmt::Debug for CsrfFormRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CsrfFormRejection")
            .field(&self.status())
            .field(&self.rejection())
            .finish()
    }
}

impl fmt::Display for CsrfFormRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Refusal::Forbidden(rejection, _) => write!(f, "{rejection}"),
            Refusal::LayerMissing => f.write_str(
                "no session layer with the csrf feature ran before this CsrfForm extractor",
            ),
            Refusal::UnsupportedMediaType => {
                f.write_str("expected a form (application/x-www-form-urlencoded)")
            }
            Refusal::Body(rejection) => write!(f, "{rejection}"),
            Refusal::InvalidForm(error) => write!(f, "invalid form: {error}"),
        }
    }
}

impl std::error::Error for CsrfFormRejection {}

impl IntoResponse for CsrfFormRejection {
    fn into_response(self) -> Response {
        let status = self.status();
        let rejection = self.rejection();
        let mut response = match self.0 {
            Refusal::Forbidden(rejection, context) => {
                (context.forbidden)(&rejection).map(axum_core::body::Body::from)
            }
            Refusal::Body(rejection) => return rejection.into_response(),
            refusal => {
                if matches!(refusal, Refusal::LayerMissing) {
                    layer_missing();
                }
                let text = CsrfFormRejection(refusal).to_string();
                let body = match status {
                    StatusCode::INTERNAL_SERVER_ERROR => "500 Internal Server Error\n".to_owned(),
                    _ => format!("{text}\n"),
                };
                let mut response = Response::new(axum_core::body::Body::from(body));
                *response.status_mut() = status;
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                response
            }
        };
        if let Some(rejection) = rejection {
            response.extensions_mut().insert(rejection);
        }
        response
    }
}

impl<F, S> FromRequest<S> for CsrfForm<F>
where
    F: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = CsrfFormRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let context = if is_safe(request.method()) {
            None
        } else {
            let context = request.extensions().get::<CsrfContext>().cloned();
            Some(context.ok_or(CsrfFormRejection(Refusal::LayerMissing))?)
        };
        if !is_urlencoded(request.headers()) {
            return Err(CsrfFormRejection(Refusal::UnsupportedMediaType));
        }
        let header = request.headers().get(CSRF_HEADER).cloned();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|e| CsrfFormRejection(Refusal::Body(e)))?;
        if let Some(context) = context {
            let field = form_urlencoded::parse(&body)
                .find(|(name, _)| name == CSRF_FIELD)
                .map(|(_, value)| value);
            let field = field.as_deref().map(str::as_bytes);
            if let Err(rejection) = context.check(field, header.as_ref().map(HeaderValue::as_bytes))
            {
                return Err(CsrfFormRejection(Refusal::Forbidden(rejection, context)));
            }
        }
        serde_urlencoded::from_bytes(&body)
            .map(CsrfForm)
            .map_err(|e| CsrfFormRejection(Refusal::InvalidForm(e)))
    }
}

fn is_urlencoded(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Log event: a `CsrfForm` on an unsafe request that no session layer (built with the
/// `csrf` feature) saw.
fn layer_missing() {
    #[cfg(feature = "tracing")]
    tracing::error!(
        "CsrfForm on an unsafe request that no SessionLayer ran for: answered 500; put the \
         session layer in front of the handler"
    );
}
