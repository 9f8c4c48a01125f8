//! [`Key`]: one key with its key id, whatever its kind, and [`Algorithm`].
//!
//! Kinds: HS256 and Ed25519 keys sign and verify (JWS); encryption keys (`A256KW` or `dir`,
//! with `A256GCM`) encrypt and decrypt (JWE). One key, one purpose: a key is of exactly one
//! kind, and a ring refuses the same secret under two purposes (see
//! [`secret_fingerprint`]).
//!
//! A key's material is one of a closed set of kinds ([`Material`]); everything that depends
//! on the kind (the algorithm, the signature's length, signing, verifying) is answered here
//! by matching on it, so a new kind joins by adding a variant and its arms.

use std::fmt;

use base64::Engine as _;

use sha2::{Digest as _, Sha256};

#[cfg(feature = "node-keys")]
use super::ed25519::{self, ED25519_KEY_LEN, Ed25519Key};
#[cfg(feature = "jwe")]
use super::encryption::{EncryptionKey, KeyManagement};
use super::hmac::{self, HmacKey, MIN_SECRET_LEN};
use crate::encoding::B64;
use crate::error::{ConfigError, Rejection};

/// The `typ` of session tokens (RFC 8725 §3.11 explicit typing), written in the header each
/// signing key precomputes. Recipients compare media types case-insensitively and may see
/// it with or without the `application/` prefix.
pub const TOKEN_TYPE: &str = "sess+jwt";

/// The longest key id accepted in a key-ring specification (`kid:secret`), in bytes.
///
/// Kept below the length of an encoded 32-byte secret (43 characters), so a secret pasted
/// into the key-id position is rejected as a key id and never echoed in an error.
pub const MAX_KID_LEN: usize = 32;

/// The longest key id accepted for a public key, in bytes. Long enough for an RFC 7638
/// thumbprint (43 characters), which is the key id of a node key.
pub const MAX_PUBLIC_KID_LEN: usize = 64;

/// The algorithm (the header's `alg`) a key is for: a signature algorithm, or for an
/// encryption key its key management (always with `A256GCM` content encryption). The key
/// decides it; a token's header can only agree with it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC with SHA-256 (RFC 7518 §3.2).
    HS256,
    /// Ed25519 signatures (RFC 8037), written `"alg":"EdDSA"`; the fully-specified
    /// `"Ed25519"` of RFC 9864 is accepted on input.
    EdDSA,
    /// Encryption (JWE) with a fresh content key per token, wrapped with AES key wrap under
    /// this 256-bit key (RFC 7518 §4.4), and `A256GCM` content encryption.
    A256KW,
    /// Encryption (JWE) with this 256-bit key as the content key of every token (`dir`,
    /// RFC 7518 §4.5) and `A256GCM` content encryption.
    Dir,
}

impl Algorithm {
    /// The JOSE name, as it appears in a header's `alg`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::A256KW => "A256KW",
            Algorithm::Dir => "dir",
        }
    }

    /// Whether this algorithm encrypts (JWE) rather than signs (JWS).
    pub fn encrypts(&self) -> bool {
        matches!(self, Algorithm::A256KW | Algorithm::Dir)
    }

    /// Whether a header's `alg` names this algorithm: its own name, and for
    /// [`EdDSA`](Algorithm::EdDSA) also `Ed25519`. Case-sensitive, as JOSE names are.
    pub fn is_named(&self, alg: &str) -> bool {
        match self {
            Algorithm::HS256 => alg == "HS256",
            Algorithm::EdDSA => alg == "EdDSA" || alg == "Ed25519",
            Algorithm::A256KW => alg == "A256KW",
            Algorithm::Dir => alg == "dir",
        }
    }
}

/// What a key is made of. One kind per variant; the ring treats them alike.
#[derive(Clone)]
pub(crate) enum Material {
    /// An HS256 secret, pre-keyed.
    Hs256(HmacKey),
    /// An Ed25519 public key, with its private half when this process signs with it.
    #[cfg(feature = "node-keys")]
    Ed25519(Ed25519Key),
    /// An AES-256 key for encrypted tokens.
    #[cfg(feature = "jwe")]
    Encryption(EncryptionKey),
}

