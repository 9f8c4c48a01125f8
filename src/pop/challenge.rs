//! Stateless challenges and nonces: a time and an HMAC-SHA256 tag over it, the purpose and
//! what it is for, so a node checks one it never saw issued, and nothing is stored.

use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac as _};
use sha2::Sha256;

use super::ProofError;
use crate::encoding::B64;
use crate::error::{ConfigError, RandomError};

/// The shortest secret accepted, in bytes.
pub const MIN_CHALLENGE_SECRET_LEN: usize = 32;

/// Bytes of the tag kept (128 bits).
const TAG_LEN: usize = 16;

/// How far in the future a challenge's time may be: another node's clock may run ahead.
const FUTURE_SKEW: u64 = 60;

/// What a challenge is for: part of what its tag covers, so one kind is never accepted as
/// another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    /// A DBSC registration challenge, over the session id offered registration.
    #[cfg_attr(not(feature = "dbsc"), allow(dead_code))]
    DbscRegister,
    /// A DBSC refresh challenge, over the key's thumbprint.
    #[cfg_attr(not(feature = "dbsc"), allow(dead_code))]
    DbscRefresh,
    /// The `authorization` a DBSC registration offers, over the session id.
    #[cfg_attr(not(feature = "dbsc"), allow(dead_code))]
    DbscAuthorization,
    /// A DPoP nonce, over nothing but its time window.
    #[cfg_attr(not(feature = "dpop"), allow(dead_code))]
    DpopNonce,
}

impl Label {
    fn as_bytes(self) -> &'static [u8] {
        match self {
            Label::DbscRegister => b"dbsc-register",
            Label::DbscRefresh => b"dbsc-refresh",
            Label::DbscAuthorization => b"dbsc-authorization",
            Label::DpopNonce => b"dpop-nonce",
        }
    }
}

/// The secret that makes challenges (DBSC) and nonces (DPoP) without server state: each is
/// a time and an HMAC-SHA256 tag (128 bits) over that time, its purpose and the session it
/// is for. Every node that checks them needs the same key; make one with
/// `openssl rand -base64 32` and give it to all of them (or [`generate`](Self::generate)
/// one for a single node).
///
/// Debug output never shows the secret.
#[derive(Clone)]
pub struct ChallengeKey {
    mac: Hmac<Sha256>,
}

impl ChallengeKey {
    /// A key from a secret of at least 32 bytes.
    ///
    /// # Errors
    /// [`ConfigError::KeyTooShort`] for a shorter secret.
    pub fn new(secret: &[u8]) -> Result<Self, ConfigError> {
        if secret.len() < MIN_CHALLENGE_SECRET_LEN {
            return Err(ConfigError::KeyTooShort {
                kid: "challenge".to_owned(),
                len: secret.len(),
                min: MIN_CHALLENGE_SECRET_LEN,
            });
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| ConfigError::KeyTooShort {
            kid: "challenge".to_owned(),
            len: secret.len(),
            min: MIN_CHALLENGE_SECRET_LEN,
        })?;
        Ok(ChallengeKey { mac })
    }

    /// A key from 32 random bytes: for one node (another node cannot check its challenges).
    ///
    /// # Errors
    /// [`ConfigError::Random`] when the random source fails.
    pub fn generate() -> Result<Self, ConfigError> {
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        RandomError::fill(secret.as_mut()).map_err(ConfigError::Random)?;
        Self::new(secret.as_ref())
    }

    /// A key from the environment variable `name`: base64url (or standard base64) of at
    /// least 32 bytes.
    ///
    /// # Errors
    /// [`ConfigError::EnvVar`] when it is not set, [`ConfigError::InvalidSecretEncoding`]
    /// when it does not decode, [`ConfigError::KeyTooShort`].
    pub fn from_env(name: &str) -> Result<Self, ConfigError> {
        let text = ConfigError::read_env(name)?;
        let text = text.trim().trim_end_matches('=');
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map(zeroize::Zeroizing::new)
            .map_err(|_| ConfigError::InvalidSecretEncoding {
                kid: "challenge".to_owned(),
            })?;
        Self::new(&secret)
    }

    fn tag(&self, label: Label, time: u64, subject: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(&time.to_be_bytes());
        mac.update(subject);
        mac
    }

