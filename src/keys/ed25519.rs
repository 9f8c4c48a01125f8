//! Ed25519 keys (`EdDSA`, RFC 8032 and RFC 8037): a public key that verifies, and for a
//! key of this process, the private half that signs.
//!
//! Verification is `verify_strict`: weak (small-order) public keys and non-canonical
//! signatures are refused, so one message has one valid signature per key. Lengths are
//! exact: a public key is 32 bytes, a signature 64 bytes in exactly 86 characters of
//! canonical base64url. The private half is zeroized when the last copy of the key is
//! dropped, never printed, and cannot be read back out.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroize as _;

use crate::encoding::B64;
use crate::error::{Rejection, RejectionKind};

/// Length of an Ed25519 public key (and of a private seed), in bytes.
pub const ED25519_KEY_LEN: usize = 32;

/// Length of an encoded Ed25519 signature: 64 bytes in unpadded base64url.
pub(crate) const SIGNATURE_B64_LEN: usize = 86;

/// Why bytes are not a usable Ed25519 public key.
pub(crate) enum PublicKeyProblem {
    Length,
    NotAPoint,
    Weak,
}

impl PublicKeyProblem {
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            PublicKeyProblem::Length => "an Ed25519 public key is exactly 32 bytes",
            PublicKeyProblem::NotAPoint => "not the encoding of a curve point",
            PublicKeyProblem::Weak => "a weak (small-order) public key",
        }
    }
}

/// An Ed25519 key: always the public half, and the private half for keys of this process.
#[derive(Clone)]
pub(crate) struct Ed25519Key {
    public: VerifyingKey,
    /// Shared rather than copied, so the secret lives in one place and is zeroized once,
    /// when the last clone of the key is dropped.
    signing: Option<Arc<SigningKey>>,
}

impl Ed25519Key {
    /// A fresh key pair from the operating system's random source.
    pub(crate) fn generate() -> Result<Self, crate::error::RandomError> {
        let mut seed = [0u8; ED25519_KEY_LEN];
        let filled = crate::error::RandomError::fill(&mut seed);
        let key = filled.map(|()| Self::from_seed(&seed));
        seed.zeroize();
        key
    }

    /// The key pair of a 32-byte seed (the RFC 8032 private key).
    pub(crate) fn from_seed(seed: &[u8; ED25519_KEY_LEN]) -> Self {
        let signing = SigningKey::from_bytes(seed);
        Ed25519Key {
            public: signing.verifying_key(),
            signing: Some(Arc::new(signing)),
        }
    }

    /// A verify-only key from the 32 bytes of a public key.
    pub(crate) fn from_public(bytes: &[u8]) -> Result<Self, PublicKeyProblem> {
        let bytes: &[u8; ED25519_KEY_LEN] =
            bytes.try_into().map_err(|_| PublicKeyProblem::Length)?;
        let public = VerifyingKey::from_bytes(bytes).map_err(|_| PublicKeyProblem::NotAPoint)?;
        if public.is_weak() {
            return Err(PublicKeyProblem::Weak);
        }
        Ok(Ed25519Key {
            public,
            signing: None,
        })
    }

    /// The same key without its private half.
    pub(crate) fn public_only(&self) -> Self {
        Ed25519Key {
            public: self.public,
            signing: None,
        }
    }

    /// Whether this process holds the private half.
    pub(crate) fn can_sign(&self) -> bool {
        self.signing.is_some()
    }

    /// The public key's 32 bytes (the JWK's `x`).
    pub(crate) fn public_bytes(&self) -> [u8; ED25519_KEY_LEN] {
        self.public.to_bytes()
    }

    /// Signs everything in `out` (the signing input) and appends `.` and the signature.
    /// Returns `false`, leaving `out` as it was, for a verify-only key.
    pub(crate) fn append_signature(&self, out: &mut String) -> bool {
        let Some(signing) = &self.signing else {
            return false;
        };
        let signature = signing.sign(out.as_bytes());
        out.push('.');
        B64.encode_string(signature.to_bytes(), out);
        true
    }

    /// Checks the signature segment over `signing_input`: exactly 86 characters of canonical
    /// base64url (else malformed), then the strict Ed25519 check (else a bad signature).
    pub(crate) fn verify(&self, signing_input: &[u8], signature: &[u8]) -> Result<(), Rejection> {
        if signature.len() != SIGNATURE_B64_LEN {
            return Err(Rejection::new(RejectionKind::Malformed));
        }
        let mut buf = [0u8; 66];
        let bytes: [u8; 64] = match B64.decode_slice(signature, &mut buf) {
            Ok(64) => {
                let mut bytes = [0u8; 64];
                bytes.copy_from_slice(&buf[..64]);
                bytes
            }
            _ => return Err(Rejection::new(RejectionKind::Malformed)),
        };
        self.public
            .verify_strict(signing_input, &Signature::from_bytes(&bytes))
            .map_err(|_| Rejection::new(RejectionKind::BadSignature))
    }
}

