//! Cookie size budgets: measure before any decoding, answer 431 with a report that names
//! the offending cookies, and warn when an outgoing token nears its budget.

use std::fmt::{self, Write as _};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use super::rejection::plain;

/// Default budget for the session cookie's `name=value`: 4096 bytes, what browsers keep.
pub const DEFAULT_COOKIE_BUDGET: usize = 4096;

/// Default budget for the whole `Cookie` request header value: 8000 bytes.
///
/// Under what the common front ends accept by default, counting their overhead: nginx
/// holds one header line (`Cookie: `, the value and CRLF) in an 8 KiB buffer, so values up
/// to 8182 bytes; Apache's `LimitRequestFieldSize 8190` counts the field name too; Tomcat's
/// `maxHttpHeaderSize 8192` covers the whole request head, so leave room for the other
/// headers there (see [`size_budgets`](crate::size_budgets)).
pub const DEFAULT_COOKIE_HEADER_BUDGET: usize = 8000;

/// An outgoing token over this share of its budget logs a warning (once per crossing).
pub const BUDGET_WARNING_PERCENT: usize = 75;

/// What to do with a request whose cookies exceed their budgets.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OversizeAction {
    /// Answer 431 Request Header Fields Too Large without calling the handler, naming the
    /// offending cookies and deleting the session cookie when it is one of them (the
    /// default). The client's next request then goes through.
    Reject,
    /// No 431. A session cookie over its own budget is ignored (the request continues
    /// without a session, the rejection kind is
    /// [`Oversized`](crate::RejectionKind::Oversized)) and deleted. When only the whole
    /// `Cookie` header is over its budget, the session cookie is not to blame: it is kept
    /// and the request is served with it.
    DropSession,
}

/// One cookie of an oversized `Cookie` header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CookieSize {
    /// The cookie's name (printable ASCII only; anything else is shown escaped, and long
    /// names are cut).
    pub name: String,
    /// The size of `name=value` in bytes.
    pub size: usize,
    /// Whether this is the session cookie.
    pub is_session: bool,
}

/// Why a request's cookies were refused: the sizes measured and the budgets they broke.
///
/// Given to the [`with_oversize_response`](crate::SessionLayer::with_oversize_response)
/// hook; its `Display` is the default 431 body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Oversize {
    /// The total size of the `Cookie` header field(s), in bytes.
    pub header_size: usize,
    /// The budget for the whole `Cookie` header.
    pub header_budget: usize,
    /// The size of the session cookie's `name=value`, if it was present.
    pub session_cookie_size: Option<usize>,
    /// The budget for the session cookie's `name=value`.
    pub cookie_budget: usize,
    /// The cookies of the request, largest first (at most 20).
    pub cookies: Vec<CookieSize>,
    /// Whether the session cookie is over its own budget (and so is deleted).
    pub session_cookie_over: bool,
}

impl Oversize {
    /// Whether the whole `Cookie` header is over its budget.
    pub fn header_over(&self) -> bool {
        self.header_size > self.header_budget
    }
}

impl fmt::Display for Oversize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "431 Request Header Fields Too Large: the Cookie header field"
        )?;
        writeln!(f)?;
        if self.session_cookie_over {
            let size = self.session_cookie_size.unwrap_or(0);
            writeln!(
                f,
                "The session cookie is {size} bytes, over its limit of {} bytes. It has been \
                 deleted: reload the page to continue (you will need to sign in again).",
                self.cookie_budget
            )?;
        }
        if self.header_over() {
            writeln!(
                f,
                "The Cookie header field is {} bytes, over its limit of {} bytes. Delete some \
                 of these cookies for this site to continue:",
                self.header_size, self.header_budget
            )?;
        } else {
            writeln!(f, "Cookies sent with this request:")?;
        }
        for cookie in &self.cookies {
            let note = if cookie.is_session { " (session)" } else { "" };
            writeln!(f, "  {}: {} bytes{note}", cookie.name, cookie.size)?;
        }
        Ok(())
    }
}

/// Sizes measured on every request: cheap, no allocation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measured {
    pub(crate) header_size: usize,
    pub(crate) session_cookie_size: Option<usize>,
}

/// Total size of the `Cookie` field(s), joined as a proxy would join them (`"; "`).
#[cfg(test)]
pub(crate) fn header_size(headers: &HeaderMap) -> usize {
    let mut total = 0usize;
    let mut count = 0usize;
    for value in headers.get_all(header::COOKIE) {
        total = total.saturating_add(value.len());
        count += 1;
    }
    joined_size(total, count)
}

/// The size of `fields` header fields of `total` bytes together, joined as a proxy would
/// join them (`"; "`).
pub(crate) fn joined_size(total: usize, fields: usize) -> usize {
    total.saturating_add(2 * fields.saturating_sub(1))
}

