//! The JWS compact serialization (RFC 7515 §7.1): splitting, header checks, and the
//! signature check of the key the header names (HS256 or EdDSA, fixed by the key). Knows
//! nothing about session claims.

use std::borrow::Cow;

use base64::Engine as _;
use serde::Deserialize;
use serde::de::IgnoredAny;

pub(crate) use crate::encoding::B64;
use crate::error::{Rejection, RejectionKind};
use crate::keys::{Key, KeyRing};

pub use crate::keys::TOKEN_TYPE;

/// Longest encoded header accepted on the slow path (headers that are not byte-identical
/// to one of ours). Ours are under 100 bytes.
pub(crate) const MAX_HEADER_B64_LEN: usize = 512;

const fn reject(kind: RejectionKind) -> Rejection {
    Rejection::new(kind)
}

/// The three segments of a compact JWS, as received.
pub(crate) struct Segments<'a> {
    pub(crate) header: &'a [u8],
    pub(crate) payload: &'a [u8],
    pub(crate) signature: &'a [u8],
    /// `header "." payload`: the JWS signing input.
    pub(crate) signing_input: &'a [u8],
}

/// Splits at the two dots; any other count, or an empty segment, is malformed.
pub(crate) fn split(token: &[u8]) -> Result<Segments<'_>, Rejection> {
    let mut dots = memchr::memchr_iter(b'.', token);
    let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(reject(RejectionKind::Malformed));
    };
    segments(token, first, second)
}

/// What a token looks like by its dots, found in one pass: a compact JWS (two dots), a
/// compact JWE (four), or neither.
pub(crate) enum Shape<'a> {
    /// Two dots: the segments (any empty one already refused as malformed).
    Jws(Result<Segments<'a>, Rejection>),
    /// Four dots, at these positions (the JWE segments).
    #[cfg_attr(not(feature = "jwe"), allow(dead_code))]
    Jwe([usize; 4]),
    /// Any other number of dots.
    Malformed,
}

/// Tells a JWS from a JWE with a single scan for dots (the session codec accepts both).
pub(crate) fn shape(token: &[u8]) -> Shape<'_> {
    let mut dots = [0usize; 4];
    let mut count = 0;
    for at in memchr::memchr_iter(b'.', token) {
        let Some(slot) = dots.get_mut(count) else {
            return Shape::Malformed;
        };
        *slot = at;
        count += 1;
    }
    match count {
        2 => Shape::Jws(segments(token, dots[0], dots[1])),
        4 => Shape::Jwe(dots),
        _ => Shape::Malformed,
    }
}

/// The segments of a token whose only two dots are at `first` and `second`.
fn segments(token: &[u8], first: usize, second: usize) -> Result<Segments<'_>, Rejection> {
    let malformed = reject(RejectionKind::Malformed);
    let signature = &token[second + 1..];
    let header = &token[..first];
    let payload = &token[first + 1..second];
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(malformed);
    }
    Ok(Segments {
        header,
        payload,
        signature,
        signing_input: &token[..second],
    })
}

/// Parses JSON that must be an object: a JOSE header, a claims set (a derived struct would
/// also accept a JSON array). Anything else is malformed.
pub(crate) fn parse_object<'j, H: Deserialize<'j>>(json: &'j [u8]) -> Result<H, Rejection> {
    let malformed = reject(RejectionKind::Malformed);
    match json.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => serde_json::from_slice(json).map_err(|_| malformed),
        _ => Err(malformed),
    }
}

pub(crate) fn decode_header_json(segment: &[u8]) -> Result<Vec<u8>, Rejection> {
    if segment.len() > MAX_HEADER_B64_LEN {
        return Err(reject(RejectionKind::Malformed));
    }
    B64.decode(segment)
        .map_err(|_| reject(RejectionKind::Malformed))
}

/// A session token header. Exactly these members, each at most once.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
}

/// A general JWS header: `alg` required, `kid` and `typ` read, `crit` refused (we implement
/// no extensions), other members ignored.
#[derive(Deserialize)]
struct GeneralHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// Whether `typ` names the media type `expected` (given without `application/`):
/// case-insensitive, the `application/` prefix optional (RFC 7515 §4.1.9).
pub(crate) fn is_type(typ: &str, expected: &str) -> bool {
    let bare = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    bare.eq_ignore_ascii_case(expected)
}

