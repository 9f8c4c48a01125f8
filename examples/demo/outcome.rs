//! What the demo tells a person whose request did not go through: one message per outcome,
//! and the same messages as an HTML page for browser navigations.
//!
//! The layer records why it refused a token ([`Rejection`], with a [`RejectionKind`] for
//! each check). A person needs to know what to do next, not which check failed, and an
//! attacker probing with altered tokens must learn nothing from the answer: so the kinds are
//! folded into four outcomes. Everything that says "this token is not genuine" (bad
//! signature, unknown key, malformed, wrong type or algorithm, bad claims, ...) reads the
//! same. "Expired" and "revoked" are only ever reported for a token whose signature checked
//! out, which its holder could see for themselves by decoding it.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use http_body_util::BodyExt;
use tower_stateless_session::server::DEFAULT_COOKIE_NAME;
use tower_stateless_session::{Rejection, RejectionKind};

use super::page::{escape_html, security_headers, shell};

/// Why a request carried no usable session, as a person is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Past the idle timeout or the absolute deadline.
    Expired,
    /// Logged out, here or with "log out everywhere" elsewhere.
    Revoked,
    /// The cookie, or all cookies together, broke their size budget.
    TooLarge,
    /// Anything that means "not a token this server issued, as issued".
    NotAccepted,
    /// A form or script on another site (or another port) sent this request: refused by
    /// cross-origin protection before the session was read.
    CrossSite,
    /// The form's CSRF token is missing, or belongs to an earlier session (a page loaded
    /// before logging in again).
    StaleForm,
}

impl Outcome {
    /// The outcome for a rejection kind; `None` when there was no token at all.
    pub(crate) fn from_kind(kind: RejectionKind) -> Option<Self> {
        Some(match kind {
            RejectionKind::Missing => return None,
            RejectionKind::Expired
            | RejectionKind::IdleTimeout
            | RejectionKind::AbsoluteTimeout => Outcome::Expired,
            RejectionKind::Revoked => Outcome::Revoked,
            RejectionKind::Oversized => Outcome::TooLarge,
            RejectionKind::CrossOrigin => Outcome::CrossSite,
            RejectionKind::CsrfTokenMissing | RejectionKind::CsrfTokenInvalid => Outcome::StaleForm,
            // Malformed, bad signature, unknown key, wrong algorithm or type, bad claims,
            // unsupported version, issued in the future, ambiguous, and kinds added later.
            _ => Outcome::NotAccepted,
        })
    }

    /// A stable name for JSON answers and tests.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Outcome::Expired => "expired",
            Outcome::Revoked => "revoked",
            Outcome::TooLarge => "too_large",
            Outcome::NotAccepted => "not_accepted",
            Outcome::CrossSite => "cross_site",
            Outcome::StaleForm => "stale_form",
        }
    }

    /// A short headline.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Outcome::Expired => "Your session expired",
            Outcome::Revoked => "Your session was ended",
            Outcome::TooLarge => "Your session cookie was too large",
            Outcome::NotAccepted => "Your session cookie was not accepted",
            Outcome::CrossSite => "Refused: this came from another site",
            Outcome::StaleForm => "Refused: this form is out of date",
        }
    }

    /// What happened and what to do, in a sentence or two.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Outcome::Expired => {
                "It was not used for longer than the idle timeout, or it reached its absolute \
                 deadline. Log in again to start a new one."
            }
            Outcome::Revoked => {
                "You logged out, on this device or with \u{201c}Log out everywhere\u{201d} on \
                 another one, so this token no longer works, even as a copy. Log in again."
            }
            Outcome::TooLarge => {
                "The server refused it unread and asked your browser to delete it. Reload \
                 the page and log in again."
            }
            Outcome::NotAccepted => {
                "It was altered, damaged, or not issued by this server, so it was ignored and \
                 deleted. Log in again."
            }
            Outcome::CrossSite => {
                "A page on another site (or another port of this host) sent this request with \
                 your session cookie. The server refused it before reading your session: \
                 nothing was changed. To do this, use the demo's own page."
            }
            Outcome::StaleForm => {
                "Its security token does not match your current session (the page was loaded \
                 before you logged in again), so nothing was changed. Reload the page and try \
                 again."
            }
        }
    }
}

