//! Codec tests for EdDSA keys and for rings that mix HS256 and Ed25519 keys: the algorithm
//! comes from the key the `kid` names, never from the header.

use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::jws::B64;
use super::*;
use crate::keys::{Key, KeyRing};
use crate::time::ManualClock;

const T0: u64 = 1_800_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    sub: String,
}

fn user() -> User {
    User { sub: "ada".into() }
}

fn hs(kid: &str) -> Key {
    let secret: Vec<u8> = kid.bytes().cycle().take(32).collect();
    Key::hs256(kid, &secret).expect("valid test key")
}

fn ed(kid: &str) -> Key {
    let seed: Vec<u8> = kid.bytes().cycle().take(32).collect();
    Key::ed25519_from_seed(kid, &seed).expect("valid test key")
}

fn codec(ring: KeyRing) -> TokenCodec {
    TokenCodec::new(ring)
        .with_clock(ManualClock::new(T0))
        .with_idle_timeout(Duration::from_secs(1800))
}

fn kind_of(codec: &TokenCodec, token: impl AsRef<[u8]>) -> Option<RejectionKind> {
    codec.verify::<User>(token).err().map(|e| e.kind())
}

fn segments(token: &str) -> (String, String, String) {
    let mut parts = token.split('.').map(str::to_owned);
    let header = parts.next().expect("header");
    let payload = parts.next().expect("payload");
    let signature = parts.next().expect("signature");
    (header, payload, signature)
}

/// `header.payload` signed by `key`, with `header` given as JSON.
fn signed(key: &Key, header_json: &str, payload_b64: &str) -> String {
    let mut token = format!("{}.{payload_b64}", B64.encode(header_json));
    assert!(key.append_signature(&mut token), "the key signs");
    token
}

