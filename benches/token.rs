//! Token codec cost against `jsonwebtoken` and against the bare HMAC, on one reference
//! payload: `{"sub":"user-12345","roles":["reader","editor"]}` plus the registered claims.
//!
//! Run: `cargo bench --bench token`. Compare the medians within one run only.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tower_stateless_session::{Key, KeyRing, TokenCodec};

const SECRET: &[u8] = b"benchmark-secret-of-at-least-32-bytes-long";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    sub: String,
    roles: Vec<String>,
}

/// The same claims, declared flat, as a jsonwebtoken user would.
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

fn reference_user() -> User {
    User {
        sub: "user-12345".into(),
        roles: vec!["reader".into(), "editor".into()],
    }
}

fn token(c: &mut Criterion) {
    let codec = TokenCodec::new(KeyRing::new(Key::hs256("k1", SECRET).expect("key")));
    let claims = codec.new_claims(reference_user()).expect("claims");
    let ours = codec.sign(&claims).expect("sign");

    let flat = FlatClaims {
        sid: claims.sid.to_string(),
        iat: claims.iat,
        exp: claims.exp,
        auth_time: claims.auth_time,
        ver: claims.ver,
        sub: claims.data.sub.clone(),
        roles: claims.data.roles.clone(),
    };
    let header = Header {
        kid: Some("k1".into()),
        typ: Some("sess+jwt".into()),
        ..Header::new(Algorithm::HS256)
    };
    let encoding_key = EncodingKey::from_secret(SECRET);
    let decoding_key = DecodingKey::from_secret(SECRET);
    let validation = Validation::new(Algorithm::HS256);
    let theirs = jsonwebtoken::encode(&header, &flat, &encoding_key).expect("encode");
    assert!(jsonwebtoken::decode::<FlatClaims>(&ours, &decoding_key, &validation).is_ok());

    let signing_input = ours.rsplit_once('.').expect("three segments").0.to_owned();
    let keyed = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");

    let mut group = c.benchmark_group("token");
    group.bench_function("ours/sign", |b| {
        b.iter(|| codec.sign(black_box(&claims)).expect("sign"))
    });
    group.bench_function("ours/verify", |b| {
        b.iter(|| codec.verify::<User>(black_box(&ours)).expect("verify"))
    });
    group.bench_function("jsonwebtoken/encode", |b| {
        b.iter(|| jsonwebtoken::encode(&header, black_box(&flat), &encoding_key).expect("encode"))
    });
    group.bench_function("jsonwebtoken/decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<FlatClaims>(black_box(&theirs), &decoding_key, &validation)
                .expect("decode")
        })
    });
    group.bench_function("floor/hmac_sha256", |b| {
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(black_box(signing_input.as_bytes()));
            mac.finalize().into_bytes()
        })
    });
    group.finish();
}

criterion_group!(benches, token);
criterion_main!(benches);
