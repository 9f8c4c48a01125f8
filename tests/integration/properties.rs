//! Properties of the codec and the layer, checked exhaustively where the space is small and
//! with proptest where it is not:
//!
//! - every single-byte change, insertion or deletion anywhere in a valid token is rejected;
//! - arbitrary bytes, as a token, a cookie value, a whole `Cookie` header or an
//!   `Authorization` header, never panic and never give a session;
//! - signing then verifying gives back arbitrary session data unchanged.
//!
//! The layer is driven without a runtime: it does no I/O, so its future must be ready on
//! the first poll, which the driver asserts.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::common::edits::{
    arbitrary_edit, assert_refused_as, deletions, insertions, replacements,
};
use crate::common::{ABSOLUTE, IDLE, LEEWAY, T0, key};
use http::{HeaderValue, Request, Response, StatusCode, header};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config as ProptestConfig;
use serde::{Deserialize, Serialize};
use tower::{Layer, ServiceExt, service_fn};
use tower_stateless_session::time::ManualClock;
use tower_stateless_session::token::TokenCodec;
use tower_stateless_session::token::{RESERVED_CLAIMS, verify_jws};
use tower_stateless_session::{
    KeyRing, Rejection, RejectionKind, SessionHandle, SessionLayer, Transport,
};

// ---------------------------------------------------------------------------------------
// Session data with a bit of everything
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    name: String,
    #[serde(rename = "display name ✓ \"quoted\" \\ back")]
    display: String,
    age: u8,
    balance: i64,
    counter: u64,
    ratio: f64,
    nickname: Option<String>,
    tags: Vec<String>,
    scores: BTreeMap<String, i32>,
    children: Vec<Child>,
    status: Status,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Child {
    id: u32,
    label: Option<String>,
    flags: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Status {
    Active,
    Tagged(String),
    Suspended { reason: String, until: Option<u64> },
}

/// Strings heavy in what JSON has to escape, plus arbitrary Unicode.
fn tricky_string() -> impl Strategy<Value = String> {
    let tricky_char = prop_oneof![
        Just('"'),
        Just('\\'),
        Just('/'),
        Just('\u{0}'),
        Just('\u{1f}'),
        Just('\u{7f}'),
        Just('\u{2028}'),
        Just('é'),
        Just('😀'),
        Just('\u{fffd}'),
        any::<char>(),
    ];
    prop::collection::vec(tricky_char, 0..16).prop_map(String::from_iter)
}

/// Floats with a short decimal form (up to ten digits, small exponents), which serde_json
/// parses back exactly with its default features. Floats in general do not round-trip:
/// see `finite_floats_round_trip_exactly` below.
fn finite_f64() -> impl Strategy<Value = f64> {
    (any::<i32>(), 0..6i32).prop_map(|(mantissa, scale)| f64::from(mantissa) / 10f64.powi(scale))
}

/// Every finite float, subnormals and extreme exponents included.
fn any_finite_f64() -> impl Strategy<Value = f64> {
    prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO
}

fn child() -> impl Strategy<Value = Child> {
    (
        any::<u32>(),
        prop::option::of(tricky_string()),
        prop::collection::vec(any::<bool>(), 0..4),
    )
        .prop_map(|(id, label, flags)| Child { id, label, flags })
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Active),
        tricky_string().prop_map(Status::Tagged),
        (tricky_string(), prop::option::of(any::<u64>()))
            .prop_map(|(reason, until)| Status::Suspended { reason, until }),
    ]
}

fn profile() -> impl Strategy<Value = Profile> {
    (
        (
            tricky_string(),
            tricky_string(),
            any::<u8>(),
            any::<i64>(),
            any::<u64>(),
            finite_f64(),
        ),
        (
            prop::option::of(tricky_string()),
            prop::collection::vec(tricky_string(), 0..4),
            prop::collection::btree_map(tricky_string(), any::<i32>(), 0..4),
            prop::collection::vec(child(), 0..3),
            status(),
        ),
    )
        .prop_map(
            |(
                (name, display, age, balance, counter, ratio),
                (nickname, tags, scores, children, status),
            )| {
                Profile {
                    name,
                    display,
                    age,
                    balance,
                    counter,
                    ratio,
                    nickname,
                    tags,
                    scores,
                    children,
                    status,
                }
            },
        )
}

