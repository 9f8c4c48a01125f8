//! Table-driven tests of the codec: tampering, header rules, expiry edges, rotation and
//! migration. Every case states the exact rejection kind it expects.

use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::jws::B64;
use super::*;
use crate::keys::{Key, KeyRing};
use crate::time::ManualClock;

const T0: u64 = 1_800_000_000;
const IDLE: u64 = 1800;
const ABSOLUTE: u64 = 7200;
const LEEWAY: u64 = 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    sub: String,
    roles: Vec<String>,
}

fn user() -> User {
    User {
        sub: "user-12345".into(),
        roles: vec!["reader".into(), "editor".into()],
    }
}

fn key(kid: &str) -> Key {
    let secret: Vec<u8> = kid.bytes().cycle().take(32).collect();
    Key::hs256(kid, &secret).expect("valid test key")
}

struct Fixture {
    clock: ManualClock,
    codec: TokenCodec,
}

fn fixture() -> Fixture {
    let clock = ManualClock::new(T0);
    let ring = KeyRing::from_keys([key("k1"), key("k2")]).expect("ring");
    let codec = TokenCodec::new(ring)
        .with_clock(clock.clone())
        .with_idle_timeout(Duration::from_secs(IDLE))
        .with_absolute_timeout(Duration::from_secs(ABSOLUTE))
        .with_leeway(Duration::from_secs(LEEWAY));
    Fixture { clock, codec }
}

/// A token with any header and payload JSON, correctly signed by `key`.
fn forge(key: &Key, header: &str, payload: &str) -> String {
    let mut token = format!("{}.{}", B64.encode(header), B64.encode(payload));
    assert!(key.append_signature(&mut token), "the key signs");
    token
}

fn claims_json(iat: u64, exp: u64, auth_time: u64) -> String {
    format!(
        r#"{{"sid":"AAAAAAAAAAAAAAAAAAAAAA","iat":{iat},"exp":{exp},"auth_time":{auth_time},"ver":1,"sub":"s","roles":[]}}"#
    )
}

const HEADER_K1: &str = r#"{"alg":"HS256","kid":"k1","typ":"sess+jwt"}"#;

fn kind_of(codec: &TokenCodec, token: impl AsRef<[u8]>) -> Option<RejectionKind> {
    codec.verify::<User>(token).err().map(|e| e.kind())
}

#[test]
fn sign_then_verify_round_trips_and_uses_the_fast_header() {
    let f = fixture();
    let claims = f.codec.new_claims(user()).expect("claims");
    assert_eq!(claims.iat, T0);
    assert_eq!(claims.auth_time, T0);
    assert_eq!(claims.exp, T0 + IDLE);
    let token = f.codec.sign(&claims).expect("sign");
    assert_eq!(
        token.split('.').next(),
        Some(B64.encode(HEADER_K1).as_str()),
        "header is the precomputed one"
    );
    let verified = f.codec.verify::<User>(&token).expect("verify");
    assert_eq!(verified.claims, claims);
    assert!(verified.signed_with_current_key && !verified.needs_resign());
    // Every token starts with the block the HS256 key precomputed its MAC state over.
    let prefix = crate::keys::session_token_prefix(&B64.encode(HEADER_K1));
    assert!(prefix.len() >= 64, "{prefix}");
    assert!(token.starts_with(&prefix), "{token} / {prefix}");
}

#[test]
fn exp_is_capped_by_the_absolute_deadline() {
    let f = fixture();
    assert_eq!(f.codec.expiry(T0, T0), T0 + IDLE);
    assert_eq!(
        f.codec.expiry(T0 + ABSOLUTE - 10, T0),
        T0 + ABSOLUTE,
        "near the absolute deadline, exp stops there"
    );
    let mut claims = f.codec.new_claims(user()).expect("claims");
    f.clock.advance(Duration::from_secs(ABSOLUTE - 100));
    f.codec.refresh(&mut claims);
    assert_eq!(
        (claims.iat, claims.exp),
        (T0 + ABSOLUTE - 100, T0 + ABSOLUTE)
    );
    assert_eq!(claims.auth_time, T0, "refresh keeps auth_time");
}

