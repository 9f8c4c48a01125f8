//! Minting rules, driven through a stand-in for the session: what a minted token holds,
//! when the cache answers, and which keys are refused.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::*;
use crate::keys::{Key, KeyRing};
use crate::time::ManualClock;
use crate::token::{MintedClaims, SessionId, TokenCodec, TokenType};

const T0: u64 = 1_800_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    sub: String,
    roles: Vec<String>,
    email: String,
}

/// A session as the layer would show it to a minter.
struct Fake {
    token: Vec<u8>,
    claims: Claims<User>,
    minted: Option<MintedClaims>,
    session_keys: KeyRingHandle,
}

impl TokenSource for Fake {
    fn current(&self) -> Option<SessionToken> {
        None
    }

    fn view(&self, f: &mut dyn FnMut(&SessionView<'_>)) -> bool {
        f(&SessionView {
            token: &self.token,
            claims: &self.claims,
            minted: self.minted.as_ref(),
            session_keys: &self.session_keys,
        });
        true
    }
}

fn session(token: &str) -> Fake {
    Fake {
        token: token.as_bytes().to_vec(),
        claims: Claims {
            sid: SessionId::from_bytes([9; 16]),
            iat: T0,
            exp: T0 + 1800,
            auth_time: T0,
            ver: 1,
            remember: false,
            cnf: None,
            data: User {
                sub: "ada".into(),
                roles: vec!["reader".into()],
                email: "ada@example.org".into(),
            },
        },
        minted: None,
        session_keys: KeyRingHandle::new(KeyRing::new(hs("session-k"))),
    }
}

fn hs(kid: &str) -> Key {
    let secret: Vec<u8> = kid.bytes().cycle().take(32).collect();
    Key::hs256(kid, &secret).expect("valid test key")
}

fn aud(name: &str) -> Audience {
    Audience::new(name).expect("valid")
}

#[derive(Debug, Deserialize)]
struct Seen {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    email: Option<String>,
}

struct Setup {
    clock: ManualClock,
    node: KeyRingHandle,
    minter: Minter<User>,
}

fn setup() -> Setup {
    let clock = ManualClock::new(T0 + 10);
    let node = KeyRingHandle::new(KeyRing::new(
        Key::ed25519_from_seed("node-1", &[1; 32]).expect("valid"),
    ));
    let minter = Minter::<User>::new("gateway", |u: &User| Some(u.sub.as_str()))
        .expect("valid issuer")
        .with_keys(node.clone())
        .with_clock(clock.clone())
        .with_projection(|u: &User| json!({ "roles": u.roles }));
    Setup {
        clock,
        node,
        minter,
    }
}

/// Verifies `token` as the downstream `audience` would, with the public half of `keys`.
fn verify(
    token: &SessionToken,
    keys: &KeyRingHandle,
    audience: &str,
    clock: &ManualClock,
) -> (Seen, MintedClaims) {
    let signing = keys.current();
    let key = signing.issuing_key().expect("an issuing key");
    let verifying = key.public_key().unwrap_or_else(|| key.clone());
    let (verified, minted) = TokenCodec::new(KeyRing::new(verifying))
        .with_clock(clock.clone())
        .verify_minted::<Seen>(token.as_str(), &aud(audience), DOWNSTREAM_TOKEN_TYPE)
        .expect("the downstream accepts it");
    (verified.claims.data, minted)
}

#[test]
fn a_minted_token_names_its_audience_and_carries_the_projection_only() {
    let s = setup();
    let minted = s
        .minter
        .mint_from(&session("a.b.session-1"), &aud("profile"))
        .expect("mints");
    assert!(minted.fresh, "the first call signs");
    let (seen, claims) = verify(&minted.token, &s.node, "profile", &s.clock);
    assert_eq!(seen.sub, "ada");
    assert_eq!(seen.roles, ["reader"]);
    assert_eq!(seen.email, None, "the email is not projected");
    assert_eq!(claims.iss, "gateway");
    assert_eq!(claims.aud, ["profile"]);
    assert_eq!(claims.sid, SessionId::from_bytes([9; 16]));
    assert_eq!((claims.iat, claims.exp), (T0 + 10, T0 + 70));
    assert!(claims.act.is_none());
}

#[test]
fn the_cache_answers_until_a_tenth_of_the_life_is_left_or_the_keys_change() {
    let s = setup();
    let ada = session("a.b.session-1");
    let first = s.minter.mint_from(&ada, &aud("profile")).expect("mints");
    s.clock.advance(Duration::from_secs(53));
    let again = s.minter.mint_from(&ada, &aud("profile")).expect("mints");
    assert!(!again.fresh, "served from the cache");
    assert_eq!(again.token, first.token);

    let other = s.minter.mint_from(&ada, &aud("billing")).expect("mints");
    assert!(other.fresh, "another audience, another token");
    let renewed = s
        .minter
        .mint_from(&session("a.b.session-2"), &aud("profile"))
        .expect("mints");
    assert!(renewed.fresh, "another session token, another minted token");

    s.clock.advance(Duration::from_secs(1)); // 54 s of 60: 10 % left
    let due = s.minter.mint_from(&ada, &aud("profile")).expect("mints");
    assert!(due.fresh, "re-minted with 10 % of its life left");
    assert_ne!(due.token, first.token);

    // A rotation re-mints at once, with the new key.
    let new_key = Key::ed25519_from_seed("node-2", &[2; 32]).expect("valid");
    s.node.replace(KeyRing::new(new_key));
    let rotated = s.minter.mint_from(&ada, &aud("profile")).expect("mints");
    assert!(rotated.fresh, "the key changed: not from the cache");
    let (_, claims) = verify(&rotated.token, &s.node, "profile", &s.clock);
    assert_eq!(claims.iat, T0 + 10 + 54);

    let uncached = s.minter.clone().with_mint_cache(0);
    assert!(
        uncached
            .mint_from(&ada, &aud("profile"))
            .expect("mints")
            .fresh
    );
    assert!(
        uncached
            .mint_from(&ada, &aud("profile"))
            .expect("mints")
            .fresh
    );
}

#[test]
fn a_minted_token_never_outlives_its_session_token() {
    let s = setup();
    let mut ada = session("a.b.session-1");
    ada.claims.exp = T0 + 30;
    let minted = s.minter.mint_from(&ada, &aud("profile")).expect("mints");
    let (_, claims) = verify(&minted.token, &s.node, "profile", &s.clock);
    assert_eq!(claims.exp, T0 + 30);
    // Past the session's exp (within the session's leeway): the shortest token possible.
    s.clock.set(T0 + 40);
    let late = s.minter.mint_from(&ada, &aud("billing")).expect("mints");
    let (_, claims) = verify(&late.token, &s.node, "billing", &s.clock);
    assert_eq!((claims.iat, claims.exp), (T0 + 40, T0 + 41));
}

#[test]
fn shared_secrets_mint_for_their_own_audience_only_and_never_for_sessions() {
    let s = setup();
    let ada = session("a.b.session-1");
    let hs_for_all = s.minter.clone().with_keys(KeyRing::new(hs("shared")));
    assert!(matches!(
        hs_for_all.mint_from(&ada, &aud("profile")),
        Err(MintError::SharedSecretForAllAudiences { kid }) if kid == "shared"
    ));

    let billing_keys = KeyRingHandle::new(KeyRing::new(hs("billing-only")));
    let dedicated = s
        .minter
        .clone()
        .with_audience_keys(aud("billing"), billing_keys.clone());
    let token = dedicated
        .mint_from(&ada, &aud("billing"))
        .expect("a dedicated secret mints for its audience")
        .token;
    let (seen, _) = verify(&token, &billing_keys, "billing", &s.clock);
    assert_eq!(seen.sub, "ada");
    // Other audiences still get the node key's tokens.
    let profile = dedicated.mint_from(&ada, &aud("profile")).expect("mints");
    verify(&profile.token, &s.node, "profile", &s.clock);

    let reused = s
        .minter
        .clone()
        .with_audience_keys(aud("billing"), KeyRing::new(hs("session-k")));
    assert!(matches!(
        reused.mint_from(&ada, &aud("billing")),
        Err(MintError::SessionKeyReused { kid }) if kid == "session-k"
    ));

    let keyless = Minter::<User>::new("gateway", |u: &User| Some(u.sub.as_str()))
        .expect("valid")
        .with_clock(s.clock.clone());
    assert!(matches!(
        keyless.mint_from(&ada, &aud("profile")),
        Err(MintError::NoKey { audience }) if audience == "profile"
    ));
    let public_only = s.minter.clone().with_keys(KeyRing::new(
        s.node
            .current()
            .issuing_key()
            .expect("an issuing key")
            .public_key()
            .expect("Ed25519"),
    ));
    assert!(matches!(
        public_only.mint_from(&ada, &aud("profile")),
        Err(MintError::Sign(SignError::NoSigningKey))
    ));
}

#[test]
fn bad_projections_subjects_and_sources_are_reported() {
    let s = setup();
    let ada = session("a.b.session-1");
    let reserved = s
        .minter
        .clone()
        .with_projection(|u: &User| json!({ "aud": "everyone", "roles": u.roles }));
    assert!(matches!(
        reserved.mint_from(&ada, &aud("profile")),
        Err(MintError::ReservedClaim(name)) if name == "aud"
    ));
    let scalar = s.minter.clone().with_projection(|_: &User| 5);
    assert!(matches!(
        scalar.mint_from(&ada, &aud("profile")),
        Err(MintError::Projection(_))
    ));
    let nobody = Minter::<User>::new("gateway", |_: &User| None)
        .expect("valid")
        .with_keys(s.node.clone());
    assert!(matches!(
        nobody.mint_from(&ada, &aud("profile")),
        Err(MintError::NoSubject)
    ));
    let other_type = Minter::<serde_json::Value>::new("gateway", |_| Some("x"))
        .expect("valid")
        .with_keys(s.node.clone());
    assert!(matches!(
        other_type.mint_from(&ada, &aud("profile")),
        Err(MintError::WrongSessionType)
    ));
    let bare: SessionToken = "a.b.c".parse().expect("shape");
    assert!(matches!(
        s.minter.mint_from(&bare, &aud("profile")),
        Err(MintError::NoSession)
    ));
    assert!(Minter::<User>::new("", |u: &User| Some(u.sub.as_str())).is_err());
    assert!(TokenType::new("sess+jwt").is_err());
}

#[test]
fn along_a_chain_the_subject_stays_and_the_actors_nest() {
    let s = setup();
    let middle = Minter::<User>::new("orders", |_: &User| Some("not-used-along-a-chain"))
        .expect("valid")
        .with_keys(s.node.clone())
        .with_clock(s.clock.clone());
    let mut received = session("a.b.minted-for-orders");
    received.minted = Some(MintedClaims {
        iss: "gateway".into(),
        aud: vec!["orders".into()],
        sub: "ada".into(),
        sid: SessionId::from_bytes([9; 16]),
        iat: T0,
        exp: T0 + 60,
        act: None,
    });
    received.claims.exp = T0 + 60;
    let token = middle
        .mint_from(&received, &aud("billing"))
        .expect("mints")
        .token;
    let (seen, claims) = verify(&token, &s.node, "billing", &s.clock);
    assert_eq!((seen.sub.as_str(), claims.sub.as_str()), ("ada", "ada"));
    assert_eq!(claims.iss, "orders");
    assert_eq!(claims.actors().collect::<Vec<_>>(), ["orders"]);
    assert_eq!(claims.sid, SessionId::from_bytes([9; 16]));
    assert_eq!(claims.exp, T0 + 60, "not beyond the token it came from");

    // A third hop nests the actors, the most recent outermost.
    received.minted = Some(claims);
    let last = Minter::<User>::new("billing", |_: &User| None)
        .expect("valid")
        .with_keys(s.node.clone())
        .with_clock(s.clock.clone());
    let token = last
        .mint_from(&received, &aud("ledger"))
        .expect("mints")
        .token;
    let (_, claims) = verify(&token, &s.node, "ledger", &s.clock);
    assert_eq!(claims.actors().collect::<Vec<_>>(), ["billing", "orders"]);
}
