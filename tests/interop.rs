//! Interoperability with the `jsonwebtoken` crate: our tokens are ordinary HS256 JWTs to it,
//! and its tokens, written with our header and claims, verify here.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tower_stateless_session::{Key, KeyRing, RejectionKind, TokenCodec};

const SECRET: &[u8] = b"an-interop-secret-of-at-least-32-bytes!!";

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

fn codec() -> TokenCodec {
    TokenCodec::new(KeyRing::new(Key::hs256("k1", SECRET).expect("key")))
}

fn user() -> User {
    User {
        sub: "user-12345".into(),
        roles: vec!["reader".into(), "editor".into()],
    }
}

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
    let flat = FlatClaims {
        sid: template.sid.to_string(),
        iat: template.iat,
        exp: template.exp,
        auth_time: template.auth_time,
        ver: template.ver,
        sub: "user-12345".into(),
        roles: vec!["reader".into(), "editor".into()],
    };
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
