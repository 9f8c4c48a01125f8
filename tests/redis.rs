//! Revocations shared through a real Redis server (Debian package `redis-server`, started by
//! each test on a free loopback port, in its own folder). Two layers stand for two nodes.
//! Without redis-server the tests are reported as ignored, except under `CI=true`, where
//! they fail (see `common::external`). TLS, Sentinel and Cluster have files of their own.

mod common;

use std::time::{Duration, Instant};

use common::redis_setup::*;
use common::*;
use http::StatusCode;
use tower_stateless_session::redis::{RedisConfig, RedisRevocations};
use tower_stateless_session::revocation::{Revocation, RevocationStore};
use tower_stateless_session::time::Clock;
use tower_stateless_session::token::SessionId;

fn main() {
    external::run(external::trials!(["redis-server"] =>
        a_session_revoked_on_one_node_is_refused_by_the_other_within_a_second,
        subject_wide_revocation_reaches_every_node,
        entries_expire_in_redis_and_locally,
        a_redis_outage_fails_no_request_and_loses_no_revocation,
        over_resp2_the_subscriber_has_its_own_connection_and_resubscribes,
        a_server_without_resp3_is_spoken_to_in_resp2,
        a_subscriber_dropped_for_a_full_output_buffer_reconnects_and_reloads,
        a_server_that_stops_answering_is_caught_by_ping,
        an_acl_user_is_accepted_and_a_wrong_password_refused,
        the_database_number_is_used,
        a_reconnection_reads_what_was_missed_and_writes_back_only_what_was_queued,
        a_node_away_longer_than_the_log_keeps_loads_the_whole_set_again,
        a_flood_beyond_the_queue_during_an_outage_is_all_enforced_on_the_other_node,
        a_load_cut_by_a_lost_connection_resumes_where_it_stopped,
        a_paged_load_holds_every_entry_at_least_until_its_expiry,
    ));
}

struct Server {
    process: Process,
    _dir: TempDir,
}

fn server(conf: &str) -> Server {
    let dir = TempDir::new("redis");
    let process = Process::start("redis-server", dir.path(), None, conf);
    Server { process, _dir: dir }
}

impl Server {
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.process.port)
    }

    fn config(&self) -> RedisConfig {
        RedisConfig::url(&self.url())
    }
}

async fn a_session_revoked_on_one_node_is_refused_by_the_other_within_a_second() {
    let redis = server("");
    let f = fixture();
    let (a, b) = (
        node(&f, redis.config()).await,
        node(&f, redis.config()).await,
    );
    assert!(
        a.store.status().is_resp3(),
        "RESP3 where the server speaks it"
    );
    let cookie = login_cookie(&a.app, "ada").await;
    assert_eq!(
        send(&b.app, "GET", "/me", Some(&cookie)).await.status(),
        StatusCode::OK
    );

    send(&a.app, "POST", "/logout", Some(&cookie)).await;
    let took = until_revoked(&b, &cookie, Duration::from_secs(1)).await;
    println!("session revocation reached the other node in {took:?}");
}

