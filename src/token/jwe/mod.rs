//! Encrypted tokens: the JWE compact serialization (RFC 7516 §7.1) with content encryption
//! `A256GCM` and key management `A256KW` or `dir` (RFC 7518 §4.4, §4.5, §5.3). Seals bytes
//! and opens them; knows nothing about session claims or HTTP.
//!
//! A token is five base64url segments:
//!
//! ```text
//! header "." encrypted key "." IV "." ciphertext "." tag
//! ```
//!
//! with the protected header
//!
//! ```text
//! {"alg":"A256KW","enc":"A256GCM","kid":"<kid>","typ":"sess-enc+jwt","pur":"<purpose>"}
//! ```
//!
//! and the encoded header, exactly as it travels, as the additional authenticated data of
//! AES-GCM: changing any byte of it breaks the tag. `A256KW` wraps a fresh random 32-byte
//! content key per token (40 bytes in the second segment); `dir` leaves the second segment
//! empty and encrypts with the ring's key itself. Every token gets a fresh random 96-bit IV.
//!
//! # The header
//! - `alg` and `enc` are fixed by the key that `kid` names. The header only has to agree;
//!   it never chooses an algorithm.
//! - `typ` is [`ENCRYPTED_TOKEN_TYPE`], distinct from the signed tokens' `sess+jwt`, so an
//!   encrypted session token is never taken for another kind of JWT encrypted under the
//!   same key, nor for a signed one.
//! - `pur` (the [`PURPOSE_MEMBER`]) is the purpose the token was sealed for: the layer
//!   passes its cookie name (or header name). A token issued for one cookie is refused
//!   under another, even where both use the same key ring (the cookie crate's private jar
//!   binds its cookies to their names the same way, through the AAD). The member is part of
//!   the protected header because compact JWE has no other place for associated data; it is
//!   an ordinary private header parameter (RFC 7516 §4.3), not marked critical, so JOSE
//!   libraries that do not know it still decrypt the token. The name `pur` is short (the
//!   token rides in a cookie) and is not one of the registered JOSE header parameters.
//! - `zip` (compression) is never written and never accepted: compressing secrets next to
//!   attacker-influenced data leaks them through the length, and decompression is a
//!   denial-of-service vector (RFC 8725 §3.6). `crit` is refused too: no extension is
//!   implemented. Any other member is refused as well.
//!
//! # Opening
//! In order: the length cap (before any decoding), exactly five segments, the header (fast
//! path: byte-identical to the header a key of the ring writes for this purpose; otherwise
//! decoded and checked member by member), the exact length of each segment (encrypted key
//! 54 characters for `A256KW` and empty for `dir`, IV 16, tag 22), canonical base64url, the
//! key unwrap (`A256KW`), then AES-GCM decryption with the header as received as AAD. Each
//! failure has its own [`RejectionKind`]; a wrong key, a spliced segment or a changed byte
//! all end in [`RejectionKind::DecryptionFailed`].
//!
//! # Key use
//! One AES-GCM key with random IVs may encrypt at most 2^32 messages (NIST SP 800-38D). With
//! `A256KW` every token has its own content key, used once, so the limit never binds. With
//! `dir` the ring's key is the content key of every token, of every node: each process
//! counts its own encryptions per key and warns at [`DIR_WARNING_THRESHOLD`](crate::keys::DIR_WARNING_THRESHOLD) (1/64 of the
//! limit), in the log and, with the `metrics` feature, as
//! `stateless_session_budget_warnings_total{limit="jwe_dir_key"}`. At a fleet-wide rate of `R` token encryptions per second, a `dir` key reaches
//! 2^32 after `2^32 / R` seconds: about 5 days at 10,000 per second, 50 days at 1,000 per
//! second. Rotate `dir` keys well within that, or use `A256KW`.

use aes_gcm::aead::AeadInOut as _;
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce, Tag};
use base64::Engine as _;
use serde::Deserialize;
use std::borrow::Cow;

use super::jws::{self, B64};
use crate::error::{Rejection, RejectionKind, SignError};
use crate::keys::encryption::Cipher;
pub use crate::keys::encryption::{CONTENT_ENCRYPTION, ENCRYPTED_TOKEN_TYPE, PURPOSE_MEMBER};
use crate::keys::encryption::{ENCRYPTION_KEY_LEN, EncryptionKey};

