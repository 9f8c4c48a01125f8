//! Codec tests for minted downstream tokens: what goes in, what a downstream accepts, and
//! that session and minted tokens are never taken for each other.

use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::*;
use crate::keys::{Key, KeyRing};
use crate::time::ManualClock;

const T0: u64 = 1_800_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
}

fn ed(kid: &str) -> Key {
    let seed: Vec<u8> = kid.bytes().cycle().take(32).collect();
    Key::ed25519_from_seed(kid, &seed).expect("valid test key")
}

fn hs(kid: &str) -> Key {
    let secret: Vec<u8> = kid.bytes().cycle().take(32).collect();
    Key::hs256(kid, &secret).expect("valid test key")
}

fn codec(key: &Key, clock: &ManualClock) -> TokenCodec {
    TokenCodec::new(KeyRing::new(key.clone()))
        .with_clock(clock.clone())
        .with_leeway(Duration::from_secs(5))
}

fn aud(name: &str) -> Audience {
    Audience::new(name).expect("valid audience")
}

fn roles() -> Map<String, Value> {
    let Value::Object(map) = json!({ "roles": ["reader"] }) else {
        unreachable!("an object literal")
    };
    map
}

fn mint(key: &Key, audience: &str, act: Option<&Actor>, data: &Map<String, Value>) -> String {
    let parts = MintParts {
        issuer: "gateway",
        audience,
        subject: "ada",
        sid: SessionId::from_bytes([7; 16]),
        iat: T0,
        exp: T0 + 60,
        act,
        data,
    };
    sign(key, DOWNSTREAM_TOKEN_TYPE, &parts, 4096).expect("signs")
}

/// `header.payload` signed by `key`, both given as JSON.
fn signed(key: &Key, header: &str, payload: &str) -> String {
    let mut token = format!("{}.{}", B64.encode(header), B64.encode(payload));
    assert!(key.append_signature(&mut token), "the key signs");
    token
}

fn kind(result: Result<(Verified<Profile>, MintedClaims), Rejection>) -> Option<RejectionKind> {
    result.err().map(|e| e.kind())
}

#[test]
fn a_minted_token_carries_its_claims_and_only_the_projection() {
    let key = ed("node");
    let clock = ManualClock::new(T0 + 1);
    let token = mint(&key, "profile", None, &roles());
    let (header, rest) = token.split_once('.').expect("segments");
    let header = String::from_utf8(B64.decode(header).expect("b64")).expect("utf-8");
    assert_eq!(
        header,
        r#"{"alg":"EdDSA","kid":"node","typ":"downstream+jwt"}"#
    );
    let payload = B64
        .decode(rest.split_once('.').expect("segments").0)
        .expect("b64");
    let payload: Value = serde_json::from_slice(&payload).expect("JSON");
    assert_eq!(
        payload,
        json!({"iss":"gateway","aud":"profile","sub":"ada","sid":"BwcHBwcHBwcHBwcHBwcHBw",
               "iat": T0, "exp": T0 + 60, "roles":["reader"]})
    );

    let (verified, minted) = codec(&key.public_key().expect("Ed25519"), &clock)
        .verify_minted::<Profile>(&token, &aud("profile"), DOWNSTREAM_TOKEN_TYPE)
        .expect("the downstream accepts it");
    assert_eq!(
        verified.claims.data,
        Profile {
            sub: "ada".into(),
            roles: vec!["reader".into()]
        }
    );
    assert_eq!(verified.claims.exp, T0 + 60);
    assert_eq!(verified.claims.auth_time, T0, "auth_time is iat");
    assert_eq!(minted.aud, ["profile"]);
    assert_eq!(
        (minted.iss.as_str(), minted.sub.as_str()),
        ("gateway", "ada")
    );
    assert_eq!(minted.actors().count(), 0);
    let shown = serde_json::to_value(&minted).expect("serializes");
    assert_eq!(shown["aud"], "profile", "one audience shows as a string");
}

