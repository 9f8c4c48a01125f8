//! `SESSION_DPOP=on`: `POST /api/login` with a DPoP proof gets a bound token, `GET /api/me`
//! answers the claims with a fresh proof, and 401 with `WWW-Authenticate: DPoP` without.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use tower::ServiceExt;

use super::*;

struct Client {
    key: p256::ecdsa::SigningKey,
}

impl Client {
    fn proof(&self, method: &str, url: &str, jti: &str, token: Option<&str>) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let point = self.key.verifying_key().to_sec1_point(false);
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256",
            "x": b64.encode(&point.as_bytes()[1..33]), "y": b64.encode(&point.as_bytes()[33..]),
        });
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let mut claims = serde_json::json!({"jti": jti, "htm": method, "htu": url, "iat": now});
        if let Some(token) = token {
            claims["ath"] = serde_json::json!(tower_stateless_session::pop::dpop::token_hash(
                token.as_bytes()
            ));
        }
        let header = serde_json::json!({"alg": "ES256", "typ": "dpop+jwt", "jwk": jwk});
        let input = format!(
            "{}.{}",
            b64.encode(header.to_string()),
            b64.encode(claims.to_string())
        );
        let signature: p256::ecdsa::Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", b64.encode(signature.to_bytes()))
    }
}

#[tokio::test]
async fn the_dpop_api_binds_its_token_and_wants_a_proof_on_every_request() {
    let keys = KeyRingHandle::new(KeyRing::new(Key::hs256("t", &[7u8; 32]).expect("key")));
    let app = with_api(test_app(), keys, &Timeouts::default(), true);
    let mut d = [3u8; 32];
    d[0] = 1;
    let client = Client {
        key: p256::ecdsa::SigningKey::from_slice(&d).expect("a scalar"),
    };
    let login = Request::post("/api/login")
        .header(header::HOST, "demo.example")
        .header(
            "dpop",
            client.proof("POST", "http://demo.example/api/login", "l1", None),
        )
        .body(Body::from(r#"{"user":"ada"}"#))
        .expect("request");
    let response = app.clone().oneshot(login).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = serde_json::from_slice(
        &response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes(),
    )
    .expect("JSON");
    assert_eq!(body["token_type"], "DPoP");
    let token = body["token"].as_str().expect("a token").to_owned();
    let me = |proof: Option<String>| {
        let mut request = Request::get("/api/me")
            .header(header::HOST, "demo.example")
            .header(header::AUTHORIZATION, format!("DPoP {token}"));
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        app.clone()
            .oneshot(request.body(Body::empty()).expect("request"))
    };
    let ok = me(Some(client.proof(
        "GET",
        "http://demo.example/api/me",
        "m1",
        Some(&token),
    )))
    .await
    .expect("infallible");
    assert_eq!(ok.status(), StatusCode::OK);
    let claims: serde_json::Value =
        serde_json::from_slice(&ok.into_body().collect().await.expect("body").to_bytes())
            .expect("JSON");
    assert_eq!(claims["sub"], "ada");
    assert_eq!(claims["cnf"]["pop"], "dpop");
    let refused = me(None).await.expect("infallible");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let challenge = refused.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .expect("ascii");
    assert!(challenge.starts_with("DPoP"), "{challenge}");
}