#[test]
fn every_single_character_change_is_rejected() {
    let f = fixture();
    let token = f
        .codec
        .sign(&f.codec.new_claims(user()).expect("claims"))
        .expect("sign");
    let (header_len, payload_end) = {
        let mut dots = token.match_indices('.').map(|(i, _)| i);
        (dots.next().expect("dot"), dots.next().expect("dot"))
    };
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for i in 0..token.len() {
        if i == header_len || i == payload_end {
            continue;
        }
        let mut bytes = token.clone().into_bytes();
        // Flip the top bit of the 6-bit group: still base64url, and always a used bit.
        let index = alphabet
            .iter()
            .position(|&c| c == bytes[i])
            .expect("base64url");
        bytes[i] = alphabet[index ^ 32];
        let kind = kind_of(&f.codec, &bytes);
        let expected: &[RejectionKind] = if i < header_len {
            // The header no longer matches a key's; decoding it fails one of the rules, or
            // it became the header of the ring's other key, whose MAC then fails.
            &[
                RejectionKind::BadSignature,
                RejectionKind::Malformed,
                RejectionKind::UnknownKey,
                RejectionKind::UnsupportedAlgorithm,
                RejectionKind::WrongType,
            ]
        } else {
            // Payload and signature changes fail the MAC, which runs before any decoding.
            &[RejectionKind::BadSignature]
        };
        assert!(
            kind.is_some_and(|k| expected.contains(&k)),
            "byte {i} changed: got {kind:?}, expected one of {expected:?}"
        );
    }
}