#[test]
fn each_check_has_its_kind() {
    let key = hs("mint-k");
    let clock = ManualClock::new(T0 + 1);
    let downstream = codec(&key, &clock);
    let header = r#"{"alg":"HS256","kid":"mint-k","typ":"downstream+jwt"}"#;
    let good = r#""iss":"gw","sub":"ada","sid":"BwcHBwcHBwcHBwcHBwcHBw","iat":1800000000,"exp":1800000060"#;
    let cases: Vec<(String, Option<RejectionKind>)> = vec![
        (
            signed(&key, header, &format!(r#"{{{good},"aud":"profile"}}"#)),
            None,
        ),
        (
            signed(
                &key,
                header,
                &format!(r#"{{{good},"aud":["billing","profile"]}}"#),
            ),
            None,
        ),
        (
            signed(&key, header, &format!(r#"{{{good},"aud":"billing"}}"#)),
            Some(RejectionKind::WrongAudience),
        ),
        (
            signed(&key, header, &format!(r#"{{{good},"aud":[]}}"#)),
            Some(RejectionKind::WrongAudience),
        ),
        (
            signed(&key, header, &format!(r#"{{{good}}}"#)),
            Some(RejectionKind::InvalidClaims),
        ),
        (
            signed(
                &key,
                header,
                &format!(r#"{{{good},"aud":"profile","aud":"profile"}}"#),
            ),
            Some(RejectionKind::InvalidClaims),
        ),
        (
            signed(
                &key,
                header,
                &format!(r#"{{{good},"aud":"profile","roles":[],"roles":[]}}"#),
            ),
            Some(RejectionKind::InvalidClaims),
        ),
        (
            signed(
                &key,
                header,
                r#"{"iss":"gw","aud":"profile","sub":"ada","sid":"BwcHBwcHBwcHBwcHBwcHBw","iat":1800000000,"exp":1800000000}"#,
            ),
            Some(RejectionKind::InvalidClaims),
        ),
        (
            signed(
                &key,
                header,
                &format!(r#"{{{good},"aud":"profile","nbf":1800000030}}"#),
            ),
            Some(RejectionKind::InvalidClaims),
        ),
        (
            signed(&key, header, &format!(r#"[{good}]"#)),
            Some(RejectionKind::InvalidClaims),
        ),
        (
            signed(
                &key,
                r#"{"alg":"HS256","kid":"mint-k","typ":"sess+jwt"}"#,
                &format!(r#"{{{good},"aud":"profile"}}"#),
            ),
            Some(RejectionKind::WrongType),
        ),
        (
            signed(
                &key,
                r#"{"alg":"HS256","kid":"mint-k"}"#,
                &format!(r#"{{{good},"aud":"profile"}}"#),
            ),
            Some(RejectionKind::WrongType),
        ),
        (
            signed(
                &key,
                r#"{"alg":"HS256","kid":"mint-k","typ":"application/Downstream+JWT"}"#,
                &format!(r#"{{{good},"aud":"profile"}}"#),
            ),
            None,
        ),
    ];
    for (token, expected) in cases {
        let got = kind(downstream.verify_minted::<Profile>(
            &token,
            &aud("profile"),
            DOWNSTREAM_TOKEN_TYPE,
        ));
        assert_eq!(got, expected, "{token}");
    }
}

#[test]
fn session_and_minted_tokens_are_never_taken_for_each_other() {
    let key = ed("node");
    let clock = ManualClock::new(T0 + 1);
    let codec = codec(&key, &clock);
    // One key signs both kinds: only the type and the claims tell them apart.
    let session = codec
        .sign(&Claims {
            sid: SessionId::from_bytes([7; 16]),
            iat: T0,
            exp: T0 + 600,
            auth_time: T0,
            ver: 1,
            remember: false,
            cnf: None,
            data: Profile {
                sub: "ada".into(),
                roles: vec![],
            },
        })
        .expect("signs");
    let minted = mint(&key, "profile", None, &Map::new());
    assert_eq!(
        kind(codec.verify_minted::<Profile>(&session, &aud("profile"), DOWNSTREAM_TOKEN_TYPE)),
        Some(RejectionKind::WrongType),
        "a session token is not a downstream token"
    );
    assert_eq!(
        codec.verify::<Profile>(&minted).err().map(|e| e.kind()),
        Some(RejectionKind::WrongType),
        "a downstream token is not a session"
    );
}

#[test]
fn deadlines_use_the_leeway() {
    let key = ed("node");
    let clock = ManualClock::new(T0);
    let codec = codec(&key, &clock);
    let token = mint(&key, "profile", None, &Map::new());
    let verify = || kind(codec.verify_minted::<Profile>(&token, &aud("profile"), "downstream+jwt"));
    clock.set(T0 + 60 + 4);
    assert_eq!(verify(), None, "within the 5 s leeway");
    clock.set(T0 + 60 + 5);
    assert_eq!(verify(), Some(RejectionKind::Expired));
    clock.set(T0 - 6);
    assert_eq!(verify(), Some(RejectionKind::IssuedInFuture));
}

#[test]
fn the_actor_chain_round_trips() {
    let key = ed("node");
    let clock = ManualClock::new(T0 + 1);
    let first = Actor::new("orders", None);
    let second = Actor::new("billing", Some(first));
    let token = mint(&key, "ledger", Some(&second), &Map::new());
    let (_, minted) = codec(&key, &clock)
        .verify_minted::<Profile>(&token, &aud("ledger"), DOWNSTREAM_TOKEN_TYPE)
        .expect("valid");
    assert_eq!(minted.actors().collect::<Vec<_>>(), ["billing", "orders"]);
    assert_eq!(
        serde_json::to_value(&minted).expect("serializes")["act"],
        json!({"sub":"billing","act":{"sub":"orders"}})
    );
}

#[test]
fn signing_refuses_oversized_tokens_and_reports_the_length() {
    let key = ed("node");
    let token = mint(&key, "profile", None, &roles());
    let parts = MintParts {
        issuer: "gateway",
        audience: "profile",
        subject: "ada",
        sid: SessionId::from_bytes([7; 16]),
        iat: T0,
        exp: T0 + 60,
        act: None,
        data: &roles(),
    };
    match sign(&key, DOWNSTREAM_TOKEN_TYPE, &parts, token.len() - 1) {
        Err(SignError::Oversized { len, max }) => {
            assert_eq!((len, max), (token.len(), token.len() - 1));
        }
        other => panic!("expected Oversized, got {other:?}"),
    }
    let public = key.public_key().expect("Ed25519");
    assert!(matches!(
        sign(&public, DOWNSTREAM_TOKEN_TYPE, &parts, 4096),
        Err(SignError::NoSigningKey)
    ));
}

#[test]
fn names_and_types_are_checked() {
    for bad in ["", "two words", "tab\t", "é", &"a".repeat(256)] {
        assert!(Audience::new(bad).is_err(), "{bad:?}");
    }
    assert!(Audience::new(&"a".repeat(255)).is_ok());
    assert!(Audience::new("https://profile.internal/api").is_ok());
    for bad in [
        "",
        "sess+jwt",
        "application/SESS+JWT",
        "a\"b",
        "application/",
        &"x".repeat(65),
    ] {
        assert!(check_token_type(bad).is_err(), "{bad:?}");
    }
    assert!(check_token_type("downstream+jwt").is_ok());
    assert!(check_token_type("application/svc+jwt").is_ok());
    let e = Audience::new("a b").expect_err("space").to_string();
    assert_eq!(
        e,
        "invalid downstream token audience: only visible ASCII characters are allowed (no spaces)"
    );
    let mut data = roles();
    assert_eq!(reserved_name(&data), None);
    data.insert("aud".into(), json!("x"));
    assert_eq!(reserved_name(&data), Some("aud"));
}
