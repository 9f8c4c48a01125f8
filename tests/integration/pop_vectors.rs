//! Every case of the public DBSC and DPoP vector sets gives its expected result (vendored
//! under `tests/vectors/dbsc/`, see its README for provenance and licences).

use serde_json::Value;
use tower_stateless_session::pop::ProofError;
use tower_stateless_session::pop::PublicJwk;

use crate::pop_support::vector;

fn jwk(value: &Value) -> PublicJwk {
    PublicJwk::from_json(value.to_string().as_bytes()).expect("the vector's key")
}

#[cfg(feature = "dbsc")]
mod dbsc {
    use serde_json::{Value, json};
    use tower_stateless_session::pop::dbsc::{
        self, Credential, ProofCheck, RegistrationOffer, Scope, ScopeRule, SessionChallenge,
        SessionInstructions, Skipped,
    };
    use tower_stateless_session::pop::{ProofAlgorithm, ProofError};

    use super::{jwk, vector};

    /// CloudNua's failure classes, in our reasons.
    fn expected(class: &str) -> Result<(), ProofError> {
        match class {
            "valid" => Ok(()),
            "bad-typ" => Err(ProofError::WrongType),
            "alg-not-allowed" => Err(ProofError::AlgorithmNotAllowed),
            "jwk-forbidden" => Err(ProofError::UnexpectedKey),
            "jwk-missing" => Err(ProofError::MissingKey),
            "alg-key-mismatch" => Err(ProofError::AlgorithmKeyMismatch),
            "bad-signature" => Err(ProofError::BadSignature),
            "challenge-mismatch" => Err(ProofError::WrongChallenge),
            "iat-out-of-window" => Err(ProofError::IatOutOfWindow),
            other => panic!("unknown class {other}"),
        }
    }

    #[test]
    fn every_cloudnua_proof_case_gives_its_expected_result() {
        let proofs = vector("cloudnua/proofs.json");
        let keys = vector("cloudnua/keys.json");
        let now = proofs["now"].as_u64().expect("now");
        let cases = proofs["cases"].as_array().expect("cases");
        assert_eq!(cases.len(), 14, "the set has 14 cases");
        for case in cases {
            let name = case["name"].as_str().expect("name");
            let stored = case["storedKey"]
                .as_str()
                .map(|kty| jwk(&keys[kty]["public"]));
            let session_id = case["expectedSub"].as_str();
            let check = ProofCheck {
                endpoint_path: "/dbsc/register",
                authorization: None,
                session_id,
                now,
            };
            let result =
                dbsc::verify_proof(case["jwt"].as_str().expect("jwt"), stored.as_ref(), &check)
                    .and_then(|proof| {
                        if proof.challenge == case["challenge"].as_str().expect("challenge") {
                            Ok(())
                        } else {
                            Err(ProofError::WrongChallenge)
                        }
                    });
            assert_eq!(
                result,
                expected(case["expected"].as_str().expect("expected")),
                "case {name}"
            );
        }
    }

    #[test]
    fn every_cloudnua_header_case_parses_or_is_refused_as_expected() {
        let headers = vector("cloudnua/headers.json");
        for case in headers["registration"].as_array().expect("registration") {
            let parsed = RegistrationOffer::parse(case["value"].as_str().expect("value"));
            let name = &case["name"];
            match &case["parsed"] {
                Value::Null => assert!(parsed.is_err(), "{name} must be refused"),
                want => {
                    let offer = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
                    let algorithms: Vec<&str> =
                        offer.algorithms.iter().map(|a| a.as_str()).collect();
                    assert_eq!(json!(algorithms), want["algorithms"], "{name}");
                    assert_eq!(json!(offer.path), want["path"], "{name}");
                    assert_eq!(json!(offer.challenge), want["challenge"], "{name}");
                    assert_eq!(json!(offer.authorization), want["authorization"], "{name}");
                }
            }
        }
        for case in headers["challenge"].as_array().expect("challenge") {
            let parsed = SessionChallenge::parse(case["value"].as_str().expect("value"));
            let name = &case["name"];
            match &case["parsed"] {
                Value::Null => assert!(parsed.is_err(), "{name} must be refused"),
                want => {
                    let c = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(json!(c.challenge), want["challenge"], "{name}");
                    assert_eq!(json!(c.session_id), want["sessionId"], "{name}");
                }
            }
        }
        for case in headers["skipped"].as_array().expect("skipped") {
            let parsed = Skipped::parse(case["value"].as_str().expect("value"));
            let name = &case["name"];
            match &case["parsed"] {
                Value::Null => assert!(parsed.is_err(), "{name} must be refused"),
                want => {
                    let s = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(json!(s.reason), want["reason"], "{name}");
                    assert_eq!(json!(s.session_id), want["sessionId"], "{name}");
                }
            }
        }
    }

