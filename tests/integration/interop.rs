//! Interoperability with the `jsonwebtoken` crate, both ways, for both signing algorithms:
//! our HS256 tokens are ordinary JWTs to it; our EdDSA tokens verify there with the key
//! taken from the JWKS we serve; and its tokens, written with our header and claims (HS256
//! with the secret, EdDSA with a node's key pair), verify here.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tower_stateless_session::keys::jwks::JwksService;
use tower_stateless_session::keys::node::NodeKeys;
use tower_stateless_session::keys::registry::{MemoryKeyRegistry, RegistrationKey};
use tower_stateless_session::token::{Claims, TokenCodec};
use tower_stateless_session::{Key, KeyRing, RejectionKind};

const SECRET: &[u8] = b"an-interop-secret-of-at-least-32-bytes!!";
const SEED: [u8; 32] = *b"interop-node-key-seed-32-bytes!!";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    sub: String,
    roles: Vec<String>,
}

/// What a service using jsonwebtoken would declare: every claim flat in one struct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FlatClaims {
    sid: String,
    iat: u64,
    exp: u64,
    auth_time: u64,
    ver: u32,
    sub: String,
    roles: Vec<String>,
}

impl FlatClaims {
    /// Our claims, flat.
    fn of(claims: &Claims<User>) -> Self {
        FlatClaims {
            sid: claims.sid.to_string(),
            iat: claims.iat,
            exp: claims.exp,
            auth_time: claims.auth_time,
            ver: claims.ver,
            sub: claims.data.sub.clone(),
            roles: claims.data.roles.clone(),
        }
    }
}

fn codec() -> TokenCodec {
    TokenCodec::new(KeyRing::new(Key::hs256("k1", SECRET).expect("key")))
}

fn user() -> User {
    User {
        sub: "user-12345".into(),
        roles: vec!["reader".into(), "editor".into()],
    }
}

// ---------------------------------------------------------------------------------------
// HS256
// ---------------------------------------------------------------------------------------

#[test]
fn our_token_verifies_with_jsonwebtoken() {
    let codec = codec();
    let claims = codec.new_claims(user()).expect("claims");
    let token = codec.sign(&claims).expect("sign");

    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    let data =
        jsonwebtoken::decode::<FlatClaims>(&token, &DecodingKey::from_secret(SECRET), &validation)
            .expect("jsonwebtoken accepts our token");
    assert_eq!(data.header.alg, Algorithm::HS256);
    assert_eq!(data.header.kid.as_deref(), Some("k1"));
    assert_eq!(data.header.typ.as_deref(), Some("sess+jwt"));
    assert_eq!(data.claims.sub, "user-12345");
    assert_eq!(data.claims.sid, claims.sid.to_string());
    assert_eq!(
        (data.claims.iat, data.claims.exp, data.claims.auth_time),
        (claims.iat, claims.exp, claims.auth_time)
    );

    let wrong = jsonwebtoken::decode::<FlatClaims>(
        &token,
        &DecodingKey::from_secret(b"another-secret-of-at-least-32-bytes-long"),
        &validation,
    );
    assert!(
        wrong.is_err(),
        "jsonwebtoken must refuse our token under another key"
    );
}

#[test]
fn jsonwebtoken_token_with_our_header_and_claims_verifies_here() {
    let codec = codec();
    let template = codec.new_claims(user()).expect("claims");
    let flat = FlatClaims::of(&template);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    header.typ = Some("sess+jwt".into());
    let token = jsonwebtoken::encode(&header, &flat, &EncodingKey::from_secret(SECRET))
        .expect("jsonwebtoken signs");
    // jsonwebtoken orders header members differently: this takes the decoding path.
    let ours_header = codec.sign(&template).expect("sign");
    assert_ne!(
        token.split('.').next(),
        ours_header.split('.').next(),
        "the test should exercise a header that is not byte-identical to ours"
    );
    let verified = codec
        .verify::<User>(&token)
        .expect("we accept jsonwebtoken's token");
    assert_eq!(verified.claims, template);

    header.typ = Some("JWT".into());
    let plain_jwt = jsonwebtoken::encode(&header, &flat, &EncodingKey::from_secret(SECRET))
        .expect("jsonwebtoken signs");
    assert_eq!(
        codec.verify::<User>(&plain_jwt).map_err(|e| e.kind()).err(),
        Some(RejectionKind::WrongType),
        "a JWT that is not typed as a session token is refused"
    );

    let hs512 = jsonwebtoken::encode(
        &Header {
            alg: Algorithm::HS512,
            kid: Some("k1".into()),
            typ: Some("sess+jwt".into()),
            ..Header::default()
        },
        &flat,
        &EncodingKey::from_secret(SECRET),
    )
    .expect("jsonwebtoken signs HS512");
    assert_eq!(
        codec.verify::<User>(&hs512).map_err(|e| e.kind()).err(),
        Some(RejectionKind::UnsupportedAlgorithm),
        "the header cannot switch the algorithm"
    );
}