async fn subject_wide_revocation_reaches_every_node() {
    let redis = server("");
    let f = fixture();
    let (a, b) = (
        node(&f, redis.config()).await,
        node(&f, redis.config()).await,
    );
    let laptop = login_cookie(&a.app, "ada").await;
    let phone = login_cookie(&b.app, "ada").await;
    let bob = login_cookie(&b.app, "bob").await;

    let response = send(&a.app, "POST", "/logout-all", Some(&laptop)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let took = until_revoked(&b, &phone, Duration::from_secs(1)).await;
    println!("subject revocation reached the other node in {took:?}");
    assert_eq!(
        send(&b.app, "GET", "/me", Some(&bob)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&a.app, "GET", "/me", Some(&phone)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn entries_expire_in_redis_and_locally() {
    let redis = server("");
    let mut admin = admin(redis.process.port);
    let f = fixture();
    let a = node(&f, redis.config()).await;
    let cookie = login_cookie(&a.app, "ada").await;
    send(&a.app, "POST", "/logout", Some(&cookie)).await;
    let deadline = Instant::now() + Duration::from_secs(2);
    while session_count(&mut admin) != 1 {
        assert!(
            Instant::now() < deadline,
            "the revocation was written to Redis"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Past the session's absolute deadline (and the leeway) the entry can match nothing.
    f.clock.set(T0 + ABSOLUTE + LEEWAY + 2);
    let late = node(&f, redis.config()).await;
    assert!(
        late.store.local().is_empty(),
        "a node starting now loads no expired entry"
    );
    assert_eq!(
        session_count(&mut admin),
        0,
        "expired entries are trimmed from Redis"
    );
    a.store
        .local()
        .sweep(tower_stateless_session::time::Clock::now(&f.clock));
    assert!(
        a.store.local().is_empty(),
        "and swept from the local copies"
    );
}

/// Redis stops and comes back empty (no persistence): the nodes keep enforcing what they
/// know, write their entries back, and the revocation made meanwhile reaches the other node.
async fn outage_scenario(config: impl Fn(&Server) -> RedisConfig) {
    let mut redis = server("");
    let f = fixture();
    let (a, b) = (
        node(&f, config(&redis)).await,
        node(&f, config(&redis)).await,
    );
    let mut scenario = Scenario::start(&a, &b).await;
    redis.process.kill();
    scenario.during_outage(&a, &b).await;
    redis.process.restart();
    scenario.after_recovery(&a, &b).await;
    assert_eq!(
        session_count(&mut admin(redis.process.port)),
        2,
        "both revocations are back in Redis"
    );
}

async fn a_redis_outage_fails_no_request_and_loses_no_revocation() {
    outage_scenario(Server::config).await;
}

async fn over_resp2_the_subscriber_has_its_own_connection_and_resubscribes() {
    let redis = server("");
    let f = fixture();
    let resp2 = node(&f, redis.config().with_resp3(false)).await;
    assert!(!resp2.store.status().is_resp3(), "RESP2 when asked for");
    drop(redis);
    outage_scenario(|s| s.config().with_resp3(false)).await;
}

/// A server without `HELLO` (as before Redis 6; here the command is renamed away) cannot
/// speak RESP3: the store notices and falls back to RESP2 by itself.
async fn a_server_without_resp3_is_spoken_to_in_resp2() {
    let redis = server("rename-command HELLO \"\"");
    let f = fixture();
    let (a, b) = (
        node(&f, redis.config()).await,
        node(&f, redis.config()).await,
    );
    assert!(
        !a.store.status().is_resp3() && !b.store.status().is_resp3(),
        "RESP2 after the failed HELLO: {:?}",
        a.store.status()
    );
    let cookie = login_cookie(&a.app, "ada").await;
    send(&a.app, "POST", "/logout", Some(&cookie)).await;
    until_revoked(&b, &cookie, Duration::from_secs(1)).await;
}

/// The server drops a subscriber whose output buffer overflows (here: a 1 MB message on the
/// channel, over a 64 KB limit). The store must take it as a reconnection: reconnect,
/// resubscribe, reload, and go on receiving.
async fn a_subscriber_dropped_for_a_full_output_buffer_reconnects_and_reloads() {
    let redis = server("client-output-buffer-limit pubsub 64kb 64kb 0");
    let f = fixture();
    let mut admin = admin(redis.process.port);
    let listeners = [
        node(&f, redis.config()).await,
        node(&f, redis.config().with_resp3(false)).await,
    ];
    let writer = node(&f, redis.config()).await;
    let big = "x".repeat(1024 * 1024);
    let _: () = redis::cmd("PUBLISH")
        .arg(format!("{{{PREFIX}}}:events"))
        .arg(&big)
        .query(&mut admin)
        .expect("PUBLISH");
    for listener in &listeners {
        let start = Instant::now();
        while listener.store.status().reconnections() == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the dropped subscriber counts as a reconnection ({:?})",
                listener.store.status()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let cookie = login_cookie(&writer.app, "ada").await;
    send(&writer.app, "POST", "/logout", Some(&cookie)).await;
    for listener in &listeners {
        let start = Instant::now();
        while !listener.store.is_connected() {
            assert!(start.elapsed() < Duration::from_secs(5), "it reconnects");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        until_revoked(listener, &cookie, Duration::from_secs(1)).await;
    }
}

/// `CLIENT PAUSE` keeps the connection open but unanswered, as a half-open connection
/// would: the periodic PING notices, and the store reconnects once the server answers.
async fn a_server_that_stops_answering_is_caught_by_ping() {
    let redis = server("");
    let f = fixture();
    let config = redis
        .config()
        .with_ping_interval(Duration::from_millis(200))
        .with_timeouts(Duration::from_millis(300), Duration::from_millis(300));
    let a = node(&f, config).await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("ALL")
        .query(&mut admin(redis.process.port))
        .expect("CLIENT PAUSE");
    let start = Instant::now();
    while a.store.is_connected() {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the unanswered PING ends the connection"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let start = Instant::now();
    while !a.store.is_connected() {
        assert!(start.elapsed() < Duration::from_secs(5), "it reconnects");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(a.store.status().reconnections(), 1);
}

async fn an_acl_user_is_accepted_and_a_wrong_password_refused() {
    // The default user is off: only `app`, limited to the test's keys and channel.
    let redis = server(&format!(
        "user default off\nuser app on >app-secret ~{{{PREFIX}}}:* &{{{PREFIX}}}:events +@all"
    ));
    let url = |auth: &str| format!("redis://{auth}127.0.0.1:{}/0", redis.process.port);
    let f = fixture();
    let a = node(&f, RedisConfig::url(&url("app:app-secret@"))).await;
    let b = node(
        &f,
        RedisConfig::url(&url("")).with_credentials(Some("app"), "app-secret"),
    )
    .await;
    let cookie = login_cookie(&a.app, "ada").await;
    send(&a.app, "POST", "/logout", Some(&cookie)).await;
    until_revoked(&b, &cookie, Duration::from_secs(1)).await;

    for refused in [url("app:wrong@"), url("")] {
        let store = tower_stateless_session::redis::RedisRevocations::builder(refused.as_str())
            .with_prefix(PREFIX)
            .start()
            .expect("a valid configuration");
        assert!(
            !store.wait_loaded(Duration::from_millis(500)).await,
            "refused without the right credentials"
        );
        assert!(
            store.status().failed_attempts() > 0,
            "the refusals are counted: {:?}",
            store.status()
        );
    }
}

/// Count of revoked sessions in database `db`.
fn count_in(redis: &Server, db: i64) -> usize {
    let mut admin = admin(redis.process.port);
    let _: () = redis::cmd("SELECT")
        .arg(db)
        .query(&mut admin)
        .expect("SELECT");
    session_count(&mut admin)
}

async fn the_database_number_is_used() {
    let redis = server("");
    let f = fixture();
    let from_url = RedisConfig::url(&format!("redis://127.0.0.1:{}/5", redis.process.port));
    let set = redis.config().with_database(6);
    for (config, db) in [(from_url, 5), (set, 6)] {
        let a = node(&f, config).await;
        let cookie = login_cookie(&a.app, "ada").await;
        send(&a.app, "POST", "/logout", Some(&cookie)).await;
        let start = Instant::now();
        while count_in(&redis, db) != 1 {
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "the revocation is written to database {db}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert_eq!(count_in(&redis, 0), 0, "nothing in database 0");
}

/// A reader node that can be cut off from Redis while the writer stays connected: it logs
/// in as its own ACL user, which the test turns off (and its connections killed) and back
/// on.
struct Away {
    redis: Server,
    writer: Node,
    reader: Node,
}

impl Away {
    async fn start(f: &Fixture) -> Away {
        let redis = server("user reader on >reader-secret ~* &* +@all");
        let writer = node(f, redis.config()).await;
        let url = format!(
            "redis://reader:reader-secret@127.0.0.1:{}/0",
            redis.process.port
        );
        let reader = node(f, RedisConfig::url(&url)).await;
        Away {
            redis,
            writer,
            reader,
        }
    }

    fn admin(&self) -> redis::Connection {
        admin(self.redis.process.port)
    }

    async fn cut_off(&self) {
        let mut admin = self.admin();
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg("reader")
            .arg("off")
            .query(&mut admin)
            .expect("ACL SETUSER off");
        let _: u64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("USER")
            .arg("reader")
            .query(&mut admin)
            .expect("CLIENT KILL USER");
        until("the reader to notice", Duration::from_secs(5), || {
            !self.reader.store.is_connected()
        })
        .await;
    }

    async fn back(&self) {
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg("reader")
            .arg("on")
            .query(&mut self.admin())
            .expect("ACL SETUSER on");
        until("the reader to reconnect", Duration::from_secs(10), || {
            self.reader.store.is_connected()
        })
        .await;
    }
}

/// Revokes `count` random sessions through `store`, expiring an hour from the fixture's now.
fn revoke_many(f: &Fixture, store: &RedisRevocations, count: usize) -> Vec<SessionId> {
    let now = f.clock.now();
    (0..count)
        .map(|_| {
            let sid = SessionId::random().expect("random");
            store.revoke(
                Revocation::Session {
                    sid,
                    expires_at: now + 3600,
                },
                now,
            );
            sid
        })
        .collect()
}

fn all_revoked(f: &Fixture, store: &RedisRevocations, sids: &[SessionId]) -> bool {
    let now = f.clock.now();
    sids.iter().all(|sid| store.is_revoked(sid, None, 0, now))
}

/// A node that comes back reads the revocation log from where it stopped: it enforces what
/// the others revoked meanwhile without loading the sets again, and it writes back the
/// revocations it queued, not its whole set (the sets were emptied while it was away, and
/// hold only the new entries afterwards).
async fn a_reconnection_reads_what_was_missed_and_writes_back_only_what_was_queued() {
    let f = fixture();
    let away = Away::start(&f).await;
    let mut admin = away.admin();
    let before = revoke_many(&f, &away.writer.store, 1_000);
    until(
        "the reader to learn the first 1000",
        Duration::from_secs(5),
        || all_revoked(&f, &away.reader.store, &before),
    )
    .await;

    away.cut_off().await;
    let _: () = redis::cmd("DEL")
        .arg(format!("{{{PREFIX}}}:sessions"))
        .query(&mut admin)
        .expect("DEL");
    let missed = revoke_many(&f, &away.writer.store, 300);
    let queued = revoke_many(&f, &away.reader.store, 50);
    assert_eq!(away.reader.store.queued(), 50, "queued while away");
    assert!(
        all_revoked(&f, &away.reader.store, &queued),
        "enforced at once"
    );
    let loads = command_calls(&mut admin, "zrange");

    away.back().await;
    until("the reader to catch up", Duration::from_secs(2), || {
        all_revoked(&f, &away.reader.store, &missed)
    })
    .await;
    until(
        "the writer to learn the reader's",
        Duration::from_secs(2),
        || all_revoked(&f, &away.writer.store, &queued),
    )
    .await;
    assert_eq!(away.reader.store.queued(), 0, "the queue is written");
    assert_eq!(
        command_calls(&mut admin, "zrange"),
        loads,
        "no page of the sets was read: the reader caught up from the log"
    );
    assert_eq!(
        session_count(&mut admin),
        350,
        "the sets hold the 300 made meanwhile and the 50 queued, not the reader's whole set"
    );
}

/// The log no longer holds the position of a node that comes back (trimmed while it was
/// away): it loads the sets again, and writes nothing back.
async fn a_node_away_longer_than_the_log_keeps_loads_the_whole_set_again() {
    let f = fixture();
    let away = Away::start(&f).await;
    let mut admin = away.admin();
    let before = revoke_many(&f, &away.writer.store, 200);
    until(
        "the reader to learn the first 200",
        Duration::from_secs(5),
        || all_revoked(&f, &away.reader.store, &before),
    )
    .await;

    away.cut_off().await;
    let missed = revoke_many(&f, &away.writer.store, 100);
    until("the writer to write them", Duration::from_secs(5), || {
        away.writer.store.queued() == 0
    })
    .await;
    // Everything but the newest entry goes, the reader's position with it.
    let newest: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
        .arg(format!("{{{PREFIX}}}:log"))
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query(&mut admin)
        .expect("XREVRANGE");
    let _: u64 = redis::cmd("XTRIM")
        .arg(format!("{{{PREFIX}}}:log"))
        .arg("MINID")
        .arg(&newest[0].0)
        .query(&mut admin)
        .expect("XTRIM");
    let loads = command_calls(&mut admin, "zrange");
    let writes = command_calls(&mut admin, "zadd");

    away.back().await;
    assert!(
        all_revoked(&f, &away.reader.store, &missed),
        "the load is over when the reader counts as connected"
    );
    assert!(
        command_calls(&mut admin, "zrange") > loads,
        "the sets were read again"
    );
    assert_eq!(
        command_calls(&mut admin, "zadd"),
        writes,
        "nothing written back"
    );
}

/// More revocations during an outage than a node's queue holds (10 here): each is enforced
/// on that node at once; once Redis is back the node writes its whole set back and the
/// other node, told through the log, reads the sets again and enforces every one.
async fn a_flood_beyond_the_queue_during_an_outage_is_all_enforced_on_the_other_node() {
    let redis = server("");
    let mut admin = admin(redis.process.port);
    let f = fixture();
    let config = redis
        .config()
        .with_ping_interval(Duration::from_millis(200))
        .with_timeouts(Duration::from_millis(300), Duration::from_millis(300));
    let a = node_with(&f, config.clone(), |b| b.with_max_queued(10)).await;
    let b = node(&f, config).await;
    // The server stops answering (its data kept) for three seconds.
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(3000)
        .arg("ALL")
        .query(&mut admin)
        .expect("CLIENT PAUSE");
    until("both nodes to notice", Duration::from_secs(3), || {
        !a.store.is_connected() && !b.store.is_connected()
    })
    .await;
    let flood = revoke_many(&f, &a.store, 200);
    assert_eq!(a.store.queued(), 10, "the queue is bounded");
    assert!(all_revoked(&f, &a.store, &flood), "enforced on its node");

    until(
        "the other node to enforce the flood",
        Duration::from_secs(15),
        || all_revoked(&f, &b.store, &flood),
    )
    .await;
    assert_eq!(session_count(&mut admin), 200, "every one is in Redis");
}

/// A node starts on a set of 200 000 entries: it serves meanwhile, its status and health
/// give the progress; the connection is killed half-way; the load goes on from the page it
/// had reached (few pages are read twice) and ends with every entry.
async fn a_load_cut_by_a_lost_connection_resumes_where_it_stopped() {
    let redis = server("");
    let mut admin = admin(redis.process.port);
    let f = fixture();
    let count = 200_000;
    let sids = fill_sessions(&mut admin, count, f.clock.now() + 3600);
    let store = RedisRevocations::builder(redis.config())
        .with_prefix(PREFIX)
        .with_clock(f.clock.clone())
        .start()
        .expect("a valid configuration");
    let start = Instant::now();
    let progress = loop {
        match store.status().loading() {
            Some((loaded, expected)) if loaded >= 50_000 => break (loaded, expected),
            _ => {}
        }
        assert!(
            !store.is_connected() && start.elapsed() < Duration::from_secs(60),
            "the load is seen under way ({:?})",
            store.status()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    assert_eq!(progress.1, count as u64, "about how many: the set's size");
    let health = store.health();
    assert!(
        health
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("loading") && r.contains(&format!("of about {count}"))),
        "health gives the progress: {health:?}"
    );
    assert!(
        store.is_revoked(&sids[0], None, 0, f.clock.now()) || store.local().len() < count,
        "served from what is loaded meanwhile"
    );
    // Subscribed over RESP3, the store's connection counts as a pub/sub client.
    let killed: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut admin)
        .expect("CLIENT KILL");
    assert_eq!(killed, 1, "the store's connection");
    assert!(
        store.wait_loaded(Duration::from_secs(60)).await,
        "the load ends ({:?})",
        store.status()
    );
    assert_eq!(
        store.status().reconnections(),
        1,
        "the connection was cut once"
    );
    assert_eq!(store.local().len(), count, "every entry is loaded");
    assert!(all_revoked(&f, &store, &sids));
    // One ZRANK per page: 20 full pages and an empty one for the sessions, one for the
    // subjects; the page in flight when the connection broke may be read again. Starting
    // over would add every page read before (at least five).
    let pages = command_calls(&mut admin, "zrank");
    assert!(
        (22..=24).contains(&pages),
        "{pages} pages read: the load resumed"
    );
}

/// A node loads 25 000 sessions expiring within the same 50 minutes (their pages are read
/// without scores, each entry held until its page's last expiry), 25 000 spread over two
/// days (read with their scores), and subjects: each entry is held at least until its own
/// expiry and at most an hour past it, the widely spread ones exactly.
async fn a_paged_load_holds_every_entry_at_least_until_its_expiry() {
    let redis = server("");
    let mut admin = admin(redis.process.port);
    let f = fixture();
    let now = f.clock.now();
    let mut written = std::collections::HashMap::new();
    for n in 0..50_000u64 {
        let expires_at = if n < 25_000 {
            now + 600 + n % 3_000
        } else {
            now + 7_200 + (n - 25_000) * 6
        };
        written.insert(SessionId::random().expect("random"), expires_at);
    }
    let members: Vec<(u64, String)> = written.iter().map(|(s, e)| (*e, s.to_string())).collect();
    for chunk in members.chunks(10_000) {
        let _: () = redis::cmd("ZADD")
            .arg(format!("{{{PREFIX}}}:sessions"))
            .arg(chunk)
            .query(&mut admin)
            .expect("ZADD");
    }
    let subjects: Vec<(u64, String)> = (0..100)
        .map(|n| (now + 3_600 + n, format!("{}:user {n}", now - n)))
        .collect();
    let _: () = redis::cmd("ZADD")
        .arg(format!("{{{PREFIX}}}:subjects"))
        .arg(&subjects)
        .query(&mut admin)
        .expect("ZADD");

    let a = node(&f, redis.config()).await;
    let held = a.store.local().entries(now);
    assert_eq!(held.len(), 50_100, "every entry is loaded");
    let mut exact = 0;
    for entry in held {
        match entry {
            Revocation::Session { sid, expires_at } => {
                let own = written[&sid];
                assert!(
                    (own..=own + 3_600).contains(&expires_at),
                    "{sid}: held until {expires_at}, expires at {own}"
                );
                exact += usize::from(expires_at == own);
            }
            Revocation::Subject {
                subject,
                before,
                expires_at,
            } => {
                let n: u64 = subject["user ".len()..].parse().expect("ours");
                let own = now + 3_600 + n;
                assert_eq!(before, now - n, "{subject}");
                assert!((own..=own + 3_600).contains(&expires_at), "{subject}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(exact >= 25_000, "the widely spread ones are exact: {exact}");
    assert!(a.store.is_revoked(
        &SessionId::random().expect("random"),
        Some("user 7"),
        now - 8,
        now
    ));
}
