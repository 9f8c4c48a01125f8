//! What the fuzz targets share: one fixed key, a clock stopped at a fixed time, and a few
//! real tokens signed with that key (the seeds). Nothing the fuzzer builds can carry a valid
//! MAC unless it copies a seed, so "verifies" must imply "is (or contains) a seed".
//!
//! The `open_jwe` target has its own fixture ([`JWE`]): two encryption keys (`A256KW` and
//! `dir`) and encrypted seed tokens made with fixed content keys and IVs, so they are the
//! same in every process and the seed corpus stays valid. Nothing the fuzzer builds can
//! carry a valid tag unless it copies a seed, so "opens" must imply "is a seed".
//!
//! `cargo test --manifest-path fuzz/Cargo.toml --lib -- --ignored write_seed_corpus`
//! writes the seed corpus into `fuzz/corpus/<target>/` (ignored by git).

use std::sync::LazyLock;

use aes_gcm::aead::AeadInOut as _;
use aes_gcm::{Aes256Gcm, Nonce};
use aes_kw::KwAes256;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tower_stateless_session::keys::{EncryptionKey, KeyManagement};
use tower_stateless_session::{Key, KeyRing};
use tower_stateless_session::time::ManualClock;
use tower_stateless_session::token::{Claims, SessionId, TokenCodec};

/// The fixed time of the fuzzing clock.
pub const T0: u64 = 1_800_000_000;
/// Idle timeout of the fixture, seconds.
pub const IDLE: u64 = 1800;
/// Absolute timeout of the fixture, seconds.
pub const ABSOLUTE: u64 = 7200;
/// Leeway of the fixture, seconds.
pub const LEEWAY: u64 = 60;
/// The key id of the only key.
pub const KID: &str = "fuzz-k1";
/// Its secret (32 bytes).
pub const SECRET: &[u8; 32] = b"fuzz-secret-exactly-32-bytes-ok!";

/// The key, a codec over it, and the seed tokens.
pub struct Fixture {
    pub key: Key,
    pub clock: ManualClock,
    pub codec: TokenCodec,
    /// Real tokens signed by the codec at `T0`.
    pub seeds: Vec<String>,
    /// The encoded header of every token of the key.
    pub header_b64: String,
}

pub static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let key = Key::hs256(KID, SECRET).expect("a valid key");
    let clock = ManualClock::new(T0);
    let codec = TokenCodec::new(KeyRing::new(key.clone()))
        .with_clock(clock.clone())
        .with_idle_timeout(std::time::Duration::from_secs(IDLE))
        .with_absolute_timeout(std::time::Duration::from_secs(ABSOLUTE))
        .with_leeway(std::time::Duration::from_secs(LEEWAY));
    let seeds = seed_claims()
        .iter()
        .map(|claims| codec.sign(claims).expect("seed claims sign"))
        .collect::<Vec<_>>();
    let header_b64 = seeds[0].split('.').next().expect("header").to_owned();
    Fixture {
        key,
        clock,
        codec,
        seeds,
        header_b64,
    }
});

fn claims(
    sid: u8,
    iat: u64,
    auth_time: u64,
    remember: bool,
    data: serde_json::Value,
) -> Claims<serde_json::Value> {
    Claims {
        sid: SessionId::from_bytes([sid; 16]),
        iat,
        exp: (iat + IDLE).min(auth_time + ABSOLUTE),
        auth_time,
        ver: 1,
        remember,
        cnf: None,
        data,
    }
}

/// The claims of the seed tokens: several sessions, one of them twice (an older and a
/// newer token), odd data, a persistent session.
pub fn seed_claims() -> Vec<Claims<serde_json::Value>> {
    use serde_json::json;
    vec![
        claims(
            1,
            T0,
            T0 - 500,
            false,
            json!({"sub": "ada", "roles": ["reader"]}),
        ),
        claims(
            1,
            T0 - 30,
            T0 - 500,
            false,
            json!({"sub": "ada", "roles": ["reader"]}),
        ),
        claims(
            2,
            T0 - 100,
            T0 - 1000,
            true,
            json!({"sub": "bob", "roles": []}),
        ),
        claims(3, T0, T0, false, json!({})),
        claims(
            4,
            T0,
            T0 - 7000,
            false,
            json!({"sub": "\"qé\\", "n": 1.5, "nested": {"a": [1, 2, {"b": null}]}}),
        ),
    ]
}

