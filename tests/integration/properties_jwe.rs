//! Properties of the encrypted-token codec (`token::jwe`), the counterpart of
//! `tests/properties.rs` for JWE, in both key managements:
//!
//! - every single-byte change, insertion or deletion anywhere in a valid token is refused,
//!   with a kind its segment allows;
//! - arbitrary bytes, and arbitrary base64url in five segments (with our real header and
//!   the right segment lengths half of the time), never open and never panic;
//! - sealing then opening gives back arbitrary plaintext, for arbitrary purposes, and a
//!   token opens only under the purpose it was sealed for;
//! - through `TokenCodec` with an encryption key first in the ring, arbitrary session data
//!   round-trips, and arbitrary bytes never verify.

use crate::common::edits::{
    arbitrary_edit, assert_refused_as, deletions, insertions, replacements,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config as ProptestConfig;
use tower_stateless_session::RejectionKind;
use tower_stateless_session::keys::{EncryptionKey, KeyManagement};
use tower_stateless_session::token::jwe::{open, seal};

const PURPOSE: &str = "session";
const MAX: usize = 1 << 16;
const MODES: [KeyManagement; 2] = [KeyManagement::A256KW, KeyManagement::Dir];

fn key(mode: KeyManagement) -> EncryptionKey {
    EncryptionKey::new("e1", mode, b"properties-jwe-secret-of-32-byte").expect("key")
}

fn a_token(mode: KeyManagement) -> Vec<u8> {
    let claims = br#"{"sid":"AAECAwQFBgcICQoLDA0ODw","iat":1800000000,"exp":1800001800,"auth_time":1800000000,"ver":1,"sub":"user-12345","roles":["reader","editor"]}"#;
    seal(&key(mode), PURPOSE, claims, MAX)
        .expect("seal")
        .into_bytes()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The kinds a change in `segment` may give. The header is checked before any crypto, so a
/// changed header may break any header rule (or, spelled differently but naming the same
/// key, fail the tag, which covers it as received); every other segment either loses its
/// exact length or canonical spelling (malformed) or fails the key unwrap or the tag.
fn allowed(segment: Option<usize>, dot_changed: bool) -> &'static [RejectionKind] {
    use RejectionKind::*;
    if dot_changed {
        return &[Malformed];
    }
    match segment {
        Some(0) => &[
            Malformed,
            UnknownKey,
            UnsupportedAlgorithm,
            WrongType,
            DecryptionFailed,
        ],
        _ => &[Malformed, DecryptionFailed],
    }
}

fn assert_refused(mode: KeyManagement, edited: &[u8], allowed: &[RejectionKind], what: &str) {
    let opened = open(edited, &[key(mode)], PURPOSE, MAX).map_err(|e| e.kind());
    assert_refused_as(opened, allowed, format_args!("{mode} {what}"));
}

/// Segments are 0 header, 1 encrypted key, 2 IV, 3 ciphertext, 4 tag (see `common::edits`).
#[test]
fn every_single_byte_replacement_anywhere_in_a_token_is_refused() {
    for mode in MODES {
        let token = a_token(mode);
        let mut checked = 0usize;
        for edit in replacements(&token) {
            let allowed = allowed(edit.segment, edit.dot_changed);
            assert_refused(mode, &edit.bytes, allowed, &edit.what);
            checked += 1;
        }
        assert_eq!(checked, token.len() * 255, "every replacement was tried");
    }
}

#[test]
fn every_single_byte_insertion_and_deletion_is_refused() {
    for mode in MODES {
        let token = a_token(mode);
        for edit in insertions(&token).chain(deletions(&token)) {
            let allowed = allowed(edit.segment, edit.dot_changed);
            assert_refused(mode, &edit.bytes, allowed, &edit.what);
        }
    }
}

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url(len: impl Into<prop::collection::SizeRange>) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(B64URL), len)
        .prop_map(|bytes| String::from_utf8(bytes).expect("ascii"))
}

