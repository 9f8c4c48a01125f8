//! [`RegistrationKey`] and [`RegistryEntry`]: a node's public key as the registry carries
//! it, authenticated by the signing tier.
//!
//! An entry is one line of text:
//!
//! ```text
//! v1:<kid>:<x>:<signs_until>:<expires_at>:<mac>
//! ```
//!
//! `x` is the Ed25519 public key (base64url, 32 bytes), the times are Unix seconds, and
//! `mac` is HMAC-SHA256 under the registration key over the domain-separation label
//! `tss-node-key/v1` and a newline, followed by everything before the last `:`. Only nodes
//! holding the registration key can write an entry other nodes accept, so write access to
//! the store that carries entries (Redis) is not enough to add a key.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac as _};

use crate::encoding::{B64, ct_eq};
use crate::error::ConfigError;
use crate::keys::hmac::{HmacSha256, MIN_SECRET_LEN, decode_secret};
use crate::keys::key::{MAX_PUBLIC_KID_LEN, check_kid};
use crate::keys::{ED25519_KEY_LEN, Key};

/// The longest entry accepted, in bytes. Ours are under 200.
pub const MAX_ENTRY_LEN: usize = 256;

const LABEL: &[u8] = b"tss-node-key/v1\n";
const VERSION: &str = "v1";

/// The secret that authenticates registry entries: held by the signing nodes (the gateway
/// tier) only, never by downstream services, which verify through the JWKS instead.
///
/// At least 32 bytes. `Debug` never shows it.
#[derive(Clone)]
pub struct RegistrationKey {
    mac: HmacSha256,
}

impl RegistrationKey {
    /// A registration key from raw bytes (at least 32).
    ///
    /// # Errors
    /// [`ConfigError::KeyTooShort`] when shorter than 32 bytes.
    pub fn new(secret: &[u8]) -> Result<Self, ConfigError> {
        let too_short = || ConfigError::KeyTooShort {
            kid: "registration key".to_owned(),
            len: secret.len(),
            min: MIN_SECRET_LEN,
        };
        if secret.len() < MIN_SECRET_LEN {
            return Err(too_short());
        }
        // HMAC takes keys of any length: this never fails.
        let mac = HmacSha256::new_from_slice(secret).map_err(|_| too_short())?;
        Ok(RegistrationKey { mac })
    }

    /// A registration key from base64url text (the standard alphabet and `=` padding are
    /// accepted too), as in an environment variable.
    ///
    /// # Errors
    /// [`ConfigError::InvalidSecretEncoding`], or as [`new`](RegistrationKey::new).
    pub fn from_base64(text: &str) -> Result<Self, ConfigError> {
        let bytes =
            decode_secret(text.trim()).ok_or_else(|| ConfigError::InvalidSecretEncoding {
                kid: "registration key".to_owned(),
            })?;
        Self::new(&bytes)
    }

    /// Reads the environment variable `name` (see [`from_base64`](RegistrationKey::from_base64)).
    ///
    /// # Errors
    /// [`ConfigError::EnvVar`] when unset or not Unicode, otherwise as `from_base64`.
    pub fn from_env(name: &str) -> Result<Self, ConfigError> {
        let value = ConfigError::read_env(name)?;
        Self::from_base64(&value)
    }

    /// A random registration key, for a single process or a test: nodes that do not share
    /// it ignore each other's entries.
    ///
    /// # Errors
    /// [`ConfigError::Random`] when the operating system's random source fails.
    pub fn generate() -> Result<Self, ConfigError> {
        let mut secret = [0u8; MIN_SECRET_LEN];
        crate::error::RandomError::fill(&mut secret).map_err(ConfigError::Random)?;
        let key = Self::new(&secret);
        zeroize::Zeroize::zeroize(&mut secret);
        key
    }

    fn tag(&self, body: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(LABEL);
        mac.update(body.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for RegistrationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RegistrationKey(..)")
    }
}

/// A registry entry does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidEntry(&'static str);

impl fmt::Display for InvalidEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid key registry entry: {}", self.0)
    }
}

