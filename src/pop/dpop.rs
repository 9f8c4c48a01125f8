//! DPoP (RFC 9449): tokens bound to an API client's key, a fresh proof on every request.
//!
//! Turn it on with [`SessionLayer::with_dpop`](crate::SessionLayer::with_dpop) on a layer
//! with the bearer transport. A login whose request carries a `DPoP` proof gets a token
//! bound to the proof's key (`cnf: {"jkt": <thumbprint>, "pop": "dpop"}`); every request
//! then needs `Authorization: DPoP <token>` and a `DPoP` proof with:
//! - `typ` `dpop+jwt`, `alg` `ES256` or `RS256`, the public `jwk` in the header, whose
//!   thumbprint is the token's `cnf.jkt`;
//! - `htm`, the request's method, and `htu`, its URL without query or fragment (scheme from
//!   [`Dpop::with_external_origin`], else the request's own URI, a [`http::uri::Scheme`] in
//!   its extensions, or `https`; authority from `Host`), compared after normalization
//!   ([`normalize_htu`]);
//! - `iat` within a window of its own (60 s each way by default, never under 5 s, whatever
//!   the session's leeway), a `jti` not seen before on this node (a bounded cache), and
//!   `ath`, the hash of the token ([`token_hash`]);
//! - with [`Dpop::with_nonce`], a `nonce` the server gave (`DPoP-Nonce`): a MAC over a time
//!   window, so any node checks any other's.
//!
//! Refusals answer `401` with `WWW-Authenticate: DPoP error="invalid_dpop_proof"` (or
//! `use_dpop_nonce` with a `DPoP-Nonce`, or `invalid_token`). The same token sent as
//! `Bearer` is refused.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::proof::{string_claim, time_claim};
use super::{ChallengeKey, KeySource, Label, ProofError, verify_compact};
use crate::encoding::B64;

/// The proof type DPoP uses.
pub const PROOF_TYPE: &str = "dpop+jwt";
/// The request header carrying the proof, and the response header carrying a nonce.
pub const DPOP_HEADER: &str = "dpop";
/// The response header carrying a nonce.
pub const NONCE_HEADER: &str = "dpop-nonce";
/// Default window for a proof's `iat`, each way (RFC 9449 §11.1).
pub const DEFAULT_IAT_WINDOW: Duration = Duration::from_secs(60);
/// The narrowest `iat` window accepted.
pub const MIN_IAT_WINDOW: Duration = Duration::from_secs(5);
/// Default number of `jti` values remembered.
pub const DEFAULT_REPLAY_CACHE_ENTRIES: usize = 100_000;
/// How long a nonce's time window is; a nonce is accepted in its window and the next.
pub const NONCE_WINDOW: Duration = Duration::from_secs(300);
/// The longest `jti` accepted, in bytes.
pub const MAX_JTI_LEN: usize = 256;

/// DPoP's settings, given to [`SessionLayer::with_dpop`](crate::SessionLayer::with_dpop).
/// Each setter sets one value and cannot fail; the layer checks them when it is built.
///
/// | setting | default |
/// |---|---|
/// | [`with_iat_window`](Self::with_iat_window) | 60 s each way (at least 5 s) |
/// | [`with_nonce`](Self::with_nonce) | none (no nonce required) |
/// | [`with_external_origin`](Self::with_external_origin) | none (the request's scheme, `Host`) |
/// | [`with_replay_cache`](Self::with_replay_cache) | 100,000 `jti` values |
#[derive(Clone, Debug)]
pub struct Dpop {
    pub(crate) iat_window: Duration,
    pub(crate) nonce: Option<ChallengeKey>,
    pub(crate) external_origin: Option<String>,
    pub(crate) replay_entries: usize,
}

impl Default for Dpop {
    fn default() -> Self {
        Self::new()
    }
}

impl Dpop {
    /// DPoP with the default settings.
    pub fn new() -> Self {
        Dpop {
            iat_window: DEFAULT_IAT_WINDOW,
            nonce: None,
            external_origin: None,
            replay_entries: DEFAULT_REPLAY_CACHE_ENTRIES,
        }
    }

    /// How far a proof's `iat` may be from the server's clock, either way. Default 60 s;
    /// under 5 s is a configuration error (clients' clocks are never that close).
    #[must_use]
    pub fn with_iat_window(mut self, window: Duration) -> Self {
        self.iat_window = window;
        self
    }

