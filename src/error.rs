//! Error types: configuration errors (build time), verification and signing errors
//! (request time), and the rejection kinds shared by the codec and the layer.

use std::fmt;
use std::path::PathBuf;

/// Why a request did not carry a usable session.
///
/// Every check in the verification pipeline has its own kind, so logs, metrics and tests can
/// tell them apart. The kind is never sent to the client: the response body of a rejection is
/// the same whatever failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionKind {
    /// No session token was found in the request.
    Missing,
    /// The token (or the cookie or header carrying it) is larger than its configured cap.
    /// Checked before any decoding or MAC work.
    Oversized,
    /// The token is not a compact JWS (or, encrypted, JWE): wrong number of segments, an
    /// empty segment, a segment of the wrong length, non-canonical base64url, or a header
    /// that is not the JSON object we expect (`crit` included).
    Malformed,
    /// The header names an algorithm other than the one the key is for (`none`, `HS512`,
    /// `RS256`, ...; for encrypted tokens `alg` or `enc`, or a `zip` compression). The
    /// header never chooses the algorithm; this only reports a mismatch.
    UnsupportedAlgorithm,
    /// The header's `typ` is missing or is not the type this verifier expects: the session
    /// token's, or for a downstream service with an audience, the minted token's. For
    /// encrypted tokens, also when its purpose (`pur`) names another cookie or header.
    WrongType,
    /// The header's `kid` is missing or names no key in the key ring.
    UnknownKey,
    /// The MAC does not match the token's header and payload.
    BadSignature,
    /// An encrypted token did not decrypt: its content key did not unwrap, or the
    /// authentication tag does not match the header, IV and ciphertext (altered, spliced
    /// from several tokens, or encrypted under another key).
    DecryptionFailed,
    /// The signature is valid but the payload is not a valid set of session claims (missing
    /// or ill-typed registered claims, or data that does not decode into the session type).
    InvalidClaims,
    /// The token was written with another session data version and no migration accepted it.
    UnsupportedVersion,
    /// The token's `exp` has passed (after the clock-skew leeway).
    Expired,
    /// The token's `iat` lies in the future (beyond the clock-skew leeway).
    IssuedInFuture,
    /// The idle timeout of the current configuration, counted from `iat`, has passed.
    IdleTimeout,
    /// The absolute timeout of the current configuration, counted from `auth_time`, has passed.
    AbsoluteTimeout,
    /// The request carried several session cookies of the same name holding valid tokens
    /// of different sessions (a planted cookie, "cookie tossing"), or too many of them to
    /// check. Refused rather than guessing which one is the user's.
    Ambiguous,
    /// The token is valid but its session was revoked (logout, "log out everywhere").
    Revoked,
    /// A minted downstream token whose `aud` does not name this service (a token minted
    /// for another service, replayed here).
    WrongAudience,
    /// The token is bound to a key (`cnf`) in a way this verifier does not accept: any
    /// bound token where no proof of possession is checked (it is never a bearer token), a
    /// DPoP-bound token as a cookie, a DBSC-bound one as a DPoP token, a DBSC refresh
    /// credential as the session.
    WrongBinding,
    /// An unbound token where a binding is required: a DPoP layer's token without
    /// `cnf`, or (with DBSC's unbound grace policy) a session that did not register a key
    /// in time.
    Unbound,
    /// The request needs a proof of possession and carries none (DPoP: no `DPoP` header).
    ProofMissing,
    /// The proof of possession was refused (see
    /// `pop::ProofError` for the reason, logged with it).
    ProofInvalid,
    /// DPoP: the server requires a nonce and the proof carries no current one.
    NonceRequired,
    /// The browser skipped a DBSC refresh (`Secure-Session-Skipped`) and sent the request
    /// without its bound cookie: counted as no session.
    RefreshSkipped,
    /// A handler asked for the session of a type no [`SessionLayer`](crate::SessionLayer)
    /// ran for: a configuration bug, answered 500 by the extractors (never produced by the
    /// layer itself).
    LayerMissing,
    /// An unsafe request (any method but `GET`, `HEAD` and `OPTIONS`) came from another
    /// origin: its `Sec-Fetch-Site` is `cross-site` or `same-site`, or, without that header,
    /// its `Origin` names another host than the request's own, and neither a trusted
    /// origin nor an exempt path lets it through. Answered 403 before the session is read
    /// (see [`with_cross_origin_protection`](crate::SessionLayer::with_cross_origin_protection)).
    CrossOrigin,
    /// An unsafe request with a session carried no CSRF token where one was required: no
    /// `X-CSRF-Token` header on a request whose body cannot hold the form field, or no
    /// `_csrf` field in a form (feature `csrf`; see `server::csrf`). Answered 403.
    CsrfTokenMissing,
    /// An unsafe request with a session carried a CSRF token that does not verify for its
    /// session: another session's, one from before a login or a renewal, altered,
    /// truncated, or made with a key no longer held (feature `csrf`). Answered 403.
    CsrfTokenInvalid,
}