impl std::error::Error for InvalidEntry {}

/// A node's public key with the times that bound its use, and the registration MAC.
///
/// - `signs_until`: the node promises not to sign with the key after this time unless it
///   publishes a newer entry (its heartbeat moves it forward);
/// - `expires_at`: `signs_until` plus the idle timeout plus the leeway: after it, no token
///   the key signed can still be valid, and every node drops the key.
///
/// An entry read from a store is not trusted until [`verify`](RegistryEntry::verify)
/// passes with the registration key.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryEntry {
    kid: Box<str>,
    public: [u8; ED25519_KEY_LEN],
    signs_until: u64,
    expires_at: u64,
    mac: [u8; 32],
}

impl RegistryEntry {
    /// An entry for `key`'s public half, authenticated with `registration`. `None` for a
    /// key that is not Ed25519.
    pub fn new(
        registration: &RegistrationKey,
        key: &Key,
        signs_until: u64,
        expires_at: u64,
    ) -> Option<Self> {
        let public = key.ed25519_public_bytes()?;
        let mut entry = RegistryEntry {
            kid: key.kid().into(),
            public,
            signs_until,
            expires_at,
            mac: [0; 32],
        };
        entry.mac = registration.tag(&entry.body());
        Some(entry)
    }

    /// Everything the MAC covers.
    fn body(&self) -> String {
        format!(
            "{VERSION}:{}:{}:{}:{}",
            self.kid,
            URL_SAFE_NO_PAD.encode(self.public),
            self.signs_until,
            self.expires_at
        )
    }

    /// Parses the text form, strictly: the length cap first, six `:`-separated fields,
    /// canonical base64url, decimal times without leading zeros or signs.
    ///
    /// # Errors
    /// [`InvalidEntry`] naming the first problem.
    pub fn parse(text: &str) -> Result<Self, InvalidEntry> {
        if text.len() > MAX_ENTRY_LEN {
            return Err(InvalidEntry("longer than 256 bytes"));
        }
        let fields: Vec<&str> = text.split(':').collect();
        let [version, kid, x, signs_until, expires_at, mac] = fields[..] else {
            return Err(InvalidEntry("expected six ':'-separated fields"));
        };
        if version != VERSION {
            return Err(InvalidEntry("unknown version"));
        }
        check_kid(1, kid, MAX_PUBLIC_KID_LEN).map_err(|_| InvalidEntry("invalid key id"))?;
        let public =
            decode_exact::<ED25519_KEY_LEN>(x).ok_or(InvalidEntry("invalid public key"))?;
        let mac = decode_exact::<32>(mac).ok_or(InvalidEntry("invalid MAC"))?;
        let time = |t: &str| {
            let canonical = !t.is_empty()
                && t.len() <= 20
                && t.bytes().all(|b| b.is_ascii_digit())
                && (t == "0" || !t.starts_with('0'));
            canonical.then(|| t.parse::<u64>().ok()).flatten()
        };
        let signs_until = time(signs_until).ok_or(InvalidEntry("invalid time"))?;
        let expires_at = time(expires_at).ok_or(InvalidEntry("invalid time"))?;
        Ok(RegistryEntry {
            kid: kid.into(),
            public,
            signs_until,
            expires_at,
            mac,
        })
    }

    /// The text form, as stores carry it.
    pub fn to_text(&self) -> String {
        let mut text = self.body();
        text.push(':');
        B64.encode_string(self.mac, &mut text);
        text
    }

