//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`).
//!
//! The request path never looks a metric up by name: the layer resolves every handle it
//! needs once, on its first request, against the recorder installed then (global, or the
//! thread's local recorder), and afterwards only bumps counters through those handles.
//! Without the feature every function here is an empty `#[inline]` body and the types are
//! zero-sized, so nothing is left in the compiled layer.
//!
//! Names, types, labels and meanings are documented in one table in
//! [`observability`](crate::observability); a unit test keeps the table and this file in
//! step.

#[cfg(feature = "metrics")]
use std::sync::OnceLock;

mod parts;
pub(crate) use self::parts::*;

use crate::error::{RejectionKind, SignError};

/// Every metric name, with the prefix all of them share.
// Which names are used depends on the features.
#[allow(dead_code)]
pub(crate) mod names {
    /// Requests the layer saw, by what became of their session.
    pub(crate) const REQUESTS: &str = "stateless_session_requests_total";
    /// Unsafe requests refused as cross-site (403), by reason.
    pub(crate) const FORBIDDEN: &str = "stateless_session_forbidden_requests_total";
    /// Requests whose cookies broke a size budget.
    pub(crate) const OVERSIZED: &str = "stateless_session_oversized_requests_total";
    /// Tokens signed and sent, by why.
    pub(crate) const ISSUED: &str = "stateless_session_tokens_issued_total";
    /// Tokens that could not be signed.
    pub(crate) const SIGN_FAILURES: &str = "stateless_session_sign_failures_total";
    /// Size of each token sent, in bytes as it travels.
    pub(crate) const TOKEN_SIZE: &str = "stateless_session_token_size_bytes";
    /// The budget of the bytes a token travels in.
    pub(crate) const TOKEN_BUDGET: &str = "stateless_session_token_budget_bytes";
    /// The budget of the whole `Cookie` request header.
    pub(crate) const HEADER_BUDGET: &str = "stateless_session_cookie_header_budget_bytes";
    /// Sizes over 75 % of their budget.
    pub(crate) const BUDGET_WARNINGS: &str = "stateless_session_budget_warnings_total";
    /// Lookups in the cache of verified tokens.
    pub(crate) const CACHE: &str = "stateless_session_verify_cache_lookups_total";
    /// Outgoing calls a session token was attached to.
    pub(crate) const PROPAGATED: &str = "stateless_session_propagated_tokens_total";
    /// Downstream tokens signed by a minting client.
    pub(crate) const MINTED: &str = "stateless_session_minted_tokens_total";
    /// Entries of a revocation set.
    pub(crate) const REVOCATION_ENTRIES: &str = "stateless_session_revocation_entries";
    /// Revocation entries read from Redis, by where from.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) const REVOCATION_READS: &str = "stateless_session_revocation_read_entries_total";

    /// Valid node keys in the ring, this node's and its peers', from the key registry.
    pub(crate) const REGISTRY_KEYS: &str = "stateless_session_key_registry_keys";
    /// The cap on the node keys a node holds.
    pub(crate) const REGISTRY_MAX_KEYS: &str = "stateless_session_key_registry_max_keys";
    /// Registry entries refused (bad registration MAC or unusable key).
    pub(crate) const REGISTRY_IGNORED: &str =
        "stateless_session_key_registry_ignored_entries_total";
    /// Whether the node issues with its own, published key.
    pub(crate) const NODE_KEY_SIGNING: &str = "stateless_session_node_key_signing";
    /// Keys in the JWKS set in use.
    pub(crate) const JWKS_KEYS: &str = "stateless_session_jwks_keys";
    /// When the JWKS set was last fetched successfully.
    pub(crate) const JWKS_LAST_REFRESH: &str =
        "stateless_session_jwks_last_refresh_timestamp_seconds";
    /// How often the JWKS set is refetched.
    pub(crate) const JWKS_REFRESH_INTERVAL: &str =
        "stateless_session_jwks_refresh_interval_seconds";
    /// Failed JWKS fetches.
    pub(crate) const JWKS_FETCH_FAILURES: &str = "stateless_session_jwks_fetch_failures_total";
    /// What became of proofs of possession (DBSC, DPoP).
    pub(crate) const POP_EVENTS: &str = "stateless_session_pop_events_total";

