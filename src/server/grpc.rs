//! The layer's refusals to gRPC requests, answered as gRPC does.
//!
//! A gRPC client reads the outcome of a call from `grpc-status`, not from the HTTP status:
//! given a bare 401 it reports a transport or protocol error (tonic guesses a code from the
//! HTTP status; other clients answer `UNKNOWN` or `UNAVAILABLE`). So for a request whose
//! `Content-Type` is `application/grpc...` (gRPC, `+proto`, `+json`, gRPC-Web), each answer
//! the layer makes by itself (401 without a valid session, 403 for a cross-site request,
//! 431 for oversized cookies) becomes a "trailers-only" response: HTTP 200, the request's
//! content type, `grpc-status` and `grpc-message` in the headers, no body. Its other
//! headers (`WWW-Authenticate`, a `Set-Cookie` deleting a refused cookie) stay, and so does
//! the [`Rejection`](crate::Rejection) in its extensions.
//!
//! | the layer's answer | `grpc-status` |
//! |---|---|
//! | 401 | 16 `UNAUTHENTICATED` |
//! | 403 | 7 `PERMISSION_DENIED` |
//! | 431 | 8 `RESOURCE_EXHAUSTED` |
//! | 503 | 14 `UNAVAILABLE` |
//! | any other | 13 `INTERNAL` |
//!
//! The check reads `Content-Type` only when the layer is about to answer by itself, never
//! on a request that reaches the service.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// The request's content type when it is a gRPC request (`application/grpc`, optionally
/// followed by `+format`, `-web`, `;params`); `None` otherwise.
pub(crate) fn content_type(headers: &HeaderMap) -> Option<HeaderValue> {
    let value = headers.get(header::CONTENT_TYPE)?;
    let bytes = value.as_bytes();
    let prefix = b"application/grpc";
    let is_grpc = bytes.len() >= prefix.len()
        && bytes[..prefix.len()].eq_ignore_ascii_case(prefix)
        && matches!(bytes.get(prefix.len()), None | Some(b'+' | b'-' | b';'));
    is_grpc.then(|| value.clone())
}

/// The gRPC status code and message for one of the layer's own HTTP answers. The messages
/// say what the layer refused, never which check failed.
fn status_of(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::UNAUTHORIZED => ("16", "a valid session is required"),
        StatusCode::FORBIDDEN => ("7", "the request was refused as a cross-site request"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            ("8", "the request's cookies are over their size budget")
        }
        StatusCode::SERVICE_UNAVAILABLE => ("14", "the session layer cannot serve this now"),
        _ => ("13", "the session layer could not serve this request"),
    }
}

/// `response`, one of the layer's own answers, as gRPC's trailers-only answer for a
/// request of `content_type`.
pub(crate) fn answer(mut response: Response<Bytes>, content_type: HeaderValue) -> Response<Bytes> {
    let (code, message) = status_of(response.status());
    *response.status_mut() = StatusCode::OK;
    *response.body_mut() = Bytes::new();
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(GRPC_STATUS, HeaderValue::from_static(code));
    headers.insert(GRPC_MESSAGE, HeaderValue::from_static(message));
    response
}

/// `response` as gRPC answers it when the request (its `headers`) is a gRPC request;
/// unchanged otherwise.
pub(crate) fn answer_for(headers: &HeaderMap, response: Response<Bytes>) -> Response<Bytes> {
    match content_type(headers) {
        Some(content_type) => answer(response, content_type),
        None => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).expect("value"),
        );
        headers
    }

    #[test]
    fn grpc_content_types_are_recognised() {
        for grpc in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc+json",
            "Application/GRPC",
            "application/grpc-web",
            "application/grpc-web-text+proto",
            "application/grpc;charset=utf-8",
        ] {
            assert!(content_type(&headers(grpc)).is_some(), "{grpc}");
        }
        for other in [
            "application/json",
            "application/grpcx",
            "application/grp",
            "text/plain",
            "",
        ] {
            assert!(content_type(&headers(other)).is_none(), "{other}");
        }
        assert!(content_type(&HeaderMap::new()).is_none());
    }

    #[test]
    fn a_refusal_becomes_a_trailers_only_answer() {
        let mut refusal = Response::new(Bytes::from_static(b"401 Unauthorized\n"));
        *refusal.status_mut() = StatusCode::UNAUTHORIZED;
        refusal
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        refusal
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from_static("17"));
        let answer = answer_for(&headers("application/grpc+proto"), refusal);
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(answer.body().is_empty(), "no body");
        let h = answer.headers();
        assert_eq!(h["grpc-status"], "16");
        assert_eq!(h["grpc-message"], "a valid session is required");
        assert_eq!(h[header::CONTENT_TYPE], "application/grpc+proto");
        assert_eq!(h[header::WWW_AUTHENTICATE], "Bearer", "other headers stay");
        assert!(!h.contains_key(header::CONTENT_LENGTH));
        for (status, code) in [
            (StatusCode::FORBIDDEN, "7"),
            (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "8"),
            (StatusCode::SERVICE_UNAVAILABLE, "14"),
            (StatusCode::INTERNAL_SERVER_ERROR, "13"),
        ] {
            let mut refusal = Response::new(Bytes::new());
            *refusal.status_mut() = status;
            let answer = answer_for(&headers("application/grpc"), refusal);
            assert_eq!(answer.headers()["grpc-status"], code, "{status}");
        }
        let mut plain = Response::new(Bytes::from_static(b"x"));
        *plain.status_mut() = StatusCode::UNAUTHORIZED;
        let unchanged = answer_for(&headers("text/plain"), plain);
        assert_eq!(
            unchanged.status(),
            StatusCode::UNAUTHORIZED,
            "not gRPC: as it was"
        );
    }
}
