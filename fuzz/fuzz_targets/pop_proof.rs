//! Arbitrary bytes into the proof-of-possession parsers: as a DBSC proof (a registration,
//! with its key in the header, and a refresh against the fixture's key), as a DPoP proof
//! (with and without a token hash), as a JWK and as a DBSC session identifier.
//!
//! None may panic, and no proof verifies unless it is byte for byte one of the seed proofs
//! (the fuzzer cannot make an ES256 signature); a key that reads has a thumbprint that
//! reads back from its own canonical form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_stateless_session::pop::dbsc::{self, ProofCheck};
use tower_stateless_session::pop::dpop::{self, DpopCheck};
use tower_stateless_session::pop::PublicJwk;
use tower_stateless_session_fuzz::{DPOP_URL, PROOF_SEEDS, T0, proof_jwk};

fn is_seed(data: &[u8]) -> bool {
    PROOF_SEEDS.iter().any(|s| s.as_bytes() == data)
}

fuzz_target!(|data: &[u8]| {
    let stored = PublicJwk::from_json(proof_jwk().to_string().as_bytes()).expect("the key");
    if let Ok(text) = std::str::from_utf8(data) {
        let check = ProofCheck {
            endpoint_path: "/r",
            authorization: None,
            session_id: None,
            now: T0,
        };
        for key in [None, Some(&stored)] {
            if dbsc::verify_proof(text, key, &check).is_ok() {
                assert!(is_seed(data), "a DBSC proof that is not a seed verified");
            }
        }
        for token in [None, Some(&b"a.b.c"[..])] {
            let check = DpopCheck {
                method: "GET",
                url: DPOP_URL,
                now: T0,
                iat_window: 60,
                token,
            };
            if dpop::verify_proof(text, &check).is_ok() {
                assert!(is_seed(data), "a DPoP proof that is not a seed verified");
            }
        }
        if let Ok(key) = dbsc::key_of_session_identifier(text) {
            let id = dbsc::session_identifier(&key);
            let again = dbsc::key_of_session_identifier(&id).expect("our own id reads back");
            assert_eq!(again, key, "the id names the same key");
        }
        let _ = dpop::normalize_htu(text);
    }
    if let Ok(key) = PublicJwk::from_json(data) {
        let again = PublicJwk::from_json(key.canonical_json().as_bytes())
            .expect("a key's canonical form reads back");
        assert_eq!(again.thumbprint(), key.thumbprint());
    }
});