impl RejectionKind {
    /// A short, stable, lowercase name, fit for logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            RejectionKind::Missing => "missing",
            RejectionKind::Oversized => "oversized",
            RejectionKind::Malformed => "malformed",
            RejectionKind::UnsupportedAlgorithm => "unsupported_algorithm",
            RejectionKind::WrongType => "wrong_type",
            RejectionKind::UnknownKey => "unknown_key",
            RejectionKind::BadSignature => "bad_signature",
            RejectionKind::DecryptionFailed => "decryption_failed",
            RejectionKind::InvalidClaims => "invalid_claims",
            RejectionKind::UnsupportedVersion => "unsupported_version",
            RejectionKind::Expired => "expired",
            RejectionKind::IssuedInFuture => "issued_in_future",
            RejectionKind::IdleTimeout => "idle_timeout",
            RejectionKind::AbsoluteTimeout => "absolute_timeout",
            RejectionKind::Ambiguous => "ambiguous",
            RejectionKind::Revoked => "revoked",
            RejectionKind::WrongAudience => "wrong_audience",
            RejectionKind::WrongBinding => "wrong_binding",
            RejectionKind::Unbound => "unbound",
            RejectionKind::ProofMissing => "proof_missing",
            RejectionKind::ProofInvalid => "proof_invalid",
            RejectionKind::NonceRequired => "nonce_required",
            RejectionKind::RefreshSkipped => "refresh_skipped",
            RejectionKind::LayerMissing => "layer_missing",
            RejectionKind::CrossOrigin => "cross_origin",
            RejectionKind::CsrfTokenMissing => "csrf_token_missing",
            RejectionKind::CsrfTokenInvalid => "csrf_token_invalid",
        }
    }
}

impl fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request has no usable session: a token was refused, or none came where one was
/// required, or (from the axum extractors) no session layer ran at all; or why an unsafe
/// request was refused as a cross-site request (another origin, a missing or invalid CSRF
/// token).
///
/// The one refusal type of the crate. The codec returns it ([`TokenCodec::verify`]), the
/// layer attaches it to the responses it refuses or answers (in the response's extensions,
/// for logging layers and tests), and the [`Session<T>`](crate::Session) extractor rejects
/// with it. It carries only the [`RejectionKind`], never the token or any part of it, and
/// its response body (with the `axum` feature) says nothing about which check failed.
///
/// [`TokenCodec::verify`]: crate::token::TokenCodec::verify
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    kind: RejectionKind,
}

impl Rejection {
    pub(crate) const fn new(kind: RejectionKind) -> Self {
        Rejection { kind }
    }

    /// Which check failed.
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }
}

impl From<RejectionKind> for Rejection {
    fn from(kind: RejectionKind) -> Self {
        Rejection::new(kind)
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Rejection").field(&self.kind).finish()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RejectionKind::LayerMissing => {
                f.write_str("no session layer for this session type ran before the handler")
            }
            RejectionKind::CrossOrigin
            | RejectionKind::CsrfTokenMissing
            | RejectionKind::CsrfTokenInvalid => write!(f, "request refused: {}", self.kind),
            kind => write!(f, "no valid session: {kind}"),
        }
    }
}

impl std::error::Error for Rejection {}

/// The operating system's random number generator failed (making a key, a session id, or
/// an encrypted token's content key or IV). Nothing was made from partial randomness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomError(getrandom::Error);

impl RandomError {
    /// Fills `bytes` from the operating system's random source.
    pub(crate) fn fill(bytes: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(bytes).map_err(RandomError)
    }
}

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the operating system's random number generator failed: {}",
            self.0
        )
    }
}

impl std::error::Error for RandomError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A session could not be signed.
#[non_exhaustive]
#[derive(Debug)]
pub enum SignError {
    /// The session data did not serialize into a JSON object, or one of its fields uses a
    /// name reserved for the registered claims (`sid`, `iat`, `exp`, `auth_time`, `ver`).
    Serialize(serde_json::Error),
    /// The signed token would exceed its budget: the maximum token length (a longer token
    /// would be refused by every verifier with the same configuration) or, in the layer,
    /// the cookie budget for `name=value`.
    Oversized {
        /// Bytes that would have been sent (the token, or `name=value` for a cookie).
        len: usize,
        /// The budget for those bytes.
        max: usize,
    },
    /// The operating system's random number generator failed while creating a session id,
    /// or an encrypted token's content key or IV.
    Random(RandomError),
    /// The key ring has no key this process can sign with: its first key is a public key
    /// only (a verify-only ring, such as one fed by a JWKS), or a node key that could not be
    /// published yet, with no other key to fall back on.
    NoSigningKey,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Serialize(e) => write!(f, "session data could not be serialized: {e}"),
            SignError::Oversized { len, max } => write!(
                f,
                "signed session token would be {len} bytes, over the maximum of {max} bytes"
            ),
            SignError::Random(e) => write!(
                f,
                "the random number generator failed (session id, content key or IV): {e}"
            ),
            SignError::NoSigningKey => {
                f.write_str("the key ring has no key that can sign new sessions here")
            }
        }
    }
}

