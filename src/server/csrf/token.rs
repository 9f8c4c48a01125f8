//! The CSRF token itself: its keys, how one is made for a session id and masked, and how
//! one is checked. No HTTP in here.
//!
//! ```text
//! key_k   = HMAC-SHA256(hs256_secret_k, "tower-stateless-session csrf-key v1")
//! id_k    = HMAC-SHA256(hs256_secret_k, "tower-stateless-session csrf-key-id v1")[..3]
//! tag     = HMAC-SHA256(key_k, purpose || 0x00 || sid)[..16]
//! pad     = 16 random bytes, new for every token handed out
//! token   = base64url(0x01 || id_k || pad || (tag XOR pad))      (36 bytes, 48 characters)
//! ```
//!
//! `purpose` is the session cookie's name, so two layers sharing keys do not accept each
//! other's tokens. Checking finds the key by `id_k` (a public hint, compared as plain
//! bytes), unmasks, and compares the tag with `Mac::verify_truncated_left` (constant time):
//! one MAC per check.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::encoding::B64;
use crate::error::{ConfigError, RandomError, RejectionKind};
use crate::keys::KeyRingHandle;
use crate::token::SessionId;

type HmacSha256 = Hmac<Sha256>;

/// The length of a CSRF token, in characters (base64url, no padding).
pub const CSRF_TOKEN_LEN: usize = 48;

/// The format's version, the token's first byte.
const VERSION: u8 = 1;
/// Bytes of the key id hint.
const ID_LEN: usize = 3;
/// Bytes of the tag, and of the pad that masks it.
const TAG_LEN: usize = 16;
/// The decoded token: version, key id, pad, masked tag.
const RAW_LEN: usize = 1 + ID_LEN + 2 * TAG_LEN;
const PAD_AT: usize = 1 + ID_LEN;
const MASKED_AT: usize = PAD_AT + TAG_LEN;

/// The derivation labels (no `.` in them: see `HmacKey::derive`).
const KEY_LABEL: &[u8] = b"tower-stateless-session csrf-key v1";
const ID_LABEL: &[u8] = b"tower-stateless-session csrf-key-id v1";

/// A CSRF token for the current session, masked afresh each time one is handed out, so no
/// two pages carry the same string and the token is not a constant a compression side
/// channel (BREACH) could recover. Every masking of it verifies for the session until the
/// session's id changes (login, [`renew`](crate::SessionHandle::renew)).
///
/// Put it in a form's hidden [`CSRF_FIELD`](super::CSRF_FIELD) field, or have a script send
/// it in the [`CSRF_HEADER`](super::CSRF_HEADER) header. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// The token: [`CSRF_TOKEN_LEN`] base64url characters, safe in HTML attributes and
    /// headers without escaping.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken(..)")
    }
}

/// One CSRF key, derived from one HS256 key.
#[derive(Clone)]
struct DerivedKey {
    id: [u8; ID_LEN],
    mac: HmacSha256,
}

/// The CSRF keys of one key-ring generation; the first makes new tokens.
struct Derived {
    generation: u64,
    keys: Vec<DerivedKey>,
}

impl Derived {
    fn of(ring: &KeyRingHandle) -> Self {
        let generation = ring.generation();
        let current = ring.current();
        let mut keys = Vec::new();
        // The issuing key first, then the others in ring order.
        let issuing = current.issuing_key();
        for key in issuing.into_iter().chain(
            current
                .iter()
                .filter(|k| issuing.is_none_or(|i| i.kid() != k.kid())),
        ) {
            let (Some(secret), Some(id)) =
                (key.derive_secret(KEY_LABEL), key.derive_secret(ID_LABEL))
            else {
                continue;
            };
            let Ok(mac) = HmacSha256::new_from_slice(&secret[..]) else {
                continue;
            };
            let mut hint = [0u8; ID_LEN];
            hint.copy_from_slice(&id[..ID_LEN]);
            keys.push(DerivedKey { id: hint, mac });
        }
        Derived { generation, keys }
    }
}

/// The keys of a layer's CSRF tokens: derived from a key ring's HS256 keys, again whenever
/// the ring is replaced.
pub(crate) struct CsrfKeys {
    ring: KeyRingHandle,
    /// The session cookie's name, bound into every tag.
    purpose: Box<[u8]>,
    derived: ArcSwap<Derived>,
}

