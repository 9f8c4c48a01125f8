//! Log events, through `tracing` when the feature is on. Never logs a token or a secret.

use crate::error::{RejectionKind, SignError};
use crate::server::Oversize;

pub(crate) fn token_rejected(kind: RejectionKind) {
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

pub(crate) fn sign_failed(error: &SignError, changed: bool) {
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

pub(crate) fn oversized_request(report: &Oversize) {
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

pub(crate) fn budget_warning(size: usize, budget: usize) {
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

pub(crate) fn mint_failed(error: &crate::propagate::MintError, audience: &crate::token::Audience) {
    #[cfg(feature = "tracing")]
    tracing::error!(
        %error,
        audience = audience.as_str(),
        "downstream token not minted; the call goes out without a token"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (error, audience);
}

pub(crate) fn no_session_to_mint() {
    #[cfg(feature = "tracing")]
    tracing::debug!("no current session: the call goes out without a minted token");
}

pub(crate) fn explicit_token_not_forwarded() {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        "a SessionToken in the request's extensions is not forwarded by a minting client; \
         run the task in SessionHandle::scope to mint for it"
    );
}

#[cfg(feature = "redis")]
pub(crate) fn redis_lost(part: &str, target: &str, error: &str) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        part,
        target,
        error,
        "Redis connection lost or refused: keeping the local state, reconnecting with backoff"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (part, target, error);
}

#[cfg(feature = "redis")]
pub(crate) fn redis_synced(part: &str, target: &str, resp3: bool) {
    #[cfg(feature = "tracing")]
    tracing::info!(
        part,
        target,
        protocol = if resp3 { "RESP3" } else { "RESP2" },
        "Redis connected: subscribed, state reloaded"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (part, target, resp3);
}

#[cfg(feature = "redis")]
pub(crate) fn revocation_outage(entries: usize) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        entries,
        "revocations: enforcing the last known set, queueing new revocations for Redis"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = entries;
}

pub(crate) fn registry_entry_ignored(kid: &str) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        kid,
        "key registry entry ignored: its registration MAC does not verify or its key is \
         unusable (written by something without the registration key?)"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = kid;
}

pub(crate) fn registry_capped(max_keys: usize, dropped: usize) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        max_keys,
        dropped,
        "more live node keys than the cap: the oldest are left out, and sessions they \
         signed are refused; raise with_max_keys or restart nodes less often"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (max_keys, dropped);
}

pub(crate) fn node_key_signing(kid: &str, signing: bool, first: bool, issuing: Option<&str>) {
    #[cfg(feature = "tracing")]
    if signing {
        tracing::info!(kid, "node key published: signing with it");
    } else if first {
        tracing::info!(
            kid,
            issuing,
            "node key sent to the registry: signing with it once the registry confirms it"
        );
    } else {
        tracing::warn!(
            kid,
            issuing,
            "node key no longer confirmed by the registry: not signing with it"
        );
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (kid, signing, first, issuing);
}

#[cfg(feature = "jwks")]
pub(crate) fn jwks_fetch_failed(error: &crate::keys::JwksError, keys: usize) {
    #[cfg(feature = "tracing")]
    tracing::warn!(%error, keys, "JWKS fetch failed: keeping the last good key set");
    #[cfg(not(feature = "tracing"))]
    let _ = (error, keys);
}

#[cfg(feature = "jwks")]
pub(crate) fn jwks_keys_skipped(skipped: usize) {
    #[cfg(feature = "tracing")]
    tracing::info!(
        skipped,
        "JWKS keys left out: not Ed25519 verification keys, malformed, with a private part, \
         or a key id given twice"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = skipped;
}

#[cfg(feature = "redis")]
pub(crate) fn registry_text_ignored(kid: &str) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        kid,
        "key registry entry in Redis ignored: it does not parse"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = kid;
}

#[cfg(feature = "redis")]
pub(crate) fn registry_outage(keys: usize) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        keys,
        "Redis unreachable: using the last known node keys, queueing this node's publications"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = keys;
}

pub(crate) fn dir_key_budget(kid: &str, used: u64, limit: u64) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        kid,
        encryptions = used,
        limit,
        "this process alone has used 1/64 of the encryption budget of `dir` key: rotate it \
         (a new key first in the ring) or move to A256KW"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (kid, used, limit);
}
