//! The token codec: signs session claims into a JWS compact token and verifies them back.
//!
//! No HTTP here. A token is
//!
//! ```text
//! base64url(header) "." base64url(claims) "." base64url(signature(key, header "." claims))
//! ```
//!
//! with the header `{"alg":"<alg>","kid":"<kid>","typ":"sess+jwt"}` and the claims `sid`,
//! `iat`, `exp`, `auth_time`, `ver` next to the members of the application's data. The
//! signature is HMAC-SHA256 (`HS256`) or Ed25519 (`EdDSA`), as the key decides. Any JWT
//! library holding the key (for EdDSA, the public key) can verify it.
//!
//! [`TokenCodec::verify`] checks, in this order: the length cap, three non-empty segments, a
//! known `kid` (the header has to agree with the key's algorithm; it never picks one), the
//! signature over the bytes as received (a constant-time MAC comparison, or Ed25519's
//! strict check), the claims, then `exp`, `iat` not in the future, the idle and the
//! absolute deadline of the current configuration, each with the clock-skew leeway. Each
//! failure has its own [`RejectionKind`].
//!
//! When the ring's first key is an encryption key, new tokens are encrypted instead: a JWE
//! of five segments whose plaintext is the same claims JSON (see [`jwe`]). Verification
//! tells the two apart by their number of segments, checks the length cap first in both
//! cases, and applies the same claim and deadline checks after decryption.

mod claims;
mod cnf;
#[cfg(feature = "jwe")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwe")))]
pub mod jwe;
pub(crate) mod jws;
#[cfg(feature = "propagate")]
pub(crate) mod minted;
mod number;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use self::claims::RESERVED_CLAIMS;
pub use self::cnf::{Binding, Confirmation};
pub use self::jws::{TOKEN_TYPE, verify_jws};
#[cfg(feature = "propagate")]
pub(crate) use self::minted::{Actor, Audience, DOWNSTREAM_TOKEN_TYPE, MintedClaims, TokenType};
pub use crate::error::{RandomError, SignError};
use crate::error::{Rejection, RejectionKind};
use crate::keys::KeyRingHandle;
use crate::time::{
    Clock, DEFAULT_ABSOLUTE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_LEEWAY, SystemClock,
};

/// The purpose encrypted tokens are bound to when nothing else is set: the layer's default
/// cookie name.
pub(crate) const DEFAULT_PURPOSE: &str = "session";

/// Default maximum token length: 4096 bytes, the most a browser keeps in one cookie.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 4096;

/// A random 128-bit session id, written as 22 base64url characters.
///
/// It identifies a session across refreshes (and is what revocation lists name). It is not
/// a secret: knowing it does not let anyone forge a token.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 16]);

impl SessionId {
    /// A fresh id from the operating system's random source.
    ///
    /// # Errors
    /// When the random source fails.
    pub fn random() -> Result<Self, crate::error::RandomError> {
        let mut bytes = [0u8; 16];
        crate::error::RandomError::fill(&mut bytes)?;
        Ok(SessionId(bytes))
    }

    /// An id from its 16 bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        SessionId(bytes)
    }

    /// The id's 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    fn encode(&self) -> [u8; 22] {
        let mut out = [0u8; 24];
        // 16 bytes always encode to 22 characters, which fit the buffer.
        let n = jws::B64.encode_slice(self.0, &mut out).unwrap_or(0);
        debug_assert_eq!(n, 22);
        let mut id = [0u8; 22];
        id.copy_from_slice(&out[..22]);
        id
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let encoded = self.encode();
        // Base64 output is ASCII.
        f.write_str(std::str::from_utf8(&encoded).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

/// The text is not 22 characters of canonical base64url.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidSessionId;

impl fmt::Display for InvalidSessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a session id is 22 characters of canonical base64url")
    }
}

impl std::error::Error for InvalidSessionId {}

impl SessionId {
    /// Decodes 22 characters of canonical base64url (no padding, the 4 unused bits of the
    /// last character zero) through the strict engine: every verified token reads its `sid`
    /// here.
    pub(crate) fn from_ascii(text: &[u8]) -> Option<Self> {
        if text.len() != 22 {
            return None;
        }
        // Room for the engine's estimate of 22 characters (18 bytes); 16 are expected.
        let mut out = [0u8; 18];
        match jws::B64.decode_slice(text, &mut out) {
            Ok(16) => out.first_chunk::<16>().copied().map(SessionId),
            _ => None,
        }
    }
}

impl std::str::FromStr for SessionId {
    type Err = InvalidSessionId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_ascii(s.as_bytes()).ok_or(InvalidSessionId)
    }
}

