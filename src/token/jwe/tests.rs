//! Table-driven tests of the JWE codec: round trips, header rules, every way of breaking a
//! token. The published vectors and the `dir` budget are in `tests_vectors.rs`.

use aes_gcm::aead::AeadInOut as _;
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
use aes_kw::KwAes256;
use base64::Engine as _;

use super::*;
use crate::error::ConfigError;
use crate::keys::KeyManagement;

pub(super) const PURPOSE: &str = "session";
pub(super) const MAX: usize = 4096;
const SECRET: &[u8; 32] = b"jwe-unit-test-secret-32-bytes-ok";
pub(super) const PLAINTEXT: &[u8] =
    br#"{"sid":"AAAAAAAAAAAAAAAAAAAAAA","iat":1,"exp":2,"auth_time":1,"ver":1,"sub":"ada"}"#;

pub(super) fn key(kid: &str, mode: KeyManagement) -> EncryptionKey {
    EncryptionKey::new(kid, mode, SECRET).expect("valid key")
}

pub(super) fn b64(bytes: impl AsRef<[u8]>) -> String {
    B64.encode(bytes)
}

pub(super) fn unb64(text: &str) -> Vec<u8> {
    B64.decode(text).expect("canonical base64url")
}

pub(super) fn kind(result: Result<Opened, Rejection>) -> Option<RejectionKind> {
    result.err().map(|e| e.kind())
}

/// A token with any header JSON, correctly encrypted under `SECRET` with `mode` and the
/// header as AAD: what an attacker holding the key, or another library, could produce.
pub(super) fn forge(mode: KeyManagement, header_json: &str, plaintext: &[u8]) -> String {
    let header = b64(header_json);
    let iv = [7u8; 12];
    let mut buf = plaintext.to_vec();
    let (encrypted_key, tag) = match mode {
        KeyManagement::A256KW => {
            let cek = [9u8; 32];
            let mut wrapped = [0u8; 40];
            KwAes256::new(SECRET.into())
                .wrap_key(&cek, &mut wrapped)
                .expect("wrap");
            let tag = Aes256Gcm::new(&cek.into())
                .encrypt_inout_detached(
                    &Nonce::from(iv),
                    header.as_bytes(),
                    buf.as_mut_slice().into(),
                )
                .expect("encrypt");
            (b64(wrapped), tag)
        }
        KeyManagement::Dir => {
            let tag = Aes256Gcm::new(SECRET.into())
                .encrypt_inout_detached(
                    &Nonce::from(iv),
                    header.as_bytes(),
                    buf.as_mut_slice().into(),
                )
                .expect("encrypt");
            (String::new(), tag)
        }
    };
    format!(
        "{header}.{encrypted_key}.{}.{}.{}",
        b64(iv),
        b64(&buf),
        b64(tag)
    )
}

fn header_json(alg: &str, kid: &str, purpose: &str) -> String {
    format!(
        r#"{{"alg":"{alg}","enc":"A256GCM","kid":"{kid}","typ":"sess-enc+jwt","pur":"{purpose}"}}"#
    )
}

#[test]
fn seal_then_open_round_trips_in_both_modes() {
    for mode in [KeyManagement::A256KW, KeyManagement::Dir] {
        let k = key("e1", mode);
        let token = seal(&k, PURPOSE, PLAINTEXT, MAX).expect("seal");
        let seg = split(token.as_bytes()).expect("five segments");
        let expected_key_len = if mode == KeyManagement::A256KW { 54 } else { 0 };
        assert_eq!(
            seg.encrypted_key.len(),
            expected_key_len,
            "{mode}: encrypted key"
        );
        assert_eq!(
            (seg.iv.len(), seg.tag.len()),
            (16, 22),
            "{mode}: IV and tag"
        );
        assert_eq!(
            seg.ciphertext.len(),
            (PLAINTEXT.len() * 4).div_ceil(3),
            "{mode}: GCM adds no padding"
        );
        let header: serde_json::Value =
            serde_json::from_slice(&unb64(std::str::from_utf8(seg.header).expect("ascii")))
                .expect("header JSON");
        assert_eq!(
            header,
            serde_json::json!({"alg": mode.as_str(), "enc": "A256GCM", "kid": "e1",
                               "typ": "sess-enc+jwt", "pur": PURPOSE}),
            "{mode}: header members"
        );
        assert!(
            !token.contains(&b64(PLAINTEXT)[..20]),
            "{mode}: plaintext visible in the token"
        );
        let opened = open(&token, &[k], PURPOSE, MAX).expect("opens");
        assert_eq!(opened.plaintext, PLAINTEXT, "{mode}: plaintext changed");
        assert_eq!(opened.key_index, 0);
    }
}

