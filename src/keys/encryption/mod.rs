//! Encryption keys (feature `jwe`): a 256-bit AES key with its key id and key management, prepared once
//! (key schedule done, token header precomputed).

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use aes_gcm::{Aes256Gcm, KeyInit as _};
use aes_kw::KwAes256;
use base64::Engine as _;

mod budget;

use self::budget::DirCounter;
pub(crate) use self::budget::record_dir_encryption;
pub use self::budget::{DIR_KEY_LIMIT, DIR_WARNING_THRESHOLD};
use crate::encoding::B64;
use crate::error::ConfigError;

/// The `typ` of encrypted session tokens (RFC 8725 §3.11 explicit typing). An encrypted
/// JWT is still a JWT, hence the `+jwt` suffix; compared like the signed type (case
/// insensitive, `application/` optional).
pub const ENCRYPTED_TOKEN_TYPE: &str = "sess-enc+jwt";

/// The protected-header member holding the purpose a token was sealed for (the layer's
/// cookie or header name). See [`token::jwe`](crate::token::jwe) for why it exists.
pub const PURPOSE_MEMBER: &str = "pur";

/// The content encryption of every encrypted token (the JWE `enc`): AES-256-GCM.
pub const CONTENT_ENCRYPTION: &str = "A256GCM";

/// The length of every encryption key, in bytes (AES-256).
pub const ENCRYPTION_KEY_LEN: usize = 32;

/// How a token's content key is obtained from the ring's key (the JWE `alg`).
///
/// Content encryption is always `A256GCM`. The key decides the key management; a token's
/// header can only agree with it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyManagement {
    /// AES key wrap with a 256-bit key (RFC 7518 §4.4): every token gets a fresh random
    /// content key, wrapped by the ring's key (40 bytes, 54 characters more per token).
    /// The default: the ring's key never encrypts content, so no per-key encryption limit
    /// applies to it.
    #[default]
    A256KW,
    /// Direct encryption (RFC 7518 §4.5): the ring's key is the content key of every
    /// token. The smallest tokens, but one key may encrypt at most 2^32 tokens in all,
    /// across every node (see [`DIR_KEY_LIMIT`]).
    Dir,
}

impl KeyManagement {
    /// The JOSE name, as it appears in a header's `alg`: `A256KW` or `dir`.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyManagement::A256KW => "A256KW",
            KeyManagement::Dir => "dir",
        }
    }

    /// The key management named `name` (`A256KW` or `dir`, exactly as JOSE spells them).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "A256KW" => Some(KeyManagement::A256KW),
            "dir" => Some(KeyManagement::Dir),
            _ => None,
        }
    }

    /// Length of the encrypted-key segment of this mode's tokens, in base64url characters.
    pub(crate) fn encrypted_key_b64_len(&self) -> usize {
        match self {
            // 40 bytes: the 32-byte content key plus the 8-byte integrity block.
            KeyManagement::A256KW => 54,
            KeyManagement::Dir => 0,
        }
    }
}

impl fmt::Display for KeyManagement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The prepared cipher of a key.
pub(crate) enum Cipher {
    /// Wraps and unwraps fresh content keys.
    Wrap(KwAes256),
    /// Is the content key, with the count of its encryptions.
    Direct(Aes256Gcm, DirCounter),
}

struct Inner {
    kid: Box<str>,
    cipher: Cipher,
    /// See [`crate::keys::secret_fingerprint`].
    fingerprint: [u8; 32],
    /// The purpose this key's tokens were last sealed or opened for, and the encoded
    /// header for it: one layer uses one purpose, so this is computed once.
    header: OnceLock<(Box<str>, Box<str>)>,
}

/// A 256-bit key for encrypted session tokens (JWE with `A256GCM`), with its key id and
/// [`KeyManagement`].
///
/// Cheap to clone (clones share the prepared cipher). `Debug` shows the key id and the
/// algorithms, never key material.
///
/// ```
/// use tower_stateless_session::keys::{EncryptionKey, KeyManagement};
/// use tower_stateless_session::token::jwe;
///
/// let key = EncryptionKey::generate("e1", KeyManagement::A256KW)?;
/// let token = jwe::seal(&key, "session", br#"{"sub":"ada"}"#, 4096)?;
/// assert_eq!(token.split('.').count(), 5);
/// let opened = jwe::open(&token, &[key], "session", 4096).expect("opens");
/// assert_eq!(opened.plaintext, br#"{"sub":"ada"}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct EncryptionKey {
    inner: Arc<Inner>,
}

