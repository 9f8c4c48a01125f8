//! Deciding whether the session needs a new token, and signing it once.
//!
//! Both the way out (the response's `Set-Cookie`) and propagation (a handler calling a
//! downstream service before it returns) need "the token for the session as it is now". The
//! first to ask signs it and caches it in the session state; the other reuses it, so a
//! refreshed token that was propagated is the same one the client receives.

use std::sync::Arc;

use super::budget::crosses_warning;
use super::layer::Config;
use super::token::SessionToken;
use crate::error::SignError;
use crate::metrics::{IssueReason, Limit};
use crate::server::handle::{Change, SessionData, State};
use crate::token::Claims;

/// A token signed during this request for the session's current claims.
#[derive(Clone)]
pub(crate) struct Issued {
    pub(crate) token: SessionToken,
    /// Bytes sent: `name=value` for a cookie, the token for a header transport.
    pub(crate) size: usize,
    /// The budget those bytes are held to.
    pub(crate) budget: usize,
}

/// Signs the session's claims if they need a new token now (the session changed, a refresh
/// is due, or the token's key no longer signs) and caches the result; returns the cached
/// token if there is one. `Ok(None)` when no new token is needed (or in verify-only mode).
pub(crate) fn ensure_issued<'s, T: SessionData>(
    config: &Config<T>,
    state: &'s mut State<T>,
) -> Result<Option<&'s Issued>, SignError> {
    if config.verify_only {
        return Ok(None);
    }
    if state.issued.is_none() {
        let codec = &config.codec;
        let Some(claims) = state.claims.as_mut() else {
            return Ok(None);
        };
        let now = state.now;
        let reason = match state.change {
            Change::Started => IssueReason::Login,
            Change::Modified | Change::Renewed => {
                codec.refresh_at(Arc::make_mut(claims), now);
                IssueReason::Change
            }
            Change::None => {
                let due = now.saturating_sub(claims.iat) >= config.refresh_after;
                let extends = codec.expiry(now, claims.auth_time) > claims.exp;
                // A bound token moves forward only against a proof of its key: a DPoP
                // request's (checked before the handler ran); a DBSC cookie only at the
                // refresh endpoint, never here.
                let proven = match &claims.cnf {
                    None => None,
                    #[cfg(feature = "dpop")]
                    Some(cnf) if cnf.binding == crate::token::Binding::Dpop && state.pop.proven => {
                        Some(true)
                    }
                    Some(_) => Some(false),
                };
                let reason = match state.resign {
                    Some(reason) => reason,
                    None if due && extends && proven != Some(false) => IssueReason::Refresh,
                    None => return Ok(None),
                };
                let claims = Arc::make_mut(claims);
                if reason == IssueReason::Refresh && proven == Some(true) {
                    #[cfg(any(feature = "dbsc", feature = "dpop"))]
                    codec.extend_at(claims, now, None);
                } else {
                    codec.refresh_at(claims, now);
                }
                reason
            }
            // A session that ended has no claims; handled above.
            Change::Ended => return Ok(None),
        };
        let issued = sign(config, claims, state.inbound_size).inspect_err(|error| {
            config.metrics.sign_failed(|| config.budgets(), error);
        })?;
        config
            .metrics
            .issued(|| config.budgets(), reason, issued.size);
        state.resign = None;
        state.issued = Some(issued);
    }
    Ok(state.issued.as_ref())
}

fn sign<T: SessionData>(
    config: &Config<T>,
    claims: &Claims<T>,
    inbound_size: Option<usize>,
) -> Result<Issued, SignError> {
    let codec = &config.codec;
    // The budget holds the bytes sent: `name=value` for a cookie.
    let overhead = config.token_overhead();
    let budget = config.token_budget();
    let token = codec
        .sign_capped(claims, budget.saturating_sub(overhead))
        .map_err(|error| match error {
            SignError::Oversized { len, .. } => {
                // Over the budget is over its warning line too.
                config
                    .metrics
                    .budget_warning(|| config.budgets(), Limit::Token);
                SignError::Oversized {
                    len: len + overhead,
                    max: budget,
                }
            }
            other => other,
        })?;
    let size = token.len() + overhead;
    if crosses_warning(inbound_size, size, budget) {
        budget_warning(size, budget);
    }
    if crosses_warning(None, size, budget) {
        config
            .metrics
            .budget_warning(|| config.budgets(), Limit::Token);
    }
    Ok(Issued {
        token: SessionToken::new(&token),
        size,
        budget,
    })
}

/// Whether the handler changed the session (a signing failure then fails the request).
pub(crate) fn changed<T>(state: &State<T>) -> bool {
    state.change != Change::None
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn budget_warning(size: usize, budget: usize) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        size,
        budget,
        percent = size.saturating_mul(100) / budget.max(1),
        "session token crossed 75% of its size budget"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (size, budget);
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
pub(super) fn sign_failed(error: &SignError, changed: bool) {
    #[cfg(feature = "tracing")]
    match error {
        SignError::Oversized { len, max } => tracing::error!(
            size = len,
            budget = max,
            changed,
            "session token over its size budget; not sent, previous session kept"
        ),
        _ if changed => tracing::error!(
            %error,
            "session change could not be signed; request failed, previous session kept"
        ),
        _ => tracing::error!(%error, "session refresh could not be signed; previous token kept"),
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (error, changed);
}
