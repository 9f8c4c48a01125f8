//! `SESSION_ENCRYPTION_KEYS` and `SESSION_JWE_ALG`: the encrypted mode of the demo.

use super::*;

const ENC: &str = "e1:ZW5jcnlwdGlvbi1rZXktb2YtMzItYnl0ZXMtLS0tLS0";
const SIGN: &str = "k1:ZGV2LW9ubHktc2VjcmV0LWF0LWxlYXN0LTMyLWJ5dGVzLWxvbmch";

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Result<Option<String>, String> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| Ok(vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
}

fn layer_with(keys: KeyRing) -> SessionLayer<DemoSession> {
    demo_layer(keys).with_clock(ManualClock::new(T0))
}

#[tokio::test]
async fn encryption_keys_make_the_cookie_a_jwe_in_both_modes() {
    for (alg, encrypted_key_segment_empty) in
        [(None, false), (Some("A256KW"), false), (Some("dir"), true)]
    {
        let mut vars = vec![(ENCRYPTION_KEYS_VAR, ENC)];
        if let Some(alg) = alg {
            vars.push((JWE_ALG_VAR, alg));
        }
        let keys = keys_from_lookup(lookup(&vars)).expect("valid configuration");
        let app = app(layer_with(keys), Timeouts::default());
        let cookie = json_login(&app, "ada").await;
        let token = cookie.split_once('=').expect("name=value").1;
        let segments: Vec<&str> = token.split('.').collect();
        assert_eq!(segments.len(), 5, "{alg:?}: a JWE");
        assert_eq!(
            segments[1].is_empty(),
            encrypted_key_segment_empty,
            "{alg:?}"
        );
        let response = send(&app, get("/me", Some(&cookie))).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{alg:?}: the JWE reads back"
        );
        // The page takes the token apart: five segments, claims only as the server read them.
        let page = body_text(send(&app, get("/", Some(&cookie))).await).await;
        for part in ["initialization vector", "ciphertext", "authentication tag"] {
            assert!(
                page.contains(part),
                "{alg:?}: the page does not name the {part}"
            );
        }
    }
}

#[tokio::test]
async fn signing_keys_then_only_verify_so_signed_sessions_move_over() {
    let signed_app = app(
        layer_with(keys_from_lookup(lookup(&[(KEYS_VAR, SIGN)])).unwrap()),
        Timeouts::default(),
    );
    let cookie = json_login(&signed_app, "bo").await;
    assert_eq!(cookie.matches('.').count(), 2, "signed first");

    let both = keys_from_lookup(lookup(&[(KEYS_VAR, SIGN), (ENCRYPTION_KEYS_VAR, ENC)])).unwrap();
    assert_eq!(both.kids().collect::<Vec<_>>(), ["e1", "k1"]);
    let app = app(layer_with(both), Timeouts::default());
    let response = send(&app, get("/me", Some(&cookie))).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the signed session survives"
    );
    assert_eq!(
        set_cookie(&response).value().matches('.').count(),
        4,
        "re-issued encrypted at once"
    );
}

#[test]
fn bad_encryption_settings_are_reported_without_secrets() {
    for (vars, expected) in [
        (
            vec![(ENCRYPTION_KEYS_VAR, ENC), (JWE_ALG_VAR, "A128KW")],
            "SESSION_JWE_ALG must be",
        ),
        (
            vec![(ENCRYPTION_KEYS_VAR, "e1:c2hvcnQ")],
            "exactly 32 bytes",
        ),
        (
            vec![
                (ENCRYPTION_KEYS_VAR, ENC),
                (KEYS_VAR, "k1:ZW5jcnlwdGlvbi1rZXktb2YtMzItYnl0ZXMtLS0tLS0"),
            ],
            "one key, one purpose",
        ),
    ] {
        let error = keys_from_lookup(lookup(&vars)).expect_err("invalid");
        assert!(error.contains(expected), "{error}");
        assert!(
            !error.contains("ZW5jcnlwdGlvbi1rZXk"),
            "a secret in {error}"
        );
    }
}
