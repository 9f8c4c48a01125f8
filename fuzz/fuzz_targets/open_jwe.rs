//! Arbitrary bytes into the encrypted-token path (`token::jwe`).
//!
//! 1. The input as a token, opened with a ring of an `A256KW` and a `dir` key. It must not
//!    panic, and nothing opens unless it is byte for byte one of the seed tokens (the
//!    fuzzer cannot make a valid tag), in which case it opens to the seed's plaintext.
//!    The same input through `TokenCodec::verify` with the A256KW key in its ring: nothing
//!    verifies unless it is a seed token.
//! 2. When the input starts with `{`, also as a plaintext: sealed with each key it must
//!    open again to the same bytes (or be refused for its size, before any encryption),
//!    and not open under another purpose.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_stateless_session::token::jwe::{open, seal};
use tower_stateless_session::RejectionKind;
use tower_stateless_session::token::SignError;
use tower_stateless_session_fuzz::{JWE, JWE_MAX, JWE_PURPOSE};

fn as_token(data: &[u8]) {
    let f = &*JWE;
    if f.codec.verify::<serde_json::Value>(data).is_ok() {
        assert!(
            f.seed(data).is_some(),
            "an input that is not a seed token verified as a session"
        );
    }
    match open(data, &f.keys, JWE_PURPOSE, JWE_MAX) {
        Ok(opened) => {
            let seed = f
                .seed(data)
                .expect("an input that is not a seed token opened");
            assert_eq!(opened.plaintext, seed, "a seed opened to other bytes");
        }
        Err(e) => {
            assert!(f.seed(data).is_none(), "a seed token was refused: {e:?}");
            if data.len() > JWE_MAX {
                assert_eq!(e.kind(), RejectionKind::Oversized, "the cap came late");
            }
        }
    }
}

fn as_plaintext(data: &[u8]) {
    let f = &*JWE;
    for key in &f.keys {
        match seal(key, JWE_PURPOSE, data, JWE_MAX) {
            Ok(token) => {
                assert!(token.len() <= JWE_MAX, "a token over the cap was sealed");
                let opened =
                    open(&token, &f.keys, JWE_PURPOSE, JWE_MAX).expect("a sealed token opens");
                assert_eq!(opened.plaintext, data, "the plaintext changed");
                assert_eq!(
                    open(&token, &f.keys, "other", JWE_MAX)
                        .err()
                        .map(|e| e.kind()),
                    Some(RejectionKind::WrongType),
                    "opened under another purpose"
                );
            }
            Err(SignError::Oversized { len, max }) => {
                assert!(len > max, "refused a token that fits");
            }
            Err(e) => panic!("sealing failed: {e}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    as_token(data);
    if data.first() == Some(&b'{') {
        as_plaintext(data);
    }
});