/// Finds the key for a session token header.
///
/// Fast path: the header is byte-identical to the precomputed header of a key in the ring
/// (every token this crate signs). Slow path: decode it (tokens from other JWT libraries
/// order members differently) and apply the same rules: `alg` must be the key's algorithm,
/// `typ` ours, `kid` known, no other member.
///
/// Returns the key's index in the ring (0 is the signing key). `typ` is the token type
/// required (the session type, or a minted token's); only session headers have a fast path.
fn find_session_key(ring: &KeyRing, header: &[u8], typ: &str) -> Result<usize, Rejection> {
    if typ == TOKEN_TYPE
        && let Some(i) = ring
            .keys()
            .iter()
            .position(|k| k.encoded_header().as_bytes() == header)
    {
        return Ok(i);
    }
    let json = decode_header_json(header)?;
    let parsed: SessionHeader<'_> = parse_object(&json)?;
    let kid = parsed.kid.ok_or(reject(RejectionKind::UnknownKey))?;
    let index = ring
        .keys()
        .iter()
        .position(|k| k.kid() == kid)
        .ok_or(reject(RejectionKind::UnknownKey))?;
    if !ring.keys()[index].algorithm().is_named(&parsed.alg) {
        return Err(reject(RejectionKind::UnsupportedAlgorithm));
    }
    match parsed.typ {
        Some(found) if is_type(&found, typ) => Ok(index),
        _ => Err(reject(RejectionKind::WrongType)),
    }
}

/// The `kid` of a token's header, read without verifying anything (for the rare path that
/// asks a key source about an unknown key). `None` for anything that does not parse.
pub(crate) fn header_kid(token: &[u8]) -> Option<String> {
    let seg = split(token).ok()?;
    let json = decode_header_json(seg.header).ok()?;
    let header: GeneralHeader<'_> = parse_object(&json).ok()?;
    let kid = header.kid?;
    (!kid.is_empty() && kid.len() <= crate::keys::MAX_PUBLIC_KID_LEN).then(|| kid.into_owned())
}

/// The `exp` claim of a token, read without verifying anything: the rare path of an
/// unknown key id skips waiting for fresher keys when the token would be refused as
/// expired anyway. `None` for anything that does not parse.
pub(crate) fn unverified_exp(token: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Exp {
        exp: u64,
    }
    let seg = split(token).ok()?;
    let mut payload = Vec::new();
    decode_segment_into(seg.payload, &mut payload).ok()?;
    serde_json::from_slice::<Exp>(&payload).ok().map(|e| e.exp)
}

#[cfg(any(all(test, feature = "jwe"), feature = "propagate"))]
/// Verifies a token's structure, header and signature, for tokens of type `typ` (session
/// tokens, minted downstream tokens): exactly `alg`, `kid` and `typ` in the header, the key
/// fixing the algorithm. `max_len` is checked before anything else. Returns the index of
/// the key that verified it and the raw payload segment.
pub(crate) fn verify_typed<'t>(
    ring: &KeyRing,
    token: &'t [u8],
    max_len: usize,
    typ: &str,
) -> Result<(usize, &'t [u8]), Rejection> {
    if token.len() > max_len {
        return Err(reject(RejectionKind::Oversized));
    }
    verify_segments(ring, split(token)?, typ)
}

/// The header and signature checks of [`verify_typed`], on a token already split (and
/// already held to its length cap).
pub(crate) fn verify_segments<'t>(
    ring: &KeyRing,
    seg: Segments<'t>,
    typ: &str,
) -> Result<(usize, &'t [u8]), Rejection> {
    let index = find_session_key(ring, seg.header, typ)?;
    ring.keys()[index].verify_signature(seg.signing_input, seg.signature)?;
    Ok((index, seg.payload))
}

/// Decodes a base64url segment (strictly) into `out`, replacing its contents.
///
/// The buffer is lengthened (and so zeroed) only where it is shorter than the decoding
/// needs: a reused buffer is not cleared and zeroed again for every token.
pub(crate) fn decode_segment_into(segment: &[u8], out: &mut Vec<u8>) -> Result<(), Rejection> {
    let room = base64::decoded_len_estimate(segment.len());
    if out.len() < room {
        out.resize(room, 0);
    }
    match B64.decode_slice(segment, out.as_mut_slice()) {
        Ok(len) => {
            out.truncate(len);
            Ok(())
        }
        Err(_) => {
            out.clear();
            Err(reject(RejectionKind::Malformed))
        }
    }
}

