//! The JWE codec against published vectors (RFC 7516 appendix A.3, RFC 7520 §5.8), and the
//! `dir` budget warning at its threshold.

use aes_gcm::aead::AeadInOut as _;
use aes_gcm::{Aes128Gcm, KeyInit as _, Nonce, Tag};
use aes_kw::KwAes128;

use super::tests::{MAX, PLAINTEXT, PURPOSE, b64, forge, key, kind, unb64};
use super::*;
#[cfg(any(feature = "tracing", feature = "metrics"))]
use crate::keys::DIR_WARNING_THRESHOLD;
use crate::keys::KeyManagement;

// ---------------------------------------------------------------------------------------
// RFC vectors (128-bit keys, so checked with 128-bit primitives here: the codec itself
// accepts only the 256-bit algorithms, and refuses these tokens)
// ---------------------------------------------------------------------------------------

/// RFC 7516 Appendix A.3: A128KW with A128CBC-HS256, "Live long and prosper."
const RFC7516_A3: &str = "eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.\
    6KB707dM9YTIgHtLvtgWQ8mKwboJW3of9locizkDTHzBC2IlrT1oOQ.\
    AxY8DCtDaGlsbGljb3RoZQ.\
    KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY.\
    U0m_YmjN04DJvceFICbCVQ";
const RFC7516_A3_KEK: &str = "GawgguFyGrWKav7AX4VKUg";
const RFC7516_A3_CEK: [u8; 32] = [
    4, 211, 31, 197, 84, 157, 252, 254, 11, 100, 157, 250, 63, 170, 106, 206, 107, 124, 212, 45,
    111, 107, 9, 219, 200, 177, 0, 240, 143, 156, 44, 207,
];

/// RFC 7520 §5.8: A128KW with A128GCM.
const RFC7520_5_8: &str = "eyJhbGciOiJBMTI4S1ciLCJraWQiOiI4MWIyMDk2NS04MzMyLTQzZDktYTQ2OC\
    04MjE2MGFkOTFhYzgiLCJlbmMiOiJBMTI4R0NNIn0.\
    CBI6oDw8MydIx1IBntf_lQcw2MmJKIQx.\
    Qx0pmsDa8KnJc9Jo.\
    AwliP-KmWgsZ37BvzCefNen6VTbRK3QMA4TkvRkH0tP1bTdhtFJgJxeVmJkLD6\
    1A1hnWGetdg11c9ADsnWgL56NyxwSYjU1ZEHcGkd3EkU0vjHi9gTlb90qSYFfe\
    F0LwkcTtjbYKCsiNJQkcIp1yeM03OmuiYSoYJVSpf7ej6zaYcMv3WwdxDFl8RE\
    wOhNImk2Xld2JXq6BR53TSFkyT7PwVLuq-1GwtGHlQeg7gDT6xW0JqHDPn_H-p\
    uQsmthc9Zg0ojmJfqqFvETUxLAF-KjcBTS5dNy6egwkYtOt8EIHK-oEsKYtZRa\
    a8Z7MOZ7UGxGIMvEmxrGCPeJa14slv2-gaqK0kEThkaSqdYw0FkQZF.\
    ER7MWJZ1FBI_NKvn7Zb1Lw";
const RFC7520_5_8_KEK: &str = "GZy6sIZ6wl9NJOKB-jnmVQ";
const RFC7520_5_8_CEK: &str = "aY5_Ghmk9KxWPBLu_glx1w";
const RFC7520_PLAINTEXT: &str = "You can trust us to stick with you through thick and \
    thin\u{2013}to the bitter end. And you can trust us to keep any secret of yours\u{2013}\
    closer than you keep it yourself. But you cannot trust us to let you face trouble alone, \
    and go off without a word. We are your friends, Frodo.";

fn kw128(kek: &str) -> KwAes128 {
    let kek: [u8; 16] = unb64(kek).try_into().expect("16-byte KEK");
    KwAes128::new(&kek.into())
}