/// A key with its key id, ready to use.
///
/// Three kinds today:
/// - **HS256** ([`Key::hs256`]): a shared secret that both signs and verifies. The secret
///   is consumed into a pre-keyed HMAC state when the key is built.
/// - **Ed25519** (`EdDSA`, [`Key::generate_ed25519`]): a key pair whose private half signs
///   and whose public half verifies; a key built from a public key alone
///   ([`Key::ed25519_public`]) only verifies, so a service holding it can check sessions
///   but never forge one.
/// - **Encryption** ([`Key::encryption`], `A256KW` or `dir`): a 256-bit AES key that
///   encrypts new tokens (JWE, `A256GCM`) when it is the ring's first key, and decrypts
///   tokens naming its `kid`. The claims of such tokens are unreadable without the key.
///
/// One key, one purpose: a key signs or encrypts, never both, and a [`KeyRing`] refuses the
/// same secret under two purposes (an HS256 secret reused as an encryption key, or one AES
/// key used both to wrap and directly). Give each purpose its own random secret.
///
/// [`KeyRing`]: crate::KeyRing
///
/// The key's encoded token header is precomputed, so using a key costs no header
/// serialization. `Debug` shows the key id and algorithm only, never key material.
#[derive(Clone)]
pub struct Key {
    kid: Box<str>,
    material: Material,
    /// `base64url({"alg":"<alg>","kid":"<kid>","typ":"<TOKEN_TYPE>"})`.
    header: Box<str>,
}

impl Key {
    fn assemble(kid: &str, mut material: Material) -> Self {
        let alg = match &material {
            Material::Hs256(_) => Algorithm::HS256,
            #[cfg(feature = "node-keys")]
            Material::Ed25519(_) => Algorithm::EdDSA,
            #[cfg(feature = "jwe")]
            // Encryption keys write a JWE header of their own (per purpose); no JWS header
            // can ever match theirs.
            #[cfg(feature = "jwe")]
            Material::Encryption(_) => {
                return Key {
                    kid: kid.into(),
                    material,
                    header: Box::default(),
                };
            }
        };
        let json = format!(
            r#"{{"alg":"{}","kid":"{kid}","typ":"{TOKEN_TYPE}"}}"#,
            alg.as_str()
        );
        let header = B64.encode(json);
        // Irrefutable in a build with HS256 keys only.
        #[allow(irrefutable_let_patterns)]
        if let Material::Hs256(key) = &mut material {
            key.prime(session_token_prefix(&header).as_bytes());
        }
        Key {
            kid: kid.into(),
            material,
            header: header.into_boxed_str(),
        }
    }

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
    pub fn generate_hs256(kid: &str) -> Result<Self, ConfigError> {
        let mut secret = [0u8; MIN_SECRET_LEN];
        crate::error::RandomError::fill(&mut secret).map_err(ConfigError::Random)?;
        let key = Self::hs256(kid, &secret);
        zeroize::Zeroize::zeroize(&mut secret);
        key
    }

    #[cfg(feature = "node-keys")]
    /// A fresh Ed25519 key pair for this node, from the operating system's random source;
    /// its key id is the RFC 7638 thumbprint of its public key.
    ///
    /// The private half exists only in this process's memory: there is no way to read it
    /// back out, `Debug` never shows it, and it is zeroized when the last clone of the key
    /// is dropped. Other services verify with the public half
    /// ([`public_key`](Key::public_key)), which the registry and the JWKS publish.
    ///
    /// ```
    /// use tower_stateless_session::Key;
    /// use tower_stateless_session::keys::Algorithm;
    ///
    /// let key = Key::generate_ed25519()?;
    /// assert_eq!(key.algorithm(), Algorithm::EdDSA);
    /// assert_eq!(key.kid().len(), 43, "an RFC 7638 thumbprint");
    /// assert!(key.can_sign() && !key.public_key().expect("Ed25519").can_sign());
    /// # Ok::<(), tower_stateless_session::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::Random`] when the operating system's random source fails.
    pub fn generate_ed25519() -> Result<Self, ConfigError> {
        let key = Ed25519Key::generate().map_err(ConfigError::Random)?;
        let kid = ed25519::thumbprint(&key.public_bytes());
        Ok(Self::assemble(&kid, Material::Ed25519(key)))
    }