fn printable_name(raw: &[u8]) -> String {
    const MAX: usize = 64;
    let mut out = String::new();
    for &b in raw.iter().take(MAX) {
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    if raw.len() > MAX {
        out.push_str("...");
    }
    out
}

/// Lists the cookies of the request (only done once a budget is broken).
fn list_cookies(headers: &HeaderMap, session_name: &[u8]) -> Vec<CookieSize> {
    let mut cookies: Vec<CookieSize> = Vec::new();
    for value in headers.get_all(header::COOKIE) {
        for pair in value.as_bytes().split(|&b| b == b';') {
            let start = pair.iter().position(|&b| b != b' ' && b != b'\t');
            let Some(start) = start else { continue };
            let end = pair
                .iter()
                .rposition(|&b| b != b' ' && b != b'\t')
                .map_or(start, |e| e + 1);
            let pair = &pair[start..end];
            let name = pair.split(|&b| b == b'=').next().unwrap_or(pair);
            cookies.push(CookieSize {
                name: printable_name(name),
                size: pair.len(),
                is_session: name == session_name,
            });
        }
    }
    cookies.sort_by_key(|c| std::cmp::Reverse(c.size));
    cookies.truncate(20);
    cookies
}

/// Checks the budgets; returns the report when one is broken.
pub(crate) fn check(
    headers: &HeaderMap,
    measured: Measured,
    session_name: &str,
    cookie_budget: usize,
    header_budget: usize,
) -> Option<Oversize> {
    let session_cookie_over = measured
        .session_cookie_size
        .is_some_and(|size| size > cookie_budget);
    if !session_cookie_over && measured.header_size <= header_budget {
        return None;
    }
    Some(Oversize {
        header_size: measured.header_size,
        header_budget,
        session_cookie_size: measured.session_cookie_size,
        cookie_budget,
        cookies: list_cookies(headers, session_name.as_bytes()),
        session_cookie_over,
    })
}

/// The default 431: RFC 6585 asks the body to say which header field was too large.
pub(crate) fn default_oversize_response(oversize: &Oversize) -> Response<Bytes> {
    let mut response = plain(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        oversize.to_string(),
    );
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Whether going from `previous` to `size` bytes crosses the warning line of `budget`.
pub(crate) fn crosses_warning(previous: Option<usize>, size: usize, budget: usize) -> bool {
    let line = budget.saturating_mul(BUDGET_WARNING_PERCENT) / 100;
    size > line && previous.is_none_or(|p| p <= line)
}

/// Sizes of a token the layer issued on this response, attached to the response's
/// extensions for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedToken {
    /// Bytes sent: `name=value` for a cookie, the token for a header transport.
    pub size: usize,
    /// The budget those bytes are held to.
    pub budget: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(header::COOKIE, HeaderValue::from_str(v).expect("ascii"));
        }
        map
    }

    fn with_raw(mut map: HeaderMap, raw: &[u8]) -> HeaderMap {
        map.append(
            header::COOKIE,
            HeaderValue::from_bytes(raw).expect("obs-text"),
        );
        map
    }

    #[test]
    fn header_size_joins_fields_like_a_proxy() {
        assert_eq!(header_size(&HeaderMap::new()), 0);
        assert_eq!(header_size(&headers(&["a=1"])), 3);
        assert_eq!(header_size(&headers(&["a=1", "b=22"])), 3 + 2 + 4);
    }

    #[test]
    fn report_lists_cookies_largest_first_and_escapes_names() {
        let big = format!("big={}", "x".repeat(100));
        let h = with_raw(
            headers(&[&format!("small=1; {big}; session=abc")]),
            b"we\xffird=2",
        );
        let measured = Measured {
            header_size: header_size(&h),
            session_cookie_size: Some("session=abc".len()),
        };
        let report = check(&h, measured, "session", 4096, 50).expect("over the header budget");
        let names: Vec<_> = report.cookies.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["big", "session", "we\\xffird", "small"]);
        assert!(report.cookies[1].is_session);
        assert!(!report.session_cookie_over);
        let text = report.to_string();
        assert!(text.contains("The Cookie header field is"), "{text}");
        assert!(text.contains("big: 104 bytes"), "{text}");
        assert!(check(&h, measured, "session", 4096, 10_000).is_none());
    }

    #[test]
    fn warning_fires_once_per_crossing() {
        assert!(crosses_warning(None, 3073, 4096), "a new token over 75 %");
        assert!(
            !crosses_warning(None, 3072, 4096),
            "exactly 75 % is not over"
        );
        assert!(crosses_warning(Some(3000), 3100, 4096), "crossing upwards");
        assert!(
            !crosses_warning(Some(3100), 3200, 4096),
            "already over: no repeat"
        );
        assert!(!crosses_warning(Some(3100), 2000, 4096), "going down");
    }
}
