//! Signing keys, the key ring, and the handle that swaps the ring at run time.
//!
//! A [`KeyRing`] holds one signing key and any number of verify-only keys, each named by a
//! key id (`kid`) that travels in every token's header. Rotation is a new ring with a new
//! signing key first and the old one kept for verification; [`KeyRingHandle::replace`] swaps
//! it in atomically while requests are in flight.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::{ArcSwap, Guard};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit};
use sha2::Sha256;

use crate::error::ConfigError;
use crate::token::jws::{B64, TOKEN_TYPE};

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The shortest secret accepted for HS256, in bytes (the hash's output size, RFC 7518 §3.2).
pub const MIN_SECRET_LEN: usize = 32;

/// The longest key id accepted, in bytes.
///
/// Kept below the length of an encoded 32-byte secret (43 characters), so a secret pasted
/// into the key-id position is rejected as a key id and never echoed in an error.
pub const MAX_KID_LEN: usize = 32;

/// A signature algorithm. The key decides it; a token's header can only agree with it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC with SHA-256 (RFC 7518 §3.2).
    HS256,
}

impl Algorithm {
    /// The JOSE name, as it appears in a header's `alg`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
        }
    }
}

/// A secret key with its key id, ready to sign and verify.
///
/// The secret is consumed into a pre-keyed HMAC state when the key is built, and the key's
/// encoded token header is precomputed, so using a key costs no key schedule and no header
/// serialization. `Debug` shows the key id and algorithm only.
#[derive(Clone)]
pub struct Key {
    kid: Box<str>,
    alg: Algorithm,
    mac: HmacSha256,
    /// `base64url({"alg":"HS256","kid":"<kid>","typ":"<TOKEN_TYPE>"})`.
    header: Box<str>,
}

impl Key {
    /// An HS256 key from raw secret bytes.
    ///
    /// # Errors
    /// [`ConfigError::InvalidKeyId`] when `kid` is empty, longer than [`MAX_KID_LEN`] or uses
    /// characters outside `A-Z a-z 0-9 . _ -`; [`ConfigError::KeyTooShort`] when the secret
    /// is shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn hs256(kid: &str, secret: &[u8]) -> Result<Self, ConfigError> {
        Self::hs256_at(1, kid, secret)
    }

    /// An HS256 key from a base64url secret (the standard alphabet's `+` and `/` and
    /// trailing `=` padding are accepted too).
    ///
    /// # Errors
    /// As [`Key::hs256`], plus [`ConfigError::InvalidSecretEncoding`].
    pub fn hs256_base64(kid: &str, secret: &str) -> Result<Self, ConfigError> {
        Self::from_entry(1, kid, secret)
    }

    /// A new HS256 key with a random 32-byte secret from the operating system.
    ///
    /// Such a key exists only in this process: use it for tests and single-node demos, since
    /// other nodes cannot verify its tokens and they die with the process.
    ///
    /// # Errors
    /// [`ConfigError::InvalidKeyId`] for a bad `kid`; [`ConfigError::Random`] when the
    /// operating system's random source fails.
    pub fn generate(kid: &str) -> Result<Self, ConfigError> {
        let mut secret = [0u8; MIN_SECRET_LEN];
        getrandom::fill(&mut secret).map_err(ConfigError::Random)?;
        Self::hs256(kid, &secret)
    }

    fn from_entry(position: usize, kid: &str, secret: &str) -> Result<Self, ConfigError> {
        check_kid(position, kid)?;
        let bytes = decode_secret(secret).ok_or_else(|| ConfigError::InvalidSecretEncoding {
            kid: kid.to_owned(),
        })?;
        Self::hs256_at(position, kid, &bytes)
    }

    fn hs256_at(position: usize, kid: &str, secret: &[u8]) -> Result<Self, ConfigError> {
        check_kid(position, kid)?;
        if secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError::KeyTooShort {
                kid: kid.to_owned(),
                len: secret.len(),
                min: MIN_SECRET_LEN,
            });
        }
        // HMAC accepts keys of any length, so this cannot fail.
        let mac = HmacSha256::new_from_slice(secret).map_err(|_| ConfigError::KeyTooShort {
            kid: kid.to_owned(),
            len: secret.len(),
            min: MIN_SECRET_LEN,
        })?;
        let alg = Algorithm::HS256;
        let json = format!(
            r#"{{"alg":"{}","kid":"{kid}","typ":"{TOKEN_TYPE}"}}"#,
            alg.as_str()
        );
        Ok(Key {
            kid: kid.into(),
            alg,
            mac,
            header: B64.encode(json).into_boxed_str(),
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The pre-keyed MAC state; clone it per message.
    pub(crate) fn mac(&self) -> &HmacSha256 {
        &self.mac
    }

    /// The encoded header of tokens this key signs.
    pub(crate) fn encoded_header(&self) -> &str {
        &self.header
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

pub(crate) fn check_kid(position: usize, kid: &str) -> Result<(), ConfigError> {
    let reason = if kid.is_empty() {
        "empty"
    } else if kid.len() > MAX_KID_LEN {
        "longer than 32 bytes"
    } else if !kid
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        "only A-Z, a-z, 0-9, '.', '_' and '-' are allowed"
    } else {
        return Ok(());
    };
    Err(ConfigError::InvalidKeyId { position, reason })
}

/// Decodes a secret leniently: base64url or standard alphabet, padding optional.
fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let trimmed = secret.trim_end_matches('=');
    let normalized: String = trimmed
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    // Secrets come from many generators; accept non-zero trailing bits here (unlike tokens,
    // a secret's spelling is never compared).
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    lenient.decode(normalized).ok()
}

/// One signing key and any number of verify-only keys.
///
/// ```
/// use tower_stateless_session::KeyRing;
///
/// // The first key signs; the others only verify (tokens they signed are re-signed with
/// // the first key at their next refresh).
/// let ring: KeyRing = "k2:ZGV2LW9ubHktc2VjcmV0LWF0LWxlYXN0LTMyLWJ5dGVzLWxvbmch,\
///                      k1:b2xkLWtleS1rZXB0LWZvci12ZXJpZmljYXRpb24tb25seS0zMmI"
///     .parse()?;
/// assert_eq!(ring.signing_key().kid(), "k2");
/// assert_eq!(ring.kids().collect::<Vec<_>>(), ["k2", "k1"]);
/// # Ok::<(), tower_stateless_session::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    /// `keys[0]` signs; all verify.
    keys: Vec<Key>,
}