#[test]
fn structural_tampering_gives_the_right_kind() {
    let f = fixture();
    let token = f
        .codec
        .sign(&f.codec.new_claims(user()).expect("claims"))
        .expect("sign");
    let (head, rest) = token.split_once('.').expect("dot");
    let (payload, signature) = rest.split_once('.').expect("dot");
    let k2_header = B64.encode(r#"{"alg":"HS256","kid":"k2","typ":"sess+jwt"}"#);
    let k3_header = B64.encode(r#"{"alg":"HS256","kid":"k3","typ":"sess+jwt"}"#);
    let cases: Vec<(&str, String, RejectionKind)> = vec![
        ("empty", String::new(), RejectionKind::Malformed),
        (
            "truncated by one",
            token[..token.len() - 1].into(),
            RejectionKind::Malformed,
        ),
        (
            "truncated to two segments",
            format!("{head}.{payload}"),
            RejectionKind::Malformed,
        ),
        (
            "empty signature",
            format!("{head}.{payload}."),
            RejectionKind::Malformed,
        ),
        (
            "extra segment",
            format!("{token}.{signature}"),
            RejectionKind::Malformed,
        ),
        (
            "trailing dot",
            format!("{token}."),
            RejectionKind::Malformed,
        ),
        (
            "padded signature",
            format!("{token}="),
            RejectionKind::Malformed,
        ),
        ("whitespace", format!(" {token}"), RejectionKind::Malformed),
        (
            "header of another ring key",
            format!("{k2_header}.{payload}.{signature}"),
            RejectionKind::BadSignature,
        ),
        (
            "header of a key not in the ring",
            format!("{k3_header}.{payload}.{signature}"),
            RejectionKind::UnknownKey,
        ),
        (
            "signature of another token",
            format!(
                "{head}.{payload}.{}",
                forge(&key("k1"), HEADER_K1, "{}")
                    .rsplit('.')
                    .next()
                    .expect("sig")
            ),
            RejectionKind::BadSignature,
        ),
        ("oversized", "a".repeat(4097), RejectionKind::Oversized),
        (
            "oversized but otherwise valid",
            format!("{token}{}", "A".repeat(4096)),
            RejectionKind::Oversized,
        ),
    ];
    for (name, bad, expected) in cases {
        assert_eq!(kind_of(&f.codec, &bad), Some(expected), "case {name}");
    }
}

#[test]
fn header_rules_apply_whatever_the_member_order() {
    let f = fixture();
    let k1 = key("k1");
    let payload = claims_json(T0, T0 + IDLE, T0);
    let cases: Vec<(&str, &str, Option<RejectionKind>)> = vec![
        (
            "reordered, as jsonwebtoken writes it",
            r#"{"typ":"sess+jwt","alg":"HS256","kid":"k1"}"#,
            None,
        ),
        (
            "media type form of typ",
            r#"{"alg":"HS256","kid":"k1","typ":"application/sess+jwt"}"#,
            None,
        ),
        (
            "spaces",
            r#"{ "alg" : "HS256", "kid" : "k1", "typ" : "sess+jwt" }"#,
            None,
        ),
        (
            "alg none",
            r#"{"alg":"none","kid":"k1","typ":"sess+jwt"}"#,
            Some(RejectionKind::UnsupportedAlgorithm),
        ),
        (
            "alg HS512",
            r#"{"alg":"HS512","kid":"k1","typ":"sess+jwt"}"#,
            Some(RejectionKind::UnsupportedAlgorithm),
        ),
        (
            "alg RS256",
            r#"{"alg":"RS256","kid":"k1","typ":"sess+jwt"}"#,
            Some(RejectionKind::UnsupportedAlgorithm),
        ),
        (
            "alg lowercase",
            r#"{"alg":"hs256","kid":"k1","typ":"sess+jwt"}"#,
            Some(RejectionKind::UnsupportedAlgorithm),
        ),
        (
            "alg missing",
            r#"{"kid":"k1","typ":"sess+jwt"}"#,
            Some(RejectionKind::Malformed),
        ),
        (
            "alg not a string",
            r#"{"alg":256,"kid":"k1","typ":"sess+jwt"}"#,
            Some(RejectionKind::Malformed),
        ),
        (
            "kid missing",
            r#"{"alg":"HS256","typ":"sess+jwt"}"#,
            Some(RejectionKind::UnknownKey),
        ),
        (
            "kid unknown",
            r#"{"alg":"HS256","kid":"k9","typ":"sess+jwt"}"#,
            Some(RejectionKind::UnknownKey),
        ),
        (
            "typ JWT",
            r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#,
            Some(RejectionKind::WrongType),
        ),
        (
            "typ missing",
            r#"{"alg":"HS256","kid":"k1"}"#,
            Some(RejectionKind::WrongType),
        ),
        (
            "extra member",
            r#"{"alg":"HS256","kid":"k1","typ":"sess+jwt","cty":"x"}"#,
            Some(RejectionKind::Malformed),
        ),
        (
            "crit",
            r#"{"alg":"HS256","kid":"k1","typ":"sess+jwt","crit":["b64"]}"#,
            Some(RejectionKind::Malformed),
        ),
        (
            "duplicate alg",
            r#"{"alg":"none","alg":"HS256","kid":"k1","typ":"sess+jwt"}"#,
            Some(RejectionKind::Malformed),
        ),
        (
            "not an object",
            r#"["HS256"]"#,
            Some(RejectionKind::Malformed),
        ),
        ("not JSON", "HS256", Some(RejectionKind::Malformed)),
    ];
    for (name, header, expected) in cases {
        let token = forge(&k1, header, &payload);
        let got = kind_of(&f.codec, &token);
        assert_eq!(got, expected, "case {name}");
    }
    let long_header = format!(
        r#"{{"alg":"HS256","kid":"{}","typ":"sess+jwt"}}"#,
        "k".repeat(400)
    );
    assert_eq!(
        kind_of(&f.codec, forge(&k1, &long_header, &payload)),
        Some(RejectionKind::Malformed),
        "a header over the slow-path cap is refused before parsing"
    );
    let mut non_utf8 = format!(
        "{}.{}",
        B64.encode([0xff, 0xfe, b'{']),
        B64.encode(&payload)
    );
    assert!(k1.append_signature(&mut non_utf8));
    assert_eq!(kind_of(&f.codec, non_utf8), Some(RejectionKind::Malformed));
}

#[test]
fn alg_none_with_empty_signature_is_malformed() {
    let f = fixture();
    let header = B64.encode(r#"{"alg":"none","kid":"k1","typ":"sess+jwt"}"#);
    let payload = B64.encode(claims_json(T0, T0 + IDLE, T0));
    assert_eq!(
        kind_of(&f.codec, format!("{header}.{payload}.")),
        Some(RejectionKind::Malformed)
    );
}

#[test]
fn invalid_claims_after_a_valid_mac() {
    let f = fixture();
    let k1 = key("k1");
    let cases: Vec<(&str, String)> = vec![
        ("not JSON", "not json".into()),
        ("array", "[]".into()),
        ("missing exp", r#"{"sid":"AAAAAAAAAAAAAAAAAAAAAA","iat":1,"auth_time":1,"ver":1,"sub":"s","roles":[]}"#.into()),
        ("exp as string", claims_json(T0, T0, T0).replace(&format!("\"exp\":{T0}"), &format!("\"exp\":\"{T0}\""))),
        ("exp negative", claims_json(T0, T0, T0).replace(&format!("\"exp\":{T0}"), "\"exp\":-1")),
        ("auth_time after iat", claims_json(T0, T0 + 10, T0 + 1)),
        ("data of the wrong shape", claims_json(T0, T0 + 10, T0).replace("\"roles\":[]", "\"roles\":7")),
        ("trailing garbage", format!("{} x", claims_json(T0, T0 + 10, T0))),
        ("deep nesting", claims_json(T0, T0 + 10, T0).replace("\"roles\":[]", &format!("\"roles\":{}{}", "[".repeat(200), "]".repeat(200)))),
    ];
    for (name, payload) in cases {
        assert_eq!(
            kind_of(&f.codec, forge(&k1, HEADER_K1, &payload)),
            Some(RejectionKind::InvalidClaims),
            "case {name}"
        );
    }
}

#[test]
fn expiry_edges() {
    let f = fixture();
    let k1 = key("k1");
    let far = T0 + 100_000;
    // (name, iat, exp, auth_time, now, expected)
    type Edge = (&'static str, u64, u64, u64, u64, Option<RejectionKind>);
    let cases: Vec<Edge> = vec![
        ("fresh", T0, T0 + IDLE, T0, T0, None),
        (
            "one second before exp",
            T0,
            T0 + IDLE,
            T0,
            T0 + IDLE - 1,
            None,
        ),
        (
            "exactly at exp, inside leeway",
            T0,
            T0 + IDLE,
            T0,
            T0 + IDLE,
            None,
        ),
        (
            "last second of leeway",
            T0,
            T0 + IDLE,
            T0,
            T0 + IDLE + LEEWAY - 1,
            None,
        ),
        (
            "exp plus leeway",
            T0,
            T0 + IDLE,
            T0,
            T0 + IDLE + LEEWAY,
            Some(RejectionKind::Expired),
        ),
        (
            "far past exp",
            T0,
            T0 + IDLE,
            T0,
            far,
            Some(RejectionKind::Expired),
        ),
        (
            "iat in the future, within leeway",
            T0 + LEEWAY,
            T0 + IDLE,
            T0,
            T0,
            None,
        ),
        (
            "iat in the future, beyond leeway",
            T0 + LEEWAY + 1,
            T0 + IDLE,
            T0,
            T0,
            Some(RejectionKind::IssuedInFuture),
        ),
        (
            "exp later than idle allows",
            T0,
            far,
            T0,
            T0 + IDLE + LEEWAY,
            Some(RejectionKind::IdleTimeout),
        ),
        (
            "absolute reached while exp is later",
            T0 + ABSOLUTE - 10,
            far,
            T0,
            T0 + ABSOLUTE + LEEWAY,
            Some(RejectionKind::AbsoluteTimeout),
        ),
        (
            "absolute within leeway",
            T0 + ABSOLUTE - 10,
            far,
            T0,
            T0 + ABSOLUTE + LEEWAY - 1,
            None,
        ),
        (
            "u64::MAX times do not overflow",
            T0,
            u64::MAX,
            T0,
            u64::MAX,
            Some(RejectionKind::Expired),
        ),
        (
            "u64::MAX exp, later now",
            T0,
            u64::MAX,
            T0,
            T0 + IDLE + LEEWAY,
            Some(RejectionKind::IdleTimeout),
        ),
    ];
    for (name, iat, exp, auth_time, now, expected) in cases {
        f.clock.set(now);
        let token = forge(&k1, HEADER_K1, &claims_json(iat, exp, auth_time));
        assert_eq!(kind_of(&f.codec, &token), expected, "case {name}");
    }
}

#[test]
fn zero_leeway_rejects_exactly_at_exp() {
    let f = fixture();
    let codec = f.codec.clone().with_leeway(Duration::ZERO);
    let token = codec
        .sign(&codec.new_claims(user()).expect("claims"))
        .expect("sign");
    f.clock.set(T0 + IDLE - 1);
    assert_eq!(kind_of(&codec, &token), None);
    f.clock.set(T0 + IDLE);
    assert_eq!(kind_of(&codec, &token), Some(RejectionKind::Expired));
}

#[test]
fn tokens_of_a_verify_only_key_verify_and_ask_for_resigning() {
    let f = fixture();
    let k2_only = TokenCodec::new(KeyRing::new(key("k2"))).with_clock(f.clock.clone());
    let token = k2_only
        .sign(&k2_only.new_claims(user()).expect("claims"))
        .expect("sign");
    let verified = f.codec.verify::<User>(&token).expect("k2 is in the ring");
    assert!(!verified.signed_with_current_key);
    assert!(verified.needs_resign());
    let resigned = f.codec.sign(&verified.claims).expect("sign");
    assert!(
        f.codec
            .verify::<User>(&resigned)
            .expect("verify")
            .signed_with_current_key
    );
}

#[test]
fn rotation_through_the_handle_is_seen_by_clones() {
    let f = fixture();
    let other = f.codec.clone();
    let old_token = f
        .codec
        .sign(&f.codec.new_claims(user()).expect("claims"))
        .expect("sign");
    f.codec
        .keys()
        .replace(KeyRing::from_keys([key("k3"), key("k1")]).expect("ring"));
    let verified = other.verify::<User>(&old_token).expect("k1 still verifies");
    assert!(verified.needs_resign(), "k1 no longer signs");
    f.codec.keys().replace(KeyRing::new(key("k3")));
    assert_eq!(kind_of(&other, &old_token), Some(RejectionKind::UnknownKey));
}

#[test]
fn data_version_mismatch_needs_a_migration() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct UserV2 {
        sub: String,
        admin: bool,
    }
    let f = fixture();
    let v1 = f
        .codec
        .sign(&f.codec.new_claims(user()).expect("claims"))
        .expect("sign");
    let v2 = f.codec.clone().with_data_version(2);
    assert_eq!(
        v2.verify::<UserV2>(&v1).map_err(|e| e.kind()).err(),
        Some(RejectionKind::UnsupportedVersion)
    );
    // Even when the old data happens to fit the new type, the version decides.
    assert_eq!(
        v2.verify::<User>(&v1).map_err(|e| e.kind()).err(),
        Some(RejectionKind::UnsupportedVersion)
    );
    let migrate = |version: u32, mut data: serde_json::Map<String, serde_json::Value>| {
        if version != 1 {
            return None;
        }
        Some(UserV2 {
            sub: data.remove("sub")?.as_str()?.to_owned(),
            admin: data.get("roles")?.as_array()?.iter().any(|r| r == "editor"),
        })
    };
    let verified = v2
        .verify_with::<UserV2>(&v1, Some(&migrate))
        .expect("migrates");
    assert!(verified.migrated && verified.needs_resign());
    assert_eq!(verified.claims.ver, 2);
    assert_eq!(
        verified.claims.data,
        UserV2 {
            sub: "user-12345".into(),
            admin: true
        }
    );
    let refuse = |_: u32, _: serde_json::Map<String, serde_json::Value>| None::<UserV2>;
    assert_eq!(
        v2.verify_with::<UserV2>(&v1, Some(&refuse))
            .map_err(|e| e.kind())
            .err(),
        Some(RejectionKind::UnsupportedVersion)
    );
}

#[test]
fn signing_refuses_oversized_tokens_and_reserved_names() {
    let f = fixture();
    let codec = f.codec.clone().with_max_token_len(300);
    let mut big = user();
    big.roles = vec!["x".repeat(300)];
    match codec.sign(&codec.new_claims(big).expect("claims")) {
        Err(SignError::Oversized { len, max: 300 }) => assert!(len > 300),
        other => panic!("expected Oversized, got {other:?}"),
    }
    // A token exactly at the cap is produced and accepted.
    let small = codec
        .sign(&codec.new_claims(user()).expect("claims"))
        .expect("sign");
    let exact = codec.clone().with_max_token_len(small.len());
    let again = exact
        .sign(&exact.new_claims(user()).expect("claims"))
        .expect("at the cap");
    assert_eq!(again.len(), small.len());
    assert!(exact.verify::<User>(&again).is_ok());

    #[derive(Serialize)]
    struct Bad {
        sid: String,
    }
    let e = f
        .codec
        .sign(&f.codec.new_claims(Bad { sid: "x".into() }).expect("claims"))
        .expect_err("reserved");
    assert!(matches!(e, SignError::Serialize(_)), "{e:?}");
}

#[test]
fn session_ids_are_random_and_parse_strictly() {
    let a = SessionId::random().expect("rng");
    let b = SessionId::random().expect("rng");
    assert_ne!(a, b);
    let text = a.to_string();
    assert_eq!(text.len(), 22);
    assert_eq!(text.parse::<SessionId>(), Ok(a));
    for bad in [
        "",
        "AAAA",
        "AAAAAAAAAAAAAAAAAAAAAB",
        "AAAAAAAAAAAAAAAAAAAAA=",
        "AAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert!(bad.parse::<SessionId>().is_err(), "{bad} should not parse");
    }
}

#[test]
fn rfc7515_appendix_a1_verifies_at_the_jws_level() {
    let key = Key::hs256_base64(
        "a1",
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
    )
    .expect("RFC key");
    let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.\
        eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.\
        dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let payload = verify_jws(token, &key).expect("RFC 7515 A.1 verifies");
    assert_eq!(
        payload,
        b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"
    );
    let tampered = token.replace("dBjf", "dBjg");
    assert_eq!(
        verify_jws(&tampered, &key).map_err(|e| e.kind()).err(),
        Some(RejectionKind::BadSignature)
    );
    let other_kid = Key::hs256_base64(
        "a2",
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
    )
    .expect("key");
    let with_kid = forge(&other_kid, r#"{"alg":"HS256","kid":"a2"}"#, "{}");
    assert_eq!(
        verify_jws(&with_kid, &key).map_err(|e| e.kind()).err(),
        Some(RejectionKind::UnknownKey)
    );
    // It is not a session token (no kid, typ JWT): the session codec refuses it.
    let codec = TokenCodec::new(KeyRing::new(key));
    assert_eq!(kind_of(&codec, token), Some(RejectionKind::UnknownKey));
}

#[test]
fn session_id_decoding_agrees_with_the_strict_engine() {
    let strict = |text: &[u8]| {
        let mut out = [0u8; 18];
        match jws::B64.decode_slice(text, &mut out) {
            Ok(16) => Some(out[..16].to_vec()),
            _ => None,
        }
    };
    let ours = |text: &[u8]| SessionId::from_ascii(text).map(|id| id.as_bytes().to_vec());
    let base = SessionId::random().expect("rng").to_string().into_bytes();
    // Every byte value at every position, and every length around 22.
    for position in 0..22 {
        for byte in 0..=255u8 {
            let mut text = base.clone();
            text[position] = byte;
            assert_eq!(ours(&text), strict(&text), "byte {byte:#04x} at {position}");
        }
    }
    for len in 0..30 {
        let text: Vec<u8> = base.iter().cycle().take(len).copied().collect();
        assert_eq!(ours(&text), strict(&text), "length {len}");
    }
    for _ in 0..1000 {
        let id = SessionId::random().expect("rng");
        assert_eq!(SessionId::from_ascii(id.to_string().as_bytes()), Some(id));
    }
}