    /// Requires a server nonce in every proof, made with `key` (the same on every node):
    /// a proof without a current one is answered `use_dpop_nonce` with a fresh
    /// `DPoP-Nonce`. Default: none.
    #[must_use]
    pub fn with_nonce(mut self, key: ChallengeKey) -> Self {
        self.nonce = Some(key);
        self
    }

    /// The origin clients address (`https://api.example.com`), compared with the scheme
    /// and authority of `htu`; set it behind a proxy that changes them. Default: the
    /// request's own scheme and `Host`.
    #[must_use]
    pub fn with_external_origin(mut self, origin: &str) -> Self {
        self.external_origin = Some(origin.to_owned());
        self
    }

    /// How many `jti` values this node remembers (at least for twice the `iat` window).
    /// When it is full, new proofs are refused until room frees up (fail closed). Default
    /// 100,000.
    #[must_use]
    pub fn with_replay_cache(mut self, entries: usize) -> Self {
        self.replay_entries = entries;
        self
    }
}

/// What a DPoP proof must match, besides its signature.
#[derive(Debug, Clone, Copy)]
pub struct DpopCheck<'a> {
    /// The request's method.
    pub method: &'a str,
    /// The request's URL (normalized inside; a query or fragment is ignored).
    pub url: &'a str,
    /// The server's clock (Unix seconds).
    pub now: u64,
    /// The `iat` window, each way, in seconds.
    pub iat_window: u64,
    /// The access token the request carries, whose hash `ath` must be; `None` at login.
    pub token: Option<&'a [u8]>,
}

/// A DPoP proof that checked out (the replay cache and the nonce are the layer's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopProof {
    /// The RFC 7638 thumbprint of the proof's key.
    pub jkt: String,
    /// The proof's unique id.
    pub jti: String,
    /// When it was made.
    pub iat: u64,
    /// The nonce it carries, if any.
    pub nonce: Option<String>,
}

/// Verifies a DPoP proof against a request.
///
/// # Errors
/// The [`ProofError`] of the first check that failed.
pub fn verify_proof(proof: &str, check: &DpopCheck<'_>) -> Result<DpopProof, ProofError> {
    let verified = verify_compact(proof.as_bytes(), PROOF_TYPE, KeySource::Header)?;
    let key = verified.key.ok_or(ProofError::MissingKey)?;
    let payload = &verified.payload;
    let jti = string_claim(payload, "jti")?.ok_or(ProofError::MissingClaim)?;
    if jti.is_empty() || jti.len() > MAX_JTI_LEN {
        return Err(ProofError::MissingClaim);
    }
    let htm = string_claim(payload, "htm")?.ok_or(ProofError::MissingClaim)?;
    let htu = string_claim(payload, "htu")?.ok_or(ProofError::MissingClaim)?;
    let iat = time_claim(payload, "iat")?.ok_or(ProofError::MissingClaim)?;
    if htm != check.method {
        return Err(ProofError::WrongMethod);
    }
    match (normalize_htu(htu), normalize_htu(check.url)) {
        (Some(claimed), Some(actual)) if claimed == actual => {}
        _ => return Err(ProofError::WrongUrl),
    }
    if !super::iat_in_window(iat, check.now, check.iat_window) {
        return Err(ProofError::IatOutOfWindow);
    }
    if let Some(token) = check.token {
        let expected = token_hash(token);
        let found = string_claim(payload, "ath")?.ok_or(ProofError::WrongTokenHash)?;
        if !crate::encoding::ct_eq(found.as_bytes(), expected.as_bytes()) {
            return Err(ProofError::WrongTokenHash);
        }
    }
    let nonce = string_claim(payload, "nonce")?.map(str::to_owned);
    Ok(DpopProof {
        jkt: key.thumbprint().to_owned(),
        jti: jti.to_owned(),
        iat,
        nonce,
    })
}

/// `ath`: base64url of SHA-256 of the token's ASCII.
pub fn token_hash(token: &[u8]) -> String {
    B64.encode(Sha256::digest(token))
}

