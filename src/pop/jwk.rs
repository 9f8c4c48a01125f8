//! The public keys a proof may carry: P-256 (`ES256`) and RSA of 2048 to 4096 bits
//! (`RS256`), read from a JWK (RFC 7517) strictly, with their RFC 7638 thumbprint.

use std::fmt;

use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use serde::Deserialize;
use serde::de::IgnoredAny;
use sha2::{Digest as _, Sha256};

use super::{ProofAlgorithm, ProofError};
use crate::encoding::B64;

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits (verifying costs grow with it).
pub const MAX_RSA_BITS: usize = 4096;

/// A JWK as received: the members a public key uses, and the private ones only to refuse
/// them. Other members (`use`, `kid`, `key_ops`, `ext`, ...) are ignored, as RFC 7517 asks.
#[derive(Deserialize)]
pub(crate) struct RawJwk {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    d: Option<IgnoredAny>,
    #[serde(default)]
    p: Option<IgnoredAny>,
    #[serde(default)]
    q: Option<IgnoredAny>,
    #[serde(default)]
    dp: Option<IgnoredAny>,
    #[serde(default)]
    dq: Option<IgnoredAny>,
    #[serde(default)]
    qi: Option<IgnoredAny>,
    #[serde(default)]
    oth: Option<IgnoredAny>,
    #[serde(default)]
    k: Option<IgnoredAny>,
}

/// The verifying half, parsed once.
#[derive(Clone)]
enum Verifier {
    Es256(p256::ecdsa::VerifyingKey),
    Rs256(rsa::pkcs1v15::VerifyingKey<Sha256>),
}

/// A public key from a proof's `jwk`, checked: a P-256 point on the curve, or an RSA key of
/// 2048 to 4096 bits with an exponent the `rsa` crate accepts. Never a private key.
///
/// ```
/// use tower_stateless_session::pop::PublicJwk;
///
/// // RFC 7638's example key has 2048 bits; its thumbprint is in section 3.1.
/// let jwk = br#"{"kty":"RSA","e":"AQAB","alg":"RS256","kid":"2011-04-29","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#;
/// let key = PublicJwk::from_json(jwk)?;
/// assert_eq!(key.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
/// # Ok::<(), tower_stateless_session::pop::ProofError>(())
/// ```
#[derive(Clone)]
pub struct PublicJwk {
    verifier: Verifier,
    /// The RFC 7638 members in their order, as JSON: what the thumbprint hashes.
    canonical: String,
    thumbprint: String,
    /// RSA: the modulus length in bytes, which an RS256 signature must have.
    modulus_len: usize,
    /// The JWK's own `alg`, when it names one.
    alg: Option<ProofAlgorithm>,
}

/// Decodes a base64url member strictly (canonical, no padding).
fn member(value: Option<&String>) -> Result<Vec<u8>, ProofError> {
    let value = value.ok_or(ProofError::InvalidKey)?;
    B64.decode(value).map_err(|_| ProofError::InvalidKey)
}

impl PublicJwk {
    /// Reads a JWK from its JSON text.
    ///
    /// # Errors
    /// [`ProofError::Malformed`] for JSON that is not an object of JWK members,
    /// [`ProofError::PrivateKey`], [`ProofError::InvalidKey`], [`ProofError::WeakKey`] or
    /// [`ProofError::AlgorithmNotAllowed`] (a JWK `alg` off the allow-list).
    pub fn from_json(json: &[u8]) -> Result<Self, ProofError> {
        if json.len() > super::MAX_PROOF_HEADER_LEN {
            return Err(ProofError::Oversized);
        }
        let raw: RawJwk = super::proof::parse_object(json)?;
        Self::from_raw(raw)
    }