impl KeyRing {
    /// A ring holding only `signing`.
    pub fn new(signing: Key) -> Self {
        KeyRing {
            keys: vec![signing],
        }
    }

    /// A ring from keys in order: the first signs, the others only verify.
    ///
    /// # Errors
    /// [`ConfigError::NoKeys`] when empty, [`ConfigError::DuplicateKeyId`] when two keys
    /// share an id.
    pub fn from_keys(keys: impl IntoIterator<Item = Key>) -> Result<Self, ConfigError> {
        let mut ring: Vec<Key> = Vec::new();
        for key in keys {
            if ring.iter().any(|k| k.kid == key.kid) {
                return Err(ConfigError::DuplicateKeyId {
                    kid: key.kid.into(),
                });
            }
            ring.push(key);
        }
        if ring.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        Ok(KeyRing { keys: ring })
    }

    /// Adds a verify-only key.
    ///
    /// # Errors
    /// [`ConfigError::DuplicateKeyId`] when the ring already has a key with that id.
    pub fn with_verify_key(mut self, key: Key) -> Result<Self, ConfigError> {
        if self.get(key.kid()).is_some() {
            return Err(ConfigError::DuplicateKeyId {
                kid: key.kid.into(),
            });
        }
        self.keys.push(key);
        Ok(self)
    }

    /// A ring with one freshly generated key, for tests and single-process demos.
    ///
    /// # Errors
    /// As [`Key::generate`].
    pub fn generate(kid: &str) -> Result<Self, ConfigError> {
        Ok(KeyRing::new(Key::generate(kid)?))
    }

    /// Parses `kid:secret[,kid:secret...]`: the first entry signs, the others only verify.
    ///
    /// Secrets are base64url (the standard alphabet and `=` padding are accepted too) and
    /// must decode to at least 32 bytes. Entries are separated by commas or newlines;
    /// surrounding whitespace, empty entries and lines starting with `#` are ignored, so the
    /// same syntax serves an environment variable and a file.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the entry's position or key id (never its secret).
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        let mut keys = Vec::new();
        let entries = spec
            .split([',', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.starts_with('#'));
        for (index, entry) in entries.enumerate() {
            let position = index + 1;
            let (kid, secret) = entry
                .split_once(':')
                .ok_or(ConfigError::MissingSeparator { position })?;
            keys.push(Key::from_entry(position, kid.trim(), secret.trim())?);
        }
        Self::from_keys(keys)
    }

