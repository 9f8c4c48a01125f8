//! Token codec cost against `jsonwebtoken` and against the bare HMAC, on one reference
//! payload: `{"sub":"user-12345","roles":["reader","editor"]}` plus the registered claims.
//!
//! A second set, `token/*_payload/<size>`, grows the session data (more roles) to about
//! 100 B, 1 KiB, 2 KiB and 3 KiB of JSON, and reports throughput in bytes of token, so the
//! cost per KiB is visible and a step at some size would stand out.
//!
//! `token/ours/seal` and `token/ours/open` do the same with an encrypted token (JWE,
//! `A256GCM` with `A256KW` key wrap, the default): the same codec, with an encryption key
//! first in its ring. `seal_dir` and `open_dir` use `dir` key management.
//!
//! Run: `cargo bench --bench token`. Compare the medians within one run only.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tower_stateless_session::keys::KeyManagement;
use tower_stateless_session::token::TokenCodec;
use tower_stateless_session::{Key, KeyRing};

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
    for (label, mode) in [("", KeyManagement::A256KW), ("_dir", KeyManagement::Dir)] {
        // The same codec settings with an encryption key first in the ring: every new token
        // is a JWE.
        let key = Key::encryption("e1", mode, &SECRET[..32]).expect("key");
        let encrypting = TokenCodec::new(KeyRing::new(key));
        let sealed = encrypting.sign(&claims).expect("seal");
        assert_eq!(sealed.matches('.').count(), 4, "a JWE");
        assert_eq!(
            encrypting.verify::<User>(&sealed).expect("open").claims,
            claims,
            "{mode} round trip"
        );
        // The sizes quoted in BENCHMARKS.md.
        eprintln!(
            "reference token: signed {} bytes, encrypted ({mode}) {} bytes",
            ours.len(),
            sealed.len()
        );
        group.bench_function(format!("ours/seal{label}"), |b| {
            b.iter(|| encrypting.sign(black_box(&claims)).expect("seal"))
        });
        group.bench_function(format!("ours/open{label}"), |b| {
            b.iter(|| encrypting.verify::<User>(black_box(&sealed)).expect("open"))
        });
    }
    group.bench_function("jsonwebtoken/encode", |b| {
        b.iter(|| jsonwebtoken::encode(&header, black_box(&flat), &encoding_key).expect("encode"))
    });
    group.bench_function("jsonwebtoken/decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<FlatClaims>(black_box(&theirs), &decoding_key, &validation)
                .expect("decode")
        })
    });
    // The parts of sealing and opening that no JWE codec avoids: the random content key
    // and IV from the operating system, the key wrap (24 AES block operations, one after
    // the other), the AES-GCM key setup for each token's fresh key, and AES-GCM itself over
    // the reference claims (144 bytes).
    {
        use aes_gcm::aead::AeadInOut as _;
        use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
        let kek = aes_kw::KwAes256::new(&[1u8; 32].into());
        group.bench_function("floor/os_random_44", |b| {
            b.iter(|| {
                let mut r = [0u8; 44];
                getrandom::fill(&mut r).unwrap();
                r
            })
        });
        group.bench_function("floor/aes256gcm_new", |b| {
            b.iter(|| Aes256Gcm::new(black_box(&[2u8; 32].into())))
        });
        group.bench_function("floor/aes_kw_wrap", |b| {
            b.iter(|| {
                let mut w = [0u8; 40];
                kek.wrap_key(black_box(&[3u8; 32]), &mut w).unwrap();
                w
            })
        });
        group.bench_function("floor/aes_kw_unwrap", |b| {
            let mut w = [0u8; 40];
            kek.wrap_key(&[3u8; 32], &mut w).unwrap();
            b.iter(|| {
                let mut k = [0u8; 32];
                kek.unwrap_key(black_box(&w), &mut k).unwrap();
                k
            })
        });
        let gcm = Aes256Gcm::new(&[2u8; 32].into());
        let plaintext_len = serde_json::to_vec(&claims).expect("serialize").len();
        group.bench_function("floor/aes256gcm_encrypt", |b| {
            b.iter(|| {
                let mut buf = vec![0u8; plaintext_len];
                gcm.encrypt_inout_detached(
                    &Nonce::from([0u8; 12]),
                    b"header",
                    buf.as_mut_slice().into(),
                )
                .unwrap()
            })
        });
    }
    group.bench_function("floor/hmac_sha256", |b| {
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(black_box(signing_input.as_bytes()));
            mac.finalize().into_bytes()
        })
    });
    group.finish();
}

