//! EdDSA interoperability with the `jsonwebtoken` crate, both ways: our tokens verify there
//! with the key taken from the JWKS we serve, and an EdDSA token it signs with a node's key
//! pair (our header and claims) verifies here.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tower_stateless_session::keys::{JwksService, MemoryKeyRegistry, NodeKeys, RegistrationKey};
use tower_stateless_session::{Key, RejectionKind, TokenCodec};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    sub: String,
    roles: Vec<String>,
}

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

const SEED: [u8; 32] = *b"interop-node-key-seed-32-bytes!!";

fn user() -> User {
    User {
        sub: "user-12345".into(),
        roles: vec!["reader".into()],
    }
}

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
    let flat = FlatClaims {
        sid: template.sid.to_string(),
        iat: template.iat,
        exp: template.exp,
        auth_time: template.auth_time,
        ver: template.ver,
        sub: template.data.sub.clone(),
        roles: template.data.roles.clone(),
    };
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