/// The RFC 7638 JWK thumbprint of an Ed25519 public key: base64url of the SHA-256 of
/// `{"crv":"Ed25519","kty":"OKP","x":"<x>"}` (the required members, sorted, no spaces).
pub(crate) fn thumbprint(public: &[u8; ED25519_KEY_LEN]) -> String {
    let x = URL_SAFE_NO_PAD.encode(public);
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8037 Appendix A.1/A.2: the private seed `d` and public `x` of the example key.
    const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn decode32(text: &str) -> [u8; 32] {
        let bytes = URL_SAFE_NO_PAD.decode(text).expect("base64url");
        bytes.try_into().expect("32 bytes")
    }

    #[test]
    fn rfc_8037_key_signature_and_thumbprint() {
        let key = Ed25519Key::from_seed(&decode32(RFC8037_D));
        assert_eq!(
            key.public_bytes(),
            decode32(RFC8037_X),
            "A.2: public from seed"
        );
        // A.3: the JWK thumbprint.
        assert_eq!(
            thumbprint(&key.public_bytes()),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        // A.4: Ed25519 is deterministic, so our signature over the example's signing input
        // is the RFC's.
        let mut token = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc".to_owned();
        assert!(key.append_signature(&mut token));
        let expected = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt\
                        9g7sVvpAr_MuM0KAg";
        assert_eq!(token.rsplit_once('.').map(|(_, s)| s), Some(expected));
        let (input, signature) = token.rsplit_once('.').expect("a dot");
        let public = Ed25519Key::from_public(&key.public_bytes())
            .ok()
            .expect("valid");
        assert_eq!(
            public.verify(input.as_bytes(), signature.as_bytes()),
            Ok(())
        );
    }

    #[test]
    fn public_keys_are_checked_exactly() {
        let x = decode32(RFC8037_X);
        assert!(Ed25519Key::from_public(&x).is_ok());
        assert!(matches!(
            Ed25519Key::from_public(&x[..31]),
            Err(PublicKeyProblem::Length)
        ));
        let mut long = x.to_vec();
        long.push(0);
        assert!(matches!(
            Ed25519Key::from_public(&long),
            Err(PublicKeyProblem::Length)
        ));
        // The identity point (y = 1) has order 1: a weak key that any signature could match
        // under a lax check.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            Ed25519Key::from_public(&identity),
            Err(PublicKeyProblem::Weak)
        ));
    }

    #[test]
    fn verify_refuses_tampering_and_other_spellings() {
        let key = Ed25519Key::generate().expect("rng");
        let mut token = "head.body".to_owned();
        key.append_signature(&mut token);
        let (input, signature) = token.rsplit_once('.').expect("a dot");
        assert_eq!(key.verify(input.as_bytes(), signature.as_bytes()), Ok(()));
        let kind = |input: &[u8], sig: &[u8]| key.verify(input, sig).map_err(|e| e.kind());
        assert_eq!(
            kind(b"head.bodY", signature.as_bytes()),
            Err(RejectionKind::BadSignature)
        );
        // The last character carries 2 data bits and 4 unused ones: changing an unused bit
        // is another spelling of the same bytes, refused as malformed.
        let last = signature.as_bytes()[85];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let index = alphabet.iter().position(|&c| c == last).expect("base64url");
        let mut respelled = signature.as_bytes().to_vec();
        respelled[85] = alphabet[index ^ 1];
        assert_eq!(
            kind(input.as_bytes(), &respelled),
            Err(RejectionKind::Malformed)
        );
        assert_eq!(
            kind(input.as_bytes(), &signature.as_bytes()[..85]),
            Err(RejectionKind::Malformed)
        );
        let padded = format!("{signature}==");
        assert_eq!(
            kind(input.as_bytes(), padded.as_bytes()),
            Err(RejectionKind::Malformed)
        );
        let other = Ed25519Key::generate().expect("rng");
        assert_eq!(
            other
                .verify(input.as_bytes(), signature.as_bytes())
                .map_err(|e| e.kind()),
            Err(RejectionKind::BadSignature)
        );
    }

    #[test]
    fn a_non_canonical_s_is_refused() {
        // S + L (the group order) verifies under a lax check on some libraries; the strict
        // check (and the scalar check of ed25519-dalek) refuses it.
        let key = Ed25519Key::generate().expect("rng");
        let mut token = "head.body".to_owned();
        key.append_signature(&mut token);
        let (input, signature) = token.rsplit_once('.').expect("a dot");
        let mut bytes = B64.decode(signature).expect("canonical");
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(bytes[32 + i]) + u16::from(L[i]) + carry;
            bytes[32 + i] = sum as u8;
            carry = sum >> 8;
        }
        let respelled = B64.encode(&bytes);
        assert_eq!(
            key.verify(input.as_bytes(), respelled.as_bytes())
                .map_err(|e| e.kind()),
            Err(RejectionKind::BadSignature)
        );
    }

    #[test]
    fn the_public_twin_cannot_sign() {
        let key = Ed25519Key::generate().expect("rng");
        let public = key.public_only();
        assert!(key.can_sign() && !public.can_sign());
        let mut out = "head.body".to_owned();
        assert!(!public.append_signature(&mut out));
        assert_eq!(
            out, "head.body",
            "a failed signature leaves the input alone"
        );
    }
}