/// Arbitrary JSON values, a few levels deep.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        finite_f64().prop_map(Value::from),
        tricky_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(tricky_string(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Top-level member names: anything but the registered claims.
fn member_name() -> impl Strategy<Value = String> {
    tricky_string().prop_filter("registered claim names are reserved", |name| {
        !RESERVED_CLAIMS.contains(&name.as_str())
    })
}

// ---------------------------------------------------------------------------------------
// Codecs, layers and a driver without a runtime
// ---------------------------------------------------------------------------------------

fn codec() -> TokenCodec {
    TokenCodec::new(KeyRing::from_keys([key("k1"), key("k2")]).expect("ring"))
        .with_clock(ManualClock::new(T0))
        .with_idle_timeout(Duration::from_secs(IDLE))
        .with_absolute_timeout(Duration::from_secs(ABSOLUTE))
        .with_leeway(Duration::from_secs(LEEWAY))
}

/// A codec whose size cap does not get in the way of large arbitrary data.
fn roomy_codec() -> TokenCodec {
    codec().with_max_token_len(1 << 20)
}

fn a_token() -> String {
    let codec = codec();
    let data = serde_json::json!({"sub": "user-12345", "roles": ["reader", "editor"]});
    codec
        .sign(&codec.new_claims(data).expect("claims"))
        .expect("sign")
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // Keep proptest from writing regression files next to the tests.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Polls `future` once: everything the layer does is synchronous, so it must be ready.
fn now<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => {
            panic!("the layer's future was not ready: it does no I/O and must not wait")
        }
    }
}

/// Data for the handler to log in with.
#[derive(Clone)]
struct LoginWith<T>(T);

/// Where the handler writes the session data it saw.
#[derive(Clone)]
struct Seen<T>(Arc<Mutex<Option<T>>>);

/// The inner service: logs in with [`LoginWith`] if the request carries one, records the
/// session data in [`Seen`], and says in `x-session` whether a session was active.
async fn handler<T>(request: Request<()>) -> Result<Response<String>, Infallible>
where
    T: Clone + Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let session = SessionHandle::<T>::from_extensions(request.extensions())
        .expect("the layer put a handle in")
        .clone();
    let active = session.is_active();
    if let Some(Seen(slot)) = request.extensions().get::<Seen<T>>() {
        *slot.lock().expect("not poisoned") = session.data();
    }
    if let Some(LoginWith(data)) = request.extensions().get::<LoginWith<T>>() {
        session.login(data.clone()).expect("login");
    }
    let mut response = Response::new(String::new());
    response.headers_mut().insert(
        "x-session",
        HeaderValue::from_static(if active { "active" } else { "none" }),
    );
    Ok(response)
}

/// Sends `request` through `layer` around [`handler`].
fn call<T>(
    layer: &SessionLayer<T>,
    request: Request<()>,
) -> Response<tower_stateless_session::server::ResponseBody<String>>
where
    T: Clone + Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let service = layer.clone().layer(service_fn(handler::<T>));
    now(service.oneshot(request)).expect("infallible")
}

/// The response did not come from a handler that saw a session, and is not a 500.
fn assert_no_session<B>(response: &Response<B>, input: &dyn std::fmt::Debug) {
    assert_ne!(
        response.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "a 500 for input {input:?}"
    );
    let seen = response.headers().get("x-session").map(|v| v.as_bytes());
    assert_ne!(
        seen,
        Some(&b"active"[..]),
        "a session reached the handler for input {input:?}"
    );
    assert!(
        response.extensions().get::<Rejection>().is_some(),
        "no rejection kind attached for input {input:?}"
    );
}

/// A layer over the widest data type, so nothing is refused merely for its shape.
fn value_layer() -> SessionLayer<serde_json::Value> {
    SessionLayer::<serde_json::Value>::new(
        KeyRing::from_keys([key("k1"), key("k2")]).expect("ring"),
    )
    .with_clock(ManualClock::new(T0))
}

