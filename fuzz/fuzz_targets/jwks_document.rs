//! Arbitrary bytes as a JWKS document, through the parser the JWKS verifier reads fetched
//! sets with. None may panic; the keys kept are at most the cap, with distinct key ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_stateless_session::fuzzing::parse_jwks;

fuzz_target!(|data: &[u8]| {
    for cap in [0, 1, 64] {
        if let Some((kids, _skipped)) = parse_jwks(data, cap) {
            assert!(kids.len() <= cap, "more keys than the cap");
            let mut sorted = kids.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), kids.len(), "a key id kept twice");
        }
    }
});
