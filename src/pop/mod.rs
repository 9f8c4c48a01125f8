//! Proof of possession: sessions bound to a key the client holds, so a copied cookie or
//! token stops working.
//!
//! Two protocols share this core:
//! - [`dbsc`] (feature `dbsc`): Device Bound Session Credentials for browsers. The browser
//!   holds a private key it cannot export; the layer issues a short-lived session cookie and
//!   extends it only against a fresh signed proof of that key.
//! - [`dpop`] (feature `dpop`): DPoP (RFC 9449) for API clients. The token names the
//!   thumbprint of the client's key and every request carries a fresh proof signed by it.
//!
//! What they share lives here: the public keys a proof may carry ([`PublicJwk`]: P-256 for
//! `ES256`, RSA of 2048 to 4096 bits for `RS256`, nothing else), the compact proof's checks
//! (size caps before any decoding, a fixed algorithm allow-list, the exact `typ`, no `crit`,
//! raw 64-byte ES256 signatures only, never DER), the [`ProofError`] that names each
//! refusal, and the [`ChallengeKey`] whose MACs make the challenges and nonces stateless.
//!
//! A bound token carries the confirmation claim `cnf` (RFC 7800) with the RFC 7638
//! thumbprint of the key (`jkt`) and the protocol that proves it (`pop`); see
//! [`Confirmation`](crate::token::Confirmation). A layer refuses a bound token it cannot
//! check a proof for: it never treats one as a bearer token.

mod challenge;
#[cfg(feature = "dbsc")]
#[cfg_attr(docsrs, doc(cfg(feature = "dbsc")))]
pub mod dbsc;
#[cfg(feature = "dpop")]
#[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
pub mod dpop;
mod jwk;
mod proof;
pub mod sf;

use std::fmt;

pub(crate) use self::challenge::Label;
pub use self::challenge::{ChallengeKey, MIN_CHALLENGE_SECRET_LEN};
pub use self::jwk::{MAX_RSA_BITS, MIN_RSA_BITS, PublicJwk};
pub(crate) use self::proof::{KeySource, verify_compact};

/// The longest proof accepted, in bytes, checked before any decoding.
pub const MAX_PROOF_LEN: usize = 8192;

/// The longest encoded proof header accepted (an RSA-4096 key in it is about 1,200
/// characters), checked before it is decoded.
pub const MAX_PROOF_HEADER_LEN: usize = 2048;

/// A proof's signature algorithm: the allow-list. Anything else (`none`, `HS256`, `ES512`,
/// `PS256`, ...) is refused as [`ProofError::AlgorithmNotAllowed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProofAlgorithm {
    /// ECDSA on P-256 with SHA-256, the signature as raw `r || s` (64 bytes).
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, keys of 2048 to 4096 bits.
    Rs256,
}

impl ProofAlgorithm {
    /// The JOSE name: `ES256` or `RS256`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProofAlgorithm::Es256 => "ES256",
            ProofAlgorithm::Rs256 => "RS256",
        }
    }

    /// The algorithm of a JOSE name on the allow-list (exact, case-sensitive as JOSE is).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(ProofAlgorithm::Es256),
            "RS256" => Some(ProofAlgorithm::Rs256),
            _ => None,
        }
    }
}