/// A 401 for API clients: the outcome's code, headline and message as JSON.
pub(crate) fn unauthorized_json(kind: Option<RejectionKind>) -> Response {
    let (code, title, message) = match kind.and_then(Outcome::from_kind) {
        Some(outcome) => (outcome.code(), outcome.title(), outcome.message()),
        None => ("missing", "You are not signed in", "Log in first."),
    };
    let body = serde_json::json!({ "error": code, "title": title, "message": message });
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

/// For browser navigations (`Accept: text/html`), turns the demo's and the layer's plain-text
/// error answers (401, 413, 431, ...) into a small HTML page that says what happened, with a
/// way back. API clients keep the plain text. Headers (such as the `Set-Cookie` that
/// deletes a refused cookie) are kept.
pub(crate) async fn html_errors(request: Request, next: Next) -> Response {
    let wants_html = accepts_html(request.headers());
    let response = next.run(request).await;
    let status = response.status();
    let is_plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !wants_html || !is_plain || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let outcome = response
        .extensions()
        .get::<Rejection>()
        .and_then(|r| Outcome::from_kind(r.kind()));
    let (mut parts, body) = response.into_parts();
    // A 431 deletes the session cookie only when that cookie is over its own budget; when
    // only all cookies together are, the session is kept and the page must say so.
    let session_deleted = parts
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with(&format!("{DEFAULT_COOKIE_NAME}=")));
    // The bodies in question are the short messages of the demo and the layer.
    let text = match body.collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let (title, message) = match (outcome, status) {
        (_, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE) if !session_deleted => (
            "This site's cookies are too large together",
            "Your browser sent more cookies for this site than the server accepts, so it \
             refused the request unread. Your session cookie is fine and was kept: delete \
             the other cookies listed below (in your browser's settings) and reload.",
        ),
        (Some(outcome), _) => (outcome.title(), outcome.message()),
        (None, StatusCode::UNAUTHORIZED) => (
            "You are not signed in",
            "This needs a session. Log in on the demo page first.",
        ),
        (None, StatusCode::PAYLOAD_TOO_LARGE) => (
            "Not saved",
            "The change did not fit. Your session is as it was before.",
        ),
        (None, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE) => {
            (Outcome::TooLarge.title(), Outcome::TooLarge.message())
        }
        (None, s) if s.is_server_error() => (
            "Something went wrong on the server",
            "Your session is as it was before.",
        ),
        (None, _) => (
            "The request was refused",
            "The server could not use what was sent.",
        ),
    };
    let main = format!(
        "<section class=\"card banner banner-error\" role=\"alert\">\n\
         <h1>{title}</h1>\n<p>{message}</p>\n\
         <p class=\"muted\">The server said (HTTP {code}):</p>\n<pre class=\"server-text\">{text}</pre>\n\
         <p><a class=\"button\" href=\"/\">Back to the demo</a></p>\n</section>\n",
        title = escape_html(title),
        message = escape_html(message),
        code = status.as_u16(),
        text = escape_html(text.trim_end()),
    );
    let page = shell(title, &main, None);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let mut response = Response::from_parts(parts, Html(page).into_response().into_body());
    security_headers(response.headers_mut());
    response
}

/// Whether the client asked for HTML (a browser navigation or form post).
fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.to_ascii_lowercase().contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_failures_all_read_the_same() {
        let integrity = [
            RejectionKind::Malformed,
            RejectionKind::UnsupportedAlgorithm,
            RejectionKind::WrongType,
            RejectionKind::UnknownKey,
            RejectionKind::BadSignature,
            RejectionKind::InvalidClaims,
            RejectionKind::UnsupportedVersion,
            RejectionKind::IssuedInFuture,
            RejectionKind::Ambiguous,
        ];
        for kind in integrity {
            assert_eq!(
                Outcome::from_kind(kind),
                Some(Outcome::NotAccepted),
                "{kind} must not be told apart from the other integrity failures"
            );
        }
        let timeouts = [
            RejectionKind::Expired,
            RejectionKind::IdleTimeout,
            RejectionKind::AbsoluteTimeout,
        ];
        for kind in timeouts {
            assert_eq!(Outcome::from_kind(kind), Some(Outcome::Expired), "{kind}");
        }
        assert_eq!(
            Outcome::from_kind(RejectionKind::Revoked),
            Some(Outcome::Revoked)
        );
        assert_eq!(
            Outcome::from_kind(RejectionKind::Oversized),
            Some(Outcome::TooLarge)
        );
        assert_eq!(
            Outcome::from_kind(RejectionKind::Missing),
            None,
            "no token is no message"
        );
        assert_eq!(
            Outcome::from_kind(RejectionKind::CrossOrigin),
            Some(Outcome::CrossSite)
        );
        for kind in [
            RejectionKind::CsrfTokenMissing,
            RejectionKind::CsrfTokenInvalid,
        ] {
            assert_eq!(Outcome::from_kind(kind), Some(Outcome::StaleForm), "{kind}");
        }
    }
}