fn with_cookies(values: &[HeaderValue]) -> Request<()> {
    let mut request = Request::builder().uri("/");
    for value in values {
        request = request.header(header::COOKIE, value.clone());
    }
    request.body(()).expect("request")
}

// ---------------------------------------------------------------------------------------
// Single-byte changes: exhaustive over one token
// ---------------------------------------------------------------------------------------

/// The kinds a change in `segment` may give. Payload changes fail the MAC, which covers
/// the bytes as received and runs before any decoding; a change in the signature may also
/// break its base64url; a change in the header may break any header rule.
fn allowed(segment: Option<usize>, inserted_or_removed_dot: bool) -> &'static [RejectionKind] {
    use RejectionKind::*;
    if inserted_or_removed_dot {
        return &[Malformed];
    }
    match segment {
        Some(1) => &[BadSignature],
        Some(2) => &[BadSignature, Malformed],
        _ => &[
            BadSignature,
            Malformed,
            UnknownKey,
            UnsupportedAlgorithm,
            WrongType,
        ],
    }
}

fn assert_rejected(codec: &TokenCodec, edited: &[u8], allowed: &[RejectionKind], what: &str) {
    let verified = codec
        .verify::<serde_json::Value>(edited)
        .map_err(|e| e.kind());
    assert_refused_as(verified, allowed, what);
}

/// Segments are 0 header, 1 payload, 2 signature (see `common::edits`).
#[test]
fn every_single_byte_replacement_anywhere_in_a_token_is_rejected() {
    let codec = codec();
    let token = a_token().into_bytes();
    let mut checked = 0usize;
    for edit in replacements(&token) {
        let allowed = allowed(edit.segment, edit.dot_changed);
        assert_rejected(&codec, &edit.bytes, allowed, &edit.what);
        checked += 1;
    }
    assert_eq!(checked, token.len() * 255, "every replacement was tried");
}

/// Insertions at every position, of one byte of each kind the parser tells apart (every
/// base64url character is equivalent to the MAC, so a handful stand for all of them);
/// arbitrary bytes at arbitrary positions are covered by the property below.
#[test]
fn every_single_byte_insertion_anywhere_in_a_token_is_rejected() {
    let codec = codec();
    let token = a_token().into_bytes();
    for edit in insertions(&token) {
        let allowed = allowed(edit.segment, edit.dot_changed);
        assert_rejected(&codec, &edit.bytes, allowed, &edit.what);
    }
}

#[test]
fn every_single_byte_deletion_anywhere_in_a_token_is_rejected() {
    let codec = codec();
    let token = a_token().into_bytes();
    for edit in deletions(&token) {
        let allowed = allowed(edit.segment, edit.dot_changed);
        assert_rejected(&codec, &edit.bytes, allowed, &edit.what);
    }
}

proptest! {
    #![proptest_config(config())]

    /// The same three edits, on tokens of arbitrary session data.
    #[test]
    fn single_byte_edits_of_tokens_of_arbitrary_data_are_rejected(
        data in profile(),
        edit in 0..3u8,
        at in any::<Index>(),
        byte in any::<u8>(),
    ) {
        let codec = roomy_codec();
        let token = codec.sign(&codec.new_claims(data).expect("claims")).expect("sign");
        let edited = arbitrary_edit(token.as_bytes(), edit, at, byte);
        prop_assert!(
            codec.verify::<serde_json::Value>(&edited).is_err(),
            "edit {} at {:?} with {:#04x} verified", edit, at, byte
        );
        prop_assert!(codec.verify::<Profile>(&edited).is_err(), "verified as Profile");
    }
}

// ---------------------------------------------------------------------------------------
// Arbitrary bytes never verify
// ---------------------------------------------------------------------------------------

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url_segment(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(B64URL), 0..max)
        .prop_map(|bytes| String::from_utf8(bytes).expect("ascii"))
}

/// Bytes a header field may hold: visible ASCII, space, tab and `obs-text`.
fn header_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => 0x20u8..=0x7e,
        1 => Just(b'\t'),
        1 => 0x80u8..=0xff,
    ]
}