#[test]
fn rfc7516_a3_parses_and_its_content_key_unwraps_and_rewraps() {
    let seg = split(RFC7516_A3.as_bytes()).expect("five segments");
    let header: serde_json::Value =
        serde_json::from_slice(&jws::decode_header_json(seg.header).unwrap()).unwrap();
    assert_eq!(
        header,
        serde_json::json!({"alg": "A128KW", "enc": "A128CBC-HS256"})
    );
    let wrapped = decode_exact::<32>(seg.encrypted_key).err();
    assert_eq!(
        wrapped.map(|e| e.kind()),
        Some(RejectionKind::Malformed),
        "a 40-byte segment is not 32 bytes"
    );
    let wrapped: [u8; 40] = decode_exact(seg.encrypted_key).expect("canonical, 40 bytes");
    let kek = kw128(RFC7516_A3_KEK);
    let mut cek = [0u8; 32];
    kek.unwrap_key(&wrapped, &mut cek)
        .expect("the RFC's key unwraps");
    assert_eq!(cek, RFC7516_A3_CEK);
    let mut rewrapped = [0u8; 40];
    kek.wrap_key(&RFC7516_A3_CEK, &mut rewrapped).unwrap();
    assert_eq!(rewrapped, wrapped, "key wrap is deterministic");
    let iv: Result<[u8; 16], _> = decode_exact(seg.iv);
    assert!(iv.is_ok(), "the 128-bit IV of CBC decodes as such");
    // The codec refuses it: no kid, and algorithms it does not implement.
    let k = key("e1", KeyManagement::A256KW);
    assert_eq!(
        kind(open(RFC7516_A3, &[k], PURPOSE, MAX)),
        Some(RejectionKind::UnknownKey)
    );
}

#[test]
fn rfc7520_5_8_decrypts_with_the_header_as_received_as_aad() {
    let seg = split(RFC7520_5_8.as_bytes()).expect("five segments");
    let wrapped: [u8; 24] = decode_exact(seg.encrypted_key).expect("24-byte wrapped key");
    let mut cek = [0u8; 16];
    kw128(RFC7520_5_8_KEK)
        .unwrap_key(&wrapped, &mut cek)
        .expect("unwraps");
    assert_eq!(b64(cek), RFC7520_5_8_CEK);
    let iv: [u8; IV_LEN] = decode_exact(seg.iv).expect("12-byte IV");
    let tag: [u8; TAG_LEN] = decode_exact(seg.tag).expect("16-byte tag");
    let mut buf = Vec::new();
    jws::decode_segment_into(seg.ciphertext, &mut buf).expect("ciphertext");
    let aead = Aes128Gcm::new(&cek.into());
    let mut plaintext = buf.clone();
    aead.decrypt_inout_detached(
        &Nonce::from(iv),
        seg.header,
        plaintext.as_mut_slice().into(),
        &Tag::from(tag),
    )
    .expect("decrypts with the encoded header as AAD");
    assert_eq!(plaintext, RFC7520_PLAINTEXT.as_bytes());
    // Encrypting again with the RFC's CEK and IV gives the RFC's ciphertext and tag.
    let mut again = RFC7520_PLAINTEXT.as_bytes().to_vec();
    let tag_again = aead
        .encrypt_inout_detached(&Nonce::from(iv), seg.header, again.as_mut_slice().into())
        .unwrap();
    assert_eq!((again, tag_again.to_vec()), (buf, tag.to_vec()));
    // The decoded header is not the AAD: its JSON bytes do not authenticate.
    let json = jws::decode_header_json(seg.header).unwrap();
    let mut p = Vec::new();
    jws::decode_segment_into(seg.ciphertext, &mut p).unwrap();
    assert!(
        aead.decrypt_inout_detached(
            &Nonce::from(iv),
            &json,
            p.as_mut_slice().into(),
            &Tag::from(tag)
        )
        .is_err()
    );
    // Our codec refuses the 128-bit algorithms whatever the kid.
    let k = key("e1", KeyManagement::A256KW);
    assert!(kind(open(RFC7520_5_8, &[k], PURPOSE, MAX)).is_some());
    let forged = forge(
        KeyManagement::A256KW,
        r#"{"alg":"A128KW","kid":"e1","enc":"A128GCM","typ":"sess-enc+jwt","pur":"session"}"#,
        PLAINTEXT,
    );
    assert_eq!(
        kind(open(
            &forged,
            &[key("e1", KeyManagement::A256KW)],
            PURPOSE,
            MAX
        )),
        Some(RejectionKind::UnsupportedAlgorithm)
    );
}