/// EdDSA (Ed25519 node keys): our sign and verify against the bare ed25519-dalek calls on
/// the same signing input (the floors), and jsonwebtoken's EdDSA decode for reference.
fn token_eddsa(c: &mut Criterion) {
    const SEED: [u8; 32] = *b"benchmark-ed25519-seed-32-bytes!";
    let codec = TokenCodec::new(KeyRing::new(
        Key::ed25519_from_seed("node-1", &SEED).expect("a 32-byte seed"),
    ));
    let claims = codec.new_claims(reference_user()).expect("claims");
    let ours = codec.sign(&claims).expect("sign");
    let (signing_input, signature_b64) = ours.rsplit_once('.').expect("three segments");
    let signing_input = signing_input.to_owned();

    let signing = ed25519_dalek::SigningKey::from_bytes(&SEED);
    let verifying = signing.verifying_key();
    let signature = {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature_b64)
            .expect("base64url");
        ed25519_dalek::Signature::from_slice(&bytes).expect("64 bytes")
    };
    assert!(
        verifying
            .verify_strict(signing_input.as_bytes(), &signature)
            .is_ok()
    );

    let decoding_key = {
        use base64::Engine as _;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(verifying.as_bytes());
        DecodingKey::from_ed_components(&x).expect("an Ed25519 public key")
    };
    let validation = Validation::new(Algorithm::EdDSA);
    assert!(jsonwebtoken::decode::<FlatClaims>(&ours, &decoding_key, &validation).is_ok());

    let mut group = c.benchmark_group("token");
    // Each pair back to back, floor first, so drift on a shared machine hits both alike.
    group.bench_function("floor/ed25519_verify_strict", |b| {
        b.iter(|| {
            verifying
                .verify_strict(black_box(signing_input.as_bytes()), black_box(&signature))
                .expect("valid")
        })
    });
    group.bench_function("ours/verify_eddsa", |b| {
        b.iter(|| codec.verify::<User>(black_box(&ours)).expect("verify"))
    });
    group.bench_function("floor/ed25519_sign", |b| {
        use ed25519_dalek::Signer as _;
        b.iter(|| signing.sign(black_box(signing_input.as_bytes())))
    });
    group.bench_function("ours/sign_eddsa", |b| {
        b.iter(|| codec.sign(black_box(&claims)).expect("sign"))
    });
    group.bench_function("jsonwebtoken/decode_eddsa", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<FlatClaims>(black_box(&ours), &decoding_key, &validation)
                .expect("decode")
        })
    });
    group.finish();
}

/// Sizes of the session data's JSON (the members of `User` alone, without the registered
/// claims), with the label of each.
const PAYLOAD_SIZES: [(&str, usize); 4] = [
    ("100B", 100),
    ("1KiB", 1024),
    ("2KiB", 2048),
    ("3KiB", 3072),
];

/// The reference user with roles added until its JSON is at least `target` bytes; each
/// role adds 12 bytes, so the result is within 12 bytes of the target.
fn user_of_size(target: usize) -> User {
    let mut user = reference_user();
    let mut json_len = serde_json::to_vec(&user).expect("serializes").len();
    while json_len < target {
        let role = format!("role-{:04}", user.roles.len());
        // `"role-0002"` and a comma.
        json_len += role.len() + 3;
        user.roles.push(role);
    }
    user
}