impl Fixture {
    /// Whether `bytes` is exactly one of the seed tokens.
    pub fn is_seed(&self, bytes: &[u8]) -> bool {
        self.seeds.iter().any(|s| s.as_bytes() == bytes)
    }

    /// Whether some seed token occurs in `haystack`.
    pub fn contains_seed(&self, haystack: &[u8]) -> bool {
        self.seeds
            .iter()
            .any(|s| haystack.windows(s.len()).any(|w| w == s.as_bytes()))
    }

    /// The key's header, `payload_json` as the claims, and a valid MAC over both.
    pub fn sign_payload(&self, payload_json: &[u8]) -> String {
        let b64 = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut token = format!("{}.{}", self.header_b64, b64.encode(payload_json));
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");
        mac.update(token.as_bytes());
        token.push('.');
        token.push_str(&b64.encode(mac.finalize().into_bytes()));
        token
    }
}

/// The secret of both encryption keys of the `open_jwe` target (32 bytes).
pub const JWE_SECRET: &[u8; 32] = b"fuzz-jwe-secret-exactly-32-bytes";
/// The purpose the `open_jwe` seeds are sealed for.
pub const JWE_PURPOSE: &str = "session";
/// The size cap of the `open_jwe` target.
pub const JWE_MAX: usize = 4096;

/// Encryption keys and encrypted seed tokens.
pub struct JweFixture {
    /// `[A256KW key "kw", dir key "dir"]`: one ring, as the layer would hold it.
    pub keys: [EncryptionKey; 2],
    /// Seed tokens of both keys, with their plaintexts.
    pub seeds: Vec<(String, Vec<u8>)>,
    /// A codec whose ring holds the A256KW key, on the fuzzing clock: the session path of
    /// encrypted tokens.
    pub codec: TokenCodec,
}

pub static JWE: LazyLock<JweFixture> = LazyLock::new(|| {
    let keys = [
        EncryptionKey::new("kw", KeyManagement::A256KW, JWE_SECRET).expect("a valid key"),
        EncryptionKey::new("dir", KeyManagement::Dir, JWE_SECRET).expect("a valid key"),
    ];
    let mut seeds = Vec::new();
    for (i, claims) in seed_claims().iter().enumerate() {
        let plaintext = serde_json::to_vec(claims).expect("serialize");
        for key in &keys {
            let token = seal_fixed(key.kid(), key.key_management(), &plaintext, i as u8);
            seeds.push((token, plaintext.clone()));
        }
    }
    // A ring refuses one secret under two key managements (one key, one purpose), so the
    // codec holds the A256KW key only: the `dir` seeds are refused by it as unknown keys.
    let ring = KeyRing::new(
        Key::encryption("kw", KeyManagement::A256KW, JWE_SECRET).expect("a valid key"),
    );
    let codec = TokenCodec::new(ring)
        .with_clock(ManualClock::new(T0))
        .with_idle_timeout(std::time::Duration::from_secs(IDLE))
        .with_absolute_timeout(std::time::Duration::from_secs(ABSOLUTE))
        .with_leeway(std::time::Duration::from_secs(LEEWAY))
        .with_max_token_len(JWE_MAX);
    JweFixture { keys, seeds, codec }
});

/// A token as the crate seals it (same header), but with a content key and IV derived
/// from `n` instead of random ones, so it is the same in every process.
pub fn seal_fixed(kid: &str, mode: KeyManagement, plaintext: &[u8], n: u8) -> String {
    let b64 = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(format!(
        r#"{{"alg":"{}","enc":"A256GCM","kid":"{kid}","typ":"sess-enc+jwt","pur":"{JWE_PURPOSE}"}}"#,
        mode.as_str()
    ));
    let iv = Nonce::from([n; 12]);
    let mut buf = plaintext.to_vec();
    let (encrypted_key, tag) = match mode {
        KeyManagement::A256KW => {
            let cek = [n ^ 0x5a; 32];
            let mut wrapped = [0u8; 40];
            KwAes256::new(JWE_SECRET.into())
                .wrap_key(&cek, &mut wrapped)
                .expect("wrap");
            let tag = Aes256Gcm::new(&cek.into())
                .encrypt_inout_detached(&iv, header.as_bytes(), buf.as_mut_slice().into())
                .expect("encrypt");
            (b64.encode(wrapped), tag)
        }
        _ => {
            let tag = Aes256Gcm::new(JWE_SECRET.into())
                .encrypt_inout_detached(&iv, header.as_bytes(), buf.as_mut_slice().into())
                .expect("encrypt");
            (String::new(), tag)
        }
    };
    format!(
        "{header}.{encrypted_key}.{}.{}.{}",
        b64.encode(iv),
        b64.encode(&buf),
        b64.encode(tag)
    )
}

