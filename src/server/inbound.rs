//! The way in: find the token in the request, verify it, and build the session handle.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, header};

use super::budget::{self, Measured, Oversize, OversizeAction};
use super::cache::Checked;
use super::layer::Config;
use crate::error::{Rejection, RejectionKind};
use crate::keys::KeyWait;
use crate::metrics::{Limit, Outcome, OversizeCause};
use crate::server::cookie::Transport;
use crate::server::handle::{InboundToken, SessionData, SessionHandle, State};
use crate::token::jws;

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

/// The byte ranges of the values of every cookie named `name` in one `Cookie` header value.
pub(crate) fn cookie_value_ranges<'a>(
    value: &'a [u8],
    name: &'a [u8],
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let mut start = 0;
    std::iter::from_fn(move || {
        while start <= value.len() {
            let end = memchr::memchr(b';', &value[start..]).map_or(value.len(), |i| start + i);
            let (pair_start, pair_end) = trim(value, start, end);
            start = end + 1;
            let pair = &value[pair_start..pair_end];
            if pair.len() > name.len() && pair.starts_with(name) && pair[name.len()] == b'=' {
                return Some(trim(value, pair_start + name.len() + 1, pair_end));
            }
        }
        None
    })
}

/// The most session cookies of the same name a request may carry before it is refused
/// without verifying any of them.
const MAX_SESSION_COOKIES: usize = 4;

/// Every session cookie of the request, in order: the first, and any others (several
/// cookies of the same name mean another path, another domain, or cookie tossing); and the
/// size of the whole `Cookie` header, measured in the same pass.
fn find_cookies(headers: &HeaderMap, name: &[u8]) -> Found {
    let mut first = None;
    let mut others = Vec::new();
    let (mut total, mut fields) = (0usize, 0usize);
    for value in headers.get_all(header::COOKIE) {
        total = total.saturating_add(value.len());
        fields += 1;
        for (start, end) in cookie_value_ranges(value.as_bytes(), name) {
            let token = InboundToken {
                value: value.clone(),
                range: start..end,
            };
            if first.is_none() {
                first = Some(token);
            } else if others.len() < MAX_SESSION_COOKIES {
                others.push(token);
            }
        }
    }
    (first, others, budget::joined_size(total, fields))
}

/// The token, any further session cookies, and the size of the `Cookie` header (0 for the
/// header transports, which do not measure it).
type Found = (Option<InboundToken>, Vec<InboundToken>, usize);

fn whole(value: &HeaderValue) -> Option<InboundToken> {
    let bytes = value.as_bytes();
    let (start, end) = trim(bytes, 0, bytes.len());
    Some(InboundToken {
        value: value.clone(),
        range: start..end,
    })
}

/// Finds the token where the transport says it travels; for cookies, also any further
/// cookies of the same name.
fn find_token<T>(config: &Config<T>, headers: &HeaderMap) -> Found {
    let single = match &config.transport {
        Transport::Cookie => return find_cookies(headers, config.cookie.name().as_bytes()),
        Transport::Bearer => bearer(headers, dpop_on(config)),
        Transport::Header(name) => headers.get(name).and_then(whole),
    };
    (single, Vec::new(), 0)
}

/// Whether the layer takes DPoP tokens (`Authorization: DPoP <token>`) too.
fn dpop_on<T>(config: &Config<T>) -> bool {
    #[cfg(feature = "dpop")]
    return config.dpop.is_some();
    #[cfg(not(feature = "dpop"))]
    {
        let _ = config;
        false
    }
}

/// The token of `Authorization: Bearer <token>`, or with `dpop`, of `DPoP <token>` (which
/// of the two it came in is checked against the token's binding later).
fn bearer(headers: &HeaderMap, dpop: bool) -> Option<InboundToken> {
    let value = headers.get(header::AUTHORIZATION)?;
    let bytes = value.as_bytes();
    let start = if bytes
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case(b"bearer "))
    {
        7
    } else if dpop
        && bytes
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case(b"dpop "))
    {
        5
    } else {
        return None;
    };
    let (start, end) = trim(bytes, start, bytes.len());
    Some(InboundToken {
        value: value.clone(),
        range: start..end,
    })
}