impl Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let encoded = self.encode();
        let text = std::str::from_utf8(&encoded).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }
}

impl<'de> serde::Deserialize<'de> for SessionId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SessionId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 22-character base64url session id")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SessionId, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// The claims of a session token: the registered claims the codec owns, and the
/// application's data `T`, whose fields sit next to them in the JSON object.
///
/// Times are whole seconds since the Unix epoch.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Claims<T> {
    /// Session id, kept across refreshes, renewed at login and privilege changes.
    pub sid: SessionId,
    /// When this token was signed (its last refresh).
    pub iat: u64,
    /// When this token expires: `min(iat + idle_timeout, auth_time + absolute_timeout)`.
    pub exp: u64,
    /// When the session began; the absolute deadline counts from here.
    pub auth_time: u64,
    /// Version of the session data's shape (see [`TokenCodec::with_data_version`]).
    pub ver: u32,
    /// A persistent ("remember me") session: its cookie carries `Max-Age` and outlives the
    /// browser session. Written as `"rem":true`, omitted when false.
    pub remember: bool,
    /// The key the token is bound to and how its possession is proven (`cnf`, omitted
    /// when unbound). A bound token is accepted only where its proof is checked (see
    /// [`Binding`]); [`TokenCodec::verify`] refuses every bound token.
    pub cnf: Option<Confirmation>,
    /// The application's session data. It must serialize as a struct or map whose members
    /// avoid the names in [`RESERVED_CLAIMS`].
    pub data: T,
}

/// A successfully verified token.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Verified<T> {
    /// The token's claims (with the migrated data when `migrated` is set).
    pub claims: Claims<T>,
    /// Whether the token was signed by a current key of the ring: its issuing key, or a
    /// peer's (see [`KeyRing::with_peer_key`](crate::KeyRing::with_peer_key)). When not,
    /// re-sign it now so sessions move to the new key (see [`Verified::needs_resign`]).
    pub signed_with_current_key: bool,
    /// Whether the data came through the migration hook from an older data version.
    pub migrated: bool,
}

impl<T> Verified<T> {
    /// Whether the token should be re-signed at once, whatever its age: it was signed by a
    /// key that no longer signs, or its data was migrated to the current version.
    pub fn needs_resign(&self) -> bool {
        !self.signed_with_current_key || self.migrated
    }
}

/// A migration hook: given the token's data version and its data members (the registered
/// claims removed), returns the data in the current shape, or `None` to refuse the token.
pub type Migration<T> =
    dyn Fn(u32, serde_json::Map<String, serde_json::Value>) -> Option<T> + Send + Sync;

/// Signs and verifies session tokens with a key ring, a clock and the session timeouts.
///
/// Cheap to clone; clones share the key ring handle and the clock.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use tower_stateless_session::{Key, KeyRing};
/// use tower_stateless_session::token::TokenCodec;
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct User { sub: String }
///
/// let codec = TokenCodec::new(KeyRing::new(Key::generate_hs256("k1")?));
/// let claims = codec.new_claims(User { sub: "ada".into() })?;
/// let token = codec.sign(&claims)?;
/// let verified = codec.verify::<User>(&token)?;
/// assert_eq!(verified.claims, claims);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TokenCodec {
    keys: KeyRingHandle,
    clock: Arc<dyn Clock>,
    idle: u64,
    absolute: u64,
    leeway: u64,
    max_len: usize,
    data_version: u32,
    /// What encrypted tokens are bound to (the layer's cookie name by default).
    purpose: Arc<str>,
}

impl TokenCodec {
    /// A codec with the default timeouts, the system clock, and `keys`.
    pub fn new(keys: impl Into<KeyRingHandle>) -> Self {
        TokenCodec {
            keys: keys.into(),
            clock: Arc::new(SystemClock),
            idle: DEFAULT_IDLE_TIMEOUT.as_secs(),
            absolute: DEFAULT_ABSOLUTE_TIMEOUT.as_secs(),
            leeway: DEFAULT_LEEWAY.as_secs(),
            max_len: DEFAULT_MAX_TOKEN_LEN,
            data_version: 1,
            purpose: Arc::from(DEFAULT_PURPOSE),
        }
    }

    /// The purpose encrypted tokens are sealed for and must carry to open (their header's
    /// `pur` member, see [`jwe`]). The layer sets it to its cookie name (see
    /// [`SessionLayer::with_token_purpose`](crate::SessionLayer::with_token_purpose)).
    /// Signed tokens do not carry it. Default `session`.
    #[must_use]
    pub fn with_purpose(mut self, purpose: &str) -> Self {
        self.purpose = Arc::from(purpose);
        self
    }