    #[cfg(feature = "node-keys")]
    /// An Ed25519 key pair from its 32-byte private seed (the RFC 8032 private key, the
    /// JWK's `d`), for a key kept in a secrets manager rather than made at startup.
    ///
    /// # Errors
    /// [`ConfigError::InvalidKeyId`] when `kid` is empty, longer than
    /// [`MAX_PUBLIC_KID_LEN`] or uses characters outside `A-Z a-z 0-9 . _ -`;
    /// [`ConfigError::WrongKeyLength`] when the seed is not exactly 32 bytes.
    pub fn ed25519_from_seed(kid: &str, seed: &[u8]) -> Result<Self, ConfigError> {
        check_kid(1, kid, MAX_PUBLIC_KID_LEN)?;
        let mut copy: [u8; ED25519_KEY_LEN] =
            seed.try_into().map_err(|_| ConfigError::WrongKeyLength {
                kid: kid.to_owned(),
                len: seed.len(),
                expected: ED25519_KEY_LEN,
            })?;
        let key = Ed25519Key::from_seed(&copy);
        zeroize::Zeroize::zeroize(&mut copy);
        Ok(Self::assemble(kid, Material::Ed25519(key)))
    }

    #[cfg(feature = "node-keys")]
    /// A verify-only Ed25519 key from the 32 bytes of a public key (the JWK's `x`).
    ///
    /// # Errors
    /// [`ConfigError::InvalidKeyId`] as for [`ed25519_from_seed`](Key::ed25519_from_seed);
    /// [`ConfigError::InvalidPublicKey`] when the bytes are not exactly 32, do not encode a
    /// curve point, or encode a weak (small-order) one.
    pub fn ed25519_public(kid: &str, public: &[u8]) -> Result<Self, ConfigError> {
        check_kid(1, kid, MAX_PUBLIC_KID_LEN)?;
        let key = Ed25519Key::from_public(public).map_err(|p| ConfigError::InvalidPublicKey {
            kid: kid.to_owned(),
            reason: p.reason(),
        })?;
        Ok(Self::assemble(kid, Material::Ed25519(key)))
    }

    #[cfg(feature = "jwe")]
    /// An encryption key (JWE with `A256GCM`) from exactly 32 secret bytes, for the key
    /// management `management` (`A256KW`, the default and the one to prefer, or `dir`).
    ///
    /// ```
    /// use tower_stateless_session::keys::KeyManagement;
    /// use tower_stateless_session::{Key, KeyRing};
    /// use tower_stateless_session::keys::Algorithm;
    ///
    /// let secret = [7u8; 32]; // use 32 random bytes
    /// let key = Key::encryption("e1", KeyManagement::A256KW, &secret)?;
    /// assert_eq!(key.algorithm(), Algorithm::A256KW);
    /// // The first key of a ring issues: here every new token is encrypted, and tokens
    /// // signed by the old HS256 key are still accepted (and re-issued encrypted).
    /// let ring = KeyRing::from_keys([key, Key::generate_hs256("k1")?])?;
    /// # Ok::<(), tower_stateless_session::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::InvalidKeyId`] for a bad `kid` (as for [`Key::hs256`]);
    /// [`ConfigError::WrongKeyLength`] unless the secret is exactly 32 bytes.
    pub fn encryption(
        kid: &str,
        management: KeyManagement,
        secret: &[u8],
    ) -> Result<Self, ConfigError> {
        Self::encryption_at(1, kid, management, secret)
    }

    #[cfg(feature = "jwe")]
    /// A new encryption key with a random secret from the operating system, for tests and
    /// single-process demos.
    ///
    /// # Errors
    /// [`ConfigError::InvalidKeyId`] for a bad `kid`; [`ConfigError::Random`] when the
    /// random source fails.
    pub fn generate_encryption(kid: &str, management: KeyManagement) -> Result<Self, ConfigError> {
        let key = EncryptionKey::generate(kid, management)?;
        Ok(Self::assemble(kid, Material::Encryption(key)))
    }

    #[cfg(feature = "jwe")]
    fn encryption_at(
        position: usize,
        kid: &str,
        management: KeyManagement,
        secret: &[u8],
    ) -> Result<Self, ConfigError> {
        check_kid(position, kid, MAX_KID_LEN)?;
        let key = EncryptionKey::new(kid, management, secret)?;
        Ok(Self::assemble(kid, Material::Encryption(key)))
    }

