//! The JWKS side of these tests: the endpoints (`JwksService`, counting the fetches of each
//! verifier), the downstream services' `JwksVerifier`s, and jsonwebtoken verifying against
//! the document an endpoint serves.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, StatusCode};
use serde_json::Value;
use tower::Service;
use tower_stateless_session::KeyRingHandle;
use tower_stateless_session::keys::jwks::{JwksService, JwksVerifier};

use crate::common::fetch;

pub(crate) const JWKS_PATH: &str = "/.well-known/jwks.json";

/// JWKS documents served, by who asked: the `for` query each verifier's URL carries.
#[derive(Clone, Default)]
pub(crate) struct Fetches(Arc<Mutex<HashMap<String, usize>>>);

impl Fetches {
    /// The documents served to `who` so far.
    pub(crate) fn of(&self, who: &str) -> usize {
        let counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(who).copied().unwrap_or(0)
    }

    fn record(&self, query: Option<&str>) {
        let who = query
            .and_then(|q| q.strip_prefix("for="))
            .unwrap_or("anonymous");
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry(who.to_owned()).or_default() += 1;
    }
}

/// The crate's `JwksService` for a ring, counting the requests it answers.
#[derive(Clone)]
pub(crate) struct CountedJwks {
    jwks: JwksService,
    fetches: Fetches,
}

impl CountedJwks {
    pub(crate) fn new(keys: KeyRingHandle, fetches: Fetches) -> Self {
        CountedJwks {
            jwks: JwksService::new(keys),
            fetches,
        }
    }
}

impl<B> Service<Request<B>> for CountedJwks {
    type Response = <JwksService as Service<Request<B>>>::Response;
    type Error = <JwksService as Service<Request<B>>>::Error;
    type Future = <JwksService as Service<Request<B>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::<Request<B>>::poll_ready(&mut self.jwks, cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.fetches.record(request.uri().query());
        self.jwks.call(request)
    }
}

/// The verifier of the service `who`, fetching the JWKS that `from` serves (the fetch
/// starts now; see [`loaded`]).
pub(crate) fn verifier(from: SocketAddr, who: &str) -> JwksVerifier {
    JwksVerifier::builder(&format!("http://{from}{JWKS_PATH}?for={who}"))
        .start()
        .expect("a JWKS verifier")
}

/// Waits for every verifier's first document.
pub(crate) async fn loaded(verifiers: &[&JwksVerifier]) {
    for jwks in verifiers {
        assert!(
            jwks.wait_loaded(Duration::from_secs(10)).await,
            "no JWKS loaded: {:?}",
            jwks.status()
        );
    }
}

/// The document `addr` serves, fetched over HTTP as any JWKS client would.
pub(crate) async fn fetched_jwks(addr: SocketAddr) -> jsonwebtoken::jwk::JwkSet {
    let path = format!("{JWKS_PATH}?for=jsonwebtoken");
    let (status, _, body) = fetch(addr, "GET", &path, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).expect("a JWKS")
}

/// jsonwebtoken's verdict on a minted token: EdDSA with the JWKS key its `kid` names, the
/// issuer and the audience given, `exp` against the system clock.
pub(crate) fn jsonwebtoken_verify(
    token: &str,
    jwks: &jsonwebtoken::jwk::JwkSet,
    issuer: &str,
    audience: &str,
) -> jsonwebtoken::errors::Result<Value> {
    let header = jsonwebtoken::decode_header(token)?;
    let kid = header.kid.expect("a kid");
    let jwk = jwks.find(&kid).expect("the kid is in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk)?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).map(|data| data.claims)
}