/// Bytes the token travels in: `name=value` for a cookie, the token for a header.
fn travel_size<T>(config: &Config<T>, token: &InboundToken) -> usize {
    match config.transport {
        Transport::Cookie => config.cookie.name().len() + 1 + token.range.len(),
        _ => token.range.len(),
    }
}

/// What [`begin`] found in a request.
pub(crate) struct Begun<T> {
    /// The session the handler will see.
    pub(crate) handle: SessionHandle<T>,
    /// When the request's cookies break a budget and the layer is to answer 431, the report
    /// (boxed: it is rare, and inline it would make every request's result larger to move).
    pub(crate) oversize: Option<Box<Oversize>>,
    /// On the rare path where the token names a key id the ring does not hold and the
    /// ring's source is refreshing it, the wait for that refresh. The request's outcome is
    /// not counted yet: [`retry`] counts it after the refresh.
    pub(crate) key_wait: Option<KeyWait>,
}

/// Verifies the request's token and returns the handle the handler will see, with what
/// else the service must act on (see [`Begun`]).
pub(crate) fn begin<T: SessionData>(config: &Arc<Config<T>>, headers: &HeaderMap) -> Begun<T> {
    let metrics = &config.metrics;
    let budgets = || config.budgets();
    let now = config.codec.now();
    let (inbound, others, header_size) = find_token(config, headers);
    let inbound_size = inbound.as_ref().map(|t| travel_size(config, t));
    let mut state = State::new(RejectionKind::Missing, inbound_size, now);
    if config.transport == Transport::Cookie {
        let measured = Measured {
            header_size,
            session_cookie_size: inbound_size,
        };
        if budget::crosses_warning(None, measured.header_size, config.header_budget) {
            metrics.budget_warning(budgets, Limit::CookieHeader);
        }
        let report = budget::check(
            headers,
            measured,
            config.cookie.name(),
            config.cookie_budget,
            config.header_budget,
        );
        if let Some(report) = report {
            oversized_request(&report);
            let drop_mode = config.oversize_action == OversizeAction::DropSession;
            let cause = match (report.session_cookie_over, report.header_over()) {
                (true, true) => OversizeCause::Both,
                (true, false) => OversizeCause::SessionCookie,
                (false, _) => OversizeCause::CookieHeader,
            };
            metrics.oversized(budgets, cause, !drop_mode);
            // In drop mode, a session cookie within its own budget is not what is wrong
            // (other cookies are): keep it and serve the request with it.
            if !drop_mode || report.session_cookie_over {
                state.rejection = Some(RejectionKind::Oversized);
                // The session cookie is deleted when it is over its own budget.
                if report.session_cookie_over {
                    state.inbound = inbound;
                }
                metrics.request(budgets, Outcome::Refused(RejectionKind::Oversized));
                return Begun {
                    handle: SessionHandle::new(Arc::clone(config), state),
                    oversize: (!drop_mode).then(|| Box::new(report)),
                    key_wait: None,
                };
            }
        }
    }
    if let Some(first) = inbound {
        let verify = |token: &InboundToken| verify_at(config, token.bytes(), now);
        let (token, result) = if others.is_empty() {
            let result = verify(&first);
            (first, result)
        } else {
            choose(first, others, verify)
        };
        settle(config, &mut state, result);
        state.inbound = Some(token);
        // The rare path: the token names a key the ring's source is fetching. The outcome
        // is counted once the refresh is over (`retry`).
        if let Some(wait) = key_wait(config, &state) {
            let handle = SessionHandle::new(Arc::clone(config), state);
            return Begun {
                handle,
                oversize: None,
                key_wait: Some(wait),
            };
        }
    }
    metrics.request(budgets, Outcome::of(state.rejection));
    Begun {
        handle: SessionHandle::new(Arc::clone(config), state),
        oversize: None,
        key_wait: None,
    }
}