// ---------------------------------------------------------------------------------------
// The dir budget
// ---------------------------------------------------------------------------------------

#[cfg(feature = "tracing")]
#[test]
fn the_dir_budget_warning_fires_once_at_its_threshold() {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .finish();
    let warnings = || {
        String::from_utf8(captured.0.lock().unwrap().clone())
            .unwrap()
            .matches("1/64 of the encryption budget")
            .count()
    };

    // A secret of its own, so no other test moves this counter.
    let k = EncryptionKey::new(
        "budget-key",
        KeyManagement::Dir,
        b"dir-budget-test-secret-32-bytes!",
    )
    .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        k.set_encryptions(DIR_WARNING_THRESHOLD - 2);
        seal(&k, PURPOSE, PLAINTEXT, MAX).unwrap();
        assert_eq!(k.encryptions(), DIR_WARNING_THRESHOLD - 1);
        assert_eq!(warnings(), 0, "warned before the threshold");
        seal(&k, PURPOSE, PLAINTEXT, MAX).unwrap();
        assert_eq!(k.encryptions(), DIR_WARNING_THRESHOLD);
        assert_eq!(warnings(), 1, "no warning at the threshold");
        for _ in 0..3 {
            seal(&k, PURPOSE, PLAINTEXT, MAX).unwrap();
        }
        assert_eq!(warnings(), 1, "warned more than once");
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("budget-key"),
        "the warning names the kid: {log}"
    );
    assert!(
        log.contains("67108864"),
        "the warning gives the count: {log}"
    );
    assert!(
        !log.contains("dir-budget-test-secret"),
        "secret in the log: {log}"
    );

    // A rebuilt key with the same secret (a reloaded ring) continues the count; opening
    // counts nothing; an A256KW key counts nothing.
    let again = EncryptionKey::new(
        "renamed",
        KeyManagement::Dir,
        b"dir-budget-test-secret-32-bytes!",
    )
    .unwrap();
    assert_eq!(again.encryptions(), DIR_WARNING_THRESHOLD + 3);
    let token = seal(&k, PURPOSE, PLAINTEXT, MAX).unwrap();
    open(&token, std::slice::from_ref(&k), PURPOSE, MAX).unwrap();
    assert_eq!(again.encryptions(), DIR_WARNING_THRESHOLD + 4);
    let kw = EncryptionKey::new(
        "kw",
        KeyManagement::A256KW,
        b"dir-budget-test-secret-32-bytes!",
    )
    .unwrap();
    seal(&kw, PURPOSE, PLAINTEXT, MAX).unwrap();
    assert_eq!(kw.encryptions(), 0);
    assert_eq!(
        again.encryptions(),
        DIR_WARNING_THRESHOLD + 4,
        "A256KW spent dir budget"
    );
}

#[cfg(feature = "metrics")]
#[test]
fn the_dir_budget_warning_is_counted_once() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    const WARNING: &str = r#"stateless_session_budget_warnings_total{limit="jwe_dir_key"}"#;
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let count = || {
        snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .find_map(|(key, _, _, value)| {
                let key = key.key();
                let labels: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}=\"{}\"", l.key(), l.value()))
                    .collect();
                let name = format!("{}{{{}}}", key.name(), labels.join(","));
                match value {
                    DebugValue::Counter(n) if name == WARNING => Some(n),
                    _ => None,
                }
            })
            .unwrap_or(0)
    };
    // A secret of its own, so no other test moves this counter.
    let k = EncryptionKey::new(
        "metric-budget-key",
        KeyManagement::Dir,
        b"dir-budget-metric-secret-32byte!",
    )
    .unwrap();
    metrics::with_local_recorder(&recorder, || {
        k.set_encryptions(DIR_WARNING_THRESHOLD - 1);
        assert_eq!(count(), 0, "counted before the threshold");
        seal(&k, PURPOSE, PLAINTEXT, MAX).unwrap();
        assert_eq!(count(), 1, "not counted at the threshold");
        for _ in 0..3 {
            seal(&k, PURPOSE, PLAINTEXT, MAX).unwrap();
        }
    });
    // The snapshot drains counters: nothing more moved after the first warning.
    assert_eq!(count(), 0, "counted more than once");
}
