//! A compact proof (DBSC's `dbsc+jwt`, DPoP's `dpop+jwt`): size caps, the header's checks,
//! the key, the signature; then the payload as a JSON object for the protocol to read.

use base64::Engine as _;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::jwk::RawJwk;
use super::{MAX_PROOF_HEADER_LEN, MAX_PROOF_LEN, ProofAlgorithm, ProofError, PublicJwk};
use crate::encoding::B64;

/// Where the proof's key comes from.
#[derive(Clone, Copy)]
pub(crate) enum KeySource<'a> {
    /// The header's `jwk` (a DBSC registration, every DPoP proof): required.
    Header,
    /// A key known from before (a DBSC refresh): the header must carry none.
    #[cfg_attr(not(feature = "dbsc"), allow(dead_code))]
    Stored(&'a PublicJwk),
}

/// A proof whose header and signature checked out.
pub(crate) struct VerifiedProof {
    /// The key that signed it (the header's, or the stored one).
    pub(crate) key: Option<PublicJwk>,
    /// The payload, a JSON object.
    pub(crate) payload: serde_json::Map<String, serde_json::Value>,
}

/// A proof header: `alg`, `typ` and `jwk` read, `crit` refused, anything else ignored. A
/// member given twice (in the header or in its `jwk`) is malformed.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    jwk: Option<RawJwk>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// Parses JSON that must be an object (a derived struct would also accept an array).
pub(crate) fn parse_object<'j, T: Deserialize<'j>>(json: &'j [u8]) -> Result<T, ProofError> {
    match json.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => serde_json::from_slice(json).map_err(|_| ProofError::Malformed),
        _ => Err(ProofError::Malformed),
    }
}

/// Whether `typ` is `expected`: case-insensitive, `application/` optional (RFC 7515
/// §4.1.9).
fn is_type(typ: &str, expected: &str) -> bool {
    let bare = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    bare.eq_ignore_ascii_case(expected)
}

/// Verifies a compact proof of type `typ` with the key `source` names, in this order:
/// length caps, three non-empty segments, the header (canonical base64url, a JSON object,
/// no `crit`, `alg` on the allow-list, `typ`), the key (present where required, absent
/// where forbidden, public, valid, fitting `alg`), the signature, then the payload (a JSON
/// object).
pub(crate) fn verify_compact(
    proof: &[u8],
    typ: &str,
    source: KeySource<'_>,
) -> Result<VerifiedProof, ProofError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::Oversized);
    }
    let mut dots = memchr::memchr_iter(b'.', proof);
    let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(ProofError::Malformed);
    };
    let (header_b64, payload_b64, signature_b64) = (
        &proof[..first],
        &proof[first + 1..second],
        &proof[second + 1..],
    );
    // An empty signature is left to the signature check (an unsecured `alg: none` proof
    // is refused for its algorithm, not its shape).
    if header_b64.is_empty() || payload_b64.is_empty() {
        return Err(ProofError::Malformed);
    }
    if header_b64.len() > MAX_PROOF_HEADER_LEN {
        return Err(ProofError::Oversized);
    }
    let header_json = B64.decode(header_b64).map_err(|_| ProofError::Malformed)?;
    let header: Header = parse_object(&header_json)?;
    if header.crit.is_some() {
        return Err(ProofError::CriticalHeader);
    }
    let alg = ProofAlgorithm::from_name(&header.alg).ok_or(ProofError::AlgorithmNotAllowed)?;
    if !header
        .typ
        .as_deref()
        .is_some_and(|found| is_type(found, typ))
    {
        return Err(ProofError::WrongType);
    }
    let (key, owned) = match (source, header.jwk) {
        (KeySource::Header, None) => return Err(ProofError::MissingKey),
        (KeySource::Header, Some(jwk)) => {
            let key = PublicJwk::from_raw(jwk)?;
            (None, Some(key))
        }
        (KeySource::Stored(_), Some(_)) => return Err(ProofError::UnexpectedKey),
        (KeySource::Stored(key), None) => (Some(key), None),
    };
    let key = key.or(owned.as_ref()).ok_or(ProofError::MissingKey)?;
    key.check_algorithm(alg)?;
    let signature = B64
        .decode(signature_b64)
        .map_err(|_| ProofError::Malformed)?;
    key.verify(&proof[..second], &signature)?;
    let payload_json = B64.decode(payload_b64).map_err(|_| ProofError::Malformed)?;
    let payload = parse_object(&payload_json)?;
    Ok(VerifiedProof {
        key: owned,
        payload,
    })
}

/// A string claim of the payload, if present; a present claim of another type is refused.
pub(crate) fn string_claim<'p>(
    payload: &'p serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<Option<&'p str>, ProofError> {
    match payload.get(name) {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ProofError::MissingClaim),
    }
}

/// A whole-seconds time claim, if present; a present claim of another type is refused.
pub(crate) fn time_claim(
    payload: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<Option<u64>, ProofError> {
    match payload.get(name) {
        None => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or(ProofError::MissingClaim),
    }
}