    /// Reads and parses the environment variable `name` (see [`KeyRing::parse`]).
    ///
    /// # Errors
    /// [`ConfigError::EnvVar`] when the variable is unset or not Unicode, otherwise as
    /// [`KeyRing::parse`].
    pub fn from_env(name: &str) -> Result<Self, ConfigError> {
        let value = std::env::var(name).map_err(|e| ConfigError::EnvVar {
            name: name.to_owned(),
            reason: match e {
                std::env::VarError::NotPresent => "is not set",
                std::env::VarError::NotUnicode(_) => "is not valid unicode",
            },
        })?;
        Self::parse(&value)
    }

    /// Reads and parses a file (see [`KeyRing::parse`]; one entry per line works).
    ///
    /// # Errors
    /// [`ConfigError::Io`] when the file cannot be read, otherwise as [`KeyRing::parse`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    /// The key that signs new tokens.
    pub fn signing_key(&self) -> &Key {
        &self.keys[0]
    }

    /// The key with id `kid`, if any.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| &*k.kid == kid)
    }

    /// All key ids, the signing key's first.
    pub fn kids(&self) -> impl Iterator<Item = &str> + '_ {
        self.keys.iter().map(|k| k.kid())
    }

    /// All keys, the signing key first.
    pub(crate) fn keys(&self) -> &[Key] {
        &self.keys
    }
}

impl std::str::FromStr for KeyRing {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<Key> for KeyRing {
    fn from(key: Key) -> Self {
        KeyRing::new(key)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("signing", &self.signing_key().kid())
            .field("kids", &self.kids().collect::<Vec<_>>())
            .finish()
    }
}

/// A shared, swappable [`KeyRing`]: clones see the same ring, and [`replace`] swaps it for
/// all of them at once, without locks on the request path.
///
/// Keep one handle from startup and call [`replace`] from a file watcher, a signal handler
/// or a secrets-manager callback. Requests in flight finish with the ring they started with.
///
/// ```
/// use tower_stateless_session::{Key, KeyRing, KeyRingHandle};
///
/// let old = Key::generate("2026-01")?;
/// let handle = KeyRingHandle::new(KeyRing::new(old.clone()));
/// // Rotate: a new signing key, the old one kept to verify live tokens.
/// let new = Key::generate("2026-02")?;
/// handle.replace(KeyRing::from_keys([new, old])?);
/// assert_eq!(handle.current().signing_key().kid(), "2026-02");
/// # Ok::<(), tower_stateless_session::ConfigError>(())
/// ```
///
/// [`replace`]: KeyRingHandle::replace
#[derive(Clone)]
pub struct KeyRingHandle {
    ring: Arc<ArcSwap<KeyRing>>,
    /// Bumped by every replacement, so caches of verified tokens know their keys changed.
    generation: Arc<AtomicU64>,
}

impl KeyRingHandle {
    /// A handle holding `ring`.
    pub fn new(ring: KeyRing) -> Self {
        KeyRingHandle {
            ring: Arc::new(ArcSwap::from_pointee(ring)),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The ring in use now.
    pub fn current(&self) -> Arc<KeyRing> {
        self.ring.load_full()
    }

    /// Swaps in `ring` for every clone of this handle; returns the ring it replaced.
    pub fn replace(&self, ring: KeyRing) -> Arc<KeyRing> {
        let old = self.ring.swap(Arc::new(ring));
        self.generation.fetch_add(1, Ordering::SeqCst);
        old
    }

    /// Changes with every [`replace`](Self::replace).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Re-reads the environment variable `name` and swaps in its ring. On error the current
    /// ring stays in use.
    ///
    /// # Errors
    /// As [`KeyRing::from_env`].
    pub fn reload_from_env(&self, name: &str) -> Result<(), ConfigError> {
        self.replace(KeyRing::from_env(name)?);
        Ok(())
    }

    /// Re-reads `path` and swaps in its ring. On error the current ring stays in use.
    ///
    /// # Errors
    /// As [`KeyRing::from_file`].
    pub fn reload_from_file(&self, path: impl AsRef<Path>) -> Result<(), ConfigError> {
        self.replace(KeyRing::from_file(path)?);
        Ok(())
    }

    /// A cheap, short-lived borrow of the current ring for the request path.
    pub(crate) fn load(&self) -> Guard<Arc<KeyRing>> {
        self.ring.load()
    }
}

impl From<KeyRing> for KeyRingHandle {
    fn from(ring: KeyRing) -> Self {
        KeyRingHandle::new(ring)
    }
}

impl From<Key> for KeyRingHandle {
    fn from(key: Key) -> Self {
        KeyRingHandle::new(KeyRing::new(key))
    }
}

impl fmt::Debug for KeyRingHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyRingHandle")
            .field(&**self.load())
            .finish()
    }
}

/// Encodes `secret` the way [`KeyRing::parse`] reads it, for tools that write key files.
pub fn encode_secret(secret: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S32: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"; // 32 ASCII bytes
    const S32_PADDED_STD: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    fn err(spec: &str) -> String {
        KeyRing::parse(spec).expect_err(spec).to_string()
    }

    #[test]
    fn parse_accepts_padding_whitespace_newlines_and_comments() {
        let spec = format!("# keys\n  a : {S32_PADDED_STD} \n\nb:{S32},\n");
        let ring = KeyRing::parse(&spec).expect("valid spec");
        assert_eq!(ring.kids().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(ring.signing_key().kid(), "a", "the first entry signs");
        assert!(ring.get("b").is_some() && ring.get("c").is_none());
    }

    #[test]
    fn parse_errors_name_the_problem_but_never_the_secret() {
        let short = encode_secret(b"only-thirty-one-bytes-of-secret");
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "no keys given"),
            (" , \n# nothing\n".into(), "no keys given"),
            (S32.into(), "key #1: expected `kid:secret`"),
            (format!("a:{S32},{S32}"), "key #2: expected `kid:secret`"),
            (format!(":{S32}"), "key #1: invalid key id: empty"),
            (format!("{}:{S32}", "k".repeat(65)), "longer than 32 bytes"),
            (format!("k/1:{S32}"), "only A-Z"),
            (
                "k1:not base64!".into(),
                "key `k1`: secret is not valid base64url",
            ),
            (
                format!("k1:{short}"),
                "key `k1`: secret is 31 bytes, at least 32",
            ),
            (format!("k1:{S32},k1:{S32}"), "key id `k1` appears twice"),
        ];
        for (spec, expected) in cases {
            let message = err(&spec);
            assert!(
                message.contains(expected),
                "spec {spec:?}: message {message:?} lacks {expected:?}"
            );
            assert!(
                !message.contains(S32),
                "message {message:?} leaks the secret"
            );
        }
    }

