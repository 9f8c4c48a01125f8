//! What the layer answers by itself, and what it attaches to responses for logs and tests.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use crate::error::{Rejection, SignError};

/// A plain-text response with `status` and `body`.
pub(crate) fn plain(status: StatusCode, body: impl Into<Bytes>) -> Response<Bytes> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// 401, the same whatever failed.
pub(crate) fn default_rejection_response(_: &Rejection) -> Response<Bytes> {
    plain(
        StatusCode::UNAUTHORIZED,
        "401 Unauthorized: a valid session is required\n",
    )
}

/// The body of the layer's 403: the same for every cross-site refusal, so it tells a
/// prober nothing about which check failed.
pub(crate) const FORBIDDEN_BODY: &str =
    "403 Forbidden: this request was refused as a cross-site request\n";

/// 403, the same for a request from another origin and for a missing or invalid CSRF
/// token.
pub(crate) fn default_forbidden_response(_: &Rejection) -> Response<Bytes> {
    plain(StatusCode::FORBIDDEN, FORBIDDEN_BODY)
}

/// 500 for a session change that could not be signed (503 when no key can sign here now).
pub(crate) fn default_sign_failure_response(error: &SignError) -> Response<Bytes> {
    let body = match error {
        SignError::Oversized { len, max } => format!(
            "500 Internal Server Error: the session would grow to {len} bytes, over its \
             budget of {max} bytes; the change was not saved and the previous session \
             stays as it was\n"
        ),
        SignError::NoSigningKey => {
            // Temporary on a node whose key is not published yet: ask the client to retry.
            let mut response = plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "503 Service Unavailable: this server cannot sign sessions right now; the \
                 previous session stays as it was; try again shortly\n",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        _ => "500 Internal Server Error: the session could not be saved; the previous \
              session stays as it was\n"
            .to_owned(),
    };
    plain(StatusCode::INTERNAL_SERVER_ERROR, body)
}