/// IV: 12 bytes, 16 base64url characters.
const IV_LEN: usize = 12;
const IV_B64_LEN: usize = 16;
/// Authentication tag: 16 bytes, 22 base64url characters.
const TAG_LEN: usize = 16;
const TAG_B64_LEN: usize = 22;
/// A wrapped 32-byte content key: 40 bytes.
const WRAPPED_KEY_LEN: usize = 40;

const fn reject(kind: RejectionKind) -> Rejection {
    Rejection::new(kind)
}

/// The five segments of a compact JWE, as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segments<'a> {
    pub(crate) header: &'a [u8],
    pub(crate) encrypted_key: &'a [u8],
    pub(crate) iv: &'a [u8],
    pub(crate) ciphertext: &'a [u8],
    pub(crate) tag: &'a [u8],
}

/// Splits at the four dots. Any other count is malformed, and so are an empty header, IV
/// or tag. (The encrypted key is empty in `dir` mode, the ciphertext for an empty
/// plaintext.)
pub(crate) fn split(token: &[u8]) -> Result<Segments<'_>, Rejection> {
    let mut dots = memchr::memchr_iter(b'.', token);
    let (Some(a), Some(b), Some(c), Some(d), None) = (
        dots.next(),
        dots.next(),
        dots.next(),
        dots.next(),
        dots.next(),
    ) else {
        return Err(reject(RejectionKind::Malformed));
    };
    segments(token, [a, b, c, d])
}

/// The segments of a token whose only four dots are at `dots` (found by
/// [`jws::shape`](super::jws::shape) or [`split`]); an empty header, IV or tag is malformed.
pub(crate) fn segments(token: &[u8], [a, b, c, d]: [usize; 4]) -> Result<Segments<'_>, Rejection> {
    let malformed = reject(RejectionKind::Malformed);
    let seg = Segments {
        header: &token[..a],
        encrypted_key: &token[a + 1..b],
        iv: &token[b + 1..c],
        ciphertext: &token[c + 1..d],
        tag: &token[d + 1..],
    };
    if seg.header.is_empty() || seg.iv.is_empty() || seg.tag.is_empty() {
        return Err(malformed);
    }
    Ok(seg)
}

/// A member that must not appear, whatever its value (`null` included).
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(Present(true))
    }
}

/// An encrypted session token's header: exactly these members, each at most once.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EncryptedHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    enc: Cow<'a, str>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pur: Option<Cow<'a, str>>,
    #[serde(default)]
    zip: Present,
    #[serde(default)]
    crit: Present,
}

/// Keys that tokens are opened with: a bare list of encryption keys, or a key ring, whose
/// signing keys have ids but no encryption key.
pub(crate) trait OpeningKey {
    fn kid(&self) -> &str;
    fn encryption_key(&self) -> Option<&EncryptionKey>;
}

impl OpeningKey for EncryptionKey {
    fn kid(&self) -> &str {
        EncryptionKey::kid(self)
    }
    fn encryption_key(&self) -> Option<&EncryptionKey> {
        Some(self)
    }
}

impl OpeningKey for crate::keys::Key {
    fn kid(&self) -> &str {
        crate::keys::Key::kid(self)
    }
    fn encryption_key(&self) -> Option<&EncryptionKey> {
        crate::keys::Key::encryption_key(self)
    }
}

/// Finds the key for an encrypted token's header and returns its index in `keys`.
///
/// Fast path: the header is byte-identical to the one a key writes for `purpose` (every
/// token this crate seals). Slow path: decode it (other JOSE libraries order members
/// differently) and apply the same rules. A `kid` naming a signing key is refused as an
/// algorithm mismatch: one key, one purpose.
fn find_key<K: OpeningKey>(keys: &[K], purpose: &str, header: &[u8]) -> Result<usize, Rejection> {
    if let Some(i) = keys.iter().position(|k| {
        k.encryption_key()
            .is_some_and(|e| e.header(purpose).as_bytes() == header)
    }) {
        return Ok(i);
    }
    let json = jws::decode_header_json(header)?;
    let parsed: EncryptedHeader<'_> = jws::parse_object(&json)?;
    if parsed.crit.0 {
        return Err(reject(RejectionKind::Malformed));
    }
    if parsed.zip.0 {
        return Err(reject(RejectionKind::UnsupportedAlgorithm));
    }
    let kid = parsed.kid.ok_or(reject(RejectionKind::UnknownKey))?;
    let index = keys
        .iter()
        .position(|k| k.kid() == kid)
        .ok_or(reject(RejectionKind::UnknownKey))?;
    let key = keys[index]
        .encryption_key()
        .ok_or(reject(RejectionKind::UnsupportedAlgorithm))?;
    if parsed.alg != key.key_management().as_str() || parsed.enc != CONTENT_ENCRYPTION {
        return Err(reject(RejectionKind::UnsupportedAlgorithm));
    }
    match (parsed.typ, parsed.pur) {
        (Some(typ), Some(pur)) if jws::is_type(&typ, ENCRYPTED_TOKEN_TYPE) && pur == purpose => {
            Ok(index)
        }
        _ => Err(reject(RejectionKind::WrongType)),
    }
}