impl std::error::Error for SignError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SignError::Serialize(e) => Some(e),
            SignError::Random(e) => Some(e),
            SignError::Oversized { .. } | SignError::NoSigningKey => None,
        }
    }
}

/// A configuration value is invalid. Returned when keys are loaded or a layer is built,
/// never at request time.
///
/// Messages name the offending key id, entry position, variable or file, but never a
/// secret, nor any text that could be a misplaced secret.
#[non_exhaustive]
#[derive(Debug)]
pub enum ConfigError {
    /// A key id is empty, too long, or uses characters outside `A-Z a-z 0-9 . _ -`.
    InvalidKeyId {
        /// Position of the key in its source (1-based), since the id itself may be garbage.
        position: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key-ring entry has no `:` between the key id and the secret.
    MissingSeparator {
        /// Position of the entry (1-based, counting non-empty entries).
        position: usize,
    },
    /// A secret is not valid base64url.
    InvalidSecretEncoding {
        /// The key id of the entry.
        kid: String,
    },
    /// A secret is shorter than the minimum for its algorithm.
    KeyTooShort {
        /// The key id of the entry.
        kid: String,
        /// The secret's length in bytes.
        len: usize,
        /// The minimum length in bytes.
        min: usize,
    },
    /// A key's material has the wrong length for its algorithm.
    WrongKeyLength {
        /// The key id.
        kid: String,
        /// The length given, in bytes.
        len: usize,
        /// The length the algorithm requires, in bytes.
        expected: usize,
    },
    /// A public key is unusable: wrong length, not a curve point, or a weak key.
    InvalidPublicKey {
        /// The key id.
        kid: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// One secret is configured for two purposes (an HS256 secret also as an encryption
    /// key, or one AES key for both `A256KW` and `dir`). One key, one purpose: give each
    /// its own random secret.
    SecretReused {
        /// The key id of the second key with that secret.
        kid: String,
        /// The key id of the first.
        other: String,
    },
    /// Two keys share a key id.
    DuplicateKeyId {
        /// The repeated id.
        kid: String,
    },
    /// A key-ring source holds no key at all.
    NoKeys,
    /// An environment variable is not set or is not valid Unicode.
    EnvVar {
        /// The variable's name.
        name: String,
        /// `"is not set"` or `"is not valid unicode"`.
        reason: &'static str,
    },
    /// A key file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The operating system's random number generator failed while generating a key.
    Random(RandomError),
    /// A cookie name is not a valid cookie token, or breaks the rules of its prefix.
    InvalidCookieName {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A cookie attribute value (such as `Path` or `Domain`) is invalid.
    InvalidCookieAttribute {
        /// The attribute.
        attribute: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A header name is not a valid HTTP header name.
    InvalidHeaderName {
        /// The rejected name.
        name: String,
    },
    /// A secret key (HS256, or an encryption key) was given to be published in a JWKS: its
    /// only form is the secret itself.
    SecretKeyInJwks {
        /// The key id.
        kid: String,
    },
    /// A setting is out of its range, or a value does not fit its role.
    InvalidSetting {
        /// The setting.
        setting: &'static str,
        /// What it must be.
        reason: &'static str,
    },
    /// A setting of the cross-site defences is invalid: a trusted origin that is not
    /// `scheme://host[:port]`, or an exempt path that does not start with `/`.
    InvalidCrossSiteSetting {
        /// Which setting.
        setting: &'static str,
        /// The value given (an origin or a path: never a secret).
        value: String,
        /// What it must be.
        reason: &'static str,
    },
    /// A setting of minted downstream tokens (an audience, an issuer, a token type) is
    /// invalid.
    InvalidDownstreamSetting {
        /// Which setting.
        setting: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl ConfigError {
    /// The value of the environment variable `name`, or [`ConfigError::EnvVar`] saying why
    /// there is none.
    pub(crate) fn read_env(name: &str) -> Result<String, ConfigError> {
        std::env::var(name).map_err(|e| ConfigError::EnvVar {
            name: name.to_owned(),
            reason: match e {
                std::env::VarError::NotPresent => "is not set",
                std::env::VarError::NotUnicode(_) => "is not valid unicode",
            },
        })
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::InvalidKeyId { position, reason } => {
                write!(f, "key #{position}: invalid key id: {reason}")
            }
            ConfigError::MissingSeparator { position } => write!(
                f,
                "key #{position}: expected `kid:secret`, found no `:` separator"
            ),
            ConfigError::InvalidSecretEncoding { kid } => {
                write!(f, "key `{kid}`: secret is not valid base64url")
            }
            ConfigError::KeyTooShort { kid, len, min } => write!(
                f,
                "key `{kid}`: secret is {len} bytes, at least {min} bytes are required"
            ),
            ConfigError::WrongKeyLength { kid, len, expected } => write!(
                f,
                "key `{kid}`: key material is {len} bytes, exactly {expected} bytes are required"
            ),
            ConfigError::InvalidPublicKey { kid, reason } => {
                write!(f, "key `{kid}`: invalid public key: {reason}")
            }
            ConfigError::SecretReused { kid, other } => write!(
                f,
                "keys `{other}` and `{kid}` share a secret but are for different algorithms: \
                 one key, one purpose, give each its own secret"
            ),
            ConfigError::DuplicateKeyId { kid } => write!(f, "key id `{kid}` appears twice"),
            ConfigError::NoKeys => f.write_str("no keys given: a key ring needs a signing key"),
            ConfigError::EnvVar { name, reason } => {
                write!(f, "environment variable `{name}` {reason}")
            }
            ConfigError::Io { path, source } => {
                write!(f, "cannot read key file `{}`: {source}", path.display())
            }
            ConfigError::Random(e) => write!(f, "random number generator failed: {e}"),
            ConfigError::InvalidCookieName { name, reason } => {
                write!(f, "invalid cookie name {name:?}: {reason}")
            }
            ConfigError::InvalidCookieAttribute { attribute, reason } => {
                write!(f, "invalid cookie {attribute}: {reason}")
            }
            ConfigError::InvalidHeaderName { name } => write!(f, "invalid header name {name:?}"),
            ConfigError::SecretKeyInJwks { kid } => write!(
                f,
                "key `{kid}` is a secret key (HS256 or encryption): it is never published in a JWKS"
            ),
            ConfigError::InvalidSetting { setting, reason } => {
                write!(f, "invalid {setting}: must be {reason}")
            }
            ConfigError::InvalidCrossSiteSetting {
                setting,
                value,
                reason,
            } => write!(f, "invalid {setting} {value:?}: must be {reason}"),
            ConfigError::InvalidDownstreamSetting { setting, reason } => {
                write!(f, "invalid downstream token {setting}: {reason}")
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            ConfigError::Random(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unset_variable_is_named_in_the_error() {
        let name = "TSS_TEST_VARIABLE_THAT_IS_NEVER_SET";
        match ConfigError::read_env(name) {
            Err(ConfigError::EnvVar { name: n, reason }) => {
                assert_eq!(n, name);
                assert_eq!(reason, "is not set");
            }
            other => panic!("expected EnvVar, got {other:?}"),
        }
        assert!(matches!(
            crate::KeyRing::from_env(name),
            Err(ConfigError::EnvVar { .. })
        ));
        #[cfg(feature = "node-keys")]
        assert!(matches!(
            crate::keys::registry::RegistrationKey::from_env(name),
            Err(ConfigError::EnvVar { .. })
        ));
    }

    #[test]
    fn kind_names_are_distinct() {
        let kinds = [
            RejectionKind::Missing,
            RejectionKind::Oversized,
            RejectionKind::Malformed,
            RejectionKind::UnsupportedAlgorithm,
            RejectionKind::WrongType,
            RejectionKind::UnknownKey,
            RejectionKind::BadSignature,
            RejectionKind::DecryptionFailed,
            RejectionKind::InvalidClaims,
            RejectionKind::UnsupportedVersion,
            RejectionKind::Expired,
            RejectionKind::IssuedInFuture,
            RejectionKind::IdleTimeout,
            RejectionKind::AbsoluteTimeout,
            RejectionKind::Ambiguous,
            RejectionKind::Revoked,
            RejectionKind::WrongAudience,
            RejectionKind::WrongBinding,
            RejectionKind::Unbound,
            RejectionKind::ProofMissing,
            RejectionKind::ProofInvalid,
            RejectionKind::NonceRequired,
            RejectionKind::RefreshSkipped,
            RejectionKind::LayerMissing,
            RejectionKind::CrossOrigin,
            RejectionKind::CsrfTokenMissing,
            RejectionKind::CsrfTokenInvalid,
        ];
        let names: std::collections::HashSet<_> = kinds.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), kinds.len(), "two kinds share a name");
    }

    #[test]
    fn rejection_display_names_only_the_kind() {
        let e = Rejection::new(RejectionKind::BadSignature);
        assert_eq!(e.to_string(), "no valid session: bad_signature");
        assert_eq!(format!("{e:?}"), "Rejection(BadSignature)");
    }
}
