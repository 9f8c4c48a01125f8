//! Propagation contenders: a gateway handler that makes one call to a downstream service
//! running in the same process (a `Router` used as the client's inner service, no socket),
//! with the session token forwarded or with a token minted for the downstream.
//!
//! | id | what the call carries |
//! |---|---|
//! | `propagate_forward` | the session token itself (HS256); the downstream verifies it (verify cache warm) |
//! | `propagate_minted` | a token minted for `aud=profile` with an Ed25519 node key, from the mint cache; the downstream verifies it (verify cache warm) |
//! | `propagate_minted_cold` | as `propagate_minted` with the mint cache off: every call signs a new token, which the downstream then verifies for the first time |
//!
//! The gateway's session is the reference user, verified from the cache, no refresh due;
//! the handler reads the downstream's whole body and answers 200 only if the downstream
//! did, so a setup whose tokens are refused cannot be benchmarked.

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::routing::get;
use http::StatusCode;
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt};
use tower_stateless_session::propagate::{
    Audience, Minter, PropagateSession, PropagateSessionLayer,
};
use tower_stateless_session::time::{Clock, SystemClock};
use tower_stateless_session::{Key, KeyRing, KeyRingHandle, Session, SessionLayer};

use super::{BODY, Contender, FrozenClock, SECRET, User, cookie_header, reference_user};

/// The downstream's answer.
const DOWNSTREAM_BODY: &str = "downstream";

type Downstream = PropagateSession<Router>;

async fn whoami(session: Session<User>) -> &'static str {
    session.with(|user| black_box(user).sub.len());
    DOWNSTREAM_BODY
}

/// The gateway's handler: one downstream call, its body read to the end.
async fn gateway_handler(
    State(client): State<Downstream>,
    session: Session<User>,
) -> Result<&'static str, StatusCode> {
    black_box(&session);
    let request = Request::get("/whoami")
        .body(Body::empty())
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let response = client
        .oneshot(request)
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    if response.status() != StatusCode::OK {
        return Err(StatusCode::BAD_GATEWAY);
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?
        .to_bytes();
    black_box(body);
    Ok(BODY)
}

/// How the gateway propagates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Forward,
    Minted,
    MintedCold,
}

impl Propagation {
    pub fn id(self) -> &'static str {
        match self {
            Propagation::Forward => "propagate_forward",
            Propagation::Minted => "propagate_minted",
            Propagation::MintedCold => "propagate_minted_cold",
        }
    }
}

pub fn propagate(mode: Propagation) -> Contender {
    let now = SystemClock.now();
    let session_keys = KeyRingHandle::new(KeyRing::new(
        Key::hs256("k1", SECRET).expect("a 32-byte secret"),
    ));
    let node = KeyRingHandle::new(KeyRing::new(
        Key::ed25519_from_seed("node-1", &[7; 32]).expect("a 32-byte seed"),
    ));
    let profile = Audience::new("profile").expect("valid audience");
    let downstream_layer = match mode {
        Propagation::Forward => SessionLayer::<User>::verify_only(session_keys.clone()),
        Propagation::Minted | Propagation::MintedCold => {
            let public = node
                .current()
                .issuing_key()
                .expect("an issuing key")
                .public_key()
                .expect("Ed25519");
            SessionLayer::<User>::verify_only(KeyRing::new(public)).with_audience(profile.clone())
        }
    }
    .with_clock(FrozenClock(now));
    let downstream = Router::new()
        .route("/whoami", get(whoami))
        .layer(downstream_layer);
    let propagation = match mode {
        Propagation::Forward => PropagateSessionLayer::forward(),
        Propagation::Minted | Propagation::MintedCold => {
            let mut minter = Minter::<User>::new("gateway", |u: &User| Some(u.sub.as_str()))
                .expect("valid issuer")
                .with_keys(node)
                .with_clock(FrozenClock(now))
                .with_projection(|u: &User| serde_json::json!({ "roles": u.roles }));
            if mode == Propagation::MintedCold {
                minter = minter.with_mint_cache(0);
            }
            PropagateSessionLayer::mint(minter, profile)
        }
    };
    let client = propagation.layer(downstream);

    let gateway = SessionLayer::<User>::new(session_keys).with_clock(FrozenClock(now));
    let codec = gateway.codec();
    let claims = codec.new_claims(reference_user()).expect("claims");
    let token = codec.sign(&claims).expect("sign");
    Contender {
        id: mode.id(),
        router: Router::new()
            .route("/", get(gateway_handler))
            .with_state(client)
            .layer(gateway),
        cookie: cookie_header(&format!("session={token}")),
        sets_cookie: false,
        recorder: None,
    }
}