    /// Whether the registration MAC is right (constant-time comparison).
    pub fn verify(&self, registration: &RegistrationKey) -> bool {
        ct_eq(&registration.tag(&self.body()), &self.mac)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The Ed25519 public key's 32 bytes.
    pub fn public_key_bytes(&self) -> &[u8; ED25519_KEY_LEN] {
        &self.public
    }

    /// Until when the node may sign with the key (Unix seconds).
    pub fn signs_until(&self) -> u64 {
        self.signs_until
    }

    /// When every node drops the key (Unix seconds).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// The verify-only key the entry describes.
    ///
    /// # Errors
    /// [`ConfigError::InvalidPublicKey`] for bytes that are not a usable Ed25519 key.
    pub fn key(&self) -> Result<Key, ConfigError> {
        Key::ed25519_public(&self.kid, &self.public)
    }
}

impl fmt::Debug for RegistryEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryEntry")
            .field("kid", &self.kid)
            .field("signs_until", &self.signs_until)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Decodes canonical base64url of exactly `N` bytes.
fn decode_exact<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = B64.decode(text).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(byte: u8) -> RegistrationKey {
        RegistrationKey::new(&[byte; 32]).expect("32 bytes")
    }

    fn key() -> Key {
        Key::ed25519_from_seed("node-1", &[9; 32]).expect("valid")
    }

    #[test]
    fn entries_round_trip_and_verify_only_with_the_right_key() {
        let entry = RegistryEntry::new(&registration(1), &key(), 1_000, 2_860).expect("Ed25519");
        let text = entry.to_text();
        assert!(text.starts_with("v1:node-1:") && text.len() < 200, "{text}");
        let parsed = RegistryEntry::parse(&text).expect("parses");
        assert_eq!(parsed, entry);
        assert!(parsed.verify(&registration(1)));
        assert!(!parsed.verify(&registration(2)), "another registration key");
        assert_eq!(parsed.key().expect("valid").kid(), "node-1");
    }

    #[test]
    fn every_field_is_covered_by_the_mac() {
        let reg = registration(1);
        let text = RegistryEntry::new(&reg, &key(), 1_000, 2_860)
            .expect("Ed25519")
            .to_text();
        let other_x = URL_SAFE_NO_PAD.encode(
            Key::ed25519_from_seed("x", &[8; 32])
                .expect("valid")
                .ed25519_public_bytes()
                .expect("Ed25519"),
        );
        let fields: Vec<&str> = text.split(':').collect();
        for (index, replacement) in [
            (1, "node-2"),
            (2, other_x.as_str()),
            (3, "1001"),
            (4, "99999"),
        ] {
            let mut changed = fields.clone();
            changed[index] = replacement;
            let entry = RegistryEntry::parse(&changed.join(":")).expect("still parses");
            assert!(
                !entry.verify(&reg),
                "field {index} changed and still verifies"
            );
        }
    }

    #[test]
    fn parsing_is_strict() {
        let text = RegistryEntry::new(&registration(1), &key(), 1_000, 2_860)
            .expect("Ed25519")
            .to_text();
        let fields: Vec<&str> = text.split(':').collect();
        let with = |index: usize, value: &str| {
            let mut changed = fields.clone();
            changed[index] = value;
            changed.join(":")
        };
        let short_x = URL_SAFE_NO_PAD.encode([1u8; 31]);
        for bad in [
            String::new(),
            "v1:a:b".to_owned(),
            format!("{text}:extra"),
            with(0, "v2"),
            with(1, ""),
            with(1, "bad kid"),
            with(2, &short_x),
            with(2, &format!("{}=", fields[2])),
            with(3, "01000"),
            with(3, "+1000"),
            with(3, "-1"),
            with(3, "99999999999999999999999"),
            with(4, ""),
            with(5, "AAAA"),
            "v1:".repeat(100),
        ] {
            assert!(
                RegistryEntry::parse(&bad).is_err(),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let reg = RegistrationKey::new(b"registration-secret-of-32-bytes!").expect("32 bytes");
        assert_eq!(format!("{reg:?}"), "RegistrationKey(..)");
        assert!(RegistrationKey::new(&[1; 31]).is_err());
        assert!(RegistrationKey::from_base64("not base64 !").is_err());
    }
}