    /// Every name above, and those [`redis_status`](super::redis_status) makes, for the
    /// documentation test.
    #[cfg(test)]
    pub(crate) const ALL: &[&str] = &[
        REQUESTS,
        FORBIDDEN,
        OVERSIZED,
        ISSUED,
        SIGN_FAILURES,
        TOKEN_SIZE,
        TOKEN_BUDGET,
        HEADER_BUDGET,
        BUDGET_WARNINGS,
        CACHE,
        PROPAGATED,
        MINTED,
        REVOCATION_ENTRIES,
        REVOCATION_READS,
        REGISTRY_KEYS,
        REGISTRY_MAX_KEYS,
        REGISTRY_IGNORED,
        NODE_KEY_SIGNING,
        JWKS_KEYS,
        JWKS_LAST_REFRESH,
        JWKS_REFRESH_INTERVAL,
        JWKS_FETCH_FAILURES,
        POP_EVENTS,
        // From `redis_status`, for the revocation store and the key registry (feature
        // `redis`; the parts' `Feed::METRICS` names).
        "stateless_session_revocation_connected",
        "stateless_session_revocation_last_sync_timestamp_seconds",
        "stateless_session_revocation_reconnections_total",
        "stateless_session_key_registry_connected",
        "stateless_session_key_registry_last_sync_timestamp_seconds",
        "stateless_session_key_registry_reconnections_total",
    ];
}

/// What became of a request's session, for `stateless_session_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// No token came with the request.
    NoToken,
    /// A valid, unrevoked session.
    Valid,
    /// A token came and was refused (any kind but `Missing` and `Revoked`).
    Refused(RejectionKind),
    /// A valid token of a revoked session.
    Revoked,
}

impl Outcome {
    pub(crate) fn of(rejection: Option<RejectionKind>) -> Self {
        match rejection {
            None => Outcome::Valid,
            Some(RejectionKind::Missing) => Outcome::NoToken,
            Some(RejectionKind::Revoked) => Outcome::Revoked,
            Some(kind) => Outcome::Refused(kind),
        }
    }
}

/// Why a token was signed, for `stateless_session_tokens_issued_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IssueReason {
    /// A new session (login).
    Login,
    /// A valid token old enough to be refreshed.
    Refresh,
    /// The handler changed the data or renewed the session id.
    Change,
    /// The token was signed by a key that no longer signs.
    KeyRotation,
    /// The token's data came through the migration hook.
    Migration,
}

/// Which size budget a request broke, for `stateless_session_oversized_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OversizeCause {
    /// The session cookie alone is over its budget.
    SessionCookie,
    /// The whole `Cookie` header is over its budget.
    CookieHeader,
    /// Both.
    Both,
}

/// Which limit a size neared, for `stateless_session_budget_warnings_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// A token the layer signs, against its budget.
    Token,
    /// The whole `Cookie` request header, against its budget.
    CookieHeader,
}

/// The budgets the layer reports as gauges when its handles are resolved.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct Budgets {
    pub(crate) token: usize,
    /// `None` for the header transports (no `Cookie` header budget applies).
    pub(crate) cookie_header: Option<usize>,
}

/// The layer's metric handles, resolved on first use.
#[derive(Default)]
pub(crate) struct LayerMetrics {
    #[cfg(feature = "metrics")]
    handles: OnceLock<enabled::Handles>,
}

impl LayerMetrics {
    /// The handles, resolved against the current recorder the first time.
    #[cfg(feature = "metrics")]
    #[inline]
    fn handles(&self, budgets: impl FnOnce() -> Budgets) -> &enabled::Handles {
        self.handles
            .get_or_init(|| enabled::Handles::resolve(budgets()))
    }

    /// Counts one request by the outcome of its session.
    #[inline]
    pub(crate) fn request(&self, budgets: impl FnOnce() -> Budgets, outcome: Outcome) {
        #[cfg(feature = "metrics")]
        self.handles(budgets).request(outcome);
        #[cfg(not(feature = "metrics"))]
        let _ = (budgets, outcome);
    }