impl JweFixture {
    /// The plaintext of the seed token `bytes` is, if it is one.
    pub fn seed(&self, bytes: &[u8]) -> Option<&[u8]> {
        self.seeds
            .iter()
            .find(|(token, _)| token.as_bytes() == bytes)
            .map(|(_, plaintext)| plaintext.as_slice())
    }
}


// ---------------------------------------------------------------------------------------
// Proofs of possession (the `pop_proof` target) and the key registry (`registry_entry`)
// ---------------------------------------------------------------------------------------

/// The fixed P-256 key the seed proofs are signed with.
pub static PROOF_KEY: LazyLock<p256::ecdsa::SigningKey> = LazyLock::new(|| {
    let mut d = [0x5au8; 32];
    d[0] = 1;
    p256::ecdsa::SigningKey::from_slice(&d).expect("a scalar")
});

/// The seed proofs' key as a JWK.
pub fn proof_jwk() -> serde_json::Value {
    let point = PROOF_KEY.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    serde_json::json!({
        "crv": "P-256",
        "kty": "EC",
        "x": b64.encode(&bytes[1..33]),
        "y": b64.encode(&bytes[33..65]),
    })
}

/// A compact proof of `header` and `payload`, signed with [`PROOF_KEY`] (raw ES256).
pub fn sign_proof(header: &serde_json::Value, payload: &serde_json::Value) -> String {
    use p256::ecdsa::signature::Signer as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let input = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(payload.to_string())
    );
    let signature: p256::ecdsa::Signature = PROOF_KEY.sign(input.as_bytes());
    format!("{input}.{}", b64.encode(signature.to_bytes()))
}

/// The URL the DPoP seed proofs name, and the time they were made.
pub const DPOP_URL: &str = "https://api.example.com/me";

/// Seed proofs: DBSC registration and refresh proofs, DPoP proofs with and without `ath`.
pub static PROOF_SEEDS: LazyLock<Vec<String>> = LazyLock::new(|| {
    use serde_json::json;
    vec![
        sign_proof(
            &json!({"alg": "ES256", "typ": "dbsc+jwt", "jwk": proof_jwk()}),
            &json!({"jti": "challenge-1", "authorization": "a"}),
        ),
        sign_proof(&json!({"alg": "ES256", "typ": "dbsc+jwt"}), &json!({"jti": "challenge-2"})),
        sign_proof(
            &json!({"alg": "ES256", "typ": "dpop+jwt", "jwk": proof_jwk()}),
            &json!({"jti": "j1", "htm": "GET", "htu": DPOP_URL, "iat": T0}),
        ),
        sign_proof(
            &json!({"alg": "ES256", "typ": "dpop+jwt", "jwk": proof_jwk()}),
            &json!({"jti": "j2", "htm": "GET", "htu": DPOP_URL, "iat": T0, "ath": "x"}),
        ),
    ]
});