    #[cfg(feature = "jwe")]
    /// An encryption key from a `kid:secret` entry whose secret is base64url.
    pub(crate) fn encryption_from_entry(
        position: usize,
        kid: &str,
        secret: &str,
        management: KeyManagement,
    ) -> Result<Self, ConfigError> {
        Self::decoded_entry(position, kid, secret, |bytes| {
            Self::encryption_at(position, kid, management, bytes)
        })
    }

    /// An HS256 key from a `kid:secret` entry whose secret is base64url.
    pub(crate) fn from_entry(
        position: usize,
        kid: &str,
        secret: &str,
    ) -> Result<Self, ConfigError> {
        Self::decoded_entry(position, kid, secret, |bytes| {
            Self::hs256_at(position, kid, bytes)
        })
    }

    /// Checks an entry's key id, decodes its base64url secret and makes the key with
    /// `make`; the decoded bytes are wiped afterwards.
    fn decoded_entry(
        position: usize,
        kid: &str,
        secret: &str,
        make: impl FnOnce(&[u8]) -> Result<Self, ConfigError>,
    ) -> Result<Self, ConfigError> {
        check_kid(position, kid, MAX_KID_LEN)?;
        let mut bytes =
            hmac::decode_secret(secret).ok_or_else(|| ConfigError::InvalidSecretEncoding {
                kid: kid.to_owned(),
            })?;
        let key = make(&bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        key
    }

    fn hs256_at(position: usize, kid: &str, secret: &[u8]) -> Result<Self, ConfigError> {
        check_kid(position, kid, MAX_KID_LEN)?;
        let key = HmacKey::new(secret).ok_or_else(|| ConfigError::KeyTooShort {
            kid: kid.to_owned(),
            len: secret.len(),
            min: MIN_SECRET_LEN,
        })?;
        Ok(Self::assemble(kid, Material::Hs256(key)))
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs and verifies with.
    pub fn algorithm(&self) -> Algorithm {
        match &self.material {
            Material::Hs256(_) => Algorithm::HS256,
            #[cfg(feature = "node-keys")]
            Material::Ed25519(_) => Algorithm::EdDSA,
            #[cfg(feature = "jwe")]
            Material::Encryption(key) => match key.key_management() {
                KeyManagement::Dir => Algorithm::Dir,
                _ => Algorithm::A256KW,
            },
        }
    }

    /// Whether this key can issue new tokens here: an HS256 key, an Ed25519 key whose
    /// private half this process holds (both sign), or an encryption key (it encrypts). A
    /// public key only verifies.
    pub fn can_sign(&self) -> bool {
        match &self.material {
            Material::Hs256(_) => true,
            #[cfg(feature = "jwe")]
            Material::Encryption(_) => true,
            #[cfg(feature = "node-keys")]
            Material::Ed25519(key) => key.can_sign(),
        }
    }

    #[cfg(feature = "jwe")]
    /// The encryption key of an encryption key; `None` for a signing key.
    pub(crate) fn encryption_key(&self) -> Option<&EncryptionKey> {
        match &self.material {
            #[cfg(feature = "jwe")]
            Material::Encryption(key) => Some(key),
            _ => None,
        }
    }

    /// What the key's secret is used for, and its fingerprint; `None` for Ed25519 keys
    /// (asymmetric: their secret cannot be configured for another purpose here).
    pub(crate) fn secret_use(&self) -> Option<(&'static str, &[u8; 32])> {
        match &self.material {
            Material::Hs256(key) => Some(("HS256", key.fingerprint())),
            #[cfg(feature = "node-keys")]
            Material::Ed25519(_) => None,
            #[cfg(feature = "jwe")]
            Material::Encryption(key) => {
                Some((key.key_management().as_str(), key.secret_fingerprint()))
            }
        }
    }

    #[cfg(feature = "node-keys")]
    /// The public half of an asymmetric key, as a verify-only key with the same id; `None`
    /// for an HS256 key, which has no public half (its secret is never published).
    pub fn public_key(&self) -> Option<Key> {
        match &self.material {
            Material::Hs256(_) => None,
            #[cfg(feature = "jwe")]
            Material::Encryption(_) => None,
            #[cfg(feature = "node-keys")]
            Material::Ed25519(key) => Some(Key {
                kid: self.kid.clone(),
                material: Material::Ed25519(key.public_only()),
                header: self.header.clone(),
            }),
        }
    }

    #[cfg(feature = "node-keys")]
    /// The 32 bytes of an Ed25519 public key (the JWK's `x`); `None` for an HS256 key.
    pub fn ed25519_public_bytes(&self) -> Option<[u8; ED25519_KEY_LEN]> {
        match &self.material {
            Material::Hs256(_) => None,
            #[cfg(feature = "jwe")]
            Material::Encryption(_) => None,
            #[cfg(feature = "node-keys")]
            Material::Ed25519(key) => Some(key.public_bytes()),
        }
    }

    #[cfg(feature = "node-keys")]
    /// The RFC 7638 JWK thumbprint of an Ed25519 public key (the key id of a node key);
    /// `None` for an HS256 key.
    pub fn thumbprint(&self) -> Option<String> {
        self.ed25519_public_bytes()
            .map(|public| ed25519::thumbprint(&public))
    }

    /// For an HS256 key, a secret for another purpose derived from it under `label` (see
    /// `HmacKey::derive`): the key itself is never used for that purpose. `None` for other
    /// keys (an Ed25519 key has no shared secret; an encryption key keeps its one purpose).
    #[cfg_attr(not(feature = "csrf"), allow(dead_code))]
    pub(crate) fn derive_secret(&self, label: &[u8]) -> Option<zeroize::Zeroizing<[u8; 32]>> {
        match &self.material {
            Material::Hs256(key) => Some(zeroize::Zeroizing::new(key.derive(label))),
            #[cfg(feature = "node-keys")]
            Material::Ed25519(_) => None,
            #[cfg(feature = "jwe")]
            Material::Encryption(_) => None,
        }
    }

    /// The encoded header of tokens this key signs.
    pub(crate) fn encoded_header(&self) -> &str {
        &self.header
    }

    /// The length of this key's encoded signature segment.
    pub(crate) fn signature_b64_len(&self) -> usize {
        match &self.material {
            Material::Hs256(_) => hmac::SIGNATURE_B64_LEN,
            #[cfg(feature = "node-keys")]
            Material::Ed25519(_) => ed25519::SIGNATURE_B64_LEN,
            #[cfg(feature = "jwe")]
            Material::Encryption(_) => 0,
        }
    }

    /// Signs everything in `out` (the JWS signing input) and appends `.` and the signature.
    /// Returns `false`, leaving `out` alone, when this key cannot sign.
    pub(crate) fn append_signature(&self, out: &mut String) -> bool {
        match &self.material {
            Material::Hs256(key) => {
                key.append_signature(out);
                true
            }
            #[cfg(feature = "node-keys")]
            Material::Ed25519(key) => key.append_signature(out),
            #[cfg(feature = "jwe")]
            // One key, one purpose: an encryption key never signs.
            #[cfg(feature = "jwe")]
            Material::Encryption(_) => false,
        }
    }

    /// Checks a signature segment, as received, over `signing_input`.
    pub(crate) fn verify_signature(
        &self,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), Rejection> {
        match &self.material {
            Material::Hs256(key) => key.verify(signing_input, signature),
            #[cfg(feature = "node-keys")]
            Material::Ed25519(key) => key.verify(signing_input, signature),
            #[cfg(feature = "jwe")]
            // One key, one purpose: an encryption key never verifies a signature.
            #[cfg(feature = "jwe")]
            Material::Encryption(_) => Err(Rejection::new(
                crate::error::RejectionKind::UnsupportedAlgorithm,
            )),
        }
    }
}

/// How every session token signed under `header` begins: the header, the dot, and the
/// characters of the encoded claims that only depend on their first member's name (the
/// claims always start with `{"sid":"`; 8 bytes fix 10 characters).
pub(crate) fn session_token_prefix(header: &str) -> String {
    let start = B64.encode(br#"{"sid":""#);
    let fixed = br#"{"sid":""#.len() * 8 / 6;
    format!("{header}.{}", &start[..fixed])
}

/// A fingerprint of a symmetric secret (SHA-256 under a label of this crate), so a ring can
/// tell that one secret was configured for two purposes without keeping the secret.
pub(crate) fn secret_fingerprint(secret: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"tower-stateless-session/secret-fingerprint\0");
    hash.update(secret);
    hash.finalize().into()
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.algorithm())
            .field("can_sign", &self.can_sign())
            .finish_non_exhaustive()
    }
}