    /// Counts an unsafe request refused as cross-site (403): `kind` is
    /// [`RejectionKind::CrossOrigin`], [`RejectionKind::CsrfTokenMissing`] or
    /// [`RejectionKind::CsrfTokenInvalid`]. Such a request is not counted again by
    /// [`request`](Self::request) when it is refused before its session is read.
    #[inline]
    pub(crate) fn forbidden(&self, budgets: impl FnOnce() -> Budgets, kind: RejectionKind) {
        #[cfg(feature = "metrics")]
        self.handles(budgets).forbidden(kind);
        #[cfg(not(feature = "metrics"))]
        let _ = (budgets, kind);
    }

    /// Counts a lookup in the cache of verified tokens.
    #[inline]
    pub(crate) fn cache_lookup(&self, budgets: impl FnOnce() -> Budgets, hit: bool) {
        #[cfg(feature = "metrics")]
        {
            let handles = self.handles(budgets);
            if hit {
                handles.cache_hit.increment(1);
            } else {
                handles.cache_miss.increment(1);
            }
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (budgets, hit);
    }

    /// Counts a request whose cookies broke a budget; `rejected` when it was answered 431.
    #[inline]
    pub(crate) fn oversized(
        &self,
        budgets: impl FnOnce() -> Budgets,
        cause: OversizeCause,
        rejected: bool,
    ) {
        #[cfg(feature = "metrics")]
        self.handles(budgets).oversized(cause, rejected);
        #[cfg(not(feature = "metrics"))]
        let _ = (budgets, cause, rejected);
    }

    /// Counts a size over 75 % of its budget.
    #[inline]
    pub(crate) fn budget_warning(&self, budgets: impl FnOnce() -> Budgets, limit: Limit) {
        #[cfg(feature = "metrics")]
        {
            let handles = self.handles(budgets);
            match limit {
                Limit::Token => handles.token_warning.increment(1),
                Limit::CookieHeader => handles.header_warning.increment(1),
            }
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (budgets, limit);
    }

    /// Counts a token signed for `reason` and records its size (bytes as sent).
    #[inline]
    pub(crate) fn issued(
        &self,
        budgets: impl FnOnce() -> Budgets,
        reason: IssueReason,
        size: usize,
    ) {
        #[cfg(feature = "metrics")]
        self.handles(budgets).issued(reason, size);
        #[cfg(not(feature = "metrics"))]
        let _ = (budgets, reason, size);
    }

    /// Counts a token that could not be signed.
    #[inline]
    pub(crate) fn sign_failed(&self, budgets: impl FnOnce() -> Budgets, error: &SignError) {
        #[cfg(feature = "metrics")]
        self.handles(budgets).sign_failed(error);
        #[cfg(not(feature = "metrics"))]
        let _ = (budgets, error);
    }
}

#[cfg(feature = "propagate")]
/// A propagation layer's counters, resolved on its first propagated call against the
/// recorder current then, and shared by the services it makes.
#[derive(Clone, Default)]
pub(crate) struct PropagationMetrics {
    #[cfg(feature = "metrics")]
    handles: std::sync::Arc<OnceLock<[::metrics::Counter; 3]>>,
}

#[cfg(feature = "propagate")]
impl PropagationMetrics {
    /// Counts an outgoing call a token was attached to: `None` when the session token was
    /// forwarded, `Some(fresh)` for a minted token (`fresh` when signed for this call
    /// rather than taken from the minter's cache).
    #[inline]
    pub(crate) fn propagated(&self, minted: Option<bool>) {
        #[cfg(feature = "metrics")]
        {
            let [forwarded, minted_call, minted_fresh] = self.handles.get_or_init(|| {
                ::metrics::describe_counter!(
                    names::PROPAGATED,
                    ::metrics::Unit::Count,
                    "Outgoing calls a session token was attached to, by mode (forward, mint)"
                );
                ::metrics::describe_counter!(
                    names::MINTED,
                    ::metrics::Unit::Count,
                    "Downstream tokens signed (not taken from the minter's cache)"
                );
                [
                    ::metrics::counter!(names::PROPAGATED, "mode" => "forward"),
                    ::metrics::counter!(names::PROPAGATED, "mode" => "mint"),
                    ::metrics::counter!(names::MINTED),
                ]
            });
            match minted {
                None => forwarded.increment(1),
                Some(fresh) => {
                    minted_call.increment(1);
                    if fresh {
                        minted_fresh.increment(1);
                    }
                }
            }
        }
        #[cfg(not(feature = "metrics"))]
        let _ = minted;
    }
}

#[cfg(feature = "propagate")]
impl std::fmt::Debug for PropagationMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PropagationMetrics").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for LayerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerMetrics").finish_non_exhaustive()
    }
}

