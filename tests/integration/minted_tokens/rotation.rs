//! The gateway's minting key changes while sessions hold cached minted tokens: the next
//! call re-mints at once with the new key, and the downstream, which has not seen the new
//! key id, refetches the JWKS once and accepts it. Zero 401s, with every session calling at
//! the same moment, and a small, counted number of JWKS fetches (single flight).
//!
//! Two ways the key changes: the ring replaced (an operator's rotation), and a new node of
//! the gateway tier, whose node key is published before it signs.

use std::time::Instant;

use super::*;

/// Sessions calling at once after the key change.
const SESSIONS: usize = 32;

/// Logs `SESSIONS` users in at the gateway, and has each call `profile` once (a cached
/// minted token each); their cookies and tokens.
async fn warm_sessions(net: &Net) -> (Vec<String>, Vec<String>) {
    let mut cookies = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..SESSIONS {
        let cookie = net.login(&format!("user-{i}")).await;
        let (token, _) = net.token_for("profile", &cookie).await;
        cookies.push(cookie);
        tokens.push(token);
    }
    // A second later a new token would differ (its `iat`): the cache serves the same one.
    net.clock.advance(Duration::from_secs(1));
    let (again, _) = net.token_for("profile", &cookies[0]).await;
    assert_eq!(again, tokens[0], "a warm cache serves the same token");
    (cookies, tokens)
}