fn payload_scaling(c: &mut Criterion) {
    // 3 KiB of data make a token of about 4.2 KiB, over the default cap of 4096 bytes.
    let codec = TokenCodec::new(KeyRing::new(Key::hs256("k1", SECRET).expect("key")))
        .with_max_token_len(8192);
    let encoding_key = EncodingKey::from_secret(SECRET);
    let decoding_key = DecodingKey::from_secret(SECRET);
    let validation = Validation::new(Algorithm::HS256);
    let keyed = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");

    struct Case {
        label: &'static str,
        claims: tower_stateless_session::token::Claims<User>,
        token: String,
        theirs: String,
        data_json: Vec<u8>,
    }
    let cases: Vec<Case> = PAYLOAD_SIZES
        .iter()
        .map(|&(label, size)| {
            let user = user_of_size(size);
            let data_json = serde_json::to_vec(&user).expect("serializes");
            let data_len = data_json.len();
            assert!(
                (size..size + 12).contains(&data_len),
                "{label}: data of {data_len} bytes"
            );
            let claims = codec.new_claims(user).expect("claims");
            let token = codec.sign(&claims).expect("sign");
            let flat = FlatClaims {
                sid: claims.sid.to_string(),
                iat: claims.iat,
                exp: claims.exp,
                auth_time: claims.auth_time,
                ver: claims.ver,
                sub: claims.data.sub.clone(),
                roles: claims.data.roles.clone(),
            };
            let theirs = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &flat, &encoding_key)
                .expect("encode");
            Case {
                label,
                claims,
                token,
                theirs,
                data_json,
            }
        })
        .collect();

    let mut group = c.benchmark_group("token/verify_payload");
    for case in &cases {
        group.throughput(Throughput::Bytes(case.token.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(case.label), case, |b, case| {
            b.iter(|| {
                codec
                    .verify::<User>(black_box(&case.token))
                    .expect("verify")
            })
        });
    }
    group.finish();

    // The same tokens with the data skipped (`IgnoredAny`): the MAC, the base64 and the JSON
    // scan of every byte, without building `T`. This is the codec's own share of the growth.
    let mut group = c.benchmark_group("token/verify_skip_data_payload");
    for case in &cases {
        group.throughput(Throughput::Bytes(case.token.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(case.label), case, |b, case| {
            b.iter(|| {
                codec
                    .verify::<IgnoredAny>(black_box(&case.token))
                    .expect("verify")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("token/sign_payload");
    for case in &cases {
        group.throughput(Throughput::Bytes(case.token.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(case.label), case, |b, case| {
            b.iter(|| codec.sign(black_box(&case.claims)).expect("sign"))
        });
    }
    group.finish();

    // The MAC alone over the same signing input: the part of the growth no codec avoids.
    let mut group = c.benchmark_group("token/hmac_payload");
    for case in &cases {
        let signing_input = case.token.rsplit_once('.').expect("three segments").0;
        group.throughput(Throughput::Bytes(case.token.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(case.label),
            signing_input,
            |b, input| {
                b.iter(|| {
                    let mut mac = keyed.clone();
                    mac.update(black_box(input.as_bytes()));
                    mac.finalize().into_bytes()
                })
            },
        );
    }
    group.finish();

    // Decoding the session data alone with serde_json: the growth that belongs to `T`
    // (here one `String` allocated per role), whatever the token format.
    let mut group = c.benchmark_group("token/data_decode_payload");
    for case in &cases {
        group.throughput(Throughput::Bytes(case.data_json.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(case.label),
            &case.data_json,
            |b, json| b.iter(|| serde_json::from_slice::<User>(black_box(json)).expect("decode")),
        );
    }
    group.finish();

    let mut group = c.benchmark_group("token/jsonwebtoken_decode_payload");
    for case in &cases {
        group.throughput(Throughput::Bytes(case.theirs.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(case.label), case, |b, case| {
            b.iter(|| {
                jsonwebtoken::decode::<FlatClaims>(
                    black_box(&case.theirs),
                    &decoding_key,
                    &validation,
                )
                .expect("decode")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, token, token_eddsa, payload_scaling);
criterion_main!(benches);