#[test]
fn every_token_gets_a_fresh_iv_and_content_key() {
    for mode in [KeyManagement::A256KW, KeyManagement::Dir] {
        let k = key("e1", mode);
        let a = seal(&k, PURPOSE, PLAINTEXT, MAX).expect("seal");
        let b = seal(&k, PURPOSE, PLAINTEXT, MAX).expect("seal");
        let (sa, sb) = (split(a.as_bytes()).unwrap(), split(b.as_bytes()).unwrap());
        assert_eq!(
            sa.header, sb.header,
            "{mode}: the header is constant per key"
        );
        assert_ne!(sa.iv, sb.iv, "{mode}: IV reused");
        assert_ne!(
            sa.ciphertext, sb.ciphertext,
            "{mode}: same ciphertext twice"
        );
        if mode == KeyManagement::A256KW {
            assert_ne!(sa.encrypted_key, sb.encrypted_key, "content key reused");
        }
    }
}

#[test]
fn sealed_length_is_exact_and_the_cap_is_checked_first() {
    let k = key("e1", KeyManagement::A256KW);
    let token = seal(&k, PURPOSE, PLAINTEXT, MAX).expect("seal");
    match seal(&k, PURPOSE, PLAINTEXT, token.len() - 1) {
        Err(SignError::Oversized { len, max }) => {
            assert_eq!((len, max), (token.len(), token.len() - 1));
        }
        other => panic!("expected Oversized, got {other:?}"),
    }
    assert!(
        seal(&k, PURPOSE, PLAINTEXT, token.len()).is_ok(),
        "fits exactly"
    );
    assert_eq!(
        kind(open(&token, &[k], PURPOSE, token.len() - 1)),
        Some(RejectionKind::Oversized)
    );
}

#[test]
fn a_ring_of_keys_opens_by_kid_and_a_second_purpose_works_uncached() {
    let a = EncryptionKey::new("a", KeyManagement::A256KW, &[1; 32]).unwrap();
    let b = EncryptionKey::new("b", KeyManagement::Dir, &[2; 32]).unwrap();
    let ring = [a.clone(), b.clone()];
    let from_b = seal(&b, PURPOSE, PLAINTEXT, MAX).unwrap();
    assert_eq!(open(&from_b, &ring, PURPOSE, MAX).unwrap().key_index, 1);
    // The same key used for another purpose (another cookie name) as well.
    let other = seal(&b, "other-cookie", PLAINTEXT, MAX).unwrap();
    assert_eq!(
        open(&other, &ring, "other-cookie", MAX).unwrap().key_index,
        1
    );
    assert_eq!(
        kind(open(&other, &ring, PURPOSE, MAX)),
        Some(RejectionKind::WrongType),
        "a token of one cookie opened under another"
    );
    assert_eq!(
        kind(open(&from_b, &[a], PURPOSE, MAX)),
        Some(RejectionKind::UnknownKey)
    );
}

#[test]
fn a_same_kid_with_another_secret_fails_decryption() {
    for mode in [KeyManagement::A256KW, KeyManagement::Dir] {
        let ours = key("e1", mode);
        let theirs = EncryptionKey::new("e1", mode, &[0x55; 32]).unwrap();
        let token = seal(&theirs, PURPOSE, PLAINTEXT, MAX).unwrap();
        assert_eq!(
            kind(open(&token, &[ours], PURPOSE, MAX)),
            Some(RejectionKind::DecryptionFailed),
            "{mode}"
        );
    }
}

#[test]
fn purposes_with_json_special_characters_are_escaped_and_bound() {
    let k = key("e1", KeyManagement::Dir);
    let purpose = "we\"ird\\name";
    let token = seal(&k, purpose, PLAINTEXT, MAX).unwrap();
    assert_eq!(
        open(&token, std::slice::from_ref(&k), purpose, MAX)
            .unwrap()
            .plaintext,
        PLAINTEXT
    );
    assert_eq!(
        kind(open(&token, &[k], "we", MAX)),
        Some(RejectionKind::WrongType)
    );
}

#[test]
fn headers_from_other_libraries_are_accepted_in_any_member_order() {
    for mode in [KeyManagement::A256KW, KeyManagement::Dir] {
        let alg = mode.as_str();
        let reordered = format!(
            r#"{{"pur":"session","typ":"application/SESS-ENC+JWT","kid":"e1","enc":"A256GCM","alg":"{alg}"}}"#
        );
        let token = forge(mode, &reordered, PLAINTEXT);
        let opened = open(&token, &[key("e1", mode)], PURPOSE, MAX).expect("reordered header");
        assert_eq!(opened.plaintext, PLAINTEXT);
    }
}