/// An `htu` as compared (RFC 9449 §4.3, RFC 3986 §6.2.2 and §6.2.3): scheme and host in
/// lower case, the scheme's default port dropped, query and fragment removed, an empty
/// path made `/`; a trailing slash stays significant. `None` for anything that is not an
/// absolute `http` or `https` URL with a host (userinfo included).
///
/// ```
/// use tower_stateless_session::pop::dpop::normalize_htu;
///
/// assert_eq!(normalize_htu("HTTPS://Example.COM:443/a?x=1#f").as_deref(), Some("https://example.com/a"));
/// assert_eq!(normalize_htu("https://example.com").as_deref(), Some("https://example.com/"));
/// assert_eq!(normalize_htu("https://example.com:8443/a").as_deref(), Some("https://example.com:8443/a"));
/// ```
pub fn normalize_htu(url: &str) -> Option<String> {
    let url = url.split(['#', '?']).next()?;
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let port = &authority[end + 1..];
        (&authority[..=end], (!port.is_empty()).then_some(port))
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority.as_str(), None),
        }
    };
    let host = match port {
        None => host.to_owned(),
        Some(port) => {
            let port = if host.starts_with('[') {
                port.strip_prefix(':')?
            } else {
                port
            };
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            if port == default_port {
                host.to_owned()
            } else {
                format!("{host}:{port}")
            }
        }
    };
    if host.is_empty() || !path.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some(format!("{scheme}://{host}{path}"))
}

/// A nonce for the time window around `now`.
pub(crate) fn nonce(key: &ChallengeKey, now: u64) -> String {
    let window = NONCE_WINDOW.as_secs();
    key.issue(Label::DpopNonce, b"", now - now % window)
}

/// Whether `nonce` is one of ours for the current or the previous window.
pub(crate) fn nonce_is_current(key: &ChallengeKey, nonce: &str, now: u64) -> bool {
    key.check(
        Label::DpopNonce,
        b"",
        nonce,
        now,
        2 * NONCE_WINDOW.as_secs(),
    )
    .is_ok()
}

/// The `jti` values seen on this node, in two generations of at least twice the `iat`
/// window each, so a value is remembered for as long as a proof carrying it is accepted.
pub(crate) struct ReplayCache {
    state: Mutex<Generations>,
    /// Entries per generation.
    capacity: usize,
    /// Length of a generation, seconds.
    span: u64,
}

struct Generations {
    started: u64,
    current: HashSet<[u8; 16]>,
    previous: HashSet<[u8; 16]>,
}

impl ReplayCache {
    pub(crate) fn new(entries: usize, iat_window: u64) -> Self {
        ReplayCache {
            state: Mutex::new(Generations {
                started: 0,
                current: HashSet::new(),
                previous: HashSet::new(),
            }),
            capacity: entries.div_ceil(2).max(1),
            span: iat_window.saturating_mul(2).max(1),
        }
    }

    /// Records `jti` at `now`: `Err(Replayed)` when it was seen, or when the cache is full.
    pub(crate) fn record(&self, jti: &str, now: u64) -> Result<(), ProofError> {
        let digest = Sha256::digest(jti.as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if now >= state.started.saturating_add(self.span) {
            let stale = now >= state.started.saturating_add(2 * self.span);
            let current = std::mem::take(&mut state.current);
            state.previous = if stale { HashSet::new() } else { current };
            state.started = now;
        }
        if state.previous.contains(&id) || state.current.contains(&id) {
            return Err(ProofError::Replayed);
        }
        if state.current.len() >= self.capacity {
            return Err(ProofError::Replayed);
        }
        state.current.insert(id);
        Ok(())
    }
}

impl std::fmt::Debug for ReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jti_is_refused_the_second_time_and_when_the_cache_is_full() {
        let cache = ReplayCache::new(4, 60);
        assert_eq!(cache.record("a", 1000), Ok(()));
        assert_eq!(cache.record("a", 1100), Err(ProofError::Replayed));
        assert_eq!(cache.record("b", 1000), Ok(()));
        assert_eq!(cache.record("c", 1000), Err(ProofError::Replayed), "full");
        // Two generations later the old values are forgotten (their proofs expired).
        assert_eq!(cache.record("a", 1000 + 240), Ok(()));
    }

    #[test]
    fn nonces_hold_for_their_window_and_the_next() {
        let key = ChallengeKey::new(&[1; 32]).expect("key");
        let n = nonce(&key, 1000);
        assert!(nonce_is_current(&key, &n, 1000));
        assert!(nonce_is_current(&key, &n, 1000 + 300));
        assert!(!nonce_is_current(&key, &n, 1000 + 900));
        assert!(!nonce_is_current(&key, "nonce", 1000));
    }
}