/// Applies the revocation check to a verification result and records the outcome.
fn settle<T>(config: &Config<T>, state: &mut State<T>, result: Result<Checked<T>, Rejection>) {
    let now = state.now;
    let result = result.and_then(|checked| match &config.revocations {
        Some(revocations) if revocations.revoked(&checked.claims, now) => {
            Err(Rejection::new(RejectionKind::Revoked))
        }
        _ => Ok(checked),
    });
    match result {
        Ok(checked) => {
            state.resign = checked.resign;
            state.claims = Some(checked.claims);
            #[cfg(feature = "propagate")]
            {
                state.minted = checked.minted;
            }
            state.rejection = None;
        }
        Err(error) => {
            token_rejected(error.kind());
            state.rejection = Some(error.kind());
        }
    }
}

/// When the token was refused because the ring does not hold the key it names, and the
/// ring's source will refresh for that key id: the wait for the refresh (the rare path
/// where the layer waits for fresher keys before it decides). `None` when no refresh
/// comes; the token then stays refused as `unknown_key`.
///
/// A token whose (unverified) `exp` has passed is left alone: fresher keys could only make
/// it verify to be refused as expired.
fn key_wait<T>(config: &Config<T>, state: &State<T>) -> Option<KeyWait> {
    if state.rejection != Some(RejectionKind::UnknownKey) {
        return None;
    }
    let refresher = config.codec.keys().refresher()?;
    let token = state.inbound.as_ref()?.bytes();
    let kid = jws::header_kid(token)?;
    let leeway = config.codec.leeway_secs();
    if jws::unverified_exp(token).is_some_and(|exp| state.now >= exp.saturating_add(leeway)) {
        return None;
    }
    refresher.unknown_kid(&kid)
}

/// Verifies the request's token again (after the key ring was refreshed) and records the
/// outcome in the session and the metrics, as [`begin`] would have.
pub(crate) fn retry<T: SessionData>(handle: &SessionHandle<T>) {
    let config = handle.config();
    let mut state = handle.lock();
    if let Some(token) = state.inbound.clone() {
        let result = verify_at(config, token.bytes(), state.now);
        settle(config, &mut state, result);
    }
    config
        .metrics
        .request(|| config.budgets(), Outcome::of(state.rejection));
}

/// Verifies a token at time `now`, through the layer's cache of verified tokens when it
/// has one: the checks that do not depend on time are cached, the deadlines always run.
fn verify_at<T: SessionData>(
    config: &Config<T>,
    token: &[u8],
    now: u64,
) -> Result<Checked<T>, Rejection> {
    let codec = &config.codec;
    #[cfg(not(feature = "propagate"))]
    let decode = || {
        codec
            .decode_token::<T>(token, config.migration.as_deref())
            .map(Checked::from)
    };
    #[cfg(feature = "propagate")]
    let decode = || match &config.audience {
        None => codec
            .decode_token::<T>(token, config.migration.as_deref())
            .map(Checked::from),
        Some(audience) => codec
            .decode_minted::<T>(token, audience, config.minted_type.as_str())
            .map(|(verified, minted)| Checked {
                minted: Some(Arc::new(minted)),
                ..Checked::from(verified)
            }),
    };
    let checked = match &config.verify_cache {
        None => decode()?,
        Some(cache) => {
            // Read before verifying: a ring replaced meanwhile makes the entry a miss.
            let generation = codec.keys().generation();
            let cached = cache.get(token, generation);
            config
                .metrics
                .cache_lookup(|| config.budgets(), cached.is_some());
            match cached {
                Some(hit) => hit,
                None => {
                    let checked = decode()?;
                    cache.insert(token, generation, &checked);
                    checked
                }
            }
        }
    };
    codec.check_times_at(&checked.claims, now)?;
    check_binding(config, &checked.claims, now)?;
    Ok(checked)
}