/// Decodes a fixed-length segment whose encoded length was already checked; anything but
/// the canonical spelling of exactly `N` bytes is malformed.
fn decode_exact<const N: usize>(segment: &[u8]) -> Result<[u8; N], Rejection> {
    const { assert!(N < 64, "only short segments are decoded here") };
    // One spare byte, so a segment decoding to more than N bytes is seen as such.
    let mut buf = [0u8; 64];
    match B64.decode_slice(segment, &mut buf[..N + 1]) {
        Ok(n) if n == N => {
            let mut out = [0u8; N];
            out.copy_from_slice(&buf[..N]);
            Ok(out)
        }
        _ => Err(reject(RejectionKind::Malformed)),
    }
}

/// Opens `token` with the first key whose header matches, decrypting into `out` (its
/// contents replaced). Returns the index of that key in `keys`.
pub(crate) fn open_into<K: OpeningKey>(
    keys: &[K],
    purpose: &str,
    token: &[u8],
    max_len: usize,
    out: &mut Vec<u8>,
) -> Result<usize, Rejection> {
    if token.len() > max_len {
        return Err(reject(RejectionKind::Oversized));
    }
    open_segments(keys, purpose, split(token)?, out)
}

/// [`open_into`] for a token already split (and already held to its length cap).
pub(crate) fn open_segments<K: OpeningKey>(
    keys: &[K],
    purpose: &str,
    seg: Segments<'_>,
    out: &mut Vec<u8>,
) -> Result<usize, Rejection> {
    let malformed = reject(RejectionKind::Malformed);
    let failed = reject(RejectionKind::DecryptionFailed);
    let index = find_key(keys, purpose, seg.header)?;
    let key = keys[index]
        .encryption_key()
        .ok_or(reject(RejectionKind::UnsupportedAlgorithm))?;
    if seg.encrypted_key.len() != key.key_management().encrypted_key_b64_len()
        || seg.iv.len() != IV_B64_LEN
        || seg.tag.len() != TAG_B64_LEN
    {
        return Err(malformed);
    }
    let iv: [u8; IV_LEN] = decode_exact(seg.iv)?;
    let tag: [u8; TAG_LEN] = decode_exact(seg.tag)?;
    jws::decode_segment_into(seg.ciphertext, out)?;

    let nonce = Nonce::from(iv);
    let tag = Tag::from(tag);
    match key.cipher() {
        Cipher::Wrap(kek) => {
            let wrapped: [u8; WRAPPED_KEY_LEN] = decode_exact(seg.encrypted_key)?;
            let mut cek = [0u8; ENCRYPTION_KEY_LEN];
            kek.unwrap_key(&wrapped, &mut cek).map_err(|_| failed)?;
            let aead = Aes256Gcm::new(&cek.into());
            aead.decrypt_inout_detached(&nonce, seg.header, out.as_mut_slice().into(), &tag)
        }
        Cipher::Direct(aead, _) => {
            aead.decrypt_inout_detached(&nonce, seg.header, out.as_mut_slice().into(), &tag)
        }
    }
    .map_err(|_| {
        out.clear();
        failed
    })?;
    Ok(index)
}

/// The length of a sealed token for a plaintext of `plaintext_len` bytes.
pub(crate) fn sealed_len(key: &EncryptionKey, header_len: usize, plaintext_len: usize) -> usize {
    header_len
        + 1
        + key.key_management().encrypted_key_b64_len()
        + 1
        + IV_B64_LEN
        + 1
        + (plaintext_len * 4).div_ceil(3)
        + 1
        + TAG_B64_LEN
}

