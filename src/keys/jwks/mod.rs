//! JSON Web Key Sets (RFC 7517) of Ed25519 public keys (RFC 8037): the document the
//! [`JwksService`] serves, and the parser a JWKS-backed verifier reads it with.
//!
//! Each key is published as
//! `{"kty":"OKP","crv":"Ed25519","x":"<base64url>","kid":"<kid>","use":"sig","alg":"EdDSA"}`.
//! A secret is never published: HS256 keys have no public half, and the document holds no
//! private member (`d`).

mod service;
#[cfg(feature = "jwks")]
mod verifier;

pub use self::service::{DEFAULT_JWKS_MAX_AGE, JwksService};
#[cfg(feature = "jwks")]
pub use self::verifier::{
    DEFAULT_JWKS_MAX_BYTES, DEFAULT_JWKS_MAX_KEYS, DEFAULT_JWKS_MIN_REFETCH, DEFAULT_JWKS_REFRESH,
    DEFAULT_JWKS_TIMEOUT, DEFAULT_UNKNOWN_KID_WAIT, JwksError, JwksStatus, JwksVerifier,
    JwksVerifierBuilder,
};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{Algorithm, Key};
use crate::encoding::B64;

/// One public key as a JWK.
#[derive(Serialize)]
struct PublicJwk<'a> {
    kty: &'static str,
    crv: &'static str,
    x: String,
    kid: &'a str,
    #[serde(rename = "use")]
    use_: &'static str,
    alg: &'static str,
}

#[derive(Serialize)]
struct PublicJwks<'a> {
    keys: Vec<PublicJwk<'a>>,
}

/// The JWKS document of the public halves of `keys` (keys without one, HS256, are left
/// out), in key-id order: every node holding the same keys serves the same bytes (and the
/// same `ETag`), whichever key it signs with.
pub(crate) fn document<'k>(keys: impl IntoIterator<Item = &'k Key>) -> Vec<u8> {
    let mut keys: Vec<PublicJwk<'k>> = keys
        .into_iter()
        .filter_map(|key| {
            let x = key.ed25519_public_bytes()?;
            Some(PublicJwk {
                kty: "OKP",
                crv: "Ed25519",
                x: B64.encode(x),
                kid: key.kid(),
                use_: "sig",
                alg: Algorithm::EdDSA.as_str(),
            })
        })
        .collect();
    keys.sort_by(|a, b| a.kid.cmp(b.kid));
    // Plain strings and a vector: serialization cannot fail.
    serde_json::to_vec(&PublicJwks { keys }).unwrap_or_else(|_| b"{\"keys\":[]}".to_vec())
}