impl CsrfKeys {
    /// Keys from `ring`'s HS256 keys, for tokens bound to `purpose`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidSetting`] when the ring holds no HS256 key.
    pub(crate) fn new(ring: KeyRingHandle, purpose: &str) -> Result<Self, ConfigError> {
        let derived = Derived::of(&ring);
        if derived.keys.is_empty() {
            return Err(ConfigError::InvalidSetting {
                setting: "CSRF key ring",
                reason: "a ring holding an HS256 key to derive the CSRF keys from (node keys, \
                         a JWKS and encryption keys have no shared secret to derive from: \
                         set with_csrf_keys)",
            });
        }
        Ok(CsrfKeys {
            ring,
            purpose: purpose.as_bytes().into(),
            derived: ArcSwap::from_pointee(derived),
        })
    }

    /// The keys for the ring as it is now (derived again after a replacement).
    fn current(&self) -> Arc<Derived> {
        let derived = self.derived.load_full();
        if derived.generation == self.ring.generation() {
            return derived;
        }
        let fresh = Arc::new(Derived::of(&self.ring));
        self.derived.store(Arc::clone(&fresh));
        fresh
    }

    /// The MAC state of `key` fed this layer's message for `sid`.
    fn fed(&self, key: &DerivedKey, sid: &SessionId) -> HmacSha256 {
        let mut mac = key.mac.clone();
        mac.update(&self.purpose);
        mac.update(&[0]);
        mac.update(sid.as_bytes());
        mac
    }

    /// A fresh masking of the token of session `sid`; `None` when the ring (replaced since
    /// the layer was built) holds no HS256 key, or the random source fails.
    pub(crate) fn issue(&self, sid: &SessionId) -> Option<CsrfToken> {
        let derived = self.current();
        let key = derived.keys.first()?;
        let tag = self.fed(key, sid).finalize().into_bytes();
        let mut raw = [0u8; RAW_LEN];
        raw[0] = VERSION;
        raw[1..PAD_AT].copy_from_slice(&key.id);
        RandomError::fill(&mut raw[PAD_AT..MASKED_AT]).ok()?;
        for i in 0..TAG_LEN {
            raw[MASKED_AT + i] = tag[i] ^ raw[PAD_AT + i];
        }
        let mut out = [0u8; CSRF_TOKEN_LEN];
        let written = B64.encode_slice(raw, &mut out).ok()?;
        // 36 bytes encode to 48 ASCII characters.
        let text = std::str::from_utf8(out.get(..written)?).ok()?;
        Some(CsrfToken(text.to_owned()))
    }

    /// Whether `token` is a masking of the token of session `sid`, under a key of the ring
    /// as it is now: [`RejectionKind::CsrfTokenInvalid`] for anything else, whatever is
    /// wrong with it.
    pub(crate) fn check(&self, token: &[u8], sid: &SessionId) -> Result<(), RejectionKind> {
        let invalid = RejectionKind::CsrfTokenInvalid;
        if token.len() != CSRF_TOKEN_LEN {
            return Err(invalid);
        }
        // Room for the decoder's estimate; the strict engine refuses any other spelling.
        let mut raw = [0u8; RAW_LEN + 3];
        if B64.decode_slice(token, &mut raw) != Ok(RAW_LEN) || raw[0] != VERSION {
            return Err(invalid);
        }
        let derived = self.current();
        let key = derived
            .keys
            .iter()
            .find(|k| k.id[..] == raw[1..PAD_AT])
            .ok_or(invalid)?;
        let mut tag = [0u8; TAG_LEN];
        for (i, byte) in tag.iter_mut().enumerate() {
            *byte = raw[MASKED_AT + i] ^ raw[PAD_AT + i];
        }
        self.fed(key, sid)
            .verify_truncated_left(&tag)
            .map_err(|_| invalid)
    }
}