    #[test]
    fn cloudnua_session_configuration_bodies_are_written_exactly() {
        let set = vector("cloudnua/session-config.json");
        let cases = set["cases"].as_array().expect("cases");
        let full = &cases[0];
        let init = &full["init"];
        let text = |v: &Value| v.as_str().expect("text").to_owned();
        let instructions = SessionInstructions {
            session_identifier: text(&init["sessionId"]),
            refresh_url: text(&init["refreshUrl"]),
            scope: Scope {
                include_site: init["scope"]["includeSite"].as_bool().expect("bool"),
                scope_specification: init["scope"]["specification"]
                    .as_array()
                    .expect("rules")
                    .iter()
                    .map(|r| ScopeRule {
                        kind: text(&r["type"]),
                        domain: text(&r["domain"]),
                        path: text(&r["path"]),
                    })
                    .collect(),
            },
            credentials: init["credentials"]
                .as_array()
                .expect("credentials")
                .iter()
                .map(|c| Credential {
                    kind: "cookie",
                    name: text(&c["name"]),
                    attributes: text(&c["attributes"]),
                })
                .collect(),
        };
        let written: Value = serde_json::from_str(&instructions.to_json()).expect("JSON");
        assert_eq!(written, full["body"], "the full-shape body");
        let end: Value =
            serde_json::from_str(&dbsc::termination(&text(&cases[1]["terminate"]))).expect("JSON");
        assert_eq!(end, cases[1]["body"], "the termination body");
    }

    #[test]
    fn cloudnua_keys_read_and_their_private_halves_are_refused() {
        let keys = vector("cloudnua/keys.json");
        assert_eq!(
            jwk(&keys["ec"]["public"]).algorithm(),
            ProofAlgorithm::Es256
        );
        assert_eq!(
            jwk(&keys["rsa"]["public"]).algorithm(),
            ProofAlgorithm::Rs256
        );
        for kty in ["ec", "rsa"] {
            let private = keys[kty]["private"].to_string();
            assert_eq!(
                tower_stateless_session::pop::PublicJwk::from_json(private.as_bytes()),
                Err(ProofError::PrivateKey),
                "{kty} private key"
            );
        }
    }

    #[test]
    fn dbsc_toolkit_registration_and_refresh_proofs_verify() {
        let reg = vector("dbsc-toolkit/registration.json");
        let check = ProofCheck {
            endpoint_path: "/dbsc/registration",
            authorization: None,
            session_id: None,
            now: 0,
        };
        let proof = dbsc::verify_proof(
            reg["secureSessionResponse"].as_str().expect("proof"),
            None,
            &check,
        )
        .expect("the registration proof verifies");
        assert_eq!(json!(proof.challenge), reg["challenge"]);
        let key = proof.key.expect("the header's key");
        assert_eq!(
            key,
            jwk(&reg["expectedStoredBoundKey"]["jwk"]),
            "the stored key"
        );
        assert_eq!(
            key.algorithm().as_str(),
            reg["expectedStoredBoundKey"]["algorithm"]
        );

        let refresh = vector("dbsc-toolkit/refresh.json");
        let stored = jwk(&refresh["storedPublicKeyJwk"]);
        let proof = dbsc::verify_proof(
            refresh["secureSessionResponse"].as_str().expect("proof"),
            Some(&stored),
            &check,
        )
        .expect("the refresh proof verifies");
        assert_eq!(json!(proof.challenge), refresh["expectedResult"]["jti"]);
        assert!(
            refresh["expectedResult"]["verified"]
                .as_bool()
                .expect("bool")
        );
    }

    #[test]
    fn dbsc_toolkit_header_strings_are_written_byte_for_byte() {
        let v = vector("dbsc-toolkit/registration-header.json");
        let inputs = &v["inputs"];
        let text = |v: &Value| v.as_str().expect("text").to_owned();
        let offer = RegistrationOffer {
            algorithms: vec![
                ProofAlgorithm::from_name(inputs["algorithm"].as_str().expect("alg"))
                    .expect("allowed"),
            ],
            path: text(&inputs["registrationPath"]),
            challenge: text(&inputs["challenge"]),
            authorization: None,
        };
        assert_eq!(
            json!(offer.to_string()),
            v["expected"]["Secure-Session-Registration"]
        );
        let mut challenge = SessionChallenge {
            challenge: text(&inputs["challenge"]),
            session_id: None,
        };
        assert_eq!(
            json!(challenge.to_string()),
            v["expected"]["Secure-Session-Challenge (bare)"]
        );
        challenge.session_id = Some(text(&inputs["sessionId"]));
        assert_eq!(
            json!(challenge.to_string()),
            v["expected"]["Secure-Session-Challenge (with id)"]
        );
    }
}

#[cfg(feature = "dpop")]
mod dpop {
    use serde_json::json;
    use tower_stateless_session::pop::ProofError;
    use tower_stateless_session::pop::dpop::{self, DpopCheck, normalize_htu};

    use super::{jwk, vector};

