//! A catalogue of hostile and malformed inputs, one named case each.
//!
//! Token-shaped inputs are checked at the codec, with the exact [`RejectionKind`] each one
//! must get, and then once more through the whole layer as the session cookie: no session
//! reaches the handler, the answer is never a 500, the same kind is attached to the
//! response, and the refused cookie is deleted. Cases that test a check after the MAC are
//! signed by the test itself with the ring's secret (its own HMAC-SHA256, independent of
//! the crate), so the MAC passes and the later check is the one that refuses.
//!
//! Cookie-level cases (several session cookies, percent-encoding, bytes that are not
//! UTF-8, quoting, prefixes) go through the layer only.

use std::time::Duration;

use crate::common::*;
use axum::Router;
use axum::body::Body;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderValue, Request, Response, StatusCode, header};
use sha2::{Sha256, Sha512};
use tower::ServiceExt;
use tower_stateless_session::server::DEFAULT_COOKIE_BUDGET;
use tower_stateless_session::token::verify_jws;
use tower_stateless_session::{Key, KeyRing, RejectionKind, SessionLayer};

// ---------------------------------------------------------------------------------------
// Forging and checking
// ---------------------------------------------------------------------------------------

/// The fixture's signing key id, and its secret as `common::key` derives it.
const KID: &str = "k1";

fn secret() -> Vec<u8> {
    KID.bytes().cycle().take(32).collect()
}

/// The header every token of the fixture's key carries.
const HEADER: &str = r#"{"alg":"HS256","kid":"k1","typ":"sess+jwt"}"#;

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hs256(signing_input: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret()).expect("any key length");
    mac.update(signing_input);
    mac.finalize().into_bytes().to_vec()
}

/// `header_segment "." payload_segment "." signature`, the segments used exactly as given
/// and the signature computed over them with the fixture's secret.
fn sign_segments(header_segment: &str, payload_segment: &str) -> String {
    let input = format!("{header_segment}.{payload_segment}");
    let signature = b64(hs256(input.as_bytes()));
    format!("{input}.{signature}")
}

/// A token with any header and claims JSON, correctly signed with the fixture's key.
fn forge(header_json: impl AsRef<[u8]>, claims_json: impl AsRef<[u8]>) -> String {
    sign_segments(&b64(header_json), &b64(claims_json))
}

/// Claims JSON for the fixture's `User`, with the registered claims spelled as given (raw
/// JSON values, so tests can put strings or negative numbers in them).
fn claims_with(iat: &str, exp: &str, auth_time: &str) -> String {
    format!(
        r#"{{"sid":"AAAAAAAAAAAAAAAAAAAAAA","iat":{iat},"exp":{exp},"auth_time":{auth_time},"ver":1,"sub":"mallory","roles":["admin"]}}"#
    )
}

/// Claims that are valid at `T0`.
fn good_claims() -> String {
    claims_with(&T0.to_string(), &(T0 + IDLE).to_string(), &T0.to_string())
}

/// A valid token of the fixture's key, signed by the crate.
fn valid_token(f: &Fixture) -> String {
    let codec = f.layer.codec();
    codec
        .sign(&codec.new_claims(user("ada")).expect("claims"))
        .expect("sign")
}

fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if bytes.len() > 80 {
        let head: String = text.chars().take(80).collect();
        format!("{head:?}... ({} bytes)", bytes.len())
    } else {
        format!("{text:?}")
    }
}

/// Sends `GET /maybe` with the given `Cookie` header fields (raw bytes).
async fn send_cookies(app: &Router, values: &[HeaderValue]) -> Response<Body> {
    let mut request = Request::builder().uri("/maybe");
    for value in values {
        request = request.header(header::COOKIE, value.clone());
    }
    app.clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible")
}

/// Whether the response deletes the session cookie.
fn deletes_cookie<B>(response: &Response<B>) -> bool {
    set_cookies(response).iter().any(|c| {
        let parsed = cookie::Cookie::parse(c.clone()).expect("valid Set-Cookie");
        parsed.name() == "session" && parsed.value().is_empty()
    })
}

/// The whole check for one token-shaped input: refused by the codec with `expected` (also
/// when the data is read as any JSON value, if `as_json_value_too`), no panic in the plain
/// JWS check, and refused through the layer as the session cookie with the same kind (or
/// answered 431 when the cookie is over its budget), with no session reaching the handler
/// and the cookie deleted.
async fn check_refused(
    f: &Fixture,
    token: &[u8],
    expected: RejectionKind,
    as_json_value_too: bool,
) {
    let codec = f.layer.codec();
    let got = codec.verify::<User>(token).err().map(|e| e.kind());
    assert_eq!(got, Some(expected), "codec, token {}", preview(token));
    let as_value = codec.verify::<serde_json::Value>(token);
    if as_json_value_too {
        assert!(
            as_value.is_err(),
            "the token verifies when the data is read as any JSON value: {}",
            preview(token)
        );
    }
    // The plain JWS check has no session rules, so a correctly signed odd header may pass
    // it; what matters here is that it returns.
    let _ = verify_jws(token, &key(KID));

    let mut cookie = b"session=".to_vec();
    cookie.extend_from_slice(token);
    let Ok(value) = HeaderValue::from_bytes(&cookie) else {
        // Control bytes cannot travel in an HTTP header field at all.
        return;
    };
    let app = app(f.layer.clone());
    let response = send_cookies(&app, &[value]).await;
    let status = response.status();
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        preview(token)
    );
    // Cookie syntax trims blanks around a value and ends it at ';': the layer then sees
    // another token than the codec did (see the whitespace tests below).
    let reshaped = token.contains(&b';')
        || token.first().is_some_and(|b| matches!(b, b' ' | b'\t'))
        || token.last().is_some_and(|b| matches!(b, b' ' | b'\t'));
    if reshaped {
        return;
    }
    assert!(
        deletes_cookie(&response),
        "the refused cookie is not deleted: {}",
        preview(token)
    );
    let layer_kind = kind(&response);
    if cookie.len() > DEFAULT_COOKIE_BUDGET {
        assert_eq!(
            (status, layer_kind),
            (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                Some(RejectionKind::Oversized)
            ),
            "an oversized cookie is answered 431 before any decoding"
        );
        return;
    }
    assert_eq!(
        layer_kind,
        Some(expected),
        "the layer attached another kind than the codec's for {}",
        preview(token)
    );
    assert_eq!(
        status,
        StatusCode::OK,
        "an optional session never fails the request"
    );
    assert_eq!(
        body_text(response).await,
        "anonymous",
        "a session reached the handler for {}",
        preview(token)
    );
}