/// One key of a JWKS as received: the members we read, others ignored.
#[derive(Deserialize)]
#[cfg_attr(not(feature = "jwks"), allow(dead_code))]
struct ReceivedJwk {
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    d: Option<serde::de::IgnoredAny>,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    key_ops: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[cfg_attr(not(feature = "jwks"), allow(dead_code))]
struct ReceivedJwks {
    keys: Vec<serde_json::Value>,
}

/// What a received JWKS holds.
#[cfg_attr(not(feature = "jwks"), allow(dead_code))]
pub(crate) struct ParsedJwks {
    /// The usable Ed25519 verification keys, in document order, distinct key ids.
    pub(crate) keys: Vec<Key>,
    /// Keys left out: other key types or uses, malformed members, a private part (`d`)
    /// published by mistake, key ids given twice.
    pub(crate) skipped: usize,
}

/// Parses a JWKS document, keeping only what can verify our tokens: `kty` `OKP`, `crv`
/// `Ed25519`, a canonical 32-byte `x`, a valid `kid`, `use` absent or `sig`, `alg` absent or
/// an EdDSA name, `key_ops` absent or holding `verify`, and no `d` (a key whose private
/// part is public is no key at all). At most `max_keys` keys are read.
///
/// `None` when the document is not a JSON object with a `keys` array.
#[cfg_attr(not(feature = "jwks"), allow(dead_code))]
pub(crate) fn parse(json: &[u8], max_keys: usize) -> Option<ParsedJwks> {
    let set: ReceivedJwks = serde_json::from_slice(json).ok()?;
    let mut keys: Vec<Key> = Vec::new();
    let mut duplicated: Vec<String> = Vec::new();
    let mut skipped = 0;
    for value in set.keys {
        let Some(key) = serde_json::from_value::<ReceivedJwk>(value)
            .ok()
            .and_then(usable)
        else {
            skipped += 1;
            continue;
        };
        let kid = key.kid();
        let known_duplicate = duplicated.iter().any(|d| d == kid);
        if known_duplicate || keys.iter().any(|k| k.kid() == kid) {
            // Two keys under one id: neither can be trusted to be the one meant.
            keys.retain(|k| k.kid() != kid);
            if !known_duplicate {
                duplicated.push(kid.to_owned());
            }
            skipped += 1;
            continue;
        }
        if keys.len() == max_keys {
            skipped += 1;
            continue;
        }
        keys.push(key);
    }
    skipped += duplicated.len();
    Some(ParsedJwks { keys, skipped })
}

#[cfg_attr(not(feature = "jwks"), allow(dead_code))]
fn usable(jwk: ReceivedJwk) -> Option<Key> {
    let fits = jwk.kty.as_deref() == Some("OKP")
        && jwk.crv.as_deref() == Some("Ed25519")
        && jwk.d.is_none()
        && jwk.use_.as_deref().is_none_or(|u| u == "sig")
        && jwk
            .alg
            .as_deref()
            .is_none_or(|a| Algorithm::EdDSA.is_named(a))
        && jwk
            .key_ops
            .as_ref()
            .is_none_or(|ops| ops.iter().any(|op| op == "verify"));
    if !fits {
        return None;
    }
    let x = B64.decode(jwk.x?).ok()?;
    Key::ed25519_public(&jwk.kid?, &x).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed(seed: u8) -> Key {
        Key::ed25519_from_seed(&format!("k{seed}"), &[seed; 32]).expect("valid")
    }

    #[test]
    fn the_document_holds_only_public_ed25519_members() {
        let hs = Key::hs256("secret", &[1; 32]).expect("valid");
        let json = document([&ed(2).public_key().expect("Ed25519"), &hs, &ed(1)]);
        let value: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
        let keys = value["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 2, "the HS256 key is never published");
        let first = keys[0].as_object().expect("object");
        let mut members: Vec<&str> = first.keys().map(String::as_str).collect();
        members.sort_unstable();
        assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x"]);
        assert_eq!(keys[0]["alg"], "EdDSA");
        assert_eq!(keys[0]["kid"], "k1", "in key-id order");
        assert!(!String::from_utf8_lossy(&json).contains("secret"));
        let parsed = parse(&json, 10).expect("parses");
        assert_eq!(parsed.keys.len(), 2);
        assert_eq!(parsed.skipped, 0);
        assert_eq!(
            parsed.keys[0].ed25519_public_bytes(),
            ed(1).ed25519_public_bytes()
        );
        assert!(!parsed.keys[0].can_sign());
    }

    #[test]
    fn unusable_keys_are_skipped() {
        let x = B64.encode(ed(1).ed25519_public_bytes().expect("Ed25519"));
        let good = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"ok"}}"#);
        let variants = [
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"rsa"}"#.to_owned(),
            format!(r#"{{"kty":"OKP","crv":"X25519","x":"{x}","kid":"x"}}"#),
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"d","d":"AAAA"}}"#),
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"enc","use":"enc"}}"#),
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"hs","alg":"HS256"}}"#),
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"ops","key_ops":["sign"]}}"#),
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}="}}"#),
            format!(
                r#"{{"kty":"OKP","crv":"Ed25519","x":"{}","kid":"short"}}"#,
                &x[..40]
            ),
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"bad kid"}}"#),
            r#""not an object""#.to_owned(),
        ];
        let json = format!(r#"{{"keys":[{good},{}]}}"#, variants.join(","));
        let parsed = parse(json.as_bytes(), 10).expect("parses");
        assert_eq!(parsed.keys.iter().map(Key::kid).collect::<Vec<_>>(), ["ok"]);
        assert_eq!(parsed.skipped, variants.len());
        let alg_ed25519 = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"n","alg":"Ed25519","use":"sig"}}]}}"#
        );
        assert_eq!(
            parse(alg_ed25519.as_bytes(), 10)
                .expect("parses")
                .keys
                .len(),
            1
        );
        for bad in [&b"[]"[..], b"{}", b"{\"keys\":{}}", b"nope"] {
            assert!(parse(bad, 10).is_none());
        }
    }

    #[test]
    fn a_kid_given_twice_is_dropped_and_the_count_is_capped() {
        let x1 = B64.encode(ed(1).ed25519_public_bytes().expect("Ed25519"));
        let x2 = B64.encode(ed(2).ed25519_public_bytes().expect("Ed25519"));
        let json = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{x1}","kid":"same"}},{{"kty":"OKP","crv":"Ed25519","x":"{x2}","kid":"same"}},{{"kty":"OKP","crv":"Ed25519","x":"{x2}","kid":"other"}}]}}"#
        );
        let parsed = parse(json.as_bytes(), 10).expect("parses");
        assert_eq!(
            parsed.keys.iter().map(Key::kid).collect::<Vec<_>>(),
            ["other"]
        );
        let keys: Vec<Key> = (1..=5).map(ed).collect();
        let json = document(&keys);
        let parsed = parse(&json, 3).expect("parses");
        assert_eq!(parsed.keys.len(), 3);
        assert_eq!(parsed.skipped, 2);
    }
}