    #[test]
    fn dbsc_toolkit_dpop_proof_verifies_and_its_rejects_are_refused() {
        let v = vector("dbsc-toolkit/dpop-proof.json");
        let proof = v["dpopHeader"].as_str().expect("proof");
        let check = DpopCheck {
            method: v["method"].as_str().expect("method"),
            url: v["url"].as_str().expect("url"),
            now: v["claims"]["iat"].as_u64().expect("iat"),
            iat_window: 60,
            token: None,
        };
        let ok = dpop::verify_proof(proof, &check).expect("the vector's proof verifies");
        assert_eq!(json!(ok.jkt), v["jkt"], "the RFC 7638 thumbprint");
        assert_eq!(jwk(&v["publicKeyJwk"]).thumbprint(), ok.jkt);
        for reject in v["expectedReject"].as_array().expect("rejects") {
            let mut check = check;
            let (method, url);
            let want = match reject["code"].as_str().expect("code") {
                "DPOP_HTM_MISMATCH" => {
                    method = reject["method"].as_str().expect("method").to_owned();
                    check.method = &method;
                    ProofError::WrongMethod
                }
                "DPOP_HTU_MISMATCH" => {
                    url = reject["url"].as_str().expect("url").to_owned();
                    check.url = &url;
                    ProofError::WrongUrl
                }
                other => panic!("unknown code {other}"),
            };
            assert_eq!(
                dpop::verify_proof(proof, &check),
                Err(want),
                "{}",
                reject["case"]
            );
        }
    }

    #[test]
    fn dbsc_toolkit_bound_token_proof_verifies_and_its_rejects_are_refused() {
        let v = vector("dbsc-toolkit/dpop-bound-token.json");
        let proof = v["dpopHeader"].as_str().expect("proof");
        let token = v["accessToken"].as_str().expect("token");
        assert_eq!(json!(dpop::token_hash(token.as_bytes())), v["ath"], "ath");
        let check = DpopCheck {
            method: v["method"].as_str().expect("method"),
            url: v["url"].as_str().expect("url"),
            now: v["claims"]["iat"].as_u64().expect("iat"),
            iat_window: 60,
            token: Some(token.as_bytes()),
        };
        let ok = dpop::verify_proof(proof, &check).expect("the bound proof verifies");
        assert_eq!(
            json!(ok.jkt),
            v["tokenCnf"]["jkt"],
            "the key is the token's cnf.jkt"
        );
        for reject in v["expectedReject"].as_array().expect("rejects") {
            match reject["code"].as_str().expect("code") {
                // The layer compares the proof's thumbprint with the token's cnf.jkt
                // (`dpop::a_proof_from_another_key_is_refused` checks it end to end).
                "DPOP_JKT_MISMATCH" => assert_ne!(json!(ok.jkt), reject["tokenCnf"]["jkt"]),
                "DPOP_ATH_MISMATCH" => {
                    let other = reject["accessToken"].as_str().expect("token");
                    let mut check = check;
                    check.token = Some(other.as_bytes());
                    assert_eq!(
                        dpop::verify_proof(proof, &check),
                        Err(ProofError::WrongTokenHash)
                    );
                }
                // A token without cnf on a DPoP layer is `Unbound`
                // (`dpop::an_unbound_token_is_refused_on_a_dpop_layer`).
                "DPOP_TOKEN_BINDING_REQUIRED" => assert!(reject["tokenCnf"].is_null()),
                other => panic!("unknown code {other}"),
            }
        }
    }

    #[test]
    fn every_dbsc_toolkit_htu_case_matches_as_expected() {
        let v = vector("dbsc-toolkit/dpop-htu-normalization.json");
        for case in v["cases"].as_array().expect("cases") {
            let claimed = normalize_htu(case["claimedHtu"].as_str().expect("htu"));
            let actual = normalize_htu(case["requestUrl"].as_str().expect("url"));
            let matched = claimed.is_some() && claimed == actual;
            assert_eq!(
                json!(matched),
                case["expectMatch"],
                "{}: {claimed:?} vs {actual:?}",
                case["why"]
            );
        }
    }
}

#[test]
fn proof_errors_have_distinct_names() {
    let all = [
        ProofError::Oversized,
        ProofError::Malformed,
        ProofError::AlgorithmNotAllowed,
        ProofError::AlgorithmKeyMismatch,
        ProofError::WrongType,
        ProofError::CriticalHeader,
        ProofError::MissingKey,
        ProofError::UnexpectedKey,
        ProofError::PrivateKey,
        ProofError::InvalidKey,
        ProofError::WeakKey,
        ProofError::SignatureEncoding,
        ProofError::BadSignature,
        ProofError::MissingClaim,
        ProofError::WrongChallenge,
        ProofError::ExpiredChallenge,
        ProofError::WrongAuthorization,
        ProofError::WrongAudience,
        ProofError::IatOutOfWindow,
        ProofError::WrongMethod,
        ProofError::WrongUrl,
        ProofError::WrongTokenHash,
        ProofError::Replayed,
        ProofError::NonceRequired,
        ProofError::KeyMismatch,
    ];
    let names: std::collections::HashSet<_> = all.iter().map(|e| e.as_str()).collect();
    assert_eq!(names.len(), all.len());
}