/// Header-field bytes with a strong bias towards cookie syntax and token-like runs.
fn cookie_header_bytes() -> impl Strategy<Value = Vec<u8>> {
    let chunk = prop_oneof![
        Just(b"session=".to_vec()),
        Just(b"; ".to_vec()),
        Just(b";".to_vec()),
        Just(b"=".to_vec()),
        Just(b".".to_vec()),
        Just(b"eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoic2Vzcytqd3QifQ".to_vec()),
        base64url_segment(64).prop_map(String::into_bytes),
        prop::collection::vec(header_byte(), 0..16),
    ];
    prop::collection::vec(chunk, 0..12).prop_map(|chunks| chunks.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_verify(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let codec = codec();
        prop_assert!(
            codec.verify::<serde_json::Value>(&bytes).is_err(),
            "arbitrary bytes verified as a session token"
        );
        prop_assert!(
            verify_jws(&bytes, &key("k1")).is_err(),
            "arbitrary bytes passed the JWS check"
        );
    }

    /// Three base64url segments get past the split and the alphabet: the header, the MAC
    /// and the claims checks have to hold on their own. Half the cases carry the ring's
    /// real header, so the fast path is taken and the MAC itself is what refuses.
    #[test]
    fn arbitrary_base64url_segments_never_verify(
        real_header in any::<bool>(),
        header in base64url_segment(128),
        payload in base64url_segment(512),
        signature in prop_oneof![base64url_segment(64), base64url_segment(44).prop_map(|s| format!("{s:A<43.43}"))],
    ) {
        let header = if real_header {
            a_token().split('.').next().expect("header").to_owned()
        } else {
            header
        };
        let token = format!("{header}.{payload}.{signature}");
        prop_assert!(codec().verify::<serde_json::Value>(&token).is_err(), "{}", token);
        prop_assert!(verify_jws(&token, &key("k1")).is_err(), "{}", token);
    }

    #[test]
    fn arbitrary_session_cookie_values_never_give_a_session(
        value in prop::collection::vec(header_byte(), 0..600),
        before in prop::option::of(cookie_header_bytes()),
    ) {
        let mut cookie = before.map(|mut b| { b.extend_from_slice(b"; "); b }).unwrap_or_default();
        cookie.extend_from_slice(b"session=");
        cookie.extend_from_slice(&value);
        let header = HeaderValue::from_bytes(&cookie).expect("only header-field bytes");
        let response = call(&value_layer(), with_cookies(&[header]));
        assert_no_session(&response, &String::from_utf8_lossy(&cookie));
    }

    #[test]
    fn arbitrary_cookie_headers_never_give_a_session(
        fields in prop::collection::vec(cookie_header_bytes(), 0..4),
    ) {
        let values: Vec<HeaderValue> = fields
            .iter()
            .filter_map(|f| HeaderValue::from_bytes(f).ok())
            .collect();
        let response = call(&value_layer(), with_cookies(&values));
        let shown: Vec<_> = fields.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
        assert_no_session(&response, &shown);
        if let Some(kind) = response.extensions().get::<Rejection>().map(|r| r.kind()) {
            prop_assert!(
                response.status() == StatusCode::OK
                    || (kind == RejectionKind::Oversized
                        && response.status() == StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
                "unexpected answer {} ({:?})", response.status(), kind
            );
        }
    }

    #[test]
    fn arbitrary_authorization_headers_never_give_a_session(
        scheme in prop_oneof![Just("Bearer "), Just("bearer "), Just("BEARER\t"), Just(""), Just("Basic ")],
        value in prop::collection::vec(header_byte(), 0..600),
        required in any::<bool>(),
    ) {
        let layer = value_layer()
            .with_transport(Transport::Bearer)
            .with_require_session(required);
        let mut bytes = scheme.as_bytes().to_vec();
        bytes.extend_from_slice(&value);
        let header = HeaderValue::from_bytes(&bytes).expect("only header-field bytes");
        let request = Request::builder()
            .uri("/")
            .header(header::AUTHORIZATION, header)
            .body(())
            .expect("request");
        let response = call(&layer, request);
        assert_no_session(&response, &String::from_utf8_lossy(&bytes));
        let expected = if required { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
        prop_assert_eq!(response.status(), expected, "the answer without a session");
    }
}

// ---------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sign_then_verify_round_trips_arbitrary_data(data in profile(), remember in any::<bool>()) {
        let codec = roomy_codec();
        let mut claims = codec.new_claims(data).expect("claims");
        claims.remember = remember;
        let token = codec.sign(&claims).expect("arbitrary data signs");
        let verified = codec.verify::<Profile>(&token).expect("its own token verifies");
        prop_assert_eq!(&verified.claims, &claims, "the claims changed on the way");
        prop_assert!(!verified.needs_resign(), "a fresh token asks to be re-signed");
        // Seen as plain JSON, the data members sit next to the registered claims.
        let value = codec.verify::<serde_json::Value>(&token).expect("verifies as JSON").claims.data;
        prop_assert_eq!(
            value,
            serde_json::to_value(&claims.data).expect("to JSON"),
            "the data members read as JSON differ from the data"
        );
    }

    /// A map as the session data: its keys become top-level claims, whatever they are
    /// (quotes, escapes, Unicode), as long as they are not registered claim names.
    #[test]
    fn sign_then_verify_round_trips_arbitrary_json_maps(
        data in prop::collection::btree_map(member_name(), json_value(), 0..6),
    ) {
        let codec = roomy_codec();
        let claims = codec.new_claims(data).expect("claims");
        let token = codec.sign(&claims).expect("arbitrary maps sign");
        let verified = codec
            .verify::<BTreeMap<String, serde_json::Value>>(&token)
            .expect("its own token verifies");
        prop_assert_eq!(verified.claims, claims, "the map changed on the way");
    }

    /// A reserved name among the map's keys is refused at signing, never signed into a
    /// token that would then fail to verify.
    #[test]
    fn reserved_member_names_are_refused_when_signing(
        mut data in prop::collection::btree_map(member_name(), json_value(), 0..4),
        reserved in prop::sample::select(RESERVED_CLAIMS.to_vec()),
        value in json_value(),
    ) {
        let codec = roomy_codec();
        data.insert(reserved.to_owned(), value);
        prop_assert!(
            codec.sign(&codec.new_claims(data).expect("claims")).is_err(),
            "data using the reserved name {} was signed", reserved
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..config() })]

    /// The whole way: a handler logs in with arbitrary data, the cookie comes back on the
    /// next request, and the handler there sees the same data.
    #[test]
    fn session_data_round_trips_through_the_layer(data in profile()) {
        let layer = SessionLayer::<Profile>::new(KeyRing::new(key("k1")))
            .with_clock(ManualClock::new(T0))
            .with_max_token_len(1 << 16)
            .with_cookie_budget(1 << 16)
            .with_cookie_header_budget(1 << 16);
        let mut login = Request::builder().uri("/login").body(()).expect("request");
        login.extensions_mut().insert(LoginWith(data.clone()));
        let response = call(&layer, login);
        prop_assert_eq!(response.status(), StatusCode::OK, "login failed");
        let set_cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .expect("login sets the cookie")
            .to_str()
            .expect("a token is ASCII")
            .to_owned();
        let pair = set_cookie.split(';').next().expect("name=value").to_owned();

        let slot = Arc::new(Mutex::new(None));
        let mut request = with_cookies(&[HeaderValue::from_str(&pair).expect("ascii")]);
        request.extensions_mut().insert(Seen::<Profile>(slot.clone()));
        let response = call(&layer, request);
        prop_assert_eq!(response.status(), StatusCode::OK, "the second request failed");
        prop_assert_eq!(
            response.headers().get("x-session").map(|v| v.as_bytes()),
            Some(&b"active"[..]),
            "the cookie from the login gave no session"
        );
        let seen = slot.lock().expect("not poisoned").take();
        prop_assert_eq!(seen, Some(data), "the handler saw other data than it logged in with");
    }
}