#[cfg(feature = "metrics")]
mod enabled {
    use ::metrics::{
        Counter, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram,
        gauge, histogram,
    };

    use super::{Budgets, IssueReason, Outcome, OversizeCause, names};
    use crate::error::{RejectionKind, SignError};

    /// Every kind a refused request can carry (all but `Missing` and `Revoked`, which
    /// have outcomes of their own, and the cross-site refusals of [`FORBIDDEN`], counted
    /// apart), in the order of [`refused_index`].
    const REFUSED: [RejectionKind; 21] = [
        RejectionKind::Oversized,
        RejectionKind::Malformed,
        RejectionKind::UnsupportedAlgorithm,
        RejectionKind::WrongType,
        RejectionKind::UnknownKey,
        RejectionKind::BadSignature,
        RejectionKind::InvalidClaims,
        RejectionKind::UnsupportedVersion,
        RejectionKind::Expired,
        RejectionKind::IssuedInFuture,
        RejectionKind::IdleTimeout,
        RejectionKind::AbsoluteTimeout,
        RejectionKind::Ambiguous,
        RejectionKind::WrongAudience,
        RejectionKind::DecryptionFailed,
        RejectionKind::WrongBinding,
        RejectionKind::Unbound,
        RejectionKind::ProofMissing,
        RejectionKind::ProofInvalid,
        RejectionKind::NonceRequired,
        RejectionKind::RefreshSkipped,
    ];

    /// The cross-site refusals (403), in the order of [`forbidden_index`].
    const FORBIDDEN: [RejectionKind; 3] = [
        RejectionKind::CrossOrigin,
        RejectionKind::CsrfTokenMissing,
        RejectionKind::CsrfTokenInvalid,
    ];

    /// A cross-site refusal's slot in [`FORBIDDEN`]; `None` for the kinds of
    /// [`refused_index`].
    fn forbidden_index(kind: RejectionKind) -> Option<usize> {
        FORBIDDEN.iter().position(|k| *k == kind)
    }

    /// A kind's slot in [`REFUSED`]. Exhaustive on purpose: a new kind does not compile
    /// until it has a series of its own.
    fn refused_index(kind: RejectionKind) -> usize {
        match kind {
            RejectionKind::Oversized => 0,
            RejectionKind::Malformed => 1,
            RejectionKind::UnsupportedAlgorithm => 2,
            RejectionKind::WrongType => 3,
            RejectionKind::UnknownKey => 4,
            RejectionKind::BadSignature => 5,
            RejectionKind::InvalidClaims => 6,
            RejectionKind::UnsupportedVersion => 7,
            RejectionKind::Expired => 8,
            RejectionKind::IssuedInFuture => 9,
            RejectionKind::IdleTimeout => 10,
            RejectionKind::AbsoluteTimeout => 11,
            RejectionKind::Ambiguous => 12,
            RejectionKind::WrongAudience => 13,
            RejectionKind::DecryptionFailed => 14,
            RejectionKind::WrongBinding => 15,
            RejectionKind::Unbound => 16,
            RejectionKind::ProofMissing => 17,
            RejectionKind::ProofInvalid => 18,
            RejectionKind::NonceRequired => 19,
            RejectionKind::RefreshSkipped => 20,
            // Outcomes of their own (`Outcome::of`), never counted as refused; a missing
            // layer is found by the extractors, after the layer (that never ran) would count.
            RejectionKind::Missing | RejectionKind::Revoked | RejectionKind::LayerMissing => 0,
            // Counted in `FORBIDDEN`'s series (`forbidden_index`).
            RejectionKind::CrossOrigin
            | RejectionKind::CsrfTokenMissing
            | RejectionKind::CsrfTokenInvalid => 0,
        }
    }

