//! The way in: find the token in the request, verify it, and build the session handle.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, header};

use super::budget::{self, Measured, Oversize, OversizeAction};
use super::layer::Config;
use crate::config::Transport;
use crate::error::RejectionKind;
use crate::log;
use crate::session::{Change, InboundToken, SessionData, SessionHandle, State};

/// Trims the optional whitespace HTTP allows around values and cookie pairs.
fn trim(bytes: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && matches!(bytes[start], b' ' | b'\t') {
        start += 1;
    }
    while end > start && matches!(bytes[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    (start, end)
}

/// The byte range of the value of cookie `name` in one `Cookie` header value, if present.
/// The first pair with that name wins.
pub(crate) fn cookie_value_range(value: &[u8], name: &[u8]) -> Option<(usize, usize)> {
    let mut start = 0;
    while start <= value.len() {
        let end = memchr::memchr(b';', &value[start..]).map_or(value.len(), |i| start + i);
        let (pair_start, pair_end) = trim(value, start, end);
        let pair = &value[pair_start..pair_end];
        if pair.len() > name.len() && pair.starts_with(name) && pair[name.len()] == b'=' {
            return Some(trim(value, pair_start + name.len() + 1, pair_end));
        }
        start = end + 1;
    }
    None
}

fn whole(value: &HeaderValue) -> Option<InboundToken> {
    let bytes = value.as_bytes();
    let (start, end) = trim(bytes, 0, bytes.len());
    Some(InboundToken {
        value: value.clone(),
        range: start..end,
    })
}

/// Finds the token where the transport says it travels.
pub(crate) fn find_token<T>(config: &Config<T>, headers: &HeaderMap) -> Option<InboundToken> {
    match &config.transport {
        Transport::Cookie => {
            let name = config.cookie.name().as_bytes();
            headers.get_all(header::COOKIE).iter().find_map(|value| {
                cookie_value_range(value.as_bytes(), name).map(|(start, end)| InboundToken {
                    value: value.clone(),
                    range: start..end,
                })
            })
        }
        Transport::Bearer => {
            let value = headers.get(header::AUTHORIZATION)?;
            let bytes = value.as_bytes();
            let scheme = bytes.get(..7)?;
            if !scheme.eq_ignore_ascii_case(b"bearer ") {
                return None;
            }
            let (start, end) = trim(bytes, 7, bytes.len());
            Some(InboundToken {
                value: value.clone(),
                range: start..end,
            })
        }
        Transport::Header(name) => headers.get(name).and_then(whole),
    }
}

/// Bytes the token travels in: `name=value` for a cookie, the token for a header.
fn travel_size<T>(config: &Config<T>, token: &InboundToken) -> usize {
    match config.transport {
        Transport::Cookie => config.cookie.name().len() + 1 + token.range.len(),
        _ => token.range.len(),
    }
}

/// Verifies the request's token and returns the handle the handler will see, and, when the
/// request's cookies break a budget and the layer is to answer 431, the report.
pub(crate) fn begin<T: SessionData>(
    config: &Arc<Config<T>>,
    headers: &HeaderMap,
) -> (SessionHandle<T>, Option<Oversize>) {
    let inbound = find_token(config, headers);
    let inbound_size = inbound.as_ref().map(|t| travel_size(config, t));
    let mut state = State {
        claims: None,
        change: Change::None,
        rejection: Some(RejectionKind::Missing),
        needs_resign: false,
        inbound: None,
        inbound_size,
    };
    if config.transport == Transport::Cookie {
        let measured = Measured {
            header_size: budget::header_size(headers),
            session_cookie_size: inbound_size,
        };
        let report = budget::check(
            headers,
            measured,
            config.cookie.name(),
            config.cookie_budget,
            config.header_budget,
        );
        if let Some(report) = report {
            log::oversized_request(&report);
            state.rejection = Some(RejectionKind::Oversized);
            // The session cookie is deleted when it is over its own budget, or, when the
            // session is dropped instead of answering 431, whenever it is present.
            let delete =
                report.session_cookie_over || config.oversize_action == OversizeAction::DropSession;
            if delete {
                state.inbound = inbound;
            }
            let handle = SessionHandle::new(Arc::clone(config), state);
            return match config.oversize_action {
                OversizeAction::Reject => (handle, Some(report)),
                _ => (handle, None),
            };
        }
    }
    if let Some(token) = inbound {
        match config
            .codec
            .verify_with::<T>(token.bytes(), config.migration.as_deref())
        {
            Ok(verified) => {
                state.needs_resign = verified.needs_resign();
                state.claims = Some(verified.claims);
                state.rejection = None;
            }
            Err(error) => {
                log::token_rejected(error.kind());
                state.rejection = Some(error.kind());
            }
        }
        state.inbound = Some(token);
    }
    (SessionHandle::new(Arc::clone(config), state), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(header: &str, name: &str) -> Option<String> {
        cookie_value_range(header.as_bytes(), name.as_bytes()).map(|(s, e)| header[s..e].to_owned())
    }

    #[test]
    fn cookie_pairs_are_matched_by_exact_name() {
        assert_eq!(find("session=abc", "session").as_deref(), Some("abc"));
        assert_eq!(
            find("a=1; session=abc; b=2", "session").as_deref(),
            Some("abc")
        );
        assert_eq!(find("a=1;session=abc", "session").as_deref(), Some("abc"));
        assert_eq!(
            find("a=1; session= abc \t; b", "session").as_deref(),
            Some("abc")
        );
        assert_eq!(
            find("xsession=1; session=2", "session").as_deref(),
            Some("2")
        );
        assert_eq!(find("session2=1; sessio=2", "session"), None);
        assert_eq!(
            find("session=first; session=second", "session").as_deref(),
            Some("first")
        );
        assert_eq!(find("session", "session"), None);
        assert_eq!(find("", "session"), None);
        assert_eq!(find(";;; ;", "session"), None);
        assert_eq!(find("session=", "session").as_deref(), Some(""));
    }
}