// ---------------------------------------------------------------------------------------
// Fast paths agree with the general paths
// ---------------------------------------------------------------------------------------

/// Signs `header_json "." claims_json` with HS256 under `kid`'s test key (the secret of
/// [`key`]), by hand, with the `hmac` crate.
fn hand_signed(kid: &str, header_json: &[u8], claims_json: &[u8]) -> String {
    use base64::Engine as _;
    use hmac::{KeyInit as _, Mac as _};
    let b64 = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let secret: Vec<u8> = kid.bytes().cycle().take(32).collect();
    let input = format!("{}.{}", b64.encode(header_json), b64.encode(claims_json));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret).expect("any length");
    mac.update(input.as_bytes());
    format!("{input}.{}", b64.encode(mac.finalize().into_bytes()))
}

proptest! {
    #![proptest_config(config())]

    /// The codec's shortcuts for its own tokens (the header compared as bytes, the MAC's
    /// first block precomputed, the registered claims read by hand) give what the general
    /// paths give: the same claims, signed otherwise (the header's members reordered, so
    /// its bytes and the MAC's first block differ; the claims' members in another order
    /// and spaced, so serde_json reads them all), verify to the same session.
    #[test]
    fn tokens_spelled_otherwise_verify_to_the_same_session(
        data in profile(),
        remember in any::<bool>(),
        respell_header in any::<bool>(),
        respell_claims in any::<bool>(),
    ) {
        let codec = roomy_codec();
        let mut claims = codec.new_claims(data).expect("claims");
        claims.remember = remember;
        let ours = codec.sign(&claims).expect("sign");
        let header: &[u8] = if respell_header {
            br#"{"typ":"sess+jwt","kid":"k1","alg":"HS256"}"#
        } else {
            br#"{"alg":"HS256","kid":"k1","typ":"sess+jwt"}"#
        };
        let claims_json = if respell_claims {
            // Members sorted by name (a `serde_json::Map` is a BTreeMap), pretty-printed.
            let value = serde_json::to_value(&claims).expect("to JSON");
            serde_json::to_vec_pretty(&value).expect("serialize")
        } else {
            serde_json::to_vec(&claims).expect("serialize")
        };
        let theirs = hand_signed("k1", header, &claims_json);
        if !respell_header && !respell_claims {
            prop_assert_eq!(&theirs, &ours, "the codec's own spelling changed");
        }
        let ours = codec.verify::<Profile>(&ours).expect("our spelling verifies");
        let theirs = codec.verify::<Profile>(&theirs).expect("another spelling verifies");
        prop_assert_eq!(&theirs.claims, &claims, "another spelling gave other claims");
        prop_assert_eq!(ours, theirs, "the two spellings verified differently");
    }
}