/// Checks a key id: non-empty, at most `max` bytes, `A-Z a-z 0-9 . _ -` only.
pub(crate) fn check_kid(position: usize, kid: &str, max: usize) -> Result<(), ConfigError> {
    let reason = if kid.is_empty() {
        "empty"
    } else if kid.len() > max {
        if max == MAX_KID_LEN {
            "longer than 32 bytes"
        } else {
            "longer than 64 bytes"
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "node-keys")]
    const S32: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[cfg(feature = "node-keys")]
    #[test]
    fn header_names_the_key_algorithm_and_type() {
        let hs = Key::hs256("k1", S32).expect("valid");
        let ed = Key::ed25519_from_seed("n1", &[7; 32]).expect("valid");
        for (key, alg) in [(&hs, "HS256"), (&ed, "EdDSA")] {
            let json = B64.decode(key.encoded_header()).expect("base64url");
            let expected = format!(
                r#"{{"alg":"{alg}","kid":"{}","typ":"sess+jwt"}}"#,
                key.kid()
            );
            assert_eq!(String::from_utf8(json).expect("utf-8"), expected);
        }
        assert_eq!(hs.signature_b64_len(), 43);
        assert_eq!(ed.signature_b64_len(), 86);
    }

    #[test]
    fn algorithm_names() {
        assert!(Algorithm::EdDSA.is_named("EdDSA") && Algorithm::EdDSA.is_named("Ed25519"));
        assert!(!Algorithm::EdDSA.is_named("eddsa") && !Algorithm::EdDSA.is_named("HS256"));
        assert!(Algorithm::HS256.is_named("HS256") && !Algorithm::HS256.is_named("EdDSA"));
    }

    #[cfg(feature = "node-keys")]
    #[test]
    fn ed25519_keys_check_lengths_and_kids() {
        let e = Key::ed25519_from_seed("n1", &[7; 31]).expect_err("short seed");
        assert!(matches!(
            e,
            ConfigError::WrongKeyLength {
                len: 31,
                expected: 32,
                ..
            }
        ));
        let e = Key::ed25519_from_seed("n1", &[7; 33]).expect_err("long seed");
        assert!(matches!(e, ConfigError::WrongKeyLength { len: 33, .. }));
        let e = Key::ed25519_public("n1", &[7; 31]).expect_err("short public key");
        assert!(matches!(e, ConfigError::InvalidPublicKey { .. }), "{e:?}");
        let e = Key::ed25519_public(&"n".repeat(65), &[7; 32]).expect_err("long kid");
        assert!(matches!(e, ConfigError::InvalidKeyId { .. }));
        let thumbprint_like = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
        assert!(Key::ed25519_from_seed(thumbprint_like, &[7; 32]).is_ok());
        // A config entry's kid stays capped at 32, so a pasted secret is never echoed.
        assert!(Key::hs256(thumbprint_like, S32).is_err());
    }

    #[cfg(feature = "node-keys")]
    #[test]
    fn generated_node_keys_are_named_by_their_thumbprint() {
        let a = Key::generate_ed25519().expect("rng");
        let b = Key::generate_ed25519().expect("rng");
        assert_ne!(a.kid(), b.kid());
        assert_eq!(Some(a.kid().to_owned()), a.thumbprint());
        let public = a.public_key().expect("Ed25519 has a public half");
        assert_eq!(public.kid(), a.kid());
        assert_eq!(public.ed25519_public_bytes(), a.ed25519_public_bytes());
        assert!(!public.can_sign());
        let hs = Key::hs256("k1", S32).expect("valid");
        assert!(hs.public_key().is_none() && hs.thumbprint().is_none());
    }

    #[cfg(feature = "node-keys")]
    #[test]
    fn debug_shows_no_key_material() {
        let key = Key::ed25519_from_seed("n1", &[0x41; 32]).expect("valid");
        let text = format!("{key:?}");
        assert!(text.contains("n1") && text.contains("EdDSA"), "{text}");
        assert!(!text.contains("AAAA") && !text.contains("65, 65"), "{text}");
    }
}