impl fmt::Display for ProofAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a proof (a DBSC `Secure-Session-Response`, a DPoP `DPoP` header) or a DBSC header
/// was refused. Each check has its own reason, for logs, metrics and tests; the client is
/// told only what its protocol says (a DBSC status, a DPoP `error`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProofError {
    /// The proof, or its header, is longer than its cap ([`MAX_PROOF_LEN`],
    /// [`MAX_PROOF_HEADER_LEN`]); nothing was decoded.
    Oversized,
    /// Not a compact JWS of three non-empty, canonical base64url segments whose header and
    /// payload are JSON objects (duplicate members included); or a header that is not the
    /// structured field it must be.
    Malformed,
    /// `alg` is not on the allow-list ([`ProofAlgorithm`]): `none`, `HS256` (a public key
    /// used as an HMAC secret), `ES512`, ...
    AlgorithmNotAllowed,
    /// `alg` does not fit the key: `RS256` with an EC key, `ES256` with an RSA key, or a
    /// JWK whose own `alg` names another algorithm.
    AlgorithmKeyMismatch,
    /// `typ` is missing or is not the protocol's (`dbsc+jwt`, `dpop+jwt`).
    WrongType,
    /// The header carries `crit`: no extension is understood, so none may be required.
    CriticalHeader,
    /// The proof must carry its public key in the header (`jwk`) and does not: a DBSC
    /// registration, every DPoP proof.
    MissingKey,
    /// The header carries a key where none may be: a DBSC refresh proof is checked against
    /// the key registered before, never one it brings.
    UnexpectedKey,
    /// The `jwk` holds private members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`).
    PrivateKey,
    /// The `jwk` is not a usable public key: an unknown `kty` or curve, coordinates of the
    /// wrong length, a point that is not on P-256, an RSA exponent out of range, a modulus
    /// over 4096 bits.
    InvalidKey,
    /// An RSA key under 2048 bits.
    WeakKey,
    /// The signature has the wrong length for its algorithm: an ES256 signature that is
    /// not the raw 64 bytes (a DER signature, for one), an RS256 signature not the
    /// modulus's length.
    SignatureEncoding,
    /// The signature does not verify with the key: the header, the payload or the signature
    /// was altered, or another key signed it.
    BadSignature,
    /// A required claim is missing or of the wrong type (`jti`, and for DPoP `htm`, `htu`,
    /// `iat`).
    MissingClaim,
    /// The challenge (`jti` of a DBSC proof) is not one this server made for this session:
    /// another session's, altered, or made with another key.
    WrongChallenge,
    /// The challenge was made for this session but is too old.
    ExpiredChallenge,
    /// The `authorization` the proof carries is not the one offered for this session.
    WrongAuthorization,
    /// The proof's `aud` or `sub` names another endpoint or session.
    WrongAudience,
    /// `iat` is outside the proof's window around the server's clock.
    IatOutOfWindow,
    /// DPoP: `htm` is not the request's method.
    WrongMethod,
    /// DPoP: `htu` is not the request's URL (scheme, authority and path, without query or
    /// fragment).
    WrongUrl,
    /// DPoP: `ath` is missing or is not the hash of the token the request carries.
    WrongTokenHash,
    /// DPoP: this `jti` was seen before on this node (a replayed proof), or the replay
    /// cache is full and cannot vouch for it.
    Replayed,
    /// DPoP: the server requires a nonce and the proof carries none, or an old or forged
    /// one (`use_dpop_nonce`).
    NonceRequired,
    /// The proof's key is not the key the token is bound to (`cnf.jkt`), or a DBSC session
    /// id names another key than the refresh credential's.
    KeyMismatch,
}

impl ProofError {
    /// A short, stable, lowercase name, fit for logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProofError::Oversized => "oversized",
            ProofError::Malformed => "malformed",
            ProofError::AlgorithmNotAllowed => "algorithm_not_allowed",
            ProofError::AlgorithmKeyMismatch => "algorithm_key_mismatch",
            ProofError::WrongType => "wrong_type",
            ProofError::CriticalHeader => "critical_header",
            ProofError::MissingKey => "missing_key",
            ProofError::UnexpectedKey => "unexpected_key",
            ProofError::PrivateKey => "private_key",
            ProofError::InvalidKey => "invalid_key",
            ProofError::WeakKey => "weak_key",
            ProofError::SignatureEncoding => "signature_encoding",
            ProofError::BadSignature => "bad_signature",
            ProofError::MissingClaim => "missing_claim",
            ProofError::WrongChallenge => "wrong_challenge",
            ProofError::ExpiredChallenge => "expired_challenge",
            ProofError::WrongAuthorization => "wrong_authorization",
            ProofError::WrongAudience => "wrong_audience",
            ProofError::IatOutOfWindow => "iat_out_of_window",
            ProofError::WrongMethod => "wrong_method",
            ProofError::WrongUrl => "wrong_url",
            ProofError::WrongTokenHash => "wrong_token_hash",
            ProofError::Replayed => "replayed",
            ProofError::NonceRequired => "nonce_required",
            ProofError::KeyMismatch => "key_mismatch",
        }
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "proof refused: {}", self.as_str())
    }
}

impl std::error::Error for ProofError {}

/// Whether `iat` lies within `window` seconds of `now`, either way.
pub(crate) fn iat_in_window(iat: u64, now: u64, window: u64) -> bool {
    iat <= now.saturating_add(window) && now <= iat.saturating_add(window)
}
