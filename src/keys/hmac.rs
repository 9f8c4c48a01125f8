//! HS256 keys: a secret consumed into a pre-keyed HMAC-SHA256 state, the MAC of a token,
//! and the lenient reading of secrets from configuration.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac as _};
use sha2::Sha256;

use crate::encoding::B64;
use crate::error::{Rejection, RejectionKind};

#[cfg_attr(not(feature = "node-keys"), allow(dead_code))]
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The shortest secret accepted for HS256, in bytes (the hash's output size, RFC 7518 §3.2).
pub const MIN_SECRET_LEN: usize = 32;

/// Length of an encoded HS256 signature: 32 bytes in unpadded base64url.
pub(crate) const SIGNATURE_B64_LEN: usize = 43;

/// An HS256 key: the `hmac` crate's MAC state after the key schedule, cloned per message so
/// using the key never repeats the schedule. The secret itself is not kept, only a
/// fingerprint of it (see [`secret_fingerprint`](super::key::secret_fingerprint)).
#[derive(Clone)]
pub(crate) struct HmacKey {
    mac: HmacSha256,
    /// A clone of the keyed state already fed the first block of the key's own session
    /// tokens, when that block is the same in all of them (see [`HmacKey::prime`]).
    primed: Option<Box<Primed>>,
    fingerprint: [u8; 32],
}

/// A first message block known in advance, and the keyed MAC state already fed it.
#[derive(Clone)]
struct Primed {
    block: [u8; BLOCK_LEN],
    mac: HmacSha256,
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
        let mac = HmacSha256::new_from_slice(secret).ok()?;
        Some(HmacKey {
            mac,
            primed: None,
            fingerprint: super::key::secret_fingerprint(secret),
        })
    }

    /// Feeds `prefix`'s first block, once, to a clone of the keyed state, for messages that
    /// start with it: every session token this key signs starts with the same encoded
    /// header, the dot and the encoded start of the claims (`{"sid":"`), together over 64
    /// bytes, so one of the SHA-256 compressions of every MAC is the same and is done once
    /// here. Only the `hmac` crate's public API is used (`update` on a clone); a whole block
    /// is compressed at once, so the clone holds no buffered bytes and the rest of a token
    /// is hashed straight from it. The MAC of any message is unchanged; a message that
    /// starts otherwise takes the whole way. Does nothing when `prefix` is shorter than a
    /// block.
    pub(crate) fn prime(&mut self, prefix: &[u8]) {
        let Some(block) = prefix.first_chunk::<BLOCK_LEN>() else {
            return;
        };
        let mut mac = self.mac.clone();
        mac.update(block);
        self.primed = Some(Box::new(Primed { block: *block, mac }));
    }

    /// The fingerprint of the secret.
    pub(crate) fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// The keyed MAC state fed `input`, ready to finalize or verify.
    fn fed(&self, input: &[u8]) -> HmacSha256 {
        // The block compared is the token's public beginning, not a secret.
        match &self.primed {
            Some(primed) if input.first_chunk::<BLOCK_LEN>() == Some(&primed.block) => {
                let mut mac = primed.mac.clone();
                mac.update(&input[BLOCK_LEN..]);
                mac
            }
            _ => {
                let mut mac = self.mac.clone();
                mac.update(input);
                mac
            }
        }
    }

    fn tag(&self, input: &[u8]) -> [u8; 32] {
        self.fed(input).finalize().into_bytes().into()
    }

    /// A secret for another purpose, derived from this key: `HMAC-SHA256(key, label)`, as
    /// HKDF-Expand's first block with `label` as its info (RFC 5869 §2.3; the secret is
    /// already uniformly random, so no extract step). `label` never contains a `.`, so no
    /// derived secret is ever the MAC of a token this key signs, and knowing one reveals
    /// nothing of the key or of its other derivations.
    #[cfg_attr(not(feature = "csrf"), allow(dead_code))]
    pub(crate) fn derive(&self, label: &[u8]) -> [u8; 32] {
        debug_assert!(
            !label.contains(&b'.'),
            "a label is never a JWS signing input"
        );
        self.tag(label)
    }

    /// Signs everything in `out` (the signing input) and appends `.` and the signature.
    pub(crate) fn append_signature(&self, out: &mut String) {
        let encoded = encode_tag(&self.tag(out.as_bytes()));
        out.push('.');
        // Base64url is ASCII.
        out.push_str(std::str::from_utf8(&encoded).unwrap_or_default());
    }

    /// Checks the MAC of `signing_input` against the `signature` segment: a segment that is
    /// not the canonical base64url of 32 bytes is malformed; otherwise the `hmac` crate
    /// compares the tags in constant time (`verify_slice`), and a mismatch is a bad
    /// signature.
    pub(crate) fn verify(&self, signing_input: &[u8], signature: &[u8]) -> Result<(), Rejection> {
        let tag = decode_signature(signature)?;
        self.fed(signing_input)
            .verify_slice(&tag)
            .map_err(|_| Rejection::new(RejectionKind::BadSignature))
    }
}

/// A 32-byte tag in unpadded base64url, through the strict engine, on the stack.
fn encode_tag(tag: &[u8; 32]) -> [u8; SIGNATURE_B64_LEN] {
    let mut out = [0u8; SIGNATURE_B64_LEN];
    // 32 bytes always encode to 43 characters.
    let written = B64.encode_slice(tag, &mut out).unwrap_or(0);
    debug_assert_eq!(written, SIGNATURE_B64_LEN);
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

    /// The MAC of `message` from scratch, with the `hmac` crate alone.
    fn reference_tag(secret: &[u8], message: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(secret).expect("any length");
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 512,
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        /// The primed state is a shortcut to the general path, never another MAC: for
        /// messages that start with the primed block, that differ from it in one byte, or
        /// that are cut short anywhere, the tag is the plain keyed state's and the one the
        /// `hmac` crate computes from scratch; signatures verify exactly when they are right.
        #[test]
        fn a_primed_key_computes_the_mac_of_the_general_path(
            secret in proptest::collection::vec(proptest::prelude::any::<u8>(), 32..100),
            prefix in proptest::collection::vec(proptest::prelude::any::<u8>(), 64..130),
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            cut in 0usize..500,
            flip_at in 0usize..64,
            flip in 1u8..=255,
        ) {
            let plain = HmacKey::new(&secret).expect("at least 32 bytes");
            let mut primed = plain.clone();
            primed.prime(&prefix);
            proptest::prop_assert!(primed.primed.is_some());
            let whole: Vec<u8> = prefix.iter().chain(&tail).copied().collect();
            let mut flipped = whole.clone();
            flipped[flip_at] ^= flip;
            let short = &whole[..cut.min(whole.len())];
            for message in [&whole[..], &flipped[..], short] {
                let expected = reference_tag(&secret, message);
                proptest::prop_assert_eq!(plain.tag(message), expected);
                proptest::prop_assert_eq!(primed.tag(message), expected);
                let signature = B64.encode(expected);
                proptest::prop_assert_eq!(primed.verify(message, signature.as_bytes()), Ok(()));
                let mut wrong = expected;
                wrong[flip_at % 32] ^= flip;
                proptest::prop_assert_eq!(
                    primed.verify(message, B64.encode(wrong).as_bytes()).map_err(|e| e.kind()),
                    Err(RejectionKind::BadSignature)
                );
            }
        }
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
