//! Revocations through a TLS-only redis-server (no plaintext port), with a CA and
//! certificates made by the test with the openssl CLI, an ACL user, and mutual TLS.
//! Needs redis-server and openssl; without them the tests are reported as ignored, except
//! under `CI=true`, where they fail (see `common::external`).

mod common;

use std::time::Duration;

use common::redis_setup::*;
use common::*;
use tower_stateless_session::redis::RedisConfig;
use tower_stateless_session::redis::RedisRevocations;

fn main() {
    install_crypto_provider();
    external::run(external::trials!(["redis-server", "openssl"] =>
        over_tls_with_a_private_ca_and_an_acl_user_revocations_survive_a_restart,
        a_tls_only_server_refuses_plaintext_and_unknown_cas,
        mutual_tls_needs_the_client_certificate,
    ));
}

const ACL: &str = "user default off\nuser app on >app-secret ~{test}:* &{test}:events +@all\n";

struct TlsServer {
    process: Process,
    certs: Certs,
    _dir: TempDir,
}

fn tls_server(clients: &str) -> TlsServer {
    let dir = TempDir::new("redis-tls");
    let certs = Certs::make(dir.path());
    let conf = format!("{}{ACL}", certs.server_conf(clients));
    let process = Process::start("redis-server", dir.path(), None, &conf);
    TlsServer {
        process,
        certs,
        _dir: dir,
    }
}

impl TlsServer {
    fn url(&self, auth: &str) -> String {
        format!("rediss://{auth}127.0.0.1:{}/0", self.process.port)
    }

    /// The app user over TLS, trusting the test's CA.
    fn config(&self) -> RedisConfig {
        RedisConfig::url(&self.url("app:app-secret@")).with_ca_file(&self.certs.ca)
    }
}

/// A store on `config` must never load (the server refuses it), and count its attempts.
async fn refused(config: RedisConfig, why: &str) {
    let store = RedisRevocations::builder(config)
        .with_prefix(PREFIX)
        .start()
        .expect("a valid configuration");
    assert!(
        !store.wait_loaded(Duration::from_millis(700)).await,
        "{why}: the store must not connect"
    );
    assert!(
        store.status().failed_attempts() > 0 && !store.is_connected(),
        "{why}: failed attempts are counted ({:?})",
        store.status()
    );
}

async fn over_tls_with_a_private_ca_and_an_acl_user_revocations_survive_a_restart() {
    let mut redis = tls_server("no");
    let f = fixture();
    let (a, b) = (
        node(&f, redis.config()).await,
        node(&f, redis.config()).await,
    );
    let mut scenario = Scenario::start(&a, &b).await;
    redis.process.kill();
    scenario.during_outage(&a, &b).await;
    redis.process.restart();
    scenario.after_recovery(&a, &b).await;
    let mut admin = redis.certs.admin(redis.process.port, "app:app-secret@");
    assert_eq!(session_count(&mut admin), 2, "both revocations are back");
}

async fn a_tls_only_server_refuses_plaintext_and_unknown_cas() {
    let redis = tls_server("no");
    let missing = RedisConfig::url(&redis.url(""))
        .with_ca_file("/nonexistent/ca.pem")
        .check()
        .expect_err("a CA file that cannot be read is refused at build time")
        .to_string();
    assert!(missing.contains("/nonexistent/ca.pem"), "{missing}");
    let plain = format!("redis://app:app-secret@127.0.0.1:{}/0", redis.process.port);
    refused(RedisConfig::url(&plain), "plaintext to the TLS port").await;
    refused(
        RedisConfig::url(&redis.url("app:app-secret@")),
        "TLS with the system roots, which do not hold the test CA",
    )
    .await;
    refused(
        RedisConfig::url(&redis.url("app:wrong@")).with_ca_file(&redis.certs.ca),
        "the right CA, the wrong password",
    )
    .await;
    // And the right settings connect.
    let f = fixture();
    let a = node(&f, redis.config()).await;
    assert!(a.store.is_connected());
}

async fn mutual_tls_needs_the_client_certificate() {
    let redis = tls_server("yes");
    refused(redis.config(), "no client certificate").await;
    let config = || {
        redis
            .config()
            .with_client_cert_files(&redis.certs.client_cert, &redis.certs.client_key)
    };
    let f = fixture();
    let (a, b) = (node(&f, config()).await, node(&f, config()).await);
    let cookie = login_cookie(&a.app, "ada").await;
    send(&a.app, "POST", "/logout", Some(&cookie)).await;
    let took = until_revoked(&b, &cookie, Duration::from_secs(1)).await;
    println!("over mutual TLS, the revocation reached the other node in {took:?}");
}