    #[test]
    fn a_secret_in_the_kid_position_is_not_echoed() {
        // Someone swapped the order: `secret:kid`. The secret is rejected as a key id
        // (too long) and the error names only the entry's position.
        for spec in [format!("{S32}:k1"), format!("{S32}+/:{S32}")] {
            let message = err(&spec);
            assert!(message.starts_with("key #1: invalid key id"), "{message}");
            assert!(
                !message.contains(S32),
                "message {message:?} leaks the secret"
            );
        }
    }

    #[test]
    fn debug_never_prints_secret_bytes() {
        let key = Key::hs256_base64("k1", S32).expect("valid key");
        let ring = KeyRing::new(key.clone());
        let handle = KeyRingHandle::new(ring.clone());
        for text in [
            format!("{key:?}"),
            format!("{ring:?}"),
            format!("{handle:?}"),
        ] {
            assert!(text.contains("k1"), "{text} should name the kid");
            assert!(!text.contains(S32), "{text} leaks the secret");
            assert!(!text.contains("0123456789"), "{text} leaks the raw secret");
        }
    }

    #[test]
    fn handle_replace_is_seen_by_every_clone() {
        let a = KeyRingHandle::new(KeyRing::generate("a").expect("rng"));
        let b = a.clone();
        let old = a.replace(KeyRing::generate("b").expect("rng"));
        assert_eq!(old.signing_key().kid(), "a");
        assert_eq!(b.current().signing_key().kid(), "b");
    }

    #[test]
    fn reload_failure_keeps_the_current_ring() {
        let handle = KeyRingHandle::new(KeyRing::generate("a").expect("rng"));
        let missing = std::env::temp_dir().join("tss-no-such-key-file");
        let e = handle
            .reload_from_file(&missing)
            .expect_err("file is missing");
        assert!(matches!(e, ConfigError::Io { .. }), "got {e:?}");
        assert_eq!(handle.current().signing_key().kid(), "a");
    }

    #[test]
    fn from_file_reads_one_entry_per_line() {
        let path = std::env::temp_dir().join(format!("tss-keys-{}", std::process::id()));
        std::fs::write(&path, format!("new:{S32}\nold:{S32_PADDED_STD}\n")).expect("write");
        let ring = KeyRing::from_file(&path).expect("valid file");
        std::fs::remove_file(&path).ok();
        assert_eq!(ring.kids().collect::<Vec<_>>(), ["new", "old"]);
    }

    #[test]
    fn with_verify_key_rejects_duplicates() {
        let ring = KeyRing::generate("a").expect("rng");
        let e = ring
            .with_verify_key(Key::generate("a").expect("rng"))
            .expect_err("duplicate");
        assert!(matches!(e, ConfigError::DuplicateKeyId { .. }));
    }
}
