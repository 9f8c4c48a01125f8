//! HS256 keys: a secret consumed into a pre-keyed HMAC-SHA256 state, the MAC of a token,
//! and the lenient reading of secrets from configuration.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::block_api::HmacCore;
use hmac::digest::Output;
use hmac::digest::block_api::{Block, Buffer, FixedOutputCore, UpdateCore};
use hmac::{Hmac, KeyInit};
use sha2::Sha256;

use crate::encoding::{B64, ct_eq};
use crate::error::{Rejection, RejectionKind};

#[cfg_attr(not(feature = "node-keys"), allow(dead_code))]
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The shortest secret accepted for HS256, in bytes (the hash's output size, RFC 7518 §3.2).
pub const MIN_SECRET_LEN: usize = 32;

/// Length of an encoded HS256 signature: 32 bytes in unpadded base64url.
pub(crate) const SIGNATURE_B64_LEN: usize = 43;

/// An HS256 key: the HMAC state after the key schedule, cloned per message so using the
/// key never repeats the schedule. The secret itself is not kept, only a fingerprint of it
/// (see [`secret_fingerprint`](super::key::secret_fingerprint)).
///
/// The state is the `hmac` crate's block-level one: a message's whole blocks are hashed
/// straight from the token, and only the few bytes after the last whole block are
/// buffered (by the crate) for the final padding.
#[derive(Clone)]
pub(crate) struct HmacKey {
    core: Core,
    /// The state after the first block of the key's own session tokens, when that block
    /// is the same in all of them (see [`HmacKey::prime`]).
    primed: Option<Box<Primed>>,
    fingerprint: [u8; 32],
}

type Core = HmacCore<Sha256>;

/// A first message block known in advance, and the keyed state after it.
#[derive(Clone)]
struct Primed {
    block: [u8; BLOCK_LEN],
    core: Core,
}

/// SHA-256's block length.
const BLOCK_LEN: usize = 64;

impl HmacKey {
    /// A key from a secret of at least [`MIN_SECRET_LEN`] bytes; `None` when shorter.
    pub(crate) fn new(secret: &[u8]) -> Option<Self> {
        if secret.len() < MIN_SECRET_LEN {
            return None;
        }
        // HMAC accepts keys of any length.
        let core = Core::new_from_slice(secret).ok()?;
        Some(HmacKey {
            core,
            primed: None,
            fingerprint: super::key::secret_fingerprint(secret),
        })
    }

    /// Precomputes the state after `prefix`'s first block, for messages that start with
    /// it: every session token this key signs starts with the same encoded header, the dot
    /// and the encoded start of the claims (`{"sid":"`), together over 64 bytes, so one of
    /// the SHA-256 compressions of every MAC is the same and is done once here. The MAC of
    /// any message is unchanged; a message that starts otherwise takes the whole way.
    /// Does nothing when `prefix` is shorter than a block.
    pub(crate) fn prime(&mut self, prefix: &[u8]) {
        let Some(block) = prefix.first_chunk::<BLOCK_LEN>() else {
            return;
        };
        let mut core = self.core.clone();
        core.update_blocks(&[Block::<Core>::from(*block)]);
        self.primed = Some(Box::new(Primed {
            block: *block,
            core,
        }));
    }

    /// The fingerprint of the secret.
    pub(crate) fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    fn tag(&self, input: &[u8]) -> [u8; 32] {
        // The block compared is the token's public beginning, not a secret.
        let (mut core, rest) = match &self.primed {
            Some(primed) if input.first_chunk::<BLOCK_LEN>() == Some(&primed.block) => {
                (primed.core.clone(), &input[BLOCK_LEN..])
            }
            _ => (self.core.clone(), input),
        };
        let (blocks, tail) = Block::<Core>::slice_as_chunks(rest);
        core.update_blocks(blocks);
        // The tail is shorter than a block: it only fills the buffer.
        let mut buffer = Buffer::<Core>::default();
        buffer.digest_blocks(tail, |blocks| core.update_blocks(blocks));
        let mut tag = Output::<Core>::default();
        core.finalize_fixed_core(&mut buffer, &mut tag);
        tag.into()
    }

    /// Signs everything in `out` (the signing input) and appends `.` and the signature.
    pub(crate) fn append_signature(&self, out: &mut String) {
        let tag = self.tag(out.as_bytes());
        out.push('.');
        B64.encode_string(tag, out);
    }

    /// Checks the MAC of `signing_input` against the `signature` segment, in constant time.
    ///
    /// The computed tag is encoded and compared with the segment as received: only the one
    /// canonical spelling of the right tag can match, and no decoding is needed on the way
    /// to success. A mismatch is then told apart: a segment that is not canonical base64url
    /// of 32 bytes is malformed, anything else is a bad signature.
    pub(crate) fn verify(&self, signing_input: &[u8], signature: &[u8]) -> Result<(), Rejection> {
        if signature.len() != SIGNATURE_B64_LEN {
            return Err(Rejection::new(RejectionKind::Malformed));
        }
        let expected = encode_tag(&self.tag(signing_input));
        if ct_eq(&expected, signature) {
            return Ok(());
        }
        decode_signature(signature)?;
        Err(Rejection::new(RejectionKind::BadSignature))
    }
}

/// The base64url alphabet, by value.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A 32-byte tag in unpadded base64url, as the strict engine writes it (the two unused bits
/// of the last character zero), without the engine's set-up: every verification encodes
/// one. Table lookups by the tag's bits, as the engine's own scalar code does.
fn encode_tag(tag: &[u8; 32]) -> [u8; SIGNATURE_B64_LEN] {
    let mut out = [0u8; SIGNATURE_B64_LEN];
    let (quads, last) = out.split_at_mut(40);
    for (quad, bytes) in quads.chunks_exact_mut(4).zip(tag.chunks_exact(3)) {
        let n = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
        quad[0] = ALPHABET[(n >> 18) as usize & 63];
        quad[1] = ALPHABET[(n >> 12) as usize & 63];
        quad[2] = ALPHABET[(n >> 6) as usize & 63];
        quad[3] = ALPHABET[n as usize & 63];
    }
    let n = u32::from(tag[30]) << 8 | u32::from(tag[31]);
    last[0] = ALPHABET[(n >> 10) as usize & 63];
    last[1] = ALPHABET[(n >> 4) as usize & 63];
    last[2] = ALPHABET[(n << 2) as usize & 63];
    out
}

/// Decodes an HS256 signature segment; anything but a canonical 43-character spelling of 32
/// bytes is malformed.
fn decode_signature(segment: &[u8]) -> Result<[u8; 32], Rejection> {
    if segment.len() != SIGNATURE_B64_LEN {
        return Err(Rejection::new(RejectionKind::Malformed));
    }
    let mut buf = [0u8; 33];
    match B64.decode_slice(segment, &mut buf) {
        Ok(32) => {
            let mut tag = [0u8; 32];
            tag.copy_from_slice(&buf[..32]);
            Ok(tag)
        }
        _ => Err(Rejection::new(RejectionKind::Malformed)),
    }
}

/// Decodes a secret leniently: base64url or standard alphabet, padding optional.
pub(crate) fn decode_secret(secret: &str) -> Option<Vec<u8>> {
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

/// Encodes `secret` the way [`KeyRing::parse`](crate::KeyRing::parse) reads it, for tools
/// that write key files.
pub fn encode_secret(secret: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_must_be_canonical() {
        let good = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(decode_signature(good.as_bytes()).is_ok());
        // 'k' -> 'l' changes only the two unused trailing bits: same bytes, other spelling.
        let respelled = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl";
        for bad in [
            respelled.to_string(),
            format!("{good}="),
            good[..42].to_string(),
            format!("{good}A"),
            good.replace('-', "+"),
            good.replacen('d', " ", 1),
        ] {
            assert!(
                decode_signature(bad.as_bytes()).is_err(),
                "{bad:?} should not decode"
            );
        }
    }

    #[test]
    fn tag_encoding_agrees_with_the_strict_engine() {
        let mut tag = [0u8; 32];
        for round in 0..2000u32 {
            for (i, b) in tag.iter_mut().enumerate() {
                *b = (round.wrapping_mul(2_654_435_761) >> (i % 24)) as u8
                    ^ (i as u8).wrapping_mul(37);
            }
            if round < 256 {
                tag = [round as u8; 32];
            }
            let ours = encode_tag(&tag);
            assert_eq!(ours.as_slice(), B64.encode(tag).as_bytes(), "{tag:?}");
        }
    }

    #[test]
    fn a_primed_key_computes_the_same_mac() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let plain = HmacKey::new(secret).expect("32 bytes");
        let mut primed = plain.clone();
        let prefix: Vec<u8> = (0..80u8).map(|i| b'a' + i % 26).collect();
        primed.prime(&prefix);
        assert!(primed.primed.is_some());
        for len in [0, 1, 63, 64, 65, 100, 127, 128, 129, 300] {
            // Messages that start with the primed block and messages that do not (the
            // block differs in its first, a middle or its last byte, or is cut short).
            let mut same: Vec<u8> = prefix.iter().copied().cycle().take(len).collect();
            assert_eq!(plain.tag(&same), primed.tag(&same), "len {len}");
            for at in [0, 31, 63] {
                if at < same.len() {
                    same[at] ^= 1;
                    assert_eq!(plain.tag(&same), primed.tag(&same), "len {len}, at {at}");
                    same[at] ^= 1;
                }
            }
        }
        // A prefix shorter than a block primes nothing.
        let mut short = plain.clone();
        short.prime(&prefix[..63]);
        assert!(short.primed.is_none());
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(HmacKey::new(&[7; MIN_SECRET_LEN - 1]).is_none());
        assert!(HmacKey::new(&[7; MIN_SECRET_LEN]).is_some());
    }

    #[test]
    fn a_signature_verifies_and_a_changed_input_does_not() {
        let key = HmacKey::new(b"0123456789abcdef0123456789abcdef").expect("32 bytes");
        let mut token = "head.body".to_owned();
        key.append_signature(&mut token);
        let (input, signature) = token.rsplit_once('.').expect("a dot");
        assert_eq!(key.verify(input.as_bytes(), signature.as_bytes()), Ok(()));
        assert_eq!(
            key.verify(b"head.bodx", signature.as_bytes())
                .map_err(|e| e.kind()),
            Err(RejectionKind::BadSignature)
        );
        assert_eq!(
            key.verify(input.as_bytes(), &signature.as_bytes()[1..])
                .map_err(|e| e.kind()),
            Err(RejectionKind::Malformed)
        );
    }
}