    /// A challenge for `subject` made at `time`: base64url of the time (8 bytes) and the
    /// tag (16 bytes), 32 characters.
    pub(crate) fn issue(&self, label: Label, subject: &[u8], time: u64) -> String {
        let tag = self.tag(label, time, subject).finalize().into_bytes();
        let mut raw = [0u8; 8 + TAG_LEN];
        raw[..8].copy_from_slice(&time.to_be_bytes());
        raw[8..].copy_from_slice(&tag[..TAG_LEN]);
        B64.encode(raw)
    }

    /// A tag over `subject` alone (no time): 22 characters.
    #[cfg_attr(not(feature = "dbsc"), allow(dead_code))]
    pub(crate) fn seal(&self, label: Label, subject: &[u8]) -> String {
        let tag = self.tag(label, 0, subject).finalize().into_bytes();
        B64.encode(&tag[..TAG_LEN])
    }

    /// Checks a tag from [`seal`](Self::seal) in constant time.
    #[cfg(test)]
    pub(crate) fn check_seal(&self, label: Label, subject: &[u8], sealed: &str) -> bool {
        let Ok(tag) = B64.decode(sealed) else {
            return false;
        };
        tag.len() == TAG_LEN
            && self
                .tag(label, 0, subject)
                .verify_truncated_left(&tag)
                .is_ok()
    }

    /// Checks a challenge made by [`issue`](Self::issue) for `subject`: the tag in constant
    /// time, then its age against `lifetime` at `now`. Returns the time it was made.
    ///
    /// # Errors
    /// [`ProofError::WrongChallenge`] when it is not one of ours for this subject and
    /// purpose (or claims a time well in the future), [`ProofError::ExpiredChallenge`]
    /// when it is older than `lifetime`.
    pub(crate) fn check(
        &self,
        label: Label,
        subject: &[u8],
        challenge: &str,
        now: u64,
        lifetime: u64,
    ) -> Result<u64, ProofError> {
        if challenge.len() != 32 {
            return Err(ProofError::WrongChallenge);
        }
        let mut raw = [0u8; 8 + TAG_LEN + 2];
        match B64.decode_slice(challenge, &mut raw) {
            Ok(n) if n == 8 + TAG_LEN => {}
            _ => return Err(ProofError::WrongChallenge),
        }
        let time = u64::from_be_bytes(
            raw[..8]
                .try_into()
                .map_err(|_| ProofError::WrongChallenge)?,
        );
        self.tag(label, time, subject)
            .verify_truncated_left(&raw[8..8 + TAG_LEN])
            .map_err(|_| ProofError::WrongChallenge)?;
        if time > now.saturating_add(FUTURE_SKEW) {
            return Err(ProofError::WrongChallenge);
        }
        if now > time.saturating_add(lifetime) {
            return Err(ProofError::ExpiredChallenge);
        }
        Ok(time)
    }
}

impl fmt::Debug for ChallengeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChallengeKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_checks_only_for_its_subject_purpose_and_time() {
        let key = ChallengeKey::new(&[7; 32]).expect("a key");
        let other = ChallengeKey::new(&[8; 32]).expect("a key");
        let c = key.issue(Label::DbscRegister, b"sid-a", 1000);
        assert_eq!(c.len(), 32);
        assert_eq!(
            key.check(Label::DbscRegister, b"sid-a", &c, 1100, 300),
            Ok(1000)
        );
        for (result, why) in [
            (
                key.check(Label::DbscRegister, b"sid-b", &c, 1100, 300),
                "another session",
            ),
            (
                key.check(Label::DbscRefresh, b"sid-a", &c, 1100, 300),
                "another purpose",
            ),
            (
                other.check(Label::DbscRegister, b"sid-a", &c, 1100, 300),
                "another key",
            ),
            (
                key.check(Label::DbscRegister, b"sid-a", "x", 1100, 300),
                "not a challenge",
            ),
        ] {
            assert_eq!(result, Err(ProofError::WrongChallenge), "{why}");
        }
        assert_eq!(
            key.check(Label::DbscRegister, b"sid-a", &c, 1301, 300),
            Err(ProofError::ExpiredChallenge)
        );
        assert!(key.check_seal(
            Label::DbscAuthorization,
            b"s",
            &key.seal(Label::DbscAuthorization, b"s")
        ));
        assert!(!key.check_seal(
            Label::DbscAuthorization,
            b"t",
            &key.seal(Label::DbscAuthorization, b"s")
        ));
        assert_eq!(format!("{key:?}"), "ChallengeKey(..)");
    }
}