/// Every header rule, checked with tokens that are otherwise correctly encrypted, so a
/// refusal can only come from the header.
#[test]
fn header_rules_are_enforced_on_correctly_encrypted_tokens() {
    use RejectionKind::*;
    let m = KeyManagement::A256KW;
    let good = header_json("A256KW", "e1", PURPOSE);
    let with = |extra: &str| format!("{},{extra}}}", &good[..good.len() - 1]);
    let cases: Vec<(&str, String, RejectionKind)> = vec![
        ("zip DEF", with(r#""zip":"DEF""#), UnsupportedAlgorithm),
        ("zip null", with(r#""zip":null"#), UnsupportedAlgorithm),
        ("crit", with(r#""crit":["pur"]"#), Malformed),
        ("crit empty", with(r#""crit":[]"#), Malformed),
        ("unknown member", with(r#""cty":"JWT""#), Malformed),
        ("duplicate kid", with(r#""kid":"e1""#), Malformed),
        (
            "dir under an A256KW key",
            header_json("dir", "e1", PURPOSE),
            UnsupportedAlgorithm,
        ),
        (
            "A128KW",
            header_json("A128KW", "e1", PURPOSE),
            UnsupportedAlgorithm,
        ),
        (
            "A256GCMKW",
            header_json("A256GCMKW", "e1", PURPOSE),
            UnsupportedAlgorithm,
        ),
        (
            "alg none",
            header_json("none", "e1", PURPOSE),
            UnsupportedAlgorithm,
        ),
        (
            "alg HS256",
            header_json("HS256", "e1", PURPOSE),
            UnsupportedAlgorithm,
        ),
        (
            "enc A128GCM",
            good.replace("A256GCM", "A128GCM"),
            UnsupportedAlgorithm,
        ),
        (
            "enc A256CBC-HS512",
            good.replace("A256GCM", "A256CBC-HS512"),
            UnsupportedAlgorithm,
        ),
        (
            "enc lower case",
            good.replace("A256GCM", "a256gcm"),
            UnsupportedAlgorithm,
        ),
        ("no enc", good.replace(r#""enc":"A256GCM","#, ""), Malformed),
        ("no alg", good.replace(r#""alg":"A256KW","#, ""), Malformed),
        ("no kid", good.replace(r#""kid":"e1","#, ""), UnknownKey),
        (
            "unknown kid",
            header_json("A256KW", "e2", PURPOSE),
            UnknownKey,
        ),
        (
            "no typ",
            good.replace(r#""typ":"sess-enc+jwt","#, ""),
            WrongType,
        ),
        (
            "signed typ",
            good.replace("sess-enc+jwt", "sess+jwt"),
            WrongType,
        ),
        ("typ JWT", good.replace("sess-enc+jwt", "JWT"), WrongType),
        (
            "no purpose",
            good.replace(r#","pur":"session""#, ""),
            WrongType,
        ),
        (
            "other purpose",
            header_json("A256KW", "e1", "admin"),
            WrongType,
        ),
        (
            "purpose not a string",
            good.replace(r#""pur":"session""#, r#""pur":1"#),
            Malformed,
        ),
        ("array", "[]".into(), Malformed),
        ("not JSON", "hello".into(), Malformed),
    ];
    for (name, header, expected) in cases {
        let token = forge(m, &header, PLAINTEXT);
        assert_eq!(
            kind(open(&token, &[key("e1", m)], PURPOSE, MAX)),
            Some(expected),
            "{name}: {header}"
        );
    }
}

#[test]
fn a_signed_header_on_an_encrypted_body_and_the_reverse_are_refused() {
    let k = key("e1", KeyManagement::A256KW);
    let jwe = seal(&k, PURPOSE, PLAINTEXT, MAX).unwrap();
    let signed_header = b64(r#"{"alg":"HS256","kid":"e1","typ":"sess+jwt"}"#);
    let (_, rest) = jwe.split_once('.').unwrap();
    assert_eq!(
        kind(open(
            format!("{signed_header}.{rest}"),
            std::slice::from_ref(&k),
            PURPOSE,
            MAX
        )),
        Some(RejectionKind::Malformed),
        "JWS header, JWE body"
    );
    // The reverse: a JWE header on a JWS-shaped token (three segments).
    let jwe_header = jwe.split('.').next().unwrap();
    let jws_shaped = format!("{jwe_header}.{}.{}", b64(PLAINTEXT), "A".repeat(43));
    assert_eq!(
        kind(open(&jws_shaped, std::slice::from_ref(&k), PURPOSE, MAX)),
        Some(RejectionKind::Malformed),
        "three segments are not a JWE"
    );
    let hs_key = crate::keys::Key::hs256("e1", SECRET).unwrap();
    assert_eq!(
        jws::verify_jws(&jws_shaped, &hs_key)
            .err()
            .map(|e| e.kind()),
        Some(RejectionKind::UnsupportedAlgorithm),
        "verify_jws must refuse a JWE header"
    );
    let ring = crate::keys::KeyRing::new(hs_key);
    assert_eq!(
        jws::verify_typed(&ring, jws_shaped.as_bytes(), MAX, jws::TOKEN_TYPE)
            .err()
            .map(|e| e.kind()),
        Some(RejectionKind::Malformed),
        "the session JWS path must refuse a JWE header"
    );
}

/// Segment `i` of a token replaced.
fn with_segment(token: &str, i: usize, value: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[i] = value;
    parts.join(".")
}

#[test]
fn every_segment_tampered_swapped_or_truncated_is_refused() {
    use RejectionKind::*;
    for mode in [KeyManagement::A256KW, KeyManagement::Dir] {
        let k = key("e1", mode);
        let a = seal(&k, PURPOSE, PLAINTEXT, MAX).unwrap();
        let b = seal(&k, PURPOSE, br#"{"sub":"eve","roles":["admin"]}"#, MAX).unwrap();
        let pa: Vec<&str> = a.split('.').collect();
        let pb: Vec<&str> = b.split('.').collect();
        let check = |name: String, token: String, allowed: &[RejectionKind]| {
            let got = kind(open(&token, std::slice::from_ref(&k), PURPOSE, MAX));
            assert!(
                got.is_some_and(|g| allowed.contains(&g)),
                "{mode} {name}: got {got:?}, expected one of {allowed:?}"
            );
        };
        for i in 0..5 {
            // Swapped with the other token's segment (the header is the same for both).
            if pa[i] != pb[i] {
                check(
                    format!("segment {i} swapped"),
                    with_segment(&a, i, pb[i]),
                    &[DecryptionFailed, Malformed],
                );
            }
            if pa[i].is_empty() {
                // dir: a non-empty encrypted key is refused.
                check(
                    "encrypted key added".into(),
                    with_segment(&a, i, &"A".repeat(54)),
                    &[Malformed],
                );
                continue;
            }
            // Each character changed in turn to another valid base64url character.
            for (pos, c) in pa[i].char_indices() {
                let replacement = if c == 'A' { "B" } else { "A" };
                let mut s = pa[i].to_owned();
                s.replace_range(pos..pos + 1, replacement);
                let allowed: &[RejectionKind] = if i == 0 {
                    // The header no longer matches byte for byte: decoded, it may be
                    // anything.
                    &[
                        Malformed,
                        UnknownKey,
                        UnsupportedAlgorithm,
                        WrongType,
                        DecryptionFailed,
                    ]
                } else {
                    &[DecryptionFailed, Malformed]
                };
                check(
                    format!("segment {i} char {pos}"),
                    with_segment(&a, i, &s),
                    allowed,
                );
            }
            // Truncated by one character and by half, and emptied.
            let seg = pa[i];
            for cut in [seg.len() - 1, seg.len() / 2, 0] {
                let allowed: &[RejectionKind] = if i == 0 {
                    &[Malformed, UnknownKey, UnsupportedAlgorithm, WrongType]
                } else {
                    &[Malformed, DecryptionFailed]
                };
                check(
                    format!("segment {i} cut to {cut}"),
                    with_segment(&a, i, &seg[..cut]),
                    allowed,
                );
            }
            // One character too many.
            check(
                format!("segment {i} extended"),
                with_segment(&a, i, &format!("{seg}A")),
                &[Malformed, DecryptionFailed, WrongType, UnknownKey],
            );
        }
        // Whole-token truncation at every length.
        for cut in 0..a.len() {
            let got = kind(open(&a[..cut], std::slice::from_ref(&k), PURPOSE, MAX));
            assert!(got.is_some(), "{mode}: a prefix of {cut} bytes opened");
        }
        // Segments dropped, added, or tokens joined.
        check("four segments".into(), pa[..4].join("."), &[Malformed]);
        check("six segments".into(), format!("{a}.AAAA"), &[Malformed]);
        check("two tokens".into(), format!("{a}.{b}"), &[Malformed]);
    }
}

#[test]
fn non_canonical_spellings_of_each_segment_are_malformed() {
    for mode in [KeyManagement::A256KW, KeyManagement::Dir] {
        let k = key("e1", mode);
        let token = seal(&k, PURPOSE, PLAINTEXT, MAX).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        for (i, &seg) in parts.iter().enumerate().skip(1) {
            if seg.is_empty() {
                continue;
            }
            // The last character with its unused low bits set: same bytes, other spelling.
            if !seg.len().is_multiple_of(4) {
                let last = seg.as_bytes()[seg.len() - 1];
                let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                let value = alphabet.iter().position(|&c| c == last).unwrap();
                let unused_bits = match seg.len() % 4 {
                    2 => 4,
                    3 => 2,
                    _ => 0,
                };
                let respelled_value = value | ((1 << unused_bits) - 1);
                if respelled_value != value {
                    let mut s = seg.to_owned();
                    s.pop();
                    s.push(alphabet[respelled_value] as char);
                    assert_eq!(
                        kind(open(
                            with_segment(&token, i, &s),
                            std::slice::from_ref(&k),
                            PURPOSE,
                            MAX
                        )),
                        Some(RejectionKind::Malformed),
                        "{mode}: segment {i} respelled"
                    );
                }
            }
            for bad in [
                format!("{seg}="),
                seg.replace('-', "+"),
                format!(" {}", &seg[1..]),
            ] {
                if bad != seg {
                    assert_eq!(
                        kind(open(
                            with_segment(&token, i, &bad),
                            std::slice::from_ref(&k),
                            PURPOSE,
                            MAX
                        )),
                        Some(RejectionKind::Malformed),
                        "{mode}: segment {i} as {bad:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_content_key_of_another_length_is_refused_even_when_it_unwraps() {
    // A 16-byte content key wrapped by our key (24 bytes): libraries have decrypted such
    // tokens with AES-128 under an A256GCM header. The length check refuses it before the
    // unwrap.
    let mut wrapped = [0u8; 24];
    KwAes256::new(SECRET.into())
        .wrap_key(&[3u8; 16], &mut wrapped)
        .unwrap();
    let k = key("e1", KeyManagement::A256KW);
    let token = seal(&k, PURPOSE, PLAINTEXT, MAX).unwrap();
    let short = with_segment(&token, 1, &b64(wrapped));
    assert_eq!(
        kind(open(&short, std::slice::from_ref(&k), PURPOSE, MAX)),
        Some(RejectionKind::Malformed)
    );
    // And a 48-byte content key (56 bytes wrapped).
    let mut wrapped = [0u8; 56];
    KwAes256::new(SECRET.into())
        .wrap_key(&[3u8; 48], &mut wrapped)
        .unwrap();
    let long = with_segment(&token, 1, &b64(wrapped));
    assert_eq!(
        kind(open(&long, std::slice::from_ref(&k), PURPOSE, MAX)),
        Some(RejectionKind::Malformed)
    );
    // IVs and tags of other lengths, whatever their content.
    for (i, value) in [
        (2, b64([0u8; 16])),
        (2, b64([0u8; 8])),
        (4, b64([0u8; 12])),
        (4, b64([0u8; 32])),
    ] {
        assert_eq!(
            kind(open(
                with_segment(&token, i, &value),
                std::slice::from_ref(&k),
                PURPOSE,
                MAX
            )),
            Some(RejectionKind::Malformed),
            "segment {i} as {value}"
        );
    }
}

#[test]
fn keys_must_be_exactly_32_bytes_and_never_print_their_secret() {
    for len in [0, 16, 31, 33, 64] {
        match EncryptionKey::new("e1", KeyManagement::A256KW, &vec![1; len]) {
            Err(ConfigError::WrongKeyLength {
                kid,
                len: l,
                expected: 32,
            }) => {
                assert_eq!((kid.as_str(), l), ("e1", len));
            }
            other => panic!("{len} bytes: {other:?}"),
        }
    }
    assert!(matches!(
        EncryptionKey::new("bad kid", KeyManagement::Dir, SECRET),
        Err(ConfigError::InvalidKeyId { .. })
    ));
    let k = key("e1", KeyManagement::Dir);
    let text = format!("{k:?}");
    assert_eq!(
        text,
        r#"EncryptionKey { kid: "e1", alg: Dir, enc: "A256GCM", .. }"#
    );
    assert_eq!(
        KeyManagement::from_name("A256KW"),
        Some(KeyManagement::A256KW)
    );
    assert_eq!(KeyManagement::from_name("dir"), Some(KeyManagement::Dir));
    assert_eq!(KeyManagement::from_name("DIR"), None);
    assert_eq!(KeyManagement::default(), KeyManagement::A256KW);
}