#[test]
fn eddsa_tokens_round_trip_with_the_eddsa_header() {
    let codec = codec(KeyRing::new(ed("n1")));
    let claims = codec.new_claims(user()).expect("claims");
    let token = codec.sign(&claims).expect("sign");
    let (header, _, signature) = segments(&token);
    let header = String::from_utf8(B64.decode(header).expect("b64")).expect("utf-8");
    assert_eq!(header, r#"{"alg":"EdDSA","kid":"n1","typ":"sess+jwt"}"#);
    assert_eq!(signature.len(), 86, "64 bytes of signature");
    let verified = codec.verify::<User>(&token).expect("verifies");
    assert_eq!(verified.claims, claims);
    assert!(verified.signed_with_current_key);
}

#[test]
fn the_fully_specified_ed25519_name_is_accepted_on_input() {
    let key = ed("n1");
    let codec = codec(KeyRing::new(key.clone()));
    let token = codec
        .sign(&codec.new_claims(user()).expect("claims"))
        .expect("sign");
    let (_, payload, _) = segments(&token);
    for header in [
        r#"{"alg":"Ed25519","kid":"n1","typ":"sess+jwt"}"#,
        r#"{"typ":"sess+jwt","kid":"n1","alg":"EdDSA"}"#,
    ] {
        let token = signed(&key, header, &payload);
        assert!(
            codec.verify::<User>(&token).is_ok(),
            "{header} should verify"
        );
    }
}

#[test]
fn the_header_never_picks_the_algorithm() {
    let (e, h) = (ed("n1"), hs("k1"));
    let codec = codec(KeyRing::from_keys([e.clone(), h.clone()]).expect("ring"));
    let payload = segments(
        &codec
            .sign(&codec.new_claims(user()).expect("c"))
            .expect("s"),
    )
    .1;
    // The classic confusion: HMAC keyed with the Ed25519 public key, the header naming the
    // Ed25519 key and HS256.
    let public = e.ed25519_public_bytes().expect("Ed25519");
    let confused = Key::hs256("n1", &public).expect("32 bytes");
    let cases = [
        (
            signed(
                &confused,
                r#"{"alg":"HS256","kid":"n1","typ":"sess+jwt"}"#,
                &payload,
            ),
            RejectionKind::UnsupportedAlgorithm,
        ),
        // The right signature, the wrong name for the key's algorithm.
        (
            signed(
                &e,
                r#"{"alg":"HS256","kid":"n1","typ":"sess+jwt"}"#,
                &payload,
            ),
            RejectionKind::UnsupportedAlgorithm,
        ),
        (
            signed(
                &h,
                r#"{"alg":"EdDSA","kid":"k1","typ":"sess+jwt"}"#,
                &payload,
            ),
            RejectionKind::UnsupportedAlgorithm,
        ),
        (
            signed(
                &e,
                r#"{"alg":"eddsa","kid":"n1","typ":"sess+jwt"}"#,
                &payload,
            ),
            RejectionKind::UnsupportedAlgorithm,
        ),
        (
            signed(&e, r#"{"alg":"EdDSA","kid":"n1","typ":"JWT"}"#, &payload),
            RejectionKind::WrongType,
        ),
        // An HS256 MAC in an EdDSA key's token: the length alone gives it away.
        (
            signed(
                &confused,
                r#"{"alg":"EdDSA","kid":"n1","typ":"sess+jwt"}"#,
                &payload,
            ),
            RejectionKind::Malformed,
        ),
    ];
    for (token, expected) in cases {
        assert_eq!(kind_of(&codec, &token), Some(expected), "{token}");
    }
}

#[test]
fn every_single_character_change_of_an_eddsa_token_is_rejected() {
    let codec = codec(KeyRing::new(ed("n1")));
    let token = codec
        .sign(&codec.new_claims(user()).expect("claims"))
        .expect("sign");
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    for i in 0..token.len() {
        let mut bytes = token.clone().into_bytes();
        let original = bytes[i];
        let replacement = alphabet
            .iter()
            .copied()
            .find(|&c| c != original)
            .expect("another character");
        bytes[i] = replacement;
        assert!(
            codec.verify::<User>(&bytes).is_err(),
            "changing byte {i} still verifies"
        );
    }
}

#[test]
fn migration_from_hs256_to_eddsa_and_back() {
    let (e, h) = (ed("n1"), hs("k1"));
    let old = codec(KeyRing::new(h.clone()));
    let hs_token = old
        .sign(&old.new_claims(user()).expect("claims"))
        .expect("sign");

    // Forward: EdDSA issues, HS256 still verifies and asks for a re-sign.
    let forward = codec(KeyRing::from_keys([e.clone(), h.clone()]).expect("ring"));
    let verified = forward
        .verify::<User>(&hs_token)
        .expect("HS256 still verifies");
    assert!(
        verified.needs_resign(),
        "the retired HS256 key's token moves over"
    );
    let ed_token = forward.sign(&verified.claims).expect("re-signed");
    assert!(
        ed_token.starts_with(e.encoded_header()),
        "re-signed with EdDSA"
    );
    assert!(
        !forward
            .verify::<User>(&ed_token)
            .expect("ok")
            .needs_resign()
    );
    assert_eq!(kind_of(&old, &ed_token), Some(RejectionKind::UnknownKey));

    // Back: HS256 issues again, the Ed25519 public key verifies the EdDSA sessions.
    let back =
        codec(KeyRing::from_keys([h.clone(), e.public_key().expect("Ed25519")]).expect("ring"));
    let verified = back
        .verify::<User>(&ed_token)
        .expect("EdDSA verifies with the public key");
    assert!(verified.needs_resign());
    let hs_again = back.sign(&verified.claims).expect("re-signed");
    assert!(hs_again.starts_with(h.encoded_header()));
}

#[test]
fn peer_keys_verify_as_current() {
    let (mine, theirs) = (ed("n1"), ed("n2"));
    let peer = codec(KeyRing::new(theirs.clone()));
    let token = peer
        .sign(&peer.new_claims(user()).expect("claims"))
        .expect("sign");
    let here = codec(
        KeyRing::new(mine)
            .with_peer_key(theirs.public_key().expect("Ed25519"))
            .expect("ring"),
    );
    let verified = here
        .verify::<User>(&token)
        .expect("a peer's token verifies");
    assert!(
        !verified.needs_resign(),
        "a peer's token is not re-signed on sight"
    );
}

#[test]
fn a_public_key_ring_verifies_but_cannot_sign() {
    let key = ed("n1");
    let signer = codec(KeyRing::new(key.clone()));
    let claims = signer.new_claims(user()).expect("claims");
    let token = signer.sign(&claims).expect("sign");
    let verifier = codec(KeyRing::new(key.public_key().expect("Ed25519")));
    assert!(verifier.verify::<User>(&token).is_ok());
    assert!(matches!(
        verifier.sign(&claims),
        Err(SignError::NoSigningKey)
    ));
}

#[test]
fn verify_jws_checks_eddsa_too() {
    let key = ed("n1");
    let token = signed(&key, r#"{"alg":"EdDSA","typ":"JWT"}"#, &B64.encode("{}"));
    assert_eq!(jws::verify_jws(&token, &key).expect("verifies"), b"{}");
    let public = key.public_key().expect("Ed25519");
    assert!(jws::verify_jws(&token, &public).is_ok());
    let other = ed("n2");
    assert_eq!(
        jws::verify_jws(&token, &other).map_err(|e| e.kind()),
        Err(RejectionKind::BadSignature)
    );
}