/// The registration key of the `registry_entry` fixture, and an Ed25519 node key.
pub static REGISTRY: LazyLock<(tower_stateless_session::keys::registry::RegistrationKey, Key)> =
    LazyLock::new(|| {
        let registration =
            tower_stateless_session::keys::registry::RegistrationKey::new(&[0x33; 32])
                .expect("a registration key");
        let key = Key::ed25519_from_seed("node-a", &[0x44; 32]).expect("an Ed25519 key");
        (registration, key)
    });

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture's own signing agrees with the crate's, and the seeds verify.
    #[test]
    fn seeds_verify_and_signing_agrees() {
        let f = &*FIXTURE;
        for (claims, seed) in seed_claims().iter().zip(&f.seeds) {
            let json = serde_json::to_vec(claims).expect("serialize");
            assert_eq!(
                &f.sign_payload(&json),
                seed,
                "forged and signed tokens differ"
            );
            let verified = f
                .codec
                .verify::<serde_json::Value>(seed)
                .expect("a seed verifies");
            assert_eq!(&verified.claims, claims, "a seed decodes to other claims");
        }
    }

    /// The fixed seeds are exactly what the crate seals (same header), and open.
    #[test]
    fn jwe_seeds_open_and_match_the_crate_header() {
        let f = &*JWE;
        for (token, plaintext) in &f.seeds {
            let opened =
                tower_stateless_session::token::jwe::open(token, &f.keys, JWE_PURPOSE, JWE_MAX)
                    .expect("a seed opens");
            assert_eq!(&opened.plaintext, plaintext, "a seed opens to other bytes");
            let kid_is_dir = token.split('.').nth(1) == Some("");
            let key = &f.keys[usize::from(kid_is_dir)];
            let ours =
                tower_stateless_session::token::jwe::seal(key, JWE_PURPOSE, plaintext, JWE_MAX)
                    .expect("seal");
            assert_eq!(
                ours.split('.').next(),
                token.split('.').next(),
                "the fixture's header differs from the crate's"
            );
            if !kid_is_dir {
                f.codec
                    .verify::<serde_json::Value>(token)
                    .expect("an A256KW seed verifies as a session");
            }
        }
    }

    /// Writes the seed corpus of every target into `fuzz/corpus/<target>/`.
    #[test]
    #[ignore = "writes files: run it from scripts/fuzz-smoke.sh"]
    fn write_seed_corpus() {
        let f = &*FIXTURE;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        let mut verify: Vec<Vec<u8>> = f.seeds.iter().map(|s| s.clone().into_bytes()).collect();
        for claims in seed_claims() {
            // Claims JSON: the target also signs inputs that start with '{'.
            verify.push(serde_json::to_vec(&claims).expect("serialize"));
        }
        verify.push(br#"{"alg":"HS256","kid":"fuzz-k1","typ":"sess+jwt"}"#.to_vec());
        verify.push(format!("{}.e30.{}", f.header_b64, "A".repeat(43)).into_bytes());

        let (a, b, c) = (&f.seeds[0], &f.seeds[1], &f.seeds[2]);
        let cookies: Vec<Vec<u8>> = vec![
            format!("\x00session={a}"),
            format!("\x00theme=dark; session={a}; lang=en"),
            format!("\x00session={b}; session={a}"),
            format!("\x00session={a}; session={c}"),
            format!("\x01session={a}\nsession={c}"),
            format!("\x02__Host-session={a}"),
            format!("\x03session=; session=x.y.z; session={a}"),
            format!("\x00session={a}; session={a}; session={a}; session={a}; session={a}"),
            format!("\x04session= {a} ;other=\"q\""),
        ]
        .into_iter()
        .map(String::into_bytes)
        .collect();

        let jwe = &*JWE;
        let mut encrypted: Vec<Vec<u8>> = jwe
            .seeds
            .iter()
            .map(|(token, _)| token.clone().into_bytes())
            .collect();
        // Plaintexts too: the target also seals inputs that start with '{'.
        encrypted.extend(jwe.seeds.iter().map(|(_, plaintext)| plaintext.clone()));

        let proofs: Vec<Vec<u8>> = PROOF_SEEDS
            .iter()
            .map(|p| p.clone().into_bytes())
            .chain(std::iter::once(proof_jwk().to_string().into_bytes()))
            .collect();
        let headers: Vec<Vec<u8>> = [
            "\x00(ES256 RS256);path=\"/r\";challenge=\"c\";authorization=\"a\"",
            "\x01\"cv\";id=\"s-1\"",
            "\x02quota_exceeded;session_identifier=\"123\"",
            "\x03\"a\\\"b\\\\c\"",
            "\x04eyJhbGciOiJFUzI1NiJ9.e30.AA",
            "\x05a, (b c);d=?1;e=1.5, :AQID:",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let (registration, node) = &*REGISTRY;
        let entry = tower_stateless_session::keys::registry::RegistryEntry::new(
            registration,
            node,
            T0 + 600,
            T0 + 3600,
        )
        .expect("an entry");
        let entries = vec![entry.to_text().into_bytes()];
        let jwks = vec![
            tower_stateless_session::keys::jwks::JwksService::new(KeyRing::new(node.clone()))
                .document()
                .to_vec(),
            br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"a"},{"kty":"RSA"}]}"#
                .to_vec(),
        ];

        for (target, inputs) in [
            ("verify_token", verify),
            ("cookie_header", cookies),
            ("open_jwe", encrypted),
            ("pop_proof", proofs),
            ("dbsc_headers", headers),
            ("registry_entry", entries),
            ("jwks_document", jwks),
        ] {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).expect("create the corpus directory");
            for (i, input) in inputs.iter().enumerate() {
                std::fs::write(dir.join(format!("seed-{i:02}")), input).expect("write a seed");
            }
        }
    }
}