fn mode() -> impl Strategy<Value = KeyManagement> {
    prop::sample::select(MODES.to_vec())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_open(mode in mode(), bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert!(open(&bytes, &[key(mode)], PURPOSE, MAX).is_err());
    }

    /// Five base64url segments get past the split and the alphabet; with the real header
    /// and the exact lengths, they reach the key unwrap and the tag, which must refuse them.
    #[test]
    fn arbitrary_base64url_segments_never_open(
        mode in mode(),
        real_header in any::<bool>(),
        exact_lengths in any::<bool>(),
        header in base64url(0..128),
        encrypted_key in base64url(0..64),
        iv in base64url(0..24),
        ciphertext in base64url(0..512),
        tag in base64url(0..32),
        exact in (base64url(54..=54), base64url(16..=16), base64url(22..=22)),
    ) {
        let real = String::from_utf8(a_token(mode)).unwrap();
        let header = if real_header { real.split('.').next().unwrap().to_owned() } else { header };
        let (encrypted_key, iv, tag) = if exact_lengths {
            let k = if mode == KeyManagement::Dir { String::new() } else { exact.0 };
            (k, exact.1, exact.2)
        } else {
            (encrypted_key, iv, tag)
        };
        let token = format!("{header}.{encrypted_key}.{iv}.{ciphertext}.{tag}");
        prop_assert!(open(&token, &[key(mode)], PURPOSE, MAX).is_err(), "{}", token);
    }

    #[test]
    fn seal_then_open_round_trips_arbitrary_plaintext_and_purposes(
        mode in mode(),
        plaintext in prop::collection::vec(any::<u8>(), 0..2048),
        purpose in "\\PC{0,24}",
        other in "\\PC{0,24}",
    ) {
        let k = key(mode);
        let token = seal(&k, &purpose, &plaintext, MAX).expect("seal");
        let opened = open(&token, std::slice::from_ref(&k), &purpose, MAX).expect("opens");
        prop_assert_eq!(opened.plaintext, plaintext);
        if other != purpose {
            prop_assert_eq!(
                open(&token, &[k], &other, MAX).err().map(|e| e.kind()),
                Some(RejectionKind::WrongType),
                "opened under another purpose"
            );
        }
    }

    #[test]
    fn single_byte_edits_of_tokens_of_arbitrary_plaintext_are_refused(
        mode in mode(),
        plaintext in prop::collection::vec(any::<u8>(), 1..1024),
        edit in 0..3u8,
        at in any::<Index>(),
        byte in any::<u8>(),
    ) {
        let k = key(mode);
        let token = seal(&k, PURPOSE, &plaintext, MAX).expect("seal");
        let edited = arbitrary_edit(token.as_bytes(), edit, at, byte);
        prop_assert!(open(&edited, &[k], PURPOSE, MAX).is_err(), "edit {} at {:?}", edit, at);
    }
}

// ---------------------------------------------------------------------------------------
// The codec's encrypted mode (an encryption key first in the ring)
// ---------------------------------------------------------------------------------------

fn codec(mode: KeyManagement) -> tower_stateless_session::token::TokenCodec {
    let ring = tower_stateless_session::KeyRing::from_keys([
        tower_stateless_session::Key::encryption("e1", mode, b"properties-jwe-secret-of-32-byte")
            .expect("key"),
        tower_stateless_session::Key::hs256("k1", b"properties-jwe-signing-secret-32")
            .expect("key"),
    ])
    .expect("ring");
    tower_stateless_session::token::TokenCodec::new(ring)
        .with_clock(tower_stateless_session::time::ManualClock::new(
            1_800_000_000,
        ))
        .with_max_token_len(MAX)
}

fn json_map() -> impl Strategy<Value = std::collections::BTreeMap<String, serde_json::Value>> {
    let value = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,16}".prop_map(serde_json::Value::from),
    ];
    prop::collection::btree_map(
        "\\PC{1,12}".prop_filter("registered claim names are reserved", |k| {
            !tower_stateless_session::token::RESERVED_CLAIMS.contains(&k.as_str())
        }),
        value,
        0..6,
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_codec_seals_and_opens_arbitrary_session_data(mode in mode(), data in json_map()) {
        let codec = codec(mode);
        let claims = codec.new_claims(data).expect("claims");
        let token = codec.sign(&claims).expect("seals");
        prop_assert_eq!(token.matches('.').count(), 4, "not a JWE");
        let verified = codec
            .verify::<std::collections::BTreeMap<String, serde_json::Value>>(&token)
            .expect("its own token opens");
        prop_assert!(!verified.needs_resign());
        prop_assert_eq!(verified.claims, claims);
    }

    #[test]
    fn arbitrary_bytes_never_verify_with_an_encryption_ring(
        mode in mode(),
        bytes in prop::collection::vec(any::<u8>(), 0..1024),
    ) {
        prop_assert!(codec(mode).verify::<serde_json::Value>(&bytes).is_err());
    }
}