    #[cfg(test)]
    #[test]
    fn every_refused_kind_has_its_own_slot() {
        for (index, kind) in REFUSED.iter().enumerate() {
            assert_eq!(refused_index(*kind), index, "{kind:?}");
            assert_eq!(forbidden_index(*kind), None, "{kind:?}");
        }
        for (index, kind) in FORBIDDEN.iter().enumerate() {
            assert_eq!(forbidden_index(*kind), Some(index), "{kind:?}");
            assert!(!REFUSED.contains(kind), "{kind:?} counted twice");
        }
    }

    pub(super) struct Handles {
        no_token: Counter,
        valid: Counter,
        revoked: Counter,
        refused: [Counter; REFUSED.len()],
        forbidden: [Counter; FORBIDDEN.len()],
        /// `[cause][rejected as usize]`.
        oversized: [[Counter; 2]; 3],
        issued: [Counter; 5],
        sign_failures: [Counter; 4],
        token_size: Histogram,
        pub(super) token_warning: Counter,
        pub(super) header_warning: Counter,
        _jwe_warning: Counter,
        pub(super) cache_hit: Counter,
        pub(super) cache_miss: Counter,
    }

    impl Handles {
        /// Registers every series with the current recorder, once per layer.
        pub(super) fn resolve(budgets: Budgets) -> Self {
            describe();
            gauge!(names::TOKEN_BUDGET).set(budgets.token as f64);
            if let Some(header) = budgets.cookie_header {
                gauge!(names::HEADER_BUDGET).set(header as f64);
            }
            let oversized = |cause: &'static str| {
                [
                    counter!(names::OVERSIZED, "cause" => cause, "action" => "drop"),
                    counter!(names::OVERSIZED, "cause" => cause, "action" => "reject"),
                ]
            };
            Handles {
                no_token: counter!(names::REQUESTS, "outcome" => "no_token"),
                valid: counter!(names::REQUESTS, "outcome" => "valid"),
                revoked: counter!(names::REQUESTS, "outcome" => "revoked"),
                refused: REFUSED.map(|kind| {
                    counter!(names::REQUESTS, "outcome" => "refused", "reason" => kind.as_str())
                }),
                forbidden: FORBIDDEN
                    .map(|kind| counter!(names::FORBIDDEN, "reason" => kind.as_str())),
                oversized: [
                    oversized("session_cookie"),
                    oversized("cookie_header"),
                    oversized("both"),
                ],
                issued: ["login", "refresh", "change", "key_rotation", "migration"]
                    .map(|reason| counter!(names::ISSUED, "reason" => reason)),
                sign_failures: ["oversized", "serialize", "random", "no_signing_key"]
                    .map(|cause| counter!(names::SIGN_FAILURES, "cause" => cause)),
                token_size: histogram!(names::TOKEN_SIZE),
                token_warning: counter!(names::BUDGET_WARNINGS, "limit" => "token"),
                header_warning: counter!(names::BUDGET_WARNINGS, "limit" => "cookie_header"),
                // Counted where the codec encrypts (`parts::jwe_dir_key_warning`); registered
                // here so the series exists, at 0, before the first warning.
                _jwe_warning: counter!(names::BUDGET_WARNINGS, "limit" => "jwe_dir_key"),
                cache_hit: counter!(names::CACHE, "result" => "hit"),
                cache_miss: counter!(names::CACHE, "result" => "miss"),
            }
        }

        #[inline]
        pub(super) fn request(&self, outcome: Outcome) {
            match outcome {
                Outcome::NoToken => self.no_token.increment(1),
                Outcome::Valid => self.valid.increment(1),
                Outcome::Revoked => self.revoked.increment(1),
                Outcome::Refused(kind) => self.refused[refused_index(kind)].increment(1),
            }
        }

        #[inline]
        pub(super) fn forbidden(&self, kind: RejectionKind) {
            if let Some(index) = forbidden_index(kind) {
                self.forbidden[index].increment(1);
            }
        }

        pub(super) fn oversized(&self, cause: OversizeCause, rejected: bool) {
            let cause = match cause {
                OversizeCause::SessionCookie => 0,
                OversizeCause::CookieHeader => 1,
                OversizeCause::Both => 2,
            };
            self.oversized[cause][usize::from(rejected)].increment(1);
        }