// ---------------------------------------------------------------------------------------
// Floats: reported limitations
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// Reported: without serde_json's `float_roundtrip` feature, its parser may return a
    /// float one unit in the last place away from the one written (for example
    /// `1.3880636031554073e-247` comes back as `...072e-247`), so session data holding
    /// such a float changes on its way through a token.
    #[test]
    fn finite_floats_round_trip_exactly(x in any_finite_f64()) {
        let codec = roomy_codec();
        let claims = codec.new_claims(BTreeMap::from([("x".to_owned(), x)])).expect("claims");
        let token = codec.sign(&claims).expect("sign");
        let back = codec.verify::<BTreeMap<String, f64>>(&token).expect("verify").claims.data;
        prop_assert_eq!(back["x"].to_bits(), x.to_bits(), "{} came back as {}", x, back["x"]);
    }
}

/// Reported: serde_json writes NaN and the infinities as `null`, so data holding one signs
/// without error into a token that then never verifies (the session silently ends on the
/// next request). Refusing them at signing would surface the problem where it starts.
#[test]
fn non_finite_floats_are_refused_when_signing() {
    let codec = codec();
    for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let claims = codec
            .new_claims(BTreeMap::from([("x".to_owned(), x)]))
            .expect("claims");
        let signed = codec.sign(&claims);
        let verified = signed
            .as_ref()
            .ok()
            .map(|token| codec.verify::<BTreeMap<String, f64>>(token).is_ok());
        assert!(
            signed.is_err() || verified == Some(true),
            "{x} was signed into a token that does not verify"
        );
    }
}
