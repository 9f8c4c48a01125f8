//! Bad proofs, each refused with its own reason, through the public verifiers of both
//! protocols (the shared core, for each protocol built in): DBSC's `dbsc+jwt` with the key
//! in the header (a registration) and DPoP's `dpop+jwt`.

use serde_json::{Value, json};
use tower_stateless_session::pop::ProofError;

use crate::pop_support::{ProofKey, b64, der, segments, unb64};

const NOW: u64 = 1_800_000_000;
const URL: &str = "https://api.example.com/resource";

/// The proof types built in.
fn protocols() -> Vec<&'static str> {
    [
        cfg!(feature = "dbsc").then_some("dbsc+jwt"),
        cfg!(feature = "dpop").then_some("dpop+jwt"),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Verifies `proof` as a proof of type `typ` whose key is in its header.
fn verify(typ: &str, proof: &str) -> Result<(), ProofError> {
    match typ {
        #[cfg(feature = "dbsc")]
        "dbsc+jwt" => {
            let check = tower_stateless_session::pop::dbsc::ProofCheck {
                endpoint_path: "/resource",
                authorization: None,
                session_id: None,
                now: NOW,
            };
            tower_stateless_session::pop::dbsc::verify_proof(proof, None, &check).map(|_| ())
        }
        #[cfg(feature = "dpop")]
        "dpop+jwt" => {
            let check = tower_stateless_session::pop::dpop::DpopCheck {
                method: "GET",
                url: URL,
                now: NOW,
                iat_window: 60,
                token: None,
            };
            tower_stateless_session::pop::dpop::verify_proof(proof, &check).map(|_| ())
        }
        other => panic!("no protocol {other}"),
    }
}

fn header(key: &ProofKey, typ: &str) -> Value {
    json!({ "alg": key.alg(), "typ": typ, "jwk": key.jwk() })
}

fn payload() -> Value {
    json!({ "jti": "j-1", "htm": "GET", "htu": URL, "iat": NOW })
}

/// Checks that `make(typ)` is refused as `want` under every protocol (and that the proof
/// it is made from verifies, so the refusal is about the change).
fn refused(want: ProofError, make: impl Fn(&ProofKey, &str) -> String) {
    let key = ProofKey::es256(3);
    for typ in protocols() {
        let good = key.proof(&header(&key, typ), &payload());
        assert_eq!(
            verify(typ, &good),
            Ok(()),
            "{typ}: the untouched proof verifies"
        );
        assert_eq!(verify(typ, &make(&key, typ)), Err(want), "{typ}: {want:?}");
    }
}

#[test]
fn alg_none_is_refused() {
    refused(ProofError::AlgorithmNotAllowed, |key, typ| {
        let mut h = header(key, typ);
        h["alg"] = json!("none");
        let (hh, pp, _) = segments(&key.proof(&h, &payload()));
        format!("{hh}.{pp}.")
    });
    refused(ProofError::AlgorithmNotAllowed, |key, typ| {
        let mut h = header(key, typ);
        h["alg"] = json!("none");
        key.proof(&h, &payload())
    });
}

#[test]
fn hs256_with_the_public_key_as_an_hmac_secret_is_refused() {
    use hmac::{Hmac, KeyInit as _, Mac as _};
    refused(ProofError::AlgorithmNotAllowed, |key, typ| {
        let mut h = header(key, typ);
        h["alg"] = json!("HS256");
        let input = format!("{}.{}", b64(h.to_string()), b64(payload().to_string()));
        // The classic confusion: the public key's own bytes as the HMAC secret.
        let secret = key.jwk().to_string();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("hmac");
        mac.update(input.as_bytes());
        format!("{input}.{}", b64(mac.finalize().into_bytes()))
    });
}

#[test]
fn an_algorithm_that_does_not_fit_the_key_is_refused() {
    refused(ProofError::AlgorithmKeyMismatch, |key, typ| {
        let mut h = header(key, typ);
        h["alg"] = json!("RS256");
        key.proof(&h, &payload())
    });
    // A JWK naming another algorithm than the header's.
    refused(ProofError::AlgorithmKeyMismatch, |key, typ| {
        let mut h = header(key, typ);
        h["jwk"]["alg"] = json!("RS256");
        key.proof(&h, &payload())
    });
}

#[test]
fn a_missing_or_other_typ_is_refused() {
    refused(ProofError::WrongType, |key, typ| {
        let mut h = header(key, typ);
        h.as_object_mut().expect("object").remove("typ");
        key.proof(&h, &payload())
    });
    refused(ProofError::WrongType, |key, typ| {
        let mut h = header(key, typ);
        h["typ"] = json!("JWT");
        key.proof(&h, &payload())
    });
    // The other protocol's proof type.
    refused(ProofError::WrongType, |key, typ| {
        let mut h = header(key, typ);
        h["typ"] = json!(if typ == "dbsc+jwt" {
            "dpop+jwt"
        } else {
            "dbsc+jwt"
        });
        key.proof(&h, &payload())
    });
}

#[test]
fn a_jwk_with_private_members_is_refused() {
    refused(ProofError::PrivateKey, |key, typ| {
        let mut h = header(key, typ);
        h["jwk"]["d"] = json!(b64([7u8; 32]));
        key.proof(&h, &payload())
    });
}

#[test]
fn a_point_off_the_curve_is_refused() {
    refused(ProofError::InvalidKey, |key, typ| {
        let mut h = header(key, typ);
        let mut y = unb64(h["jwk"]["y"].as_str().expect("y"));
        y[31] ^= 1;
        h["jwk"]["y"] = json!(b64(y));
        key.proof(&h, &payload())
    });
}

#[test]
fn rsa_under_2048_bits_is_refused() {
    refused(ProofError::WeakKey, |key, typ| {
        let mut modulus = vec![0xC3u8; 128];
        modulus[127] |= 1;
        let h = json!({
            "alg": "RS256",
            "typ": typ,
            "jwk": { "kty": "RSA", "n": b64(modulus), "e": "AQAB" },
        });
        key.proof(&h, &payload())
    });
}

#[test]
fn rs256_proofs_of_a_2048_bit_key_verify() {
    let key = ProofKey::rs256();
    for typ in protocols() {
        let proof = key.proof(&header(&key, typ), &payload());
        assert_eq!(verify(typ, &proof), Ok(()), "{typ}");
    }
}

#[test]
fn der_signatures_are_refused() {
    refused(ProofError::SignatureEncoding, |key, typ| {
        let (h, p, s) = segments(&key.proof(&header(key, typ), &payload()));
        format!("{h}.{p}.{}", b64(der(&unb64(&s))))
    });
}

#[test]
fn a_tampered_header_payload_or_signature_is_refused() {
    refused(ProofError::BadSignature, |key, typ| {
        let (_, p, s) = segments(&key.proof(&header(key, typ), &payload()));
        let mut h = header(key, typ);
        h["kid"] = json!("added");
        format!("{}.{p}.{s}", b64(h.to_string()))
    });
    refused(ProofError::BadSignature, |key, typ| {
        let (h, _, s) = segments(&key.proof(&header(key, typ), &payload()));
        let mut other = payload();
        other["jti"] = json!("j-2");
        format!("{h}.{}.{s}", b64(other.to_string()))
    });
    refused(ProofError::BadSignature, |key, typ| {
        let (h, p, s) = segments(&key.proof(&header(key, typ), &payload()));
        let mut signature = unb64(&s);
        signature[10] ^= 0x40;
        format!("{h}.{p}.{}", b64(signature))
    });
    // Signed by another key than the header's.
    refused(ProofError::BadSignature, |key, typ| {
        let other = ProofKey::es256(9);
        let (_, _, s) = segments(&other.proof(&header(key, typ), &payload()));
        let (h, p, _) = segments(&key.proof(&header(key, typ), &payload()));
        format!("{h}.{p}.{s}")
    });
}

#[test]
fn a_proof_without_its_key_is_refused_where_the_key_must_come_with_it() {
    refused(ProofError::MissingKey, |key, typ| {
        let h = json!({ "alg": key.alg(), "typ": typ });
        key.proof(&h, &payload())
    });
}

#[cfg(feature = "dbsc")]
#[test]
fn a_refresh_proof_carrying_a_key_is_refused() {
    use tower_stateless_session::pop::PublicJwk;
    use tower_stateless_session::pop::dbsc::{ProofCheck, verify_proof};
    let key = ProofKey::es256(3);
    let stored = PublicJwk::from_json(key.jwk().to_string().as_bytes()).expect("key");
    let check = ProofCheck {
        endpoint_path: "/r",
        authorization: None,
        session_id: None,
        now: NOW,
    };
    let without = key.dbsc("c", false, None);
    assert!(verify_proof(&without, Some(&stored), &check).is_ok());
    let with = key.dbsc("c", true, None);
    assert_eq!(
        verify_proof(&with, Some(&stored), &check).map(|_| ()),
        Err(ProofError::UnexpectedKey),
        "even its own key: a refresh proof never brings one"
    );
}

#[test]
fn an_unknown_crit_is_refused() {
    refused(ProofError::CriticalHeader, |key, typ| {
        let mut h = header(key, typ);
        h["crit"] = json!(["exp"]);
        h["exp"] = json!(1);
        key.proof(&h, &payload())
    });
}

#[test]
fn an_oversized_header_or_proof_is_refused_before_decoding() {
    refused(ProofError::Oversized, |key, typ| {
        let mut h = header(key, typ);
        h["pad"] = json!("x".repeat(2000));
        key.proof(&h, &payload())
    });
    refused(ProofError::Oversized, |key, typ| {
        let mut p = payload();
        p["pad"] = json!("x".repeat(9000));
        key.proof(&header(key, typ), &p)
    });
}

#[test]
fn malformed_proofs_are_refused() {
    for typ in protocols() {
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "a..c",
            "!!!.e30.AA",
            "W10.e30.AA", // a header that is an array
        ] {
            assert_eq!(
                verify(typ, bad),
                Err(ProofError::Malformed),
                "{typ}: {bad:?}"
            );
        }
        // A member given twice.
        let key = ProofKey::es256(3);
        let jwk = key.jwk().to_string();
        let h = format!(r#"{{"alg":"ES256","alg":"ES256","typ":"{typ}","jwk":{jwk}}}"#);
        let proof = key.proof_raw(h.as_bytes(), payload().to_string().as_bytes());
        assert_eq!(
            verify(typ, &proof),
            Err(ProofError::Malformed),
            "{typ}: duplicate"
        );
    }
}

#[test]
fn malformed_structured_fields_are_refused() {
    use tower_stateless_session::pop::sf;
    for bad in [
        r#""unterminated"#,
        r#""a\x""#,
        "(a b",
        "a,,b",
        "\u{7f}",
        r#"("a");"#,
    ] {
        assert_eq!(
            sf::parse_list(bad).err(),
            Some(ProofError::Malformed),
            "{bad:?}"
        );
    }
    assert_eq!(
        sf::parse_item(&"a".repeat(sf::MAX_FIELD_LEN + 1)),
        Err(ProofError::Oversized)
    );
    assert_eq!(sf::bare_or_string(r#""a"b""#), Err(ProofError::Malformed));
}

#[cfg(feature = "dpop")]
mod dpop_claims {
    use serde_json::json;
    use tower_stateless_session::pop::ProofError;
    use tower_stateless_session::pop::dpop::{DpopCheck, verify_proof};

    use super::{NOW, URL};
    use crate::pop_support::ProofKey;

    fn check(token: Option<&[u8]>) -> DpopCheck<'_> {
        DpopCheck {
            method: "POST",
            url: URL,
            now: NOW,
            iat_window: 60,
            token,
        }
    }

    #[test]
    fn wrong_htm_htu_ath_and_iat_are_each_refused() {
        let key = ProofKey::es256(4);
        let token = b"a.b.c";
        let good = key.dpop("POST", URL, NOW, "j", Some("a.b.c"), None);
        assert!(verify_proof(&good, &check(Some(token))).is_ok());
        for (proof, want) in [
            (
                key.dpop("GET", URL, NOW, "j", Some("a.b.c"), None),
                ProofError::WrongMethod,
            ),
            (
                key.dpop("post", URL, NOW, "j", Some("a.b.c"), None),
                ProofError::WrongMethod,
            ),
            (
                key.dpop(
                    "POST",
                    "https://api.example.com/other",
                    NOW,
                    "j",
                    Some("a.b.c"),
                    None,
                ),
                ProofError::WrongUrl,
            ),
            (
                key.dpop(
                    "POST",
                    "https://evil.example/resource",
                    NOW,
                    "j",
                    Some("a.b.c"),
                    None,
                ),
                ProofError::WrongUrl,
            ),
            (
                key.dpop("POST", URL, NOW, "j", Some("x.y.z"), None),
                ProofError::WrongTokenHash,
            ),
            (
                key.dpop("POST", URL, NOW, "j", None, None),
                ProofError::WrongTokenHash,
            ),
            (
                key.dpop("POST", URL, NOW - 61, "j", Some("a.b.c"), None),
                ProofError::IatOutOfWindow,
            ),
            (
                key.dpop("POST", URL, NOW + 61, "j", Some("a.b.c"), None),
                ProofError::IatOutOfWindow,
            ),
        ] {
            assert_eq!(
                verify_proof(&proof, &check(Some(token))),
                Err(want),
                "{want:?}"
            );
        }
        // The window's edges are in.
        for iat in [NOW - 60, NOW + 60] {
            let proof = key.dpop("POST", URL, iat, "j", Some("a.b.c"), None);
            assert!(
                verify_proof(&proof, &check(Some(token))).is_ok(),
                "iat {iat}"
            );
        }
        // htu compared without its query.
        let with_query = key.dpop(
            "POST",
            &format!("{URL}?page=2"),
            NOW,
            "j",
            Some("a.b.c"),
            None,
        );
        assert!(verify_proof(&with_query, &check(Some(token))).is_ok());
        // A required claim missing.
        let header = json!({ "alg": "ES256", "typ": "dpop+jwt", "jwk": key.jwk() });
        let no_jti = key.proof(&header, &json!({ "htm": "POST", "htu": URL, "iat": NOW }));
        assert_eq!(
            verify_proof(&no_jti, &check(None)),
            Err(ProofError::MissingClaim)
        );
    }
}