    pub(crate) fn from_raw(raw: RawJwk) -> Result<Self, ProofError> {
        let private = [
            raw.d.is_some(),
            raw.p.is_some(),
            raw.q.is_some(),
            raw.dp.is_some(),
            raw.dq.is_some(),
            raw.qi.is_some(),
            raw.oth.is_some(),
            raw.k.is_some(),
        ];
        if private.contains(&true) {
            return Err(ProofError::PrivateKey);
        }
        let alg = match raw.alg.as_deref() {
            None => None,
            Some(name) => {
                Some(ProofAlgorithm::from_name(name).ok_or(ProofError::AlgorithmNotAllowed)?)
            }
        };
        match raw.kty.as_str() {
            "EC" => {
                if raw.crv.as_deref() != Some("P-256") || raw.n.is_some() || raw.e.is_some() {
                    return Err(ProofError::InvalidKey);
                }
                let x = member(raw.x.as_ref())?;
                let y = member(raw.y.as_ref())?;
                if x.len() != 32 || y.len() != 32 {
                    return Err(ProofError::InvalidKey);
                }
                let mut point = [0u8; 65];
                point[0] = 0x04;
                point[1..33].copy_from_slice(&x);
                point[33..].copy_from_slice(&y);
                // Refuses points off the curve and the identity.
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .map_err(|_| ProofError::InvalidKey)?;
                let (x, y) = (B64.encode(&x), B64.encode(&y));
                let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
                Ok(Self::finish(Verifier::Es256(key), canonical, 0, alg))
            }
            "RSA" => {
                if raw.crv.is_some() || raw.x.is_some() || raw.y.is_some() {
                    return Err(ProofError::InvalidKey);
                }
                let n = member(raw.n.as_ref())?;
                let e = member(raw.e.as_ref())?;
                // The minimal big-endian form (RFC 7518 §6.3.1): no leading zero octet.
                if n.first().is_none_or(|b| *b == 0) || e.first().is_none_or(|b| *b == 0) {
                    return Err(ProofError::InvalidKey);
                }
                let bits = n.len() * 8 - n[0].leading_zeros() as usize;
                if bits < MIN_RSA_BITS {
                    return Err(ProofError::WeakKey);
                }
                if bits > MAX_RSA_BITS || e.len() > 8 {
                    return Err(ProofError::InvalidKey);
                }
                let modulus = rsa::BoxedUint::from_be_slice_vartime(&n);
                let exponent = rsa::BoxedUint::from_be_slice_vartime(&e);
                let key = rsa::PublicKey::new_with_size_limits(
                    modulus,
                    exponent,
                    MIN_RSA_BITS..=MAX_RSA_BITS,
                )
                .map_err(|_| ProofError::InvalidKey)?;
                let (n_b64, e_b64) = (B64.encode(&n), B64.encode(&e));
                let canonical = format!(r#"{{"e":"{e_b64}","kty":"RSA","n":"{n_b64}"}}"#);
                let verifier = Verifier::Rs256(rsa::pkcs1v15::VerifyingKey::new(key));
                Ok(Self::finish(verifier, canonical, n.len(), alg))
            }
            _ => Err(ProofError::InvalidKey),
        }
    }

    fn finish(
        verifier: Verifier,
        canonical: String,
        modulus_len: usize,
        alg: Option<ProofAlgorithm>,
    ) -> Self {
        let thumbprint = B64.encode(Sha256::digest(canonical.as_bytes()));
        PublicJwk {
            verifier,
            canonical,
            thumbprint,
            modulus_len,
            alg,
        }
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url: what a bound token's `cnf.jkt` names.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The key's required members only, in RFC 7638 order, as JSON (what the thumbprint
    /// hashes; for an EC key, `{"crv":"P-256","kty":"EC","x":"…","y":"…"}`).
    pub fn canonical_json(&self) -> &str {
        &self.canonical
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> ProofAlgorithm {
        match self.verifier {
            Verifier::Es256(_) => ProofAlgorithm::Es256,
            Verifier::Rs256(_) => ProofAlgorithm::Rs256,
        }
    }

    /// Checks that `alg` (already on the allow-list) fits this key.
    pub(crate) fn check_algorithm(&self, alg: ProofAlgorithm) -> Result<(), ProofError> {
        if alg != self.algorithm() || self.alg.is_some_and(|own| own != alg) {
            return Err(ProofError::AlgorithmKeyMismatch);
        }
        Ok(())
    }

    /// Verifies `signature` (decoded) over `message`: ES256 in its raw 64-byte form only,
    /// RS256 of exactly the modulus's length.
    ///
    /// # Errors
    /// [`ProofError::SignatureEncoding`] for the wrong length (a DER signature, for one),
    /// [`ProofError::BadSignature`] when it does not verify.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), ProofError> {
        match &self.verifier {
            Verifier::Es256(key) => {
                if signature.len() != 64 {
                    return Err(ProofError::SignatureEncoding);
                }
                let signature = p256::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| ProofError::BadSignature)?;
                key.verify(message, &signature)
                    .map_err(|_| ProofError::BadSignature)
            }
            Verifier::Rs256(key) => {
                if signature.len() != self.modulus_len {
                    return Err(ProofError::SignatureEncoding);
                }
                let signature = rsa::pkcs1v15::Signature::try_from(signature)
                    .map_err(|_| ProofError::BadSignature)?;
                key.verify(message, &signature)
                    .map_err(|_| ProofError::BadSignature)
            }
        }
    }
}

impl PartialEq for PublicJwk {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}

impl Eq for PublicJwk {}

impl fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicJwk")
            .field("alg", &self.algorithm())
            .field("thumbprint", &self.thumbprint)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC: &str = r#"{"kty":"EC","crv":"P-256","x":"OiqsLo2Fgx8s1x5EI9bjUDi5QN9lg9_pM8VGYnvduP4","y":"LItgwbWewmg0rrauKI1IX4tE2WzNnmB322E4UvfSPt8"}"#;

    #[test]
    fn an_ec_key_reads_and_private_members_are_refused() {
        let key = PublicJwk::from_json(EC.as_bytes()).expect("a P-256 key");
        assert_eq!(key.algorithm(), ProofAlgorithm::Es256);
        let with_d = EC.replace(r#""kty""#, r#""d":"AAAA","kty""#);
        assert_eq!(
            PublicJwk::from_json(with_d.as_bytes()),
            Err(ProofError::PrivateKey)
        );
    }

    #[test]
    fn a_point_off_the_curve_is_refused() {
        // y changed in its last character (still canonical base64url): not on P-256.
        let off = EC.replace("SPt8", "SPt4");
        assert_ne!(off, EC);
        assert_eq!(
            PublicJwk::from_json(off.as_bytes()),
            Err(ProofError::InvalidKey)
        );
    }
}