impl fmt::Debug for CsrfKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfKeys")
            .field("ring", &self.ring)
            .field("keys", &self.current().keys.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Key, KeyRing};

    fn keys(secret: u8) -> CsrfKeys {
        let ring = KeyRing::new(Key::hs256("k1", &[secret; 32]).expect("key"));
        CsrfKeys::new(ring.into(), "session").expect("keys")
    }

    fn sid(n: u8) -> SessionId {
        SessionId::from_bytes([n; 16])
    }

    #[test]
    fn a_token_verifies_for_its_session_only() {
        let keys = keys(1);
        let token = keys.issue(&sid(1)).expect("token");
        assert_eq!(token.as_str().len(), CSRF_TOKEN_LEN);
        assert_eq!(keys.check(token.as_str().as_bytes(), &sid(1)), Ok(()));
        assert_eq!(
            keys.check(token.as_str().as_bytes(), &sid(2)),
            Err(RejectionKind::CsrfTokenInvalid)
        );
        assert_eq!(format!("{token:?}"), "CsrfToken(..)");
    }

    #[test]
    fn each_masking_differs_and_verifies() {
        let keys = keys(1);
        let a = keys.issue(&sid(1)).expect("token");
        let b = keys.issue(&sid(1)).expect("token");
        assert_ne!(a, b, "masked per call");
        for token in [a, b] {
            assert_eq!(keys.check(token.as_str().as_bytes(), &sid(1)), Ok(()));
        }
    }

    #[test]
    fn other_keys_and_purposes_do_not_verify() {
        let token = keys(1).issue(&sid(1)).expect("token");
        assert!(keys(2).check(token.as_str().as_bytes(), &sid(1)).is_err());
        let ring = KeyRing::new(Key::hs256("k1", &[1; 32]).expect("key"));
        let other = CsrfKeys::new(ring.into(), "other-cookie").expect("keys");
        assert!(other.check(token.as_str().as_bytes(), &sid(1)).is_err());
    }

    #[test]
    fn a_rotated_ring_still_checks_tokens_of_its_older_key() {
        let old = Key::hs256("k1", &[1; 32]).expect("key");
        let handle = KeyRingHandle::new(KeyRing::new(old.clone()));
        let keys = CsrfKeys::new(handle.clone(), "session").expect("keys");
        let before = keys.issue(&sid(1)).expect("token");
        let new = Key::hs256("k2", &[2; 32]).expect("key");
        handle.replace(
            KeyRing::new(new)
                .with_verify_key(old)
                .expect("a second key"),
        );
        let after = keys.issue(&sid(1)).expect("token");
        assert_ne!(before.as_str()[..4], after.as_str()[..4], "another key id");
        for token in [&before, &after] {
            assert_eq!(keys.check(token.as_str().as_bytes(), &sid(1)), Ok(()));
        }
        handle.replace(KeyRing::new(Key::hs256("k3", &[3; 32]).expect("key")));
        assert!(
            keys.check(before.as_str().as_bytes(), &sid(1)).is_err(),
            "a key dropped from the ring no longer checks"
        );
    }

    #[test]
    fn the_signing_key_is_not_the_csrf_key() {
        // A tag made with the HS256 secret itself does not verify.
        let keys = keys(1);
        let mut mac = HmacSha256::new_from_slice(&[1; 32]).expect("key");
        mac.update(b"session\0");
        mac.update(sid(1).as_bytes());
        let tag = mac.finalize().into_bytes();
        let token = keys.issue(&sid(1)).expect("token");
        let mut raw = [0u8; RAW_LEN + 3];
        assert_eq!(B64.decode_slice(token.as_str(), &mut raw), Ok(RAW_LEN));
        raw[PAD_AT..MASKED_AT].fill(0);
        raw[MASKED_AT..RAW_LEN].copy_from_slice(&tag[..TAG_LEN]);
        let forged = B64.encode(&raw[..RAW_LEN]);
        assert!(keys.check(forged.as_bytes(), &sid(1)).is_err());
    }

    #[test]
    fn damaged_tokens_are_invalid_without_a_panic() {
        let keys = keys(1);
        let token = keys.issue(&sid(1)).expect("token");
        let text = token.as_str();
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            text[..47].into(),
            format!("{text}A").into(),
            vec![b'='; 48],
            vec![0xff; 48],
            text.replace(|c: char| c.is_ascii_alphanumeric(), "_")
                .into(),
        ];
        // Another version byte.
        let mut raw = [0u8; RAW_LEN + 3];
        assert_eq!(B64.decode_slice(text, &mut raw), Ok(RAW_LEN));
        raw[0] = 2;
        cases.push(B64.encode(&raw[..RAW_LEN]).into());
        for i in 0..CSRF_TOKEN_LEN {
            let mut flipped = text.as_bytes().to_vec();
            flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
            cases.push(flipped);
        }
        for case in cases {
            assert_eq!(
                keys.check(&case, &sid(1)),
                Err(RejectionKind::CsrfTokenInvalid),
                "{:?}",
                String::from_utf8_lossy(&case)
            );
        }
    }

    #[test]
    fn a_ring_without_a_shared_secret_needs_keys_of_its_own() {
        #[cfg(feature = "node-keys")]
        {
            let ring = KeyRing::new(Key::generate_ed25519().expect("key"));
            let error = CsrfKeys::new(ring.into(), "session").expect_err("no HS256 key");
            assert!(error.to_string().contains("with_csrf_keys"), "{error}");
        }
    }
}