/// Seals `plaintext` (encrypted in place: it holds the ciphertext afterwards) into a
/// compact JWE for `purpose`, refusing a token longer than `max_len` before any crypto
/// work.
pub(crate) fn seal_in_place(
    key: &EncryptionKey,
    purpose: &str,
    plaintext: &mut [u8],
    max_len: usize,
) -> Result<String, SignError> {
    let header = key.header(purpose);
    let len = sealed_len(key, header.len(), plaintext.len());
    if len > max_len {
        return Err(SignError::Oversized { len, max: max_len });
    }
    // AES-GCM refuses only plaintexts over 64 GiB, and key wrap only keys that are not a
    // multiple of 8 bytes: neither can happen under the length cap, but both are errors,
    // not panics.
    let oversized = || SignError::Oversized { len, max: max_len };
    let aad = header.as_bytes();
    let mut token = String::with_capacity(len);
    token.push_str(&header);
    token.push('.');
    let (iv, tag) = match key.cipher() {
        Cipher::Wrap(kek) => {
            // One call to the random source for the content key and the IV.
            let mut random = [0u8; ENCRYPTION_KEY_LEN + IV_LEN];
            crate::error::RandomError::fill(&mut random).map_err(SignError::Random)?;
            let mut cek = [0u8; ENCRYPTION_KEY_LEN];
            let mut iv = [0u8; IV_LEN];
            cek.copy_from_slice(&random[..ENCRYPTION_KEY_LEN]);
            iv.copy_from_slice(&random[ENCRYPTION_KEY_LEN..]);
            let mut wrapped = [0u8; WRAPPED_KEY_LEN];
            kek.wrap_key(&cek, &mut wrapped).map_err(|_| oversized())?;
            let nonce = Nonce::from(iv);
            let tag = Aes256Gcm::new(&cek.into())
                .encrypt_inout_detached(&nonce, aad, plaintext.into())
                .map_err(|_| oversized())?;
            B64.encode_string(wrapped, &mut token);
            (nonce, tag)
        }
        Cipher::Direct(aead, counter) => {
            let mut iv = [0u8; IV_LEN];
            crate::error::RandomError::fill(&mut iv).map_err(SignError::Random)?;
            crate::keys::encryption::record_dir_encryption(counter, key.kid());
            let nonce = Nonce::from(iv);
            let tag = aead
                .encrypt_inout_detached(&nonce, aad, plaintext.into())
                .map_err(|_| oversized())?;
            (nonce, tag)
        }
    };
    token.push('.');
    B64.encode_string(iv, &mut token);
    token.push('.');
    B64.encode_string(&*plaintext, &mut token);
    token.push('.');
    B64.encode_string(tag, &mut token);
    debug_assert_eq!(token.len(), len);
    Ok(token)
}

/// Seals `plaintext` into an encrypted token (JWE compact serialization) for `purpose`,
/// with a fresh IV (and, for `A256KW`, a fresh content key).
///
/// `purpose` is written into the protected header (see [`PURPOSE_MEMBER`]); [`open`] must
/// be given the same one. The layer uses its cookie or header name.
///
/// # Errors
/// [`SignError::Oversized`] when the token would be longer than `max_len` (checked before
/// any encryption); [`SignError::Random`] when the random source fails.
pub fn seal(
    key: &EncryptionKey,
    purpose: &str,
    plaintext: &[u8],
    max_len: usize,
) -> Result<String, SignError> {
    let mut buf = plaintext.to_vec();
    seal_in_place(key, purpose, &mut buf, max_len)
}

/// An opened encrypted token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Opened {
    /// Index, in the keys given to [`open`], of the key that opened the token.
    pub key_index: usize,
    /// The decrypted payload.
    pub plaintext: Vec<u8>,
}

/// Opens an encrypted token sealed for `purpose` by one of `keys` (chosen by the header's
/// `kid`; its algorithms must be the key's).
///
/// `max_len` is checked before anything else. See the [module documentation](self) for the
/// order of the checks.
///
/// # Errors
/// A [`Rejection`] whose kind names the failed check.
pub fn open(
    token: impl AsRef<[u8]>,
    keys: &[EncryptionKey],
    purpose: &str,
    max_len: usize,
) -> Result<Opened, Rejection> {
    let mut plaintext = Vec::new();
    let key_index = open_into(keys, purpose, token.as_ref(), max_len, &mut plaintext)?;
    Ok(Opened {
        key_index,
        plaintext,
    })
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_vectors;
