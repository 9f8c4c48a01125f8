//! What the layer checks of a request's CSRF token, and what it leaves to the extractor.

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header};

use super::CSRF_HEADER;
use crate::error::RejectionKind;
use crate::server::Config;
use crate::server::cross_origin::is_safe;
use crate::server::handle::SessionHandle;

const HEADER: HeaderName = HeaderName::from_static(CSRF_HEADER);

/// What an unsafe request leaves the layer to check once its session is known.
#[derive(Debug, Clone)]
pub(crate) enum Demand {
    /// Nothing: CSRF tokens are off, or the path is exempt.
    Skip,
    /// The token of the `X-CSRF-Token` header.
    Header(HeaderValue),
    /// A form body without the header: its `_csrf` field is the handler's to check.
    Form,
    /// Neither: refused when the request has a session.
    Missing,
}

impl Demand {
    /// What the layer checks on this request; `None` for a safe method.
    pub(crate) fn of<T>(
        config: &Config<T>,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Option<Self> {
        if is_safe(method) {
            return None;
        }
        if config.csrf.is_none() || config.cross_origin.is_exempt(uri.path()) {
            return Some(Demand::Skip);
        }
        Some(match headers.get(HEADER) {
            Some(token) => Demand::Header(token.clone()),
            None if is_form(headers) => Demand::Form,
            None => Demand::Missing,
        })
    }

    /// Checks what the layer checks, now that the request's session is known; the kind
    /// of the refusal (counted and logged) when the request is to be refused.
    pub(crate) fn refusal<T>(&self, handle: &SessionHandle<T>) -> Option<RejectionKind> {
        let token = match self {
            Demand::Skip | Demand::Form => return None,
            Demand::Header(token) => Some(trim(token.as_bytes())),
            Demand::Missing => None,
        };
        super::check(handle, token).err()
    }
}

/// A header value without the optional whitespace around it.
fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !matches!(b, b' ' | b'\t'));
    let end = bytes.iter().rposition(|b| !matches!(b, b' ' | b'\t'));
    match (start, end) {
        (Some(start), Some(end)) => &bytes[start..=end],
        _ => &[],
    }
}

/// Whether the body is a form an HTML page can send with a `_csrf` field: urlencoded or
/// multipart. (`text/plain`, the third type a cross-site form can send, cannot carry a
/// field the server could read reliably: it needs the header.)
fn is_form(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let essence = value
        .as_bytes()
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default();
    let essence = trim(essence);
    essence.eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
        || essence.eq_ignore_ascii_case(b"multipart/form-data")
}

#[cfg(feature = "axum")]
pub(crate) use self::context::{CsrfContext, expose};

#[cfg(feature = "axum")]
mod context {
    use std::sync::Arc;

    use super::{Demand, trim};
    use crate::error::{Rejection, RejectionKind};
    use crate::server::handle::{SessionData, SessionHandle};
    use crate::server::layer::RejectionFn;

    type Check = dyn Fn(Option<&[u8]>) -> Result<(), RejectionKind> + Send + Sync;

    /// What the layer leaves in an unsafe request's extensions for the
    /// [`CsrfForm`](super::super::CsrfForm) extractor.
    #[derive(Clone)]
    pub(crate) struct CsrfContext {
        /// Checks a token against the request's session; `None` when there is nothing to
        /// check (tokens off, an exempt path).
        check: Option<Arc<Check>>,
        /// The layer checked the request's header token already.
        header_checked: bool,
        /// The layer's 403.
        pub(crate) forbidden: Arc<RejectionFn>,
    }

    impl CsrfContext {
        /// Checks the token the request carried: the form's field, else the header's.
        pub(crate) fn check(
            &self,
            field: Option<&[u8]>,
            header: Option<&[u8]>,
        ) -> Result<(), Rejection> {
            match &self.check {
                Some(check) if !self.header_checked => {
                    check(field.or(header.map(trim))).map_err(Rejection::new)
                }
                _ => Ok(()),
            }
        }
    }

    /// Leaves the context of `demand` in `extensions` (unsafe requests only);
    /// `header_checked` when the layer verified the header token already.
    pub(crate) fn expose<T: SessionData>(
        extensions: &mut http::Extensions,
        handle: &SessionHandle<T>,
        demand: &Demand,
        header_checked: bool,
    ) {
        let check: Option<Arc<Check>> = match demand {
            Demand::Skip => None,
            _ => {
                let handle = handle.clone();
                Some(Arc::new(move |token: Option<&[u8]>| {
                    super::super::check(&handle, token)
                }))
            }
        };
        extensions.insert(CsrfContext {
            check,
            header_checked: header_checked && matches!(demand, Demand::Header(_)),
            forbidden: std::sync::Arc::clone(&handle.config().forbidden_response),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_types_are_recognised() {
        for (content_type, form) in [
            ("application/x-www-form-urlencoded", true),
            ("Application/X-WWW-Form-Urlencoded; charset=UTF-8", true),
            ("multipart/form-data; boundary=x", true),
            (" multipart/form-data", true),
            ("text/plain", false),
            ("application/json", false),
            ("application/x-www-form-urlencodedx", false),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(content_type).expect("value"),
            );
            assert_eq!(is_form(&headers), form, "{content_type}");
        }
        assert!(!is_form(&HeaderMap::new()));
    }

    #[test]
    fn trim_takes_the_optional_whitespace() {
        assert_eq!(trim(b" \tab c\t "), b"ab c");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(trim(b""), b"");
    }
}
