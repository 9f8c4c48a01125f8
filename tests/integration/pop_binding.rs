//! The binding rules: a bound token is accepted only where its proof is checked. A
//! verifier without proof of possession refuses every token with `cnf`, a DPoP-bound token
//! is refused as a cookie and a DBSC-bound one as a DPoP token, a refresh credential is
//! never the session cookie nor the reverse, and a copied bound cookie dies at its `exp`.

use http::StatusCode;
use tower_stateless_session::token::{Binding, Claims, Confirmation};
use tower_stateless_session::{KeyRing, RejectionKind};

use crate::common::*;

/// A token of the test layer's key bound as `binding`, signed now (`T0`).
fn bound_token(binding: Binding, exp: u64) -> String {
    let f = fixture();
    let codec = f.layer.codec();
    let mut claims: Claims<User> = codec.new_claims(user("ada")).expect("claims");
    claims.exp = exp;
    claims.cnf = Some(Confirmation::new("thumbprint", binding));
    codec.sign(&claims).expect("sign")
}

#[test]
fn the_plain_verifier_refuses_every_bound_token() {
    let codec = fixture().layer.codec();
    for binding in [Binding::Dbsc, Binding::DbscRefresh, Binding::Dpop] {
        let token = bound_token(binding, T0 + 600);
        assert_eq!(
            codec
                .verify::<User>(&token)
                .map(|_| ())
                .map_err(|e| e.kind()),
            Err(RejectionKind::WrongBinding),
            "{binding}: never a bearer token"
        );
    }
}

#[tokio::test]
async fn a_layer_without_proof_of_possession_refuses_bound_tokens() {
    let f = fixture();
    let app = app(f.layer.clone());
    for binding in [Binding::Dbsc, Binding::DbscRefresh, Binding::Dpop] {
        let cookie = format!("session={}", bound_token(binding, T0 + 600));
        let response = send(&app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(
            kind(&response),
            Some(RejectionKind::WrongBinding),
            "{binding}"
        );
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}

#[cfg(feature = "dbsc")]
mod dbsc_rules {
    use http::StatusCode;
    use tower_stateless_session::RejectionKind;
    use tower_stateless_session::token::Binding;

    use super::bound_token;
    use crate::common::*;
    use crate::dbsc::{BOUND, REFRESH_PATH, cookies, fixture, login, post, register};
    use crate::pop_support::ProofKey;

    #[tokio::test]
    async fn a_dpop_bound_token_is_refused_as_a_cookie() {
        let f = fixture();
        let cookie = format!("session={}", bound_token(Binding::Dpop, T0 + 600));
        let response = send(&f.app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(kind(&response), Some(RejectionKind::WrongBinding));
    }

    #[tokio::test]
    async fn a_refresh_credential_is_never_the_session_cookie_nor_the_reverse() {
        let f = fixture();
        let key = ProofKey::es256(1);
        let (cookie, offer) = login(&f.app, "ada").await;
        let bound = register(&f.app, &key, &cookie, &offer).await;
        let credential = bound.refresh.split_once('=').expect("pair").1;
        let as_session = send(&f.app, "GET", "/me", Some(&format!("session={credential}"))).await;
        assert_eq!(kind(&as_session), Some(RejectionKind::WrongBinding));
        let session = bound.session.split_once('=').expect("pair").1;
        let proof = key.dbsc(&bound.challenge, false, None);
        let response = post(
            &f.app,
            REFRESH_PATH,
            &format!("session_dbsc={session}"),
            &[
                ("sec-secure-session-id", &bound.id),
                ("secure-session-response", &proof),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            cookies(&response)["session"].1.contains("Max-Age=0"),
            "ended, not refreshed"
        );
    }

    #[tokio::test]
    async fn a_copied_bound_cookie_stops_at_its_exp_and_cannot_be_refreshed_without_the_key() {
        let f = fixture();
        let (cookie, offer) = login(&f.app, "ada").await;
        let bound = register(&f.app, &ProofKey::es256(1), &cookie, &offer).await;
        // The thief copied both cookies.
        f.clock.set(T0 + BOUND - 1);
        assert_eq!(
            send(&f.app, "GET", "/me", Some(&bound.session))
                .await
                .status(),
            StatusCode::OK
        );
        f.clock.set(T0 + BOUND + LEEWAY);
        let dead = send(&f.app, "GET", "/me", Some(&bound.session)).await;
        assert_eq!(kind(&dead), Some(RejectionKind::Expired), "dead at its exp");
        let thief = ProofKey::es256(8);
        for proof in [None, Some(thief.dbsc(&bound.challenge, false, None))] {
            let mut headers = vec![("sec-secure-session-id", bound.id.as_str())];
            if let Some(proof) = &proof {
                headers.push(("secure-session-response", proof));
            }
            let response = post(&f.app, REFRESH_PATH, &bound.refresh, &headers).await;
            assert!(
                response.status() == StatusCode::FORBIDDEN
                    || response.status() == StatusCode::UNAUTHORIZED,
                "no refresh without the key: {}",
                response.status()
            );
            assert!(
                !cookies(&response).contains_key("session"),
                "no new bound cookie"
            );
        }
    }
}

#[cfg(feature = "dpop")]
#[tokio::test]
async fn a_dbsc_bound_token_is_refused_as_a_dpop_token() {
    use axum::body::Body;
    use tower::ServiceExt as _;
    use tower_stateless_session::Transport;
    use tower_stateless_session::pop::dpop::Dpop;
    use tower_stateless_session::time::ManualClock;

    let layer = layer(KeyRing::new(key("k1")), &ManualClock::new(T0))
        .with_transport(Transport::Bearer)
        .with_dpop(Dpop::new())
        .build()
        .expect("layer");
    let token = bound_token(Binding::Dbsc, T0 + 600);
    let request = http::Request::get("/me")
        .header(http::header::AUTHORIZATION, format!("DPoP {token}"))
        .header(http::header::HOST, "api.example.com")
        .body(Body::empty())
        .expect("request");
    let response = app(layer).oneshot(request).await.expect("infallible");
    assert_eq!(kind(&response), Some(RejectionKind::WrongBinding));
}