/// `GET path` on `gateway` for every cookie, all at once; status and JSON body of each, in
/// order.
async fn all_at_once(
    gateway: SocketAddr,
    requests: Vec<(String, String)>,
) -> Vec<(StatusCode, Value)> {
    let calls: Vec<_> = requests
        .into_iter()
        .map(|(path, cookie)| {
            tokio::spawn(async move {
                let (status, _, body) = fetch(gateway, "GET", &path, &[("cookie", &cookie)]).await;
                let value = serde_json::from_str(&body).unwrap_or_else(|_| json!({ "text": body }));
                (status, value)
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(calls.len());
    for call in calls {
        answers.push(call.await.expect("the call's task"));
    }
    answers
}

/// One fetch answers every call that named the new key: the one asked for by the first of
/// them, which the others (arriving before it started, while it was in flight, or after)
/// wait for or find done. Only a failed fetch (a timeout on an overloaded machine) would
/// justify a second.
fn assert_single_flight(service: &str, jwks: &JwksVerifier, fetches: usize) {
    let status = jwks.status();
    if status.failures == 0 {
        assert_eq!(fetches, 1, "JWKS fetches by {service}: {status:?}");
    } else {
        assert!(
            fetches <= 2,
            "{fetches} JWKS fetches by {service}: {status:?}"
        );
    }
}

fn kid(token: &str) -> String {
    segment(token, 0)["kid"].as_str().expect("kid").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_minting_ring_re_mints_at_once_and_costs_the_downstream_one_refetch() {
    let net = start(Signing::Separate).await;
    let (cookies, before) = warm_sessions(&net).await;
    let old_kid = kid(&before[0]);
    let profile_fetches = net.fetches.of("profile");
    let others = ["billing", "orders", "ledger"];
    let other_fetches = net.fetches_of(&others);

    // The ring replaced by a new key alone: the old one is withdrawn (as after a leak), so
    // a token from a stale cache would be refused. The JWKS follows the ring at once; the
    // downstream has not fetched since.
    let new = Key::generate_ed25519().expect("rng");
    net.mint_keys.replace(KeyRing::new(new.clone()));
    assert!(
        net.verifiers
            .profile
            .keys()
            .current()
            .get(new.kid())
            .is_none(),
        "profile has not seen the new key yet"
    );

    // Every session calls profile at the same moment, its cached token still within its
    // life.
    let started = Instant::now();
    let requests = cookies
        .iter()
        .map(|c| ("/call/profile".to_owned(), c.clone()))
        .collect();
    let answers = all_at_once(net.gateway, requests).await;
    let took = started.elapsed();
    for (i, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, StatusCode::OK, "session {i}: {body}");
        let token = body["token"].as_str().expect("the token");
        assert_eq!(kid(token), new.kid(), "re-minted at once with the new key");
        assert_ne!(token, before[i]);
        assert_eq!(body["claims"]["sub"], format!("user-{i}"));
    }
    let refetches = net.fetches.of("profile") - profile_fetches;
    eprintln!(
        "rotation: {SESSIONS} concurrent calls, {refetches} JWKS fetch(es) by profile, {took:?}"
    );
    assert_single_flight("profile", &net.verifiers.profile, refetches);
    assert_eq!(
        net.fetches_of(&others),
        other_fetches,
        "services that saw no new key fetched nothing"
    );

    // Profile's set is the gateway's now: the old key is gone, and with it any token a
    // cache outliving the rotation would have sent.
    let ring = net.verifiers.profile.keys().current();
    assert_eq!(ring.kids().collect::<Vec<_>>(), [new.kid()]);
    let (status, _) = present(net.profile, &before[0]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{old_kid} was withdrawn");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_gateway_node_mints_with_its_own_key_and_no_downstream_refuses_it() {
    let net = start(Signing::Node).await;
    let first = net.node.as_ref().expect("node keys");
    let (cookies, before) = warm_sessions(&net).await;
    assert_eq!(kid(&before[0]), first.kid());
    let (profile_fetches, billing_fetches) = (net.fetches.of("profile"), net.fetches.of("billing"));
    let others = ["orders", "ledger"];
    let other_fetches = net.fetches_of(&others);

    // A second node joins the tier. Its key is published before it signs anything, so the
    // first node's JWKS (the one the downstream services fetch) lists it at once; the
    // downstream services have not fetched since.
    let (second_addr, second) = net.start_gateway_node().await;
    assert_ne!(second.kid(), first.kid());
    assert!(
        fetched_jwks(net.gateway).await.find(second.kid()).is_some(),
        "published before use"
    );
    for jwks in [&net.verifiers.profile, &net.verifiers.billing] {
        assert!(jwks.keys().current().get(second.kid()).is_none());
    }

    // The same sessions, now served by the new node: each calls profile and billing, all
    // at the same moment.
    let requests = cookies
        .iter()
        .flat_map(|c| ["profile", "billing"].map(|service| (format!("/call/{service}"), c.clone())))
        .collect();
    let answers = all_at_once(second_addr, requests).await;
    for (i, (status, body)) in answers.iter().enumerate() {
        let (user, service) = (i / 2, ["profile", "billing"][i % 2]);
        assert_eq!(*status, StatusCode::OK, "user-{user} to {service}: {body}");
        let token = body["token"].as_str().expect("the token");
        assert_eq!(kid(token), second.kid(), "minted with the new node's key");
        assert_eq!(body["claims"]["aud"], service);
        assert_eq!(body["claims"]["sub"], format!("user-{user}"));
    }
    let refetches = (
        net.fetches.of("profile") - profile_fetches,
        net.fetches.of("billing") - billing_fetches,
    );
    eprintln!(
        "new node: {} concurrent calls, JWKS fetches by (profile, billing): {refetches:?}",
        2 * SESSIONS
    );
    assert_single_flight("profile", &net.verifiers.profile, refetches.0);
    assert_single_flight("billing", &net.verifiers.billing, refetches.1);
    assert_eq!(net.fetches_of(&others), other_fetches);

    // The join replaced the first node's ring (a peer key more) around the same node key:
    // its cached tokens stay in use (a re-mint would carry a later `iat`), and stay good
    // downstream.
    for (i, cookie) in cookies.iter().enumerate() {
        let (token, _) = net.token_for("profile", cookie).await;
        assert_eq!(token, before[i], "still cached on the first node");
    }
    drop(second);
}