        pub(super) fn issued(&self, reason: IssueReason, size: usize) {
            let index = match reason {
                IssueReason::Login => 0,
                IssueReason::Refresh => 1,
                IssueReason::Change => 2,
                IssueReason::KeyRotation => 3,
                IssueReason::Migration => 4,
            };
            self.issued[index].increment(1);
            self.token_size.record(size as f64);
        }

        pub(super) fn sign_failed(&self, error: &SignError) {
            let index = match error {
                SignError::Oversized { .. } => 0,
                SignError::Serialize(_) => 1,
                SignError::Random(_) => 2,
                SignError::NoSigningKey => 3,
            };
            self.sign_failures[index].increment(1);
        }
    }

    /// Help texts and units, for exporters that print them.
    fn describe() {
        describe_counter!(
            names::REQUESTS,
            Unit::Count,
            "Requests seen by the session layer, by outcome (no_token, valid, refused with a \
             reason, revoked)"
        );
        describe_counter!(
            names::FORBIDDEN,
            Unit::Count,
            "Unsafe requests refused with 403 as cross-site, by reason (cross_origin, \
             csrf_token_missing, csrf_token_invalid)"
        );
        describe_counter!(
            names::OVERSIZED,
            Unit::Count,
            "Requests whose cookies broke a size budget, by cause and action (reject = 431)"
        );
        describe_counter!(
            names::ISSUED,
            Unit::Count,
            "Session tokens signed and sent, by reason"
        );
        describe_counter!(
            names::SIGN_FAILURES,
            Unit::Count,
            "Session tokens that could not be signed, by cause"
        );
        describe_histogram!(
            names::TOKEN_SIZE,
            Unit::Bytes,
            "Size of each session token sent (name=value for a cookie)"
        );
        describe_gauge!(
            names::TOKEN_BUDGET,
            Unit::Bytes,
            "Budget of the bytes a session token travels in"
        );
        describe_gauge!(
            names::HEADER_BUDGET,
            Unit::Bytes,
            "Budget of the whole Cookie request header"
        );
        describe_counter!(
            names::BUDGET_WARNINGS,
            Unit::Count,
            "Tokens signed (limit=token) or requests received (limit=cookie_header) over 75% \
             of their size budget; dir encryption keys past their warning line (limit=jwe_dir_key)"
        );
        describe_counter!(
            names::CACHE,
            Unit::Count,
            "Lookups in the cache of verified tokens, by result (hit, miss)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::names;

    /// The names in the tables of the operator's guide.
    fn documented() -> Vec<&'static str> {
        include_str!("../docs/observability.md")
            .lines()
            .filter_map(|line| line.strip_prefix("| `stateless_session_"))
            .filter_map(|rest| rest.split('`').next())
            .collect()
    }

    #[test]
    fn the_docs_table_lists_every_metric() {
        let documented = documented();
        for name in documented
            .iter()
            .map(|short| format!("stateless_session_{short}"))
        {
            assert!(
                names::ALL.contains(&name.as_str()),
                "docs/observability.md documents {name}, which is not emitted"
            );
        }
        for name in names::ALL {
            let short = name.trim_start_matches("stateless_session_");
            assert!(
                documented.contains(&short),
                "{name} is emitted but not in docs/observability.md's table"
            );
        }
    }

    /// Every metric an alert rule reads is documented (a typo in a rule would otherwise
    /// leave an alert that can never fire).
    #[test]
    fn the_alert_rules_read_only_documented_metrics() {
        let documented = documented();
        let rules = include_str!("../prometheus/rules.yml");
        let mut seen = 0;
        for (at, _) in rules.match_indices("stateless_session_") {
            let before = rules[..at].chars().last();
            if before.is_some_and(|c| c == ':' || c.is_alphanumeric()) {
                continue; // a recording rule's name, `job:stateless_session_...`
            }
            let name: String = rules[at + "stateless_session_".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            seen += 1;
            assert!(
                documented.contains(&name.as_str()),
                "prometheus/rules.yml reads stateless_session_{name}, which the guide does not document"
            );
        }
        assert!(seen >= 8, "found only {seen} metric names in the rules");
    }
}