impl EncryptionKey {
    /// A key from exactly 32 secret bytes.
    ///
    /// # Errors
    /// [`ConfigError::InvalidKeyId`] for a bad `kid` (the rules of [`Key::hs256`]);
    /// [`ConfigError::WrongKeyLength`] unless the secret is exactly 32 bytes.
    ///
    /// [`Key::hs256`]: crate::Key::hs256
    pub fn new(kid: &str, management: KeyManagement, secret: &[u8]) -> Result<Self, ConfigError> {
        super::check_kid(1, kid, super::MAX_KID_LEN)?;
        let bytes: &[u8; ENCRYPTION_KEY_LEN] =
            secret.try_into().map_err(|_| ConfigError::WrongKeyLength {
                kid: kid.to_owned(),
                len: secret.len(),
                expected: ENCRYPTION_KEY_LEN,
            })?;
        let cipher = match management {
            KeyManagement::A256KW => Cipher::Wrap(KwAes256::new(bytes.into())),
            KeyManagement::Dir => {
                Cipher::Direct(Aes256Gcm::new(bytes.into()), DirCounter::for_secret(bytes))
            }
        };
        Ok(EncryptionKey {
            inner: Arc::new(Inner {
                kid: kid.into(),
                cipher,
                fingerprint: super::secret_fingerprint(bytes),
                header: OnceLock::new(),
            }),
        })
    }

    /// A new key with a random secret from the operating system, for tests and
    /// single-process demos (nobody else can open its tokens).
    ///
    /// # Errors
    /// [`ConfigError::InvalidKeyId`] for a bad `kid`; [`ConfigError::Random`] when the
    /// random source fails.
    pub fn generate(kid: &str, management: KeyManagement) -> Result<Self, ConfigError> {
        let mut secret = [0u8; ENCRYPTION_KEY_LEN];
        crate::error::RandomError::fill(&mut secret).map_err(ConfigError::Random)?;
        Self::new(kid, management, &secret)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.inner.kid
    }

    /// The key management (`alg`) this key is for.
    pub fn key_management(&self) -> KeyManagement {
        match self.inner.cipher {
            Cipher::Wrap(_) => KeyManagement::A256KW,
            Cipher::Direct(..) => KeyManagement::Dir,
        }
    }

    /// How many tokens this process has encrypted directly under this key's secret: the
    /// count that [`DIR_WARNING_THRESHOLD`] applies to. Always
    /// 0 for `A256KW` keys, which only wrap fresh content keys.
    pub fn encryptions(&self) -> u64 {
        match &self.inner.cipher {
            Cipher::Wrap(_) => 0,
            Cipher::Direct(_, counter) => counter.get(),
        }
    }

    pub(crate) fn secret_fingerprint(&self) -> &[u8; 32] {
        &self.inner.fingerprint
    }

    pub(crate) fn cipher(&self) -> &Cipher {
        &self.inner.cipher
    }

    /// The encoded protected header of this key's tokens for `purpose`.
    pub(crate) fn header(&self, purpose: &str) -> Cow<'_, str> {
        let (cached_purpose, header) = self
            .inner
            .header
            .get_or_init(|| (purpose.into(), self.encode_header(purpose).into()));
        if **cached_purpose == *purpose {
            Cow::Borrowed(header)
        } else {
            Cow::Owned(self.encode_header(purpose))
        }
    }

    fn encode_header(&self, purpose: &str) -> String {
        // The key id is plain ASCII (checked when the key was made); the purpose is
        // escaped as a JSON string, whatever it holds.
        let purpose_json = serde_json::Value::from(purpose).to_string();
        let json = format!(
            r#"{{"alg":"{}","enc":"{CONTENT_ENCRYPTION}","kid":"{}","typ":"{ENCRYPTED_TOKEN_TYPE}","{PURPOSE_MEMBER}":{purpose_json}}}"#,
            self.key_management().as_str(),
            self.kid(),
        );
        B64.encode(json)
    }

    #[cfg(all(test, any(feature = "tracing", feature = "metrics")))]
    pub(crate) fn set_encryptions(&self, count: u64) {
        if let Cipher::Direct(_, counter) = &self.inner.cipher {
            counter.set(count);
        }
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("kid", &self.kid())
            .field("alg", &self.key_management())
            .field("enc", &CONTENT_ENCRYPTION)
            .finish_non_exhaustive()
    }
}