    pub(crate) fn with_purpose_arc(mut self, purpose: Arc<str>) -> Self {
        self.purpose = purpose;
        self
    }

    /// The purpose encrypted tokens are bound to.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// The idle (rolling) timeout: a token not refreshed for this long is dead. Whole
    /// seconds; at least 1 s. Default 30 minutes.
    #[must_use]
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle = timeout.as_secs().max(1);
        self
    }

    /// The absolute timeout: a session older than this (from `auth_time`) is dead, however
    /// active. Whole seconds; at least 1 s. Default 2 days.
    #[must_use]
    pub fn with_absolute_timeout(mut self, timeout: Duration) -> Self {
        self.absolute = timeout.as_secs().max(1);
        self
    }

    /// The clock-skew leeway applied to every time comparison. Whole seconds. Default 60 s.
    ///
    /// # Security
    /// Every deadline is extended by this much; keep it to the skew you expect between nodes.
    #[must_use]
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.as_secs();
        self
    }

    /// The longest token accepted, checked before any decoding; signing refuses to produce a
    /// longer one. Default [`DEFAULT_MAX_TOKEN_LEN`] (4096 bytes).
    #[must_use]
    pub fn with_max_token_len(mut self, max: usize) -> Self {
        self.max_len = max;
        self
    }

    /// The time source. Default [`SystemClock`]; tests use a [`ManualClock`](crate::time::ManualClock).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    pub(crate) fn with_clock_arc(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The version of the session data's shape, written as `ver` in every token. Bump it when
    /// the data type changes incompatibly; tokens of another version are refused with
    /// [`RejectionKind::UnsupportedVersion`] unless a migration accepts them
    /// (see [`TokenCodec::verify_with`]). Default 1.
    #[must_use]
    pub fn with_data_version(mut self, version: u32) -> Self {
        self.data_version = version;
        self
    }

    /// The key ring handle; replace its ring to rotate keys.
    pub fn keys(&self) -> &KeyRingHandle {
        &self.keys
    }

    /// The current time from the codec's clock.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// The idle timeout in seconds.
    pub fn idle_timeout_secs(&self) -> u64 {
        self.idle
    }

    /// The absolute timeout in seconds.
    pub fn absolute_timeout_secs(&self) -> u64 {
        self.absolute
    }

    /// The clock-skew leeway in seconds.
    pub fn leeway_secs(&self) -> u64 {
        self.leeway
    }

    /// The maximum token length in bytes.
    pub fn max_token_len(&self) -> usize {
        self.max_len
    }

    /// The data version written into new tokens.
    pub fn data_version(&self) -> u32 {
        self.data_version
    }

    /// `exp` for a token signed at `iat` in a session that began at `auth_time`.
    pub fn expiry(&self, iat: u64, auth_time: u64) -> u64 {
        iat.saturating_add(self.idle)
            .min(auth_time.saturating_add(self.absolute))
    }

    /// Claims for a new session: a fresh random `sid`, `auth_time = iat = now`.
    ///
    /// # Errors
    /// [`SignError::Random`] when the random source fails.
    pub fn new_claims<T>(&self, data: T) -> Result<Claims<T>, SignError> {
        self.fresh_claims(data).map_err(SignError::Random)
    }

    pub(crate) fn fresh_claims<T>(&self, data: T) -> Result<Claims<T>, crate::error::RandomError> {
        let now = self.now();
        Ok(Claims {
            sid: SessionId::random()?,
            iat: now,
            exp: self.expiry(now, now),
            auth_time: now,
            ver: self.data_version,
            remember: false,
            cnf: None,
            data,
        })
    }

    /// Moves claims to a new token of the same session: `iat = now` and a new `exp`; `sid`
    /// and `auth_time` are kept. A bound token's `exp` never moves forward here (only a
    /// proof of its key extends it).
    pub fn refresh<T>(&self, claims: &mut Claims<T>) {
        self.refresh_at(claims, self.now());
    }

    pub(crate) fn refresh_at<T>(&self, claims: &mut Claims<T>, now: u64) {
        claims.iat = now;
        let exp = self.expiry(now, claims.auth_time);
        // A bound token's `exp` moves forward only against a proof (`extend_at`): a
        // re-sign for a data change or a key rotation never raises it.
        claims.exp = match claims.cnf {
            Some(_) => exp.min(claims.exp),
            None => exp,
        };
        claims.ver = self.data_version;
    }

    /// Moves claims to a new token after a proof of their key: `iat = now`, and `exp` up
    /// to `lifetime` ahead (the idle timeout when `None`), never past the absolute
    /// deadline.
    #[cfg(any(feature = "dbsc", feature = "dpop"))]
    pub(crate) fn extend_at<T>(&self, claims: &mut Claims<T>, now: u64, lifetime: Option<u64>) {
        claims.iat = now;
        let idle = lifetime.unwrap_or(self.idle);
        claims.exp = now
            .saturating_add(idle)
            .min(claims.auth_time.saturating_add(self.absolute));
        claims.ver = self.data_version;
    }

    /// Signs `claims` with the ring's issuing key, as given; when that key is an encryption
    /// key, encrypts them instead (a JWE bound to the codec's [`purpose`](Self::purpose)).
    ///
    /// # Errors
    /// [`SignError::Serialize`] when the data is not an object or uses a reserved claim
    /// name; [`SignError::Oversized`] when the token would exceed the maximum length;
    /// [`SignError::Random`] when an encrypted token's content key or IV cannot be drawn.
    pub fn sign<T: Serialize>(&self, claims: &Claims<T>) -> Result<String, SignError> {
        self.sign_capped(claims, self.max_len)
    }

    /// As [`sign`](TokenCodec::sign), refusing tokens longer than `max_len` (checked before
    /// the MAC is computed).
    pub(crate) fn sign_capped<T: Serialize>(
        &self,
        claims: &Claims<T>,
        max_len: usize,
    ) -> Result<String, SignError> {
        let ring = self.keys.load();
        let key = ring.issuing_key().ok_or(SignError::NoSigningKey)?;
        claims::check_finite(&claims.data).map_err(SignError::Serialize)?;
        let mut json = Vec::with_capacity(256);
        serde_json::to_writer(&mut json, claims).map_err(SignError::Serialize)?;
        #[cfg(feature = "jwe")]
        if let Some(encryption_key) = key.encryption_key() {
            return jwe::seal_in_place(encryption_key, &self.purpose, &mut json, max_len);
        }
        let header = key.encoded_header();
        let len = header.len() + 1 + (json.len() * 4).div_ceil(3) + 1 + key.signature_b64_len();
        if len > max_len {
            return Err(SignError::Oversized { len, max: max_len });
        }
        let mut token = String::with_capacity(len);
        token.push_str(header);
        token.push('.');
        jws::B64.encode_string(&json, &mut token);
        if !key.append_signature(&mut token) {
            return Err(SignError::NoSigningKey);
        }
        debug_assert_eq!(token.len(), len);
        Ok(token)
    }

    /// Verifies a session token and decodes its claims.
    ///
    /// A token bound to a key (its claims carry `cnf`) is refused as
    /// [`RejectionKind::WrongBinding`]: it is good only with a proof of that key, which
    /// only the session layer with DBSC or DPoP checks.
    ///
    /// # Errors
    /// A [`Rejection`] whose [`kind`](Rejection::kind) names the first failed check.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: impl AsRef<[u8]>,
    ) -> Result<Verified<T>, Rejection> {
        self.verify_with(token, None)
    }

    /// As [`verify`](TokenCodec::verify), with a migration for tokens whose data version is
    /// not the current one. A migrated token is reported with
    /// [`migrated`](Verified::migrated) set, so the caller re-signs it.
    ///
    /// # Errors
    /// As [`verify`](TokenCodec::verify).
    pub fn verify_with<T: DeserializeOwned>(
        &self,
        token: impl AsRef<[u8]>,
        migration: Option<&Migration<T>>,
    ) -> Result<Verified<T>, Rejection> {
        let decoded = self.decode_token(token.as_ref(), migration)?;
        // A bound token is good only with a proof of its key, which a plain verifier does
        // not check: it is never taken as a bearer token.
        if decoded.claims.cnf.is_some() {
            return Err(Rejection::new(RejectionKind::WrongBinding));
        }
        self.check_times_at(&decoded.claims, self.now())?;
        Ok(decoded)
    }

    /// The checks that do not depend on the time: length, structure, key, MAC, claims.
    /// Their result for a given token stays the same as long as the key ring does, which is
    /// what makes it cacheable.
    pub(crate) fn decode_token<T: DeserializeOwned>(
        &self,
        token: &[u8],
        migration: Option<&Migration<T>>,
    ) -> Result<Verified<T>, Rejection> {
        if token.len() > self.max_len {
            return Err(Rejection::new(RejectionKind::Oversized));
        }
        let ring = self.keys.load();
        let (current, (claims, migrated)) = match jws::shape(token) {
            // The length cap is checked above and the dots found once, by `shape`.
            #[cfg(feature = "jwe")]
            jws::Shape::Jwe(dots) => with_scratch(|plaintext| {
                let segments = jwe::segments(token, dots)?;
                let index = jwe::open_segments(ring.keys(), &self.purpose, segments, plaintext)?;
                let current = ring.is_current_index(index);
                Ok::<_, Rejection>((current, self.decode_claims(plaintext, migration)?))
            })?,
            // Without the `jwe` feature an encrypted token is just not a token of ours.
            #[cfg(not(feature = "jwe"))]
            jws::Shape::Jwe(_) => return Err(Rejection::new(RejectionKind::Malformed)),
            jws::Shape::Malformed => return Err(Rejection::new(RejectionKind::Malformed)),
            jws::Shape::Jws(segments) => {
                let (key_index, payload_b64) =
                    jws::verify_segments(&ring, segments?, jws::TOKEN_TYPE)?;
                let current = ring.is_current_index(key_index);
                drop(ring);
                let decoded = with_scratch(|payload| {
                    jws::decode_segment_into(payload_b64, payload)?;
                    self.decode_claims(payload, migration)
                })?;
                (current, decoded)
            }
        };
        Ok(Verified {
            claims,
            signed_with_current_key: current,
            migrated,
        })
    }

    fn decode_claims<T: DeserializeOwned>(
        &self,
        payload: &mut [u8],
        migration: Option<&Migration<T>>,
    ) -> Result<(Claims<T>, bool), Rejection> {
        let invalid = Rejection::new(RejectionKind::InvalidClaims);
        if let Ok(claims) = claims::decode::<T>(payload)
            && claims.ver == self.data_version
        {
            check_consistency(&claims)?;
            return Ok((claims, false));
        }
        // Rare path: either the data does not fit `T`, or the version differs. Read the
        // registered claims and the raw members to tell which.
        let raw: Claims<serde_json::Map<String, serde_json::Value>> = claims::utf8(payload)
            .and_then(serde_json::from_str)
            .map_err(|_| invalid)?;
        check_consistency(&raw)?;
        if raw.ver == self.data_version {
            return Err(invalid);
        }
        let migrate = migration.ok_or(Rejection::new(RejectionKind::UnsupportedVersion))?;
        let data =
            migrate(raw.ver, raw.data).ok_or(Rejection::new(RejectionKind::UnsupportedVersion))?;
        Ok((
            Claims {
                sid: raw.sid,
                iat: raw.iat,
                exp: raw.exp,
                auth_time: raw.auth_time,
                ver: self.data_version,
                remember: raw.remember,
                cnf: raw.cnf,
                data,
            },
            true,
        ))
    }

    /// The deadline checks at time `now`: `exp`, `iat` not in the future, the idle and the
    /// absolute deadline of the current configuration, each with the leeway.
    pub(crate) fn check_times_at<T>(&self, c: &Claims<T>, now: u64) -> Result<(), Rejection> {
        let late = |deadline: u64| now >= deadline.saturating_add(self.leeway);
        let kind = if late(c.exp) {
            RejectionKind::Expired
        } else if c.iat > now.saturating_add(self.leeway) {
            RejectionKind::IssuedInFuture
        } else if late(c.iat.saturating_add(self.idle)) {
            RejectionKind::IdleTimeout
        } else if late(c.auth_time.saturating_add(self.absolute)) {
            RejectionKind::AbsoluteTimeout
        } else {
            return Ok(());
        };
        Err(Rejection::new(kind))
    }
}

thread_local! {
    /// A decoding buffer kept per thread, so verifying allocates nothing for the payload.
    static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer (or a new one if it is in use), and keeps the
/// buffer for the next call unless it grew past the token size cap's order of magnitude.
fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = SCRATCH.with(|cell| cell.take());
    let result = f(&mut buf);
    if buf.capacity() <= 64 * 1024 {
        SCRATCH.with(|cell| cell.set(buf));
    }
    result
}

/// A session cannot have been signed before it began.
fn check_consistency<T>(c: &Claims<T>) -> Result<(), Rejection> {
    if c.auth_time > c.iat {
        return Err(Rejection::new(RejectionKind::InvalidClaims));
    }
    Ok(())
}

impl fmt::Debug for TokenCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCodec")
            .field("keys", &self.keys)
            .field("idle_secs", &self.idle)
            .field("absolute_secs", &self.absolute)
            .field("leeway_secs", &self.leeway)
            .field("max_len", &self.max_len)
            .field("data_version", &self.data_version)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
#[cfg(all(test, feature = "node-keys"))]
mod tests_eddsa;