// ---------------------------------------------------------------------------------------
// EdDSA (node keys)
// ---------------------------------------------------------------------------------------

/// Two nodes sharing an in-memory registry; the first uses a key pair we can also hand
/// to jsonwebtoken.
fn nodes() -> (NodeKeys, NodeKeys) {
    let registry = MemoryKeyRegistry::new();
    let registration = RegistrationKey::new(&[5; 32]).expect("32 bytes");
    let pair = Key::ed25519_from_seed("interop-node", &SEED).expect("valid seed");
    let a = NodeKeys::builder(registration.clone(), registry.clone())
        .with_key(pair)
        .with_background_heartbeat(false)
        .start()
        .expect("start");
    let b = NodeKeys::builder(registration, registry)
        .with_background_heartbeat(false)
        .start()
        .expect("start");
    (a, b)
}

/// The RFC 8410 PKCS#8 (v1) encoding of an Ed25519 private key: a fixed prefix, then the
/// 32-byte seed.
fn pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    der
}

#[test]
fn our_eddsa_tokens_verify_in_jsonwebtoken_with_the_served_jwks() {
    let (a, b) = nodes();
    let jwks: JwkSet =
        serde_json::from_slice(&JwksService::new(a.keys()).document()).expect("a JWK set");
    assert_eq!(jwks.keys.len(), 2, "both nodes' keys are served");

    for node in [&a, &b] {
        let codec = TokenCodec::new(node.keys());
        let claims = codec.new_claims(user()).expect("claims");
        let token = codec.sign(&claims).expect("sign");

        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.alg, Algorithm::EdDSA);
        let kid = header.kid.expect("a kid");
        assert_eq!(kid, node.kid());
        let jwk = jwks
            .find(&kid)
            .expect("the signing key is in the served JWKS");
        let key = DecodingKey::from_jwk(jwk).expect("an Ed25519 JWK");
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<FlatClaims>(&token, &key, &validation)
            .expect("jsonwebtoken accepts our EdDSA token");
        assert_eq!(data.claims.sub, "user-12345");
        assert_eq!(data.claims.sid, claims.sid.to_string());
        assert_eq!(data.claims.exp, claims.exp);

        let other = jwks
            .keys
            .iter()
            .find(|k| k.common.key_id.as_deref() != Some(kid.as_str()))
            .expect("the other node's key");
        let wrong = DecodingKey::from_jwk(other).expect("an Ed25519 JWK");
        assert!(
            jsonwebtoken::decode::<FlatClaims>(&token, &wrong, &validation).is_err(),
            "another node's key must not verify it"
        );
    }
}

#[test]
fn a_jsonwebtoken_eddsa_token_made_with_a_node_key_pair_verifies_here() {
    let (a, b) = nodes();
    let codec_a = TokenCodec::new(a.keys());
    let template = codec_a.new_claims(user()).expect("claims");
    let flat = FlatClaims::of(&template);
    let header = Header {
        kid: Some(a.kid().to_owned()),
        typ: Some("sess+jwt".into()),
        ..Header::new(Algorithm::EdDSA)
    };
    let token = jsonwebtoken::encode(&header, &flat, &EncodingKey::from_ed_der(&pkcs8(&SEED)))
        .expect("jsonwebtoken signs with the node's key pair");

    // Its member order differs from ours, so this takes the general header path.
    for node in [&a, &b] {
        let verified = TokenCodec::new(node.keys())
            .verify::<User>(&token)
            .expect("verifies on every node");
        assert_eq!(verified.claims.sid, template.sid);
        assert_eq!(verified.claims.data, user());
    }

    // The same claims signed by another Ed25519 key under the node's kid: refused.
    let mut other_seed = SEED;
    other_seed[0] ^= 1;
    let forged = jsonwebtoken::encode(
        &header,
        &flat,
        &EncodingKey::from_ed_der(&pkcs8(&other_seed)),
    )
    .expect("sign");
    assert_eq!(
        TokenCodec::new(b.keys())
            .verify::<User>(&forged)
            .map_err(|e| e.kind())
            .err(),
        Some(RejectionKind::BadSignature)
    );
}