async fn assert_refused(f: &Fixture, token: impl AsRef<[u8]>, expected: RejectionKind) {
    check_refused(f, token.as_ref(), expected, true).await;
}

/// One named case: the token built by `$token` is refused with `$kind`.
macro_rules! refused {
    ($($(#[$doc:meta])* $name:ident: $token:expr => $kind:ident;)*) => {$(
        $(#[$doc])*
        #[tokio::test]
        async fn $name() {
            let f = fixture();
            let token: Vec<u8> = Vec::from($token);
            assert_refused(&f, &token, RejectionKind::$kind).await;
        }
    )*};
}

// ---------------------------------------------------------------------------------------
// The forging itself
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_tests_own_signing_agrees_with_the_crate_byte_for_byte() {
    let f = fixture();
    let codec = f.layer.codec();
    let claims = codec.new_claims(user("ada")).expect("claims");
    let json = serde_json::to_string(&claims).expect("claims serialize");
    assert_eq!(
        forge(HEADER, &json),
        codec.sign(&claims).expect("sign"),
        "the forging helper does not reproduce the crate's tokens, so the cases below \
         would not test what they claim"
    );
    let forged = forge(HEADER, good_claims());
    let verified = codec
        .verify::<User>(&forged)
        .expect("a forged, well-formed token verifies");
    assert_eq!(
        verified.claims.data.sub, "mallory",
        "the forged data did not come back"
    );
}

// ---------------------------------------------------------------------------------------
// alg
// ---------------------------------------------------------------------------------------

refused! {
    /// The classic unsigned JWT: `alg: none` and an empty signature.
    alg_none_without_signature_is_malformed:
        format!("{}.{}.", b64(r#"{"alg":"none","kid":"k1","typ":"sess+jwt"}"#), b64(good_claims()))
        => Malformed;
    /// `alg: none` even with a valid HS256 MAC: the header never picks the algorithm.
    alg_none_with_a_valid_mac_is_unsupported_algorithm:
        forge(r#"{"alg":"none","kid":"k1","typ":"sess+jwt"}"#, good_claims())
        => UnsupportedAlgorithm;
    alg_hs512_with_an_hs256_mac_is_unsupported_algorithm:
        forge(r#"{"alg":"HS512","kid":"k1","typ":"sess+jwt"}"#, good_claims())
        => UnsupportedAlgorithm;
    /// A real HS512 token made with the same secret: refused before its signature is read.
    alg_hs512_with_an_hs512_mac_is_unsupported_algorithm: {
        let input = format!(
            "{}.{}",
            b64(r#"{"alg":"HS512","kid":"k1","typ":"sess+jwt"}"#),
            b64(good_claims())
        );
        let mut mac = Hmac::<Sha512>::new_from_slice(&secret()).expect("any key length");
        mac.update(input.as_bytes());
        format!("{input}.{}", b64(mac.finalize().into_bytes()))
    } => UnsupportedAlgorithm;
    /// RS256 names an asymmetric algorithm; with an HMAC key it is the "key confusion"
    /// attack. Refused whatever the signature.
    alg_rs256_is_unsupported_algorithm:
        forge(r#"{"alg":"RS256","kid":"k1","typ":"sess+jwt"}"#, good_claims())
        => UnsupportedAlgorithm;
    alg_in_lowercase_is_unsupported_algorithm:
        forge(r#"{"alg":"hs256","kid":"k1","typ":"sess+jwt"}"#, good_claims())
        => UnsupportedAlgorithm;
    alg_missing_is_malformed:
        forge(r#"{"kid":"k1","typ":"sess+jwt"}"#, good_claims()) => Malformed;
    alg_null_is_malformed:
        forge(r#"{"alg":null,"kid":"k1","typ":"sess+jwt"}"#, good_claims()) => Malformed;
}

// ---------------------------------------------------------------------------------------
// kid
// ---------------------------------------------------------------------------------------

refused! {
    kid_missing_is_unknown_key:
        forge(r#"{"alg":"HS256","typ":"sess+jwt"}"#, good_claims()) => UnknownKey;
    kid_unknown_is_unknown_key:
        forge(r#"{"alg":"HS256","kid":"k2","typ":"sess+jwt"}"#, good_claims()) => UnknownKey;
    /// A key id is only ever compared with the ring's ids, never used as a path.
    kid_as_a_path_is_unknown_key:
        forge(r#"{"alg":"HS256","kid":"../../../etc/passwd","typ":"sess+jwt"}"#, good_claims())
        => UnknownKey;
    kid_as_a_number_is_malformed:
        forge(r#"{"alg":"HS256","kid":1,"typ":"sess+jwt"}"#, good_claims()) => Malformed;
    kid_differing_only_in_case_is_unknown_key:
        forge(r#"{"alg":"HS256","kid":"K1","typ":"sess+jwt"}"#, good_claims()) => UnknownKey;
    /// With the default 4096-byte cap the length check, the first of all, refuses it.
    kid_10_kib_long_is_oversized:
        forge(format!(r#"{{"alg":"HS256","kid":"{}","typ":"sess+jwt"}}"#, "k".repeat(10 * 1024)), good_claims())
        => Oversized;
}

/// Under a token cap raised far above it, a 10 KiB key id still stops at the cap on
/// headers that are not byte-identical to one of the ring's (512 encoded bytes), before
/// any JSON parsing.
#[test]
fn kid_10_kib_long_under_a_raised_token_cap_is_malformed() {
    let f = fixture();
    let codec = f.layer.codec().clone().with_max_token_len(1 << 20);
    let header = format!(
        r#"{{"alg":"HS256","kid":"{}","typ":"sess+jwt"}}"#,
        "k".repeat(10 * 1024)
    );
    let token = forge(header, good_claims());
    assert_eq!(
        codec.verify::<User>(&token).err().map(|e| e.kind()),
        Some(RejectionKind::Malformed),
        "a 10 KiB header is parsed instead of being refused by its cap"
    );
}

// ---------------------------------------------------------------------------------------
// typ and other header members
// ---------------------------------------------------------------------------------------

refused! {
    /// A generic JWT signed with the same key is not a session token.
    typ_jwt_is_wrong_type:
        forge(r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#, good_claims()) => WrongType;
    /// An OAuth access token (RFC 9068) is not a session token either.
    typ_access_token_is_wrong_type:
        forge(r#"{"alg":"HS256","kid":"k1","typ":"at+jwt"}"#, good_claims()) => WrongType;
    typ_missing_is_wrong_type:
        forge(r#"{"alg":"HS256","kid":"k1"}"#, good_claims()) => WrongType;
    typ_empty_is_wrong_type:
        forge(r#"{"alg":"HS256","kid":"k1","typ":""}"#, good_claims()) => WrongType;
    header_with_an_unknown_member_is_malformed:
        forge(r#"{"alg":"HS256","kid":"k1","typ":"sess+jwt","jku":"https://evil.example/keys"}"#, good_claims())
        => Malformed;
    header_with_crit_is_malformed:
        forge(r#"{"alg":"HS256","kid":"k1","typ":"sess+jwt","crit":["exp"]}"#, good_claims())
        => Malformed;
    header_as_an_array_is_malformed:
        forge(r#"["HS256","k1","sess+jwt"]"#, good_claims()) => Malformed;
    header_as_a_string_is_malformed:
        forge(r#""HS256""#, good_claims()) => Malformed;
}

// ---------------------------------------------------------------------------------------
// Segments
// ---------------------------------------------------------------------------------------

fn parts(f: &Fixture) -> (String, String, String) {
    let token = valid_token(f);
    let mut it = token.split('.').map(str::to_owned);
    let header = it.next().expect("header");
    let payload = it.next().expect("payload");
    let signature = it.next().expect("signature");
    (header, payload, signature)
}

refused! {
    segments_0_an_empty_token_is_malformed: "" => Malformed;
    segments_1_no_dot_is_malformed: b64(HEADER) => Malformed;
    segments_2_is_malformed: {
        let (h, p, _) = parts(&fixture());
        format!("{h}.{p}")
    } => Malformed;
    segments_4_is_malformed: {
        let (h, p, s) = parts(&fixture());
        format!("{h}.{p}.{s}.{s}")
    } => Malformed;
    segments_5_is_malformed: {
        let (h, p, s) = parts(&fixture());
        format!("{h}.{p}.{s}.{p}.{s}")
    } => Malformed;
    /// The JWE compact form has five segments; it is not accepted either.
    segments_5_all_empty_is_malformed: "...." => Malformed;
    empty_header_segment_is_malformed: {
        let (_, p, s) = parts(&fixture());
        format!(".{p}.{s}")
    } => Malformed;
    empty_payload_segment_is_malformed: {
        let (h, _, s) = parts(&fixture());
        format!("{h}..{s}")
    } => Malformed;
    empty_signature_segment_is_malformed: {
        let (h, p, _) = parts(&fixture());
        format!("{h}.{p}.")
    } => Malformed;
    all_segments_empty_is_malformed: ".." => Malformed;
    /// An empty payload with a valid MAC over `header.`: the split refuses it first.
    empty_payload_with_a_valid_mac_is_malformed: sign_segments(&b64(HEADER), "") => Malformed;
}

// ---------------------------------------------------------------------------------------
// base64url: alphabet, padding, trailing bits, whitespace
// ---------------------------------------------------------------------------------------

/// Replaces the last character of `segment` by the one that differs only in the unused
/// low bits, or returns `None` when the segment has no unused bits.
fn respell_trailing_bits(segment: &str) -> Option<String> {
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // A final group of 2 characters leaves 4 unused bits, one of 3 leaves 2: the lowest
    // bit of the last character is unused either way.
    if !matches!(segment.len() % 4, 2 | 3) {
        return None;
    }
    let last = segment.chars().last()?;
    let index = alphabet.find(last)?;
    let respelled = alphabet.chars().nth(index ^ 1)?;
    Some(format!("{}{respelled}", &segment[..segment.len() - 1]))
}

refused! {
    /// `+` and `/` belong to the standard alphabet, not to base64url.
    standard_alphabet_in_a_correctly_signed_payload_is_malformed: {
        // Six '?' in a row hold an aligned "???", which encodes to "Pz8/".
        let claims = good_claims().replace("mallory", "??????");
        let payload = base64::engine::general_purpose::STANDARD_NO_PAD.encode(claims);
        assert!(payload.contains('/'), "the payload segment uses the standard alphabet");
        sign_segments(&b64(HEADER), &payload)
    } => Malformed;
    non_base64_character_in_the_header_is_malformed: {
        let (h, p, s) = parts(&fixture());
        format!("{}!{}.{p}.{s}", &h[..4], &h[5..])
    } => Malformed;
    /// Changed after signing: the MAC over the bytes as received fails first.
    non_base64_character_in_the_payload_is_bad_signature: {
        let (h, p, s) = parts(&fixture());
        format!("{h}.{}*{}.{s}", &p[..4], &p[5..])
    } => BadSignature;
    non_base64_character_in_a_correctly_signed_payload_is_malformed:
        sign_segments(&b64(HEADER), &format!("{}*", b64(good_claims()))) => Malformed;
    non_base64_character_in_the_signature_is_malformed: {
        let (h, p, s) = parts(&fixture());
        format!("{h}.{p}.{}*{}", &s[..4], &s[5..])
    } => Malformed;
    padded_header_is_malformed: {
        let (h, p, s) = parts(&fixture());
        format!("{h}=.{p}.{s}")
    } => Malformed;
    padded_payload_correctly_signed_is_malformed: {
        let payload = base64::engine::general_purpose::URL_SAFE.encode(good_claims());
        let payload = if payload.ends_with('=') { payload } else { format!("{payload}==") };
        sign_segments(&b64(HEADER), &payload)
    } => Malformed;
    padded_signature_is_malformed: format!("{}=", valid_token(&fixture())) => Malformed;
    /// Same bytes, another spelling: the unused trailing bits of the signature set.
    signature_with_non_zero_trailing_bits_is_malformed: {
        let (h, p, s) = parts(&fixture());
        format!("{h}.{p}.{}", respell_trailing_bits(&s).expect("43 characters leave 2 unused bits"))
    } => Malformed;
    payload_with_non_zero_trailing_bits_correctly_signed_is_malformed: {
        // Find claims whose encoding leaves unused bits, then respell and sign that.
        let claims = (0..3)
            .map(|pad| format!("{}{}", good_claims(), " ".repeat(pad)))
            .find(|c| b64(c).len() % 4 != 0)
            .expect("one of three lengths leaves unused bits");
        let respelled = respell_trailing_bits(&b64(claims)).expect("unused bits");
        sign_segments(&b64(HEADER), &respelled)
    } => Malformed;
    leading_space_is_malformed: format!(" {}", valid_token(&fixture())) => Malformed;
    trailing_space_is_malformed: format!("{} ", valid_token(&fixture())) => Malformed;
    trailing_newline_is_malformed: format!("{}\n", valid_token(&fixture())) => Malformed;
    tab_inside_the_header_is_malformed: {
        let (h, p, s) = parts(&fixture());
        format!("{}\t{}.{p}.{s}", &h[..8], &h[8..])
    } => Malformed;
    space_inside_the_payload_is_bad_signature: {
        let (h, p, s) = parts(&fixture());
        format!("{h}.{} {}.{s}", &p[..8], &p[8..])
    } => BadSignature;
    space_inside_a_correctly_signed_payload_is_malformed: {
        let p = b64(good_claims());
        sign_segments(&b64(HEADER), &format!("{} {}", &p[..8], &p[8..]))
    } => Malformed;
    space_inside_the_signature_is_malformed: {
        let (h, p, s) = parts(&fixture());
        format!("{h}.{p}.{} {}", &s[..8], &s[9..])
    } => Malformed;
}

// ---------------------------------------------------------------------------------------
// Size and bytes
// ---------------------------------------------------------------------------------------

refused! {
    /// Refused on its length alone, before any decoding; through the layer, 431.
    token_of_1_mib_is_oversized: {
        let (h, p, s) = parts(&fixture());
        format!("{h}.{p}{}.{s}", "A".repeat(1 << 20))
    } => Oversized;
    one_byte_over_the_cap_is_oversized: "A".repeat(4097) => Oversized;
    /// Raw bytes that are not UTF-8 in the token: never parsed as text.
    non_utf8_bytes_in_the_token_are_malformed: {
        let (h, p, s) = parts(&fixture());
        let mut bytes = h.into_bytes();
        bytes.extend_from_slice(b"\xff\xfe.");
        bytes.extend_from_slice(p.as_bytes());
        bytes.push(b'.');
        bytes.extend_from_slice(s.as_bytes());
        bytes
    } => Malformed;
    /// A header that decodes to bytes that are not UTF-8, correctly signed.
    non_utf8_header_json_is_malformed:
        forge(b"{\"alg\":\"HS256\",\"kid\":\"k1\xff\",\"typ\":\"sess+jwt\"}", good_claims()) => Malformed;
    /// Claims that decode to bytes that are not UTF-8, correctly signed.
    non_utf8_claims_json_is_invalid_claims: {
        let mut claims = good_claims().into_bytes();
        let at = claims.len() - 5;
        claims.splice(at..at, *b"\xc3\x28");
        forge(HEADER, claims)
    } => InvalidClaims;
    nul_bytes_in_correctly_signed_claims_are_invalid_claims:
        forge(HEADER, good_claims().replace("mallory", "mal\0lory")) => InvalidClaims;
}

// ---------------------------------------------------------------------------------------
// Duplicate keys and deep nesting
// ---------------------------------------------------------------------------------------

refused! {
    /// A verifier that keeps the last `alg` and one that keeps the first would disagree:
    /// refused outright.
    duplicate_alg_in_the_header_is_malformed:
        forge(r#"{"alg":"none","alg":"HS256","kid":"k1","typ":"sess+jwt"}"#, good_claims()) => Malformed;
    duplicate_kid_in_the_header_is_malformed:
        forge(r#"{"alg":"HS256","kid":"k9","kid":"k1","typ":"sess+jwt"}"#, good_claims()) => Malformed;
    duplicate_exp_in_the_claims_is_invalid_claims:
        forge(HEADER, good_claims().replace(r#""ver":1"#, &format!(r#""ver":1,"exp":{}"#, u64::MAX))) => InvalidClaims;
    /// The same, with the second `exp` spelled with an escape: names compare decoded.
    duplicate_exp_spelled_with_an_escape_is_invalid_claims:
        forge(HEADER, good_claims().replace(r#""ver":1"#, &format!(r#""ver":1,"e\u0078p":{}"#, u64::MAX))) => InvalidClaims;
    duplicate_sid_in_the_claims_is_invalid_claims:
        forge(HEADER, good_claims().replace(r#""ver":1"#, r#""ver":1,"sid":"BBBBBBBBBBBBBBBBBBBBBA""#)) => InvalidClaims;
    /// 1200 nested arrays in a data member: serde_json's recursion limit refuses it
    /// without exhausting the stack.
    deeply_nested_data_is_invalid_claims:
        forge(HEADER, good_claims().replace(r#""roles":["admin"]"#, &format!(r#""roles":{}{}"#, "[".repeat(1200), "]".repeat(1200)))) => InvalidClaims;
    deeply_nested_header_is_malformed:
        forge(format!(r#"{{"alg":"HS256","kid":"k1","typ":"sess+jwt","x":{}{}}}"#, "[".repeat(150), "]".repeat(150)), good_claims()) => Malformed;
}

/// Data members that repeat are refused by a derived struct (here `User.sub`).
#[tokio::test]
async fn duplicate_data_member_is_invalid_claims_for_a_struct() {
    let f = fixture();
    let token = forge(
        HEADER,
        good_claims().replace(r#""sub":"mallory""#, r#""sub":"mallory","sub":"admin""#),
    );
    check_refused(&f, token.as_bytes(), RejectionKind::InvalidClaims, false).await;
}

/// Deep nesting in a member the data type does not read: serde_json skips it with a loop,
/// not recursion, so a derived struct accepts the (correctly signed, valid) JSON at any
/// depth the token cap allows, without growing the stack; read as a JSON value, the same
/// member hits serde_json's recursion limit and is refused. Neither path overflows.
#[test]
fn deeply_nested_unknown_member_is_skipped_without_recursion() {
    let f = fixture();
    let codec = f.layer.codec();
    let nested = format!("{}0{}", "[".repeat(1300), "]".repeat(1300));
    let token = forge(
        HEADER,
        good_claims().replace(r#""ver":1"#, &format!(r#""ver":1,"x":{nested}"#)),
    );
    assert!(token.len() <= 4096, "the case must fit under the token cap");
    assert!(
        codec.verify::<User>(&token).is_ok(),
        "a valid, signed token with an unread deep member should verify as User"
    );
    assert_eq!(
        codec
            .verify::<serde_json::Value>(&token)
            .err()
            .map(|e| e.kind()),
        Some(RejectionKind::InvalidClaims),
        "serde_json's recursion limit should refuse 1300 levels read into a JSON value"
    );
}

/// With `T = serde_json::Value`, repeated data members are folded by serde_json (the last
/// one wins) rather than refused: only tokens signed with the key can contain them, and the
/// registered claims stay strict. This pins that behaviour down so a change is noticed.
#[test]
fn duplicate_data_member_is_folded_for_a_json_value_and_registered_claims_stay_strict() {
    let f = fixture();
    let codec = f.layer.codec();
    let token = forge(
        HEADER,
        good_claims().replace(r#""sub":"mallory""#, r#""sub":"mallory","sub":"admin""#),
    );
    let verified = codec
        .verify::<serde_json::Value>(&token)
        .expect("serde_json::Value accepts repeated members");
    assert_eq!(verified.claims.data["sub"], "admin", "the last member wins");
    let duplicate_iat = forge(
        HEADER,
        good_claims().replace(r#""ver":1"#, &format!(r#""ver":1,"iat":{T0}"#)),
    );
    assert_eq!(
        codec
            .verify::<serde_json::Value>(&duplicate_iat)
            .err()
            .map(|e| e.kind()),
        Some(RejectionKind::InvalidClaims),
        "a repeated registered claim must be refused whatever the data type"
    );
}

// ---------------------------------------------------------------------------------------
// Registered claims: exp, iat, and the rest
// ---------------------------------------------------------------------------------------

refused! {
    exp_as_a_string_is_invalid_claims:
        forge(HEADER, claims_with(&T0.to_string(), &format!("\"{}\"", T0 + IDLE), &T0.to_string())) => InvalidClaims;
    exp_negative_is_invalid_claims:
        forge(HEADER, claims_with(&T0.to_string(), "-1", &T0.to_string())) => InvalidClaims;
    exp_as_a_float_is_invalid_claims:
        forge(HEADER, claims_with(&T0.to_string(), &format!("{}.5", T0 + IDLE), &T0.to_string())) => InvalidClaims;
    exp_in_exponent_notation_is_invalid_claims:
        forge(HEADER, claims_with(&T0.to_string(), "1.8e9", &T0.to_string())) => InvalidClaims;
    exp_beyond_u64_is_invalid_claims:
        forge(HEADER, claims_with(&T0.to_string(), "18446744073709551616", &T0.to_string())) => InvalidClaims;
    exp_null_is_invalid_claims:
        forge(HEADER, claims_with(&T0.to_string(), "null", &T0.to_string())) => InvalidClaims;
    exp_missing_is_invalid_claims:
        forge(HEADER, good_claims().replace(&format!(r#""exp":{},"#, T0 + IDLE), "")) => InvalidClaims;
    exp_in_the_past_is_expired:
        forge(HEADER, claims_with(&(T0 - IDLE).to_string(), &(T0 - LEEWAY).to_string(), &(T0 - IDLE).to_string())) => Expired;
    iat_in_the_future_beyond_the_leeway_is_issued_in_future:
        forge(HEADER, claims_with(&(T0 + LEEWAY + 1).to_string(), &(T0 + IDLE).to_string(), &T0.to_string())) => IssuedInFuture;
    iat_missing_is_invalid_claims:
        forge(HEADER, good_claims().replace(&format!(r#""iat":{T0},"#), "")) => InvalidClaims;
    /// A session cannot have been signed before it began.
    auth_time_after_iat_is_invalid_claims:
        forge(HEADER, claims_with(&T0.to_string(), &(T0 + IDLE).to_string(), &(T0 + 1).to_string())) => InvalidClaims;
    sid_not_22_characters_is_invalid_claims:
        forge(HEADER, good_claims().replace("AAAAAAAAAAAAAAAAAAAAAA", "AAAA")) => InvalidClaims;
    ver_missing_is_invalid_claims:
        forge(HEADER, good_claims().replace(r#""ver":1,"#, "")) => InvalidClaims;
    ver_of_another_version_is_unsupported_version:
        forge(HEADER, good_claims().replace(r#""ver":1"#, r#""ver":2"#)) => UnsupportedVersion;
    rem_not_a_boolean_is_invalid_claims:
        forge(HEADER, good_claims().replace(r#""ver":1"#, r#""ver":1,"rem":"yes""#)) => InvalidClaims;
    claims_as_an_array_is_invalid_claims: forge(HEADER, "[]") => InvalidClaims;
    claims_not_json_is_invalid_claims: forge(HEADER, "exp=never") => InvalidClaims;
    claims_with_trailing_bytes_is_invalid_claims:
        forge(HEADER, format!("{} {{}}", good_claims())) => InvalidClaims;
}

/// `exp` set to the end of time, by someone holding the key: the server still applies its
/// own idle timeout, counted from `iat`, so the token dies on schedule.
#[tokio::test]
async fn exp_far_in_the_future_does_not_outlive_the_idle_timeout() {
    let f = fixture();
    let token = forge(
        HEADER,
        claims_with(&T0.to_string(), &u64::MAX.to_string(), &T0.to_string()),
    );
    f.clock.set(T0 + IDLE + LEEWAY);
    assert_refused(&f, &token, RejectionKind::IdleTimeout).await;
}

/// `exp` far ahead and `iat` kept fresh: the absolute timeout, counted from `auth_time`,
/// still ends the session.
#[tokio::test]
async fn exp_far_in_the_future_does_not_outlive_the_absolute_timeout() {
    let f = fixture();
    let now = T0 + ABSOLUTE + LEEWAY;
    let token = forge(
        HEADER,
        claims_with(
            &(now - 10).to_string(),
            &u64::MAX.to_string(),
            &T0.to_string(),
        ),
    );
    f.clock.set(now);
    assert_refused(&f, &token, RejectionKind::AbsoluteTimeout).await;
}

/// Time values at the edge of `u64` do not overflow any comparison.
#[tokio::test]
async fn times_at_u64_max_do_not_overflow() {
    let f = fixture();
    let max = u64::MAX.to_string();
    let token = forge(HEADER, claims_with(&max, &max, &max));
    assert_refused(&f, &token, RejectionKind::IssuedInFuture).await;
    f.clock.set(u64::MAX);
    let token = forge(HEADER, claims_with(&T0.to_string(), &max, &T0.to_string()));
    assert_refused(&f, &token, RejectionKind::Expired).await;
}

/// The payload ends `"ver":1,}`: a trailing comma, which is not JSON. Every JSON parser
/// (and the crate's own general decoding path) refuses it, but the codec's fast path for
/// its own member order accepts it whenever the session data can be empty.
///
/// Library bug, reported: `claims::decode` replaces the comma after `ver` with `{` and
/// parses the rest, which for `,}` is the valid empty object `{}`.
#[test]
fn trailing_comma_after_the_registered_claims_is_invalid_claims() {
    let f = fixture();
    let codec = f.layer.codec();
    let payload = format!(
        r#"{{"sid":"AAAAAAAAAAAAAAAAAAAAAA","iat":{T0},"exp":{},"auth_time":{T0},"ver":1,}}"#,
        T0 + IDLE
    );
    assert!(
        serde_json::from_str::<serde_json::Value>(&payload).is_err(),
        "the payload is not JSON"
    );
    let token = forge(HEADER, &payload);
    assert_eq!(
        codec
            .verify::<serde_json::Value>(&token)
            .err()
            .map(|e| e.kind()),
        Some(RejectionKind::InvalidClaims),
        "a payload that is not JSON verified (data read as serde_json::Value)"
    );
    assert_eq!(
        codec.verify::<()>(&token).err().map(|e| e.kind()),
        Some(RejectionKind::InvalidClaims),
        "a payload that is not JSON verified (data read as ())"
    );
}

// ---------------------------------------------------------------------------------------
// Cookie level: several session cookies (cookie tossing)
// ---------------------------------------------------------------------------------------
//
// A browser sends every cookie whose domain and path match the request, so a cookie set by
// a sibling subdomain (`Domain=example.com`) or for another path arrives next to ours under
// the same name, in an order the server cannot rely on. The layer verifies each of them (at
// most four): valid tokens that all belong to one session resolve to the most recently
// signed one; valid tokens of different sessions are refused as `Ambiguous`, so a planted
// cookie holding the attacker's own valid session is never taken for the user's; when none
// is valid, the first one's rejection stands. The `__Host-` prefix stops the planting at
// the browser.

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("a valid header value")
}

async fn me(app: &Router, cookie: &str) -> Response<Body> {
    send(app, "GET", "/me", Some(cookie)).await
}

#[tokio::test]
async fn two_valid_sessions_in_one_cookie_header_are_ambiguous_in_either_order() {
    let f = fixture();
    let app = app(f.layer.clone());
    let victim = login_cookie(&app, "victim").await;
    let planted = login_cookie(&app, "attacker").await;
    for (order, cookies) in [
        ("planted first", format!("{planted}; {victim}")),
        ("planted last", format!("{victim}; {planted}")),
        (
            "among others",
            format!("theme=dark; {victim}; lang=en; {planted}"),
        ),
    ] {
        let response = send_cookies(&app, &[header_value(&cookies)]).await;
        assert_eq!(response.status(), StatusCode::OK, "{order}: optional route");
        assert_eq!(
            kind(&response),
            Some(RejectionKind::Ambiguous),
            "{order}: two sessions under one name must be refused"
        );
        assert_eq!(
            body_text(response).await,
            "anonymous",
            "{order}: a session reached the handler although two were offered"
        );
        let response = me(&app, &cookies).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{order}: a required session must be refused"
        );
    }
}

/// HTTP/2 clients may split cookies over several `Cookie` fields: the same rule applies
/// across fields.
#[tokio::test]
async fn two_valid_sessions_in_separate_cookie_fields_are_ambiguous() {
    let f = fixture();
    let app = app(f.layer.clone());
    let victim = login_cookie(&app, "victim").await;
    let planted = login_cookie(&app, "attacker").await;
    let response = send_cookies(&app, &[header_value(&victim), header_value(&planted)]).await;
    assert_eq!(
        kind(&response),
        Some(RejectionKind::Ambiguous),
        "two sessions in two Cookie fields must be refused"
    );
    assert_eq!(
        body_text(response).await,
        "anonymous",
        "a session reached the handler although two were offered in two fields"
    );
}

/// A stale cookie of the same name (expired, from another path) next to the user's current
/// one: the valid one is used, whatever the order.
#[tokio::test]
async fn a_stale_cookie_next_to_a_valid_one_gives_way_to_the_valid_one() {
    let f = fixture();
    let app = app(f.layer.clone());
    let stale = login_cookie(&app, "old-self").await;
    f.clock.advance(Duration::from_secs(IDLE + LEEWAY));
    let current = login_cookie(&app, "ada").await;
    assert_eq!(
        f.layer
            .codec()
            .verify::<User>(&stale["session=".len()..])
            .err()
            .map(|e| e.kind()),
        Some(RejectionKind::Expired),
        "the stale cookie is expired by now"
    );
    for cookies in [format!("{stale}; {current}"), format!("{current}; {stale}")] {
        let response = send_cookies(&app, &[header_value(&cookies)]).await;
        assert_eq!(
            kind(&response),
            None,
            "{cookies:.30}: the valid one is accepted"
        );
        assert_eq!(
            body_text(response).await,
            "ada",
            "the current session is used"
        );
    }
}

/// A garbage or forged cookie planted before the real one cannot shadow it.
#[tokio::test]
async fn a_planted_invalid_cookie_cannot_shadow_the_valid_one() {
    let f = fixture();
    let app = app(f.layer.clone());
    let current = login_cookie(&app, "ada").await;
    let impostor = SessionLayer::<User>::new(Key::hs256(KID, &[7u8; 32]).expect("key"))
        .with_clock(f.clock.clone());
    let forged = login_cookie(&crate::common::app(impostor), "mallory").await;
    for planted in ["session=garbage".to_owned(), "session=".to_owned(), forged] {
        let response = send_cookies(&app, &[header_value(&format!("{planted}; {current}"))]).await;
        assert_eq!(
            kind(&response),
            None,
            "{planted:.30}: the valid cookie wins"
        );
        assert_eq!(
            body_text(response).await,
            "ada",
            "{planted:.30}: the user's own session is used"
        );
    }
}

/// Two tokens of one session (before and after a refresh): the most recently signed one is
/// used, so an old copy cannot roll the session back.
#[tokio::test]
async fn two_tokens_of_one_session_resolve_to_the_most_recent() {
    let f = fixture();
    let app = app(f.layer.clone());
    let older = login_cookie(&app, "ada").await;
    f.clock.advance(Duration::from_secs(REFRESH));
    let newer = cookie_pair(&me(&app, &older).await);
    assert_ne!(older, newer, "the refresh issued a new token");
    let expected_iat = (T0 + REFRESH).to_string();
    for cookies in [format!("{older}; {newer}"), format!("{newer}; {older}")] {
        let response = me(&app, &cookies).await;
        assert_eq!(response.status(), StatusCode::OK, "one session, two tokens");
        assert!(
            set_cookies(&response).is_empty(),
            "the newest token needs no refresh, so nothing is set"
        );
        let body = body_text(response).await;
        let iat = body.split(' ').nth(2).expect("me prints iat third");
        assert_eq!(iat, expected_iat, "an older token was used: {body}");
    }
}

/// Five or more are refused without checking them: the cap keeps one request from making
/// the layer verify any number of tokens.
#[tokio::test]
async fn five_session_cookies_are_ambiguous_even_when_all_are_valid() {
    let f = fixture();
    let app = app(f.layer.clone());
    let current = login_cookie(&app, "ada").await;
    let cookies = [current.as_str(); 5].join("; ");
    let response = send_cookies(&app, &[header_value(&cookies)]).await;
    assert_eq!(
        kind(&response),
        Some(RejectionKind::Ambiguous),
        "five session cookies must be refused"
    );
    assert_eq!(
        body_text(response).await,
        "anonymous",
        "a session reached the handler through five cookies"
    );
    let four = [current.as_str(); 4].join("; ");
    let response = send_cookies(&app, &[header_value(&four)]).await;
    assert_eq!(
        kind(&response),
        None,
        "four copies of one token are still checked"
    );
}

/// With the `__Host-` prefix the browser refuses cookies of that name unless the host
/// itself set them (`Secure`, `Path=/`, no `Domain`), so a sibling subdomain cannot plant
/// one. On the server, a cookie under the unprefixed name is simply not ours.
#[tokio::test]
async fn a_host_prefixed_layer_ignores_cookies_under_other_names() {
    let f = fixture();
    let plain_app = app(f.layer.clone());
    let planted = login_cookie(&plain_app, "attacker").await;
    let host_app = app(f.layer.clone().with_cookie_name("__Host-session"));
    let response = send(&host_app, "POST", "/login/ada", None).await;
    let ours = cookie_pair(&response);
    assert!(ours.starts_with("__Host-session="), "{ours:.30}");
    let (name, value) = planted.split_once('=').expect("pair");
    for cookies in [
        format!("{planted}; {ours}"),
        format!("__host-session={value}; {ours}"),
        format!("{name}={value}; {ours}"),
    ] {
        let response = send_cookies(&host_app, &[header_value(&cookies)]).await;
        assert_eq!(kind(&response), None, "{cookies:.40}");
        assert_eq!(
            body_text(response).await,
            "ada",
            "only __Host-session is read"
        );
    }
    let response = send_cookies(&host_app, &[header_value(&planted)]).await;
    assert_eq!(
        kind(&response),
        Some(RejectionKind::Missing),
        "an unprefixed cookie alone is no session"
    );
}

/// The refusal of an ambiguous request deletes `session` with the layer's own attributes
/// (host-only, `Path=/`): that removes the user's cookie, but not a planted one, which was
/// set with a `Domain` the layer does not know. The browser then sends the planted cookie
/// alone, and the user is inside the attacker's session on the next request: the exact
/// outcome the `Ambiguous` rule exists to prevent.
///
/// Library bug, reported: the response to `Ambiguous` should not delete the session cookie
/// (it cannot delete the planted one, and deleting the user's hands the attacker the
/// session). This simulates the browser's cookie jar to show the sequence.
#[tokio::test]
async fn an_ambiguous_refusal_does_not_delete_the_users_cookie() {
    let f = fixture();
    let app = app(f.layer.clone());
    let victim = login_cookie(&app, "victim").await;
    let planted = login_cookie(&app, "attacker").await;
    // The browser's jar: the victim's host-only cookie, and the attacker's cookie set with
    // `Domain=example.com` by a sibling subdomain.
    let mut host_only = Some(victim);
    let domain_cookie = planted;
    let jar = |host_only: &Option<String>| match host_only {
        Some(v) => format!("{v}; {domain_cookie}"),
        None => domain_cookie.clone(),
    };
    let response = me(&app, &jar(&host_only)).await;
    assert_eq!(
        kind(&response),
        Some(RejectionKind::Ambiguous),
        "two sessions must be refused"
    );
    // Apply the response's Set-Cookie the way a browser would: a deletion without a
    // `Domain` matches the host-only cookie only.
    for set in set_cookies(&response) {
        let c = cookie::Cookie::parse(set).expect("valid Set-Cookie");
        if c.name() == "session" && c.domain().is_none() && c.value().is_empty() {
            host_only = None;
        }
    }
    let response = me(&app, &jar(&host_only)).await;
    let body = body_text(response).await;
    assert!(
        !body.starts_with("attacker "),
        "after the Ambiguous refusal the browser holds only the planted cookie, and the \
         user now browses in the attacker's session: {body}"
    );
}

// ---------------------------------------------------------------------------------------
// Cookie level: encodings and odd syntax
// ---------------------------------------------------------------------------------------

/// Percent-encoding is not undone: base64url and `.` are valid cookie octets, so a token
/// never needs encoding, and the MAC is checked over the bytes exactly as received. A
/// decoding step would give every token more than one spelling.
#[tokio::test]
async fn percent_encoded_token_never_verifies() {
    let f = fixture();
    let app = app(f.layer.clone());
    let token = valid_token(&f);
    let dots_encoded = token.replace('.', "%2E");
    let all_encoded: String = token.bytes().map(|b| format!("%{b:02X}")).collect();
    let one_char_encoded = format!("%{:02X}{}", token.as_bytes()[0], &token[1..]);
    for (name, value) in [
        ("dots as %2E", dots_encoded),
        ("every byte encoded", all_encoded),
        ("first character encoded", one_char_encoded),
    ] {
        assert!(
            f.layer.codec().verify::<User>(&value).is_err(),
            "{name}: the codec accepted a percent-encoded token"
        );
        let response = send_cookies(&app, &[header_value(&format!("session={value}"))]).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        assert_eq!(kind(&response), Some(RejectionKind::Malformed), "{name}");
        assert!(
            deletes_cookie(&response),
            "{name}: the refused cookie is deleted"
        );
        assert_eq!(
            body_text(response).await,
            "anonymous",
            "{name}: a percent-encoded token gave a session"
        );
    }
}

/// A percent-encoded cookie name is another name: not our cookie at all.
#[tokio::test]
async fn percent_encoded_cookie_name_is_not_the_session_cookie() {
    let f = fixture();
    let app = app(f.layer.clone());
    let token = valid_token(&f);
    let response = send_cookies(&app, &[header_value(&format!("sess%69on={token}"))]).await;
    assert_eq!(
        kind(&response),
        Some(RejectionKind::Missing),
        "sess%69on was read as the session cookie"
    );
    assert_eq!(
        body_text(response).await,
        "anonymous",
        "a percent-encoded cookie name gave a session"
    );
}

/// RFC 6265 allows a cookie value in double quotes; the quotes are part of the value and
/// are not stripped, so a quoted token is malformed.
#[tokio::test]
async fn double_quoted_token_is_malformed() {
    let f = fixture();
    let token = format!("\"{}\"", valid_token(&f));
    assert_refused(&f, &token, RejectionKind::Malformed).await;
}

/// Cookie names are case-sensitive.
#[tokio::test]
async fn cookie_name_in_another_case_is_not_the_session_cookie() {
    let f = fixture();
    let app = app(f.layer.clone());
    let token = valid_token(&f);
    let response = send_cookies(&app, &[header_value(&format!("Session={token}"))]).await;
    assert_eq!(
        kind(&response),
        Some(RejectionKind::Missing),
        "a cookie named Session was read as ours"
    );
    assert_eq!(
        body_text(response).await,
        "anonymous",
        "a cookie name in another case gave a session"
    );
}

/// Bytes outside ASCII (`obs-text`) are legal in a header field but not in a token: the
/// session cookie holding them is malformed, and no 500.
#[tokio::test]
async fn non_utf8_bytes_in_the_session_cookie_are_malformed() {
    let f = fixture();
    let app = app(f.layer.clone());
    let token = valid_token(&f);
    let mut raw = b"session=".to_vec();
    raw.extend_from_slice(&token.as_bytes()[..10]);
    raw.extend_from_slice(b"\xff\xfe\x80");
    raw.extend_from_slice(&token.as_bytes()[10..]);
    let value = HeaderValue::from_bytes(&raw).expect("obs-text is a valid header value");
    let response = send_cookies(&app, &[value]).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "obs-text must not fail the request"
    );
    assert_eq!(
        kind(&response),
        Some(RejectionKind::Malformed),
        "a token with obs-text bytes must be malformed"
    );
    assert!(
        deletes_cookie(&response),
        "the refused cookie is not deleted"
    );
    assert_eq!(
        body_text(response).await,
        "anonymous",
        "a token with obs-text bytes gave a session"
    );
}

/// Another cookie holding bytes that are not UTF-8 does not spoil the session cookie next
/// to it: the header is never required to be text.
#[tokio::test]
async fn non_utf8_bytes_in_another_cookie_leave_the_session_intact() {
    let f = fixture();
    let app = app(f.layer.clone());
    let session = login_cookie(&app, "ada").await;
    let mut raw = b"tracker=\xc3\x28\xff; ".to_vec();
    raw.extend_from_slice(session.as_bytes());
    raw.extend_from_slice(b"; other=\x80");
    let value = HeaderValue::from_bytes(&raw).expect("obs-text is a valid header value");
    let response = send_cookies(&app, &[value]).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "obs-text must not fail the request"
    );
    assert_eq!(kind(&response), None, "the session cookie itself is fine");
    assert_eq!(
        body_text(response).await,
        "ada",
        "another cookie's bytes spoiled the session"
    );
}

/// Blanks around a cookie value belong to the `Cookie` header's syntax (optional white
/// space), not to the token: they are trimmed and the token verifies. Blanks inside the
/// token never verify (see the cases above).
#[tokio::test]
async fn blanks_around_the_cookie_value_are_cookie_syntax_and_are_trimmed() {
    let f = fixture();
    let app = app(f.layer.clone());
    let token = valid_token(&f);
    for cookies in [
        format!("session= {token} "),
        format!("session=\t{token}\t; other=1"),
        format!("  session={token}"),
    ] {
        let response = send_cookies(&app, &[header_value(&cookies)]).await;
        assert_eq!(
            kind(&response),
            None,
            "{cookies:?}: blanks around the value"
        );
        assert_eq!(
            body_text(response).await,
            "ada",
            "{cookies:?}: the trimmed token should give the session"
        );
    }
}

/// An empty session cookie, a name without a value, a header of only separators, and a
/// token of a key the ring has dropped: each one a plain "no session", never an error.
#[tokio::test]
async fn degenerate_cookie_headers_are_no_session() {
    let f = fixture();
    let app = app(f.layer.clone());
    let cases: [(&str, Option<RejectionKind>); 6] = [
        ("session=", Some(RejectionKind::Malformed)),
        ("session", Some(RejectionKind::Missing)),
        (";;;; ;", Some(RejectionKind::Missing)),
        ("=session", Some(RejectionKind::Missing)),
        ("session==", Some(RejectionKind::Malformed)),
        ("", Some(RejectionKind::Missing)),
    ];
    for (cookies, expected) in cases {
        let response = send_cookies(&app, &[header_value(cookies)]).await;
        assert_eq!(response.status(), StatusCode::OK, "{cookies:?}");
        assert_eq!(kind(&response), expected, "{cookies:?}");
        assert_eq!(body_text(response).await, "anonymous", "{cookies:?}");
    }
    // And a token of a key the ring dropped.
    let token = valid_token(&f);
    f.keys.replace(KeyRing::new(key("k2")));
    assert_refused(&f, &token, RejectionKind::UnknownKey).await;
}
