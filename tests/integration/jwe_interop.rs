//! Interoperability of encrypted tokens with josekit, an independent JOSE implementation
//! (built on OpenSSL, so it shares no code with the RustCrypto primitives we use): it opens
//! our tokens with the key, and tokens it seals with the same key are opened here, in both
//! key managements. What it is allowed to produce and we refuse (compression, other
//! algorithms) is refused here too.

use josekit::jwe::{self, JweHeader};
use serde_json::json;
use tower_stateless_session::RejectionKind;
use tower_stateless_session::keys::{EncryptionKey, KeyManagement};
use tower_stateless_session::token::jwe::{open, seal};

const SECRET: &[u8; 32] = b"an-interop-jwe-key-of-32-bytes!!";
const PURPOSE: &str = "session";
const MAX: usize = 4096;

/// Session claims as the codec writes them (the layer's own claims next to the data).
fn claims() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "sid": "AAECAwQFBgcICQoLDA0ODw",
        "iat": 1_800_000_000u64,
        "exp": 1_800_001_800u64,
        "auth_time": 1_800_000_000u64,
        "ver": 1,
        "sub": "user-12345",
        "roles": ["reader", "editor"],
    }))
    .expect("claims serialize")
}

fn our_key(mode: KeyManagement) -> EncryptionKey {
    EncryptionKey::new("e1", mode, SECRET).expect("key")
}

fn their_header(alg: &str) -> JweHeader {
    let mut header = JweHeader::new();
    header.set_algorithm(alg);
    header.set_content_encryption("A256GCM");
    header.set_key_id("e1");
    header.set_token_type("sess-enc+jwt");
    header
        .set_claim("pur", Some(json!(PURPOSE)))
        .expect("a private header member");
    header
}

fn their_seal(mode: KeyManagement, header: &JweHeader, payload: &[u8]) -> String {
    match mode {
        KeyManagement::A256KW => {
            let encrypter = jwe::A256KW.encrypter_from_bytes(SECRET).expect("encrypter");
            jwe::serialize_compact(payload, header, &encrypter).expect("josekit seals")
        }
        _ => {
            let encrypter = jwe::Dir.encrypter_from_bytes(SECRET).expect("encrypter");
            jwe::serialize_compact(payload, header, &encrypter).expect("josekit seals")
        }
    }
}

fn their_open(mode: KeyManagement, token: &str) -> Result<(Vec<u8>, JweHeader), String> {
    let result = match mode {
        KeyManagement::A256KW => {
            let decrypter = jwe::A256KW.decrypter_from_bytes(SECRET).expect("decrypter");
            jwe::deserialize_compact(token, &decrypter)
        }
        _ => {
            let decrypter = jwe::Dir.decrypter_from_bytes(SECRET).expect("decrypter");
            jwe::deserialize_compact(token, &decrypter)
        }
    };
    result.map_err(|e| e.to_string())
}

const MODES: [KeyManagement; 2] = [KeyManagement::A256KW, KeyManagement::Dir];

#[test]
fn josekit_opens_our_tokens_in_both_modes() {
    for mode in MODES {
        let token = seal(&our_key(mode), PURPOSE, &claims(), MAX).expect("seal");
        let (payload, header) = their_open(mode, &token)
            .unwrap_or_else(|e| panic!("{mode}: josekit refused our token: {e}"));
        assert_eq!(payload, claims(), "{mode}: josekit decrypted other bytes");
        assert_eq!(header.algorithm(), Some(mode.as_str()));
        assert_eq!(header.content_encryption(), Some("A256GCM"));
        assert_eq!(header.key_id(), Some("e1"));
        assert_eq!(header.token_type(), Some("sess-enc+jwt"));
        assert_eq!(header.claim("pur"), Some(&json!(PURPOSE)));
        assert_eq!(header.compression(), None, "{mode}: we wrote zip");

        // With another key, josekit refuses it (the check is real on its side).
        let refused = match mode {
            KeyManagement::A256KW => {
                let other = jwe::A256KW.decrypter_from_bytes([7u8; 32]).unwrap();
                jwe::deserialize_compact(&token, &other).is_err()
            }
            _ => {
                let other = jwe::Dir.decrypter_from_bytes([7u8; 32]).unwrap();
                jwe::deserialize_compact(&token, &other).is_err()
            }
        };
        assert!(refused, "{mode}: josekit opened our token with another key");
    }
}

#[test]
fn our_codec_opens_josekit_tokens_in_both_modes() {
    for mode in MODES {
        let token = their_seal(mode, &their_header(mode.as_str()), &claims());
        let opened = open(&token, &[our_key(mode)], PURPOSE, MAX)
            .unwrap_or_else(|e| panic!("{mode}: we refused josekit's token: {e:?}"));
        assert_eq!(opened.plaintext, claims(), "{mode}");
        // josekit writes the members in our order, so its header is byte-identical to
        // ours (the fast path); other orders take the decoding path, tested in the codec's
        // unit tests.
    }
}

#[test]
fn josekit_tokens_we_must_refuse_are_refused() {
    for mode in MODES {
        let key = [our_key(mode)];
        let kind = |token: &str| open(token, &key, PURPOSE, MAX).err().map(|e| e.kind());

        let mut zipped = their_header(mode.as_str());
        zipped.set_compression("DEF");
        let token = their_seal(mode, &zipped, &claims());
        assert_eq!(
            kind(&token),
            Some(RejectionKind::UnsupportedAlgorithm),
            "{mode}: zip"
        );

        let mut other_purpose = their_header(mode.as_str());
        other_purpose
            .set_claim("pur", Some(json!("admin")))
            .unwrap();
        let token = their_seal(mode, &other_purpose, &claims());
        assert_eq!(
            kind(&token),
            Some(RejectionKind::WrongType),
            "{mode}: purpose"
        );

        let mut plain_jwt = their_header(mode.as_str());
        plain_jwt.set_token_type("JWT");
        let token = their_seal(mode, &plain_jwt, &claims());
        assert_eq!(kind(&token), Some(RejectionKind::WrongType), "{mode}: typ");

        let mut aes128 = their_header(mode.as_str());
        aes128.set_content_encryption("A128GCM");
        let token = match mode {
            KeyManagement::A256KW => {
                let encrypter = jwe::A256KW.encrypter_from_bytes(SECRET).unwrap();
                jwe::serialize_compact(&claims(), &aes128, &encrypter).unwrap()
            }
            _ => {
                let encrypter = jwe::Dir.encrypter_from_bytes(&SECRET[..16]).unwrap();
                jwe::serialize_compact(&claims(), &aes128, &encrypter).unwrap()
            }
        };
        assert_eq!(
            kind(&token),
            Some(RejectionKind::UnsupportedAlgorithm),
            "{mode}: enc A128GCM"
        );
    }

    // A256GCMKW (AES-GCM key wrap) under our A256KW key's kid: another algorithm.
    let encrypter = jwe::A256GCMKW.encrypter_from_bytes(SECRET).unwrap();
    let token = jwe::serialize_compact(&claims(), &their_header("A256GCMKW"), &encrypter).unwrap();
    assert_eq!(
        open(&token, &[our_key(KeyManagement::A256KW)], PURPOSE, MAX)
            .err()
            .map(|e| e.kind()),
        Some(RejectionKind::Malformed),
        "A256GCMKW adds iv and tag header members, which we refuse as unknown"
    );
}
