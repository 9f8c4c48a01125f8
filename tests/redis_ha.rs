//! Revocations through Redis high-availability setups started by the tests: Sentinel (one
//! primary, one replica, three sentinels; the primary is killed mid-test), the same over
//! TLS, and a Cluster of three primaries (the node holding the revocation keys is restarted
//! mid-test). Needs redis-server, redis-sentinel, redis-cli and openssl; without them the
//! tests are reported as ignored, except under `CI=true`, where they fail (see
//! `common::external`).

mod common;

use std::time::{Duration, Instant};

use common::redis_ha_setup::{ClusterSetup, SentinelSetup};
use common::redis_setup::*;
use common::*;

fn main() {
    install_crypto_provider();
    let mut trials = external::trials!(["redis-server", "redis-sentinel"] =>
        through_sentinel_the_store_follows_a_failover_to_the_new_primary,
    );
    trials.extend(
        external::trials!(["redis-server", "redis-sentinel", "openssl"] =>
            through_sentinel_over_tls_revocations_reach_the_other_node,
        ),
    );
    trials.extend(external::trials!(["redis-server", "redis-cli"] =>
        through_a_cluster_revocations_survive_the_restart_of_their_node,
    ));
    external::run(trials);
}

async fn through_sentinel_the_store_follows_a_failover_to_the_new_primary() {
    let mut setup = SentinelSetup::start();
    let f = fixture();
    let (a, b) = (
        node(&f, setup.config()).await,
        node(&f, setup.config()).await,
    );
    let mut scenario = Scenario::start(&a, &b).await;
    let old = setup.primary.port;
    let killed = Instant::now();
    setup.primary.kill();
    scenario.during_outage(&a, &b).await;
    scenario.after_recovery(&a, &b).await;
    let new = setup
        .current_primary()
        .expect("the sentinels name a primary");
    assert_eq!(
        new, setup.replica.port,
        "the replica was promoted (old {old})"
    );
    println!(
        "failover: the nodes were back on the new primary {:?} after the old one was killed",
        killed.elapsed()
    );
    assert_eq!(
        session_count(&mut admin(new)),
        2,
        "both revocations are on the new primary"
    );
}

/// Sentinels and data nodes TLS only: `rediss://` sentinel addresses mean TLS to the
/// sentinels and to the primary they name, both checked against the test's CA.
async fn through_sentinel_over_tls_revocations_reach_the_other_node() {
    let setup = SentinelSetup::start_tls();
    let f = fixture();
    let (a, b) = (
        node(&f, setup.config()).await,
        node(&f, setup.config()).await,
    );
    let cookie = login_cookie(&a.app, "ada").await;
    send(&a.app, "POST", "/logout", Some(&cookie)).await;
    let took = until_revoked(&b, &cookie, Duration::from_secs(1)).await;
    println!("over TLS through Sentinel, the revocation reached the other node in {took:?}");
    assert_eq!(
        session_count(&mut setup.admin(setup.primary.port)),
        1,
        "written to the primary"
    );
}

async fn through_a_cluster_revocations_survive_the_restart_of_their_node() {
    let mut setup = ClusterSetup::start();
    let f = fixture();
    let (a, b) = (
        node(&f, setup.config()).await,
        node(&f, setup.config()).await,
    );
    // A RESP2 node subscribes on a connection of its own, to a seed node; a cluster delivers
    // every PUBLISH to every node, so it hears the others' revocations.
    let resp2 = node(&f, setup.config().with_resp3(false)).await;
    assert!(!resp2.store.status().is_resp3() && a.store.status().is_resp3());
    let cookie = login_cookie(&a.app, "dee").await;
    send(&a.app, "POST", "/logout", Some(&cookie)).await;
    until_revoked(&resp2, &cookie, Duration::from_secs(1)).await;

    let mut scenario = Scenario::start(&a, &b).await;
    let owner = setup.owner_of_test_keys();
    setup.nodes[owner].kill();
    scenario.during_outage(&a, &b).await;
    // Back on the same port with its nodes.conf: same identity and slots, no data.
    setup.nodes[owner].restart();
    setup.wait_ok();
    scenario.after_recovery(&a, &b).await;
    let port = setup.nodes[owner].port;
    assert_eq!(
        session_count(&mut admin(port)),
        3,
        "the three revocations are written back to the restarted node"
    );
}