/// Whether this layer accepts the token's binding (its `cnf`): an unbound token unless a
/// binding is required, a bound one only where its proof is checked (DBSC-bound cookies
/// with DBSC on, DPoP-bound tokens with DPoP on; the proof itself is checked after this),
/// never a DBSC refresh credential.
fn check_binding<T>(
    config: &Config<T>,
    claims: &crate::token::Claims<T>,
    now: u64,
) -> Result<(), Rejection> {
    #[cfg(any(feature = "dbsc", feature = "dpop"))]
    use crate::token::Binding;
    let refuse = |kind| Err(Rejection::new(kind));
    match &claims.cnf {
        None => {
            #[cfg(feature = "dbsc")]
            if let Some(dbsc) = &config.dbsc
                && let Some(grace) = dbsc.settings.unbound_grace
                && now >= claims.auth_time.saturating_add(grace.as_secs())
            {
                return refuse(RejectionKind::Unbound);
            }
            #[cfg(feature = "dpop")]
            if config.dpop.is_some() {
                return refuse(RejectionKind::Unbound);
            }
            let _ = (config, now);
            Ok(())
        }
        #[cfg(feature = "dbsc")]
        Some(cnf) if cnf.binding == Binding::Dbsc && config.dbsc.is_some() => Ok(()),
        #[cfg(feature = "dpop")]
        Some(cnf) if cnf.binding == Binding::Dpop && config.dpop.is_some() => Ok(()),
        Some(_) => refuse(RejectionKind::WrongBinding),
    }
}

/// Picks among several session cookies of the same name.
///
/// Browsers send every cookie whose path and domain match, so a stale cookie from another
/// `Path`, or one planted from a sibling subdomain ("cookie tossing"), arrives next to ours.
/// Taking the first would let a planted, validly signed token (the attacker's own session)
/// win. Instead every candidate is verified (at most [`MAX_SESSION_COOKIES`]): if the valid
/// ones all belong to one session, the most recently signed is used; if they belong to
/// different sessions, the request is refused as [`RejectionKind::Ambiguous`] (fail closed);
/// if none is valid, the first one's rejection stands.
fn choose<T>(
    first: InboundToken,
    others: Vec<InboundToken>,
    verify: impl Fn(&InboundToken) -> Result<Checked<T>, Rejection>,
) -> (InboundToken, Result<Checked<T>, Rejection>) {
    if others.len() >= MAX_SESSION_COOKIES {
        return (first, Err(Rejection::new(RejectionKind::Ambiguous)));
    }
    let first_result = verify(&first);
    let first_error = first_result.as_ref().err().copied();
    let mut best: Option<(InboundToken, Checked<T>)> = None;
    let candidates =
        std::iter::once((first.clone(), first_result)).chain(others.into_iter().map(|t| {
            let r = verify(&t);
            (t, r)
        }));
    for (token, result) in candidates {
        let Ok(verified) = result else { continue };
        match &best {
            Some((_, current)) if current.claims.sid != verified.claims.sid => {
                return (first, Err(Rejection::new(RejectionKind::Ambiguous)));
            }
            Some((_, current)) if current.claims.iat >= verified.claims.iat => {}
            _ => best = Some((token, verified)),
        }
    }
    match (best, first_error) {
        (Some((token, verified)), _) => (token, Ok(verified)),
        (None, Some(error)) => (first, Err(error)),
        // Unreachable: without a valid candidate, the first one failed.
        (None, None) => (first, Err(Rejection::new(RejectionKind::Ambiguous))),
    }
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn token_rejected(kind: RejectionKind) {
    #[cfg(feature = "tracing")]
    match kind {
        RejectionKind::Expired | RejectionKind::IdleTimeout | RejectionKind::AbsoluteTimeout => {
            tracing::debug!(kind = kind.as_str(), "session token rejected");
        }
        _ => tracing::info!(kind = kind.as_str(), "session token rejected"),
    }
    #[cfg(not(feature = "tracing"))]
    let _ = kind;
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn oversized_request(report: &Oversize) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        header_size = report.header_size,
        header_budget = report.header_budget,
        session_cookie_size = report.session_cookie_size,
        cookie_budget = report.cookie_budget,
        largest_cookie = report.cookies.first().map(|c| c.name.as_str()),
        "request cookies over budget"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = report;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(header: &str, name: &str) -> Option<String> {
        cookie_value_ranges(header.as_bytes(), name.as_bytes())
            .next()
            .map(|(s, e)| header[s..e].to_owned())
    }

    #[test]
    fn every_cookie_of_the_name_is_found() {
        let header = "session=a; x=1; session=b;session=c";
        let all: Vec<_> = cookie_value_ranges(header.as_bytes(), b"session")
            .map(|(s, e)| &header[s..e])
            .collect();
        assert_eq!(all, ["a", "b", "c"]);
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