/// Verifies any compact JWS signed with `key` (HS256 or EdDSA) and returns its payload
/// bytes.
///
/// This is the plain JWS check (RFC 7515), with none of the session rules: the header needs
/// `alg` equal to the key's algorithm and may carry any `typ`; a `kid`, when present, must be
/// the key's id; `crit` is refused, since no extension is understood. Segments must be
/// canonical base64url. Use it to check JWS test vectors or tokens that are not sessions;
/// sessions go through [`TokenCodec::verify`](crate::token::TokenCodec::verify).
///
/// ```
/// use tower_stateless_session::{token::verify_jws, Key};
///
/// // RFC 7515, Appendix A.1.
/// let key = Key::hs256_base64(
///     "a1",
///     "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
/// )?;
/// let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9\
///     .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
///     .dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// let payload = verify_jws(token, &key).expect("the RFC example verifies");
/// assert!(payload.starts_with(br#"{"iss":"joe","#));
/// # Ok::<(), tower_stateless_session::ConfigError>(())
/// ```
///
/// # Errors
/// A [`Rejection`] whose kind names the failed check.
pub fn verify_jws(token: impl AsRef<[u8]>, key: &Key) -> Result<Vec<u8>, Rejection> {
    let seg = split(token.as_ref())?;
    let json = decode_header_json(seg.header)?;
    let header: GeneralHeader<'_> = parse_object(&json)?;
    if header.crit.is_some() {
        return Err(reject(RejectionKind::Malformed));
    }
    if !key.algorithm().is_named(&header.alg) {
        return Err(reject(RejectionKind::UnsupportedAlgorithm));
    }
    if header.kid.is_some_and(|kid| kid != key.kid()) {
        return Err(reject(RejectionKind::UnknownKey));
    }
    key.verify_signature(seg.signing_input, seg.signature)?;
    let mut payload = Vec::new();
    decode_segment_into(seg.payload, &mut payload)?;
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_counts_dots_and_refuses_empty_segments() {
        assert!(split(b"a.b.c").is_ok());
        for bad in [
            &b""[..],
            b"abc",
            b"a.b",
            b"a.b.c.d",
            b"a.b.c.d.e",
            b".b.c",
            b"a..c",
            b"a.b.",
            b"..",
        ] {
            let e = split(bad).err().map(|e| e.kind());
            assert_eq!(
                e,
                Some(RejectionKind::Malformed),
                "{:?} should be malformed",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn shape_counts_dots_once_as_split_and_the_jwe_check_would() {
        for (token, expected) in [
            (&b"a.b.c"[..], "jws"),
            (b"a..c", "jws-malformed"),
            (b".b.c", "jws-malformed"),
            (b"a.b.", "jws-malformed"),
            (b"a.b.c.d.e", "jwe"),
            (b"....", "jwe"),
            (b"", "malformed"),
            (b"abc", "malformed"),
            (b"a.b", "malformed"),
            (b"a.b.c.d", "malformed"),
            (b"a.b.c.d.e.f", "malformed"),
            (b"a.b.c.d.e.f.g.h", "malformed"),
        ] {
            let found = match shape(token) {
                Shape::Jws(Ok(_)) => "jws",
                Shape::Jws(Err(e)) if e.kind() == RejectionKind::Malformed => "jws-malformed",
                Shape::Jws(Err(_)) => "jws-other",
                Shape::Jwe(_) => "jwe",
                Shape::Malformed => "malformed",
            };
            assert_eq!(found, expected, "{:?}", String::from_utf8_lossy(token));
            // Where it is a JWE, the segments are the JWE split's.
            #[cfg(feature = "jwe")]
            if let Shape::Jwe(dots) = shape(token) {
                assert_eq!(
                    crate::token::jwe::segments(token, dots).map_err(|e| e.kind()),
                    crate::token::jwe::split(token).map_err(|e| e.kind()),
                );
            }
            // Where it is a JWS, the segments are split's.
            if let Shape::Jws(Ok(seg)) = shape(token) {
                let split = split(token).expect("split agrees");
                assert_eq!(
                    (seg.header, seg.payload, seg.signature, seg.signing_input),
                    (
                        split.header,
                        split.payload,
                        split.signature,
                        split.signing_input
                    )
                );
            }
        }
    }

    #[test]
    fn typ_comparison_follows_rfc_7515() {
        for ok in [
            "sess+jwt",
            "SESS+JWT",
            "application/sess+jwt",
            "Application/Sess+JWT",
        ] {
            assert!(is_type(ok, TOKEN_TYPE), "{ok} should match");
        }
        for bad in [
            "JWT",
            "at+jwt",
            "application/",
            "",
            "application/jwt",
            "xsess+jwt",
        ] {
            assert!(!is_type(bad, TOKEN_TYPE), "{bad} should not match");
        }
    }
}
