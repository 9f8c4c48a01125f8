//! Real Redis processes for the tests (redis-server, redis-sentinel, a cluster), each in its
//! own temporary folder on free loopback ports, killed on drop; and the revocation scenario
//! every connection form must pass.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use http::StatusCode;
use tower_stateless_session::redis::RedisConfig;
use tower_stateless_session::redis::{RedisRevocations, RedisRevocationsBuilder};
use tower_stateless_session::token::SessionId;
use tower_stateless_session::{RejectionKind, SessionHandle, SessionLayer};

use super::{Fixture, User, kind, login_cookie, routes, send};

/// The key prefix every test store uses.
pub const PREFIX: &str = "test";

/// Installs the rustls crypto provider the tests use (the library never picks one).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A fresh folder under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("tss-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port free now (another process may take it before we bind: callers retry).
pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    probe.local_addr().expect("addr").port()
}

/// A redis-server or redis-sentinel process; killed on drop.
pub struct Process {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    conf: String,
    program: &'static str,
}

impl Process {
    /// Starts `program` ("redis-server" or "redis-sentinel") with `conf` (the lines after
    /// `port`, `bind`, `dir`, `pidfile`, which are added here) in `dir`, on `port` or a free
    /// one, and waits until it serves. `{port}` in `conf` stands for the port chosen.
    pub fn start(program: &'static str, dir: &Path, port: Option<u16>, conf: &str) -> Process {
        for _ in 0..5 {
            let chosen = port.unwrap_or_else(free_port);
            if let Some(process) = Self::try_start(program, dir, chosen, conf) {
                return process;
            }
            assert!(port.is_none(), "{program} could not bind port {chosen}");
        }
        panic!("{program} could not bind a free port in five attempts");
    }

    fn try_start(program: &'static str, dir: &Path, port: u16, conf: &str) -> Option<Process> {
        let pidfile = dir.join("redis.pid");
        let _ = std::fs::remove_file(&pidfile);
        let conf = conf
            .replace("{port}", &port.to_string())
            .replace("{bus}", &free_port().to_string());
        // TLS-only servers listen with `tls-port` and no plain port.
        let listen = if conf.contains("tls-port") {
            "port 0".to_owned()
        } else {
            format!("port {port}")
        };
        let text = format!(
            "{listen}\nbind 127.0.0.1\ndir {}\npidfile {}\nlogfile {}\nsave \"\"\nappendonly no\n{conf}\n",
            dir.display(),
            pidfile.display(),
            dir.join("redis.log").display(),
        );
        let conf_path = dir.join(format!("{program}.conf"));
        std::fs::write(&conf_path, text).expect("write the config");
        let child = Command::new(super::external::require(program))
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} starts: {e}"));
        let mut process = Process {
            child,
            port,
            dir: dir.to_owned(),
            conf: conf.clone(),
            program,
        };
        // The pid file is written after the listening sockets are bound, and a server that
        // cannot bind exits: a live child with its pid file serves our port.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if process.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            if pidfile.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(process);
            }
            assert!(Instant::now() < deadline, "{program} did not come up");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the process (as a crash would).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the same program again, on the same port, with the same configuration.
    pub fn restart(&mut self) {
        self.kill();
        let conf = self.conf.clone();
        let fresh = Process::start(self.program, &self.dir, Some(self.port), &conf);
        *self = fresh;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Certificates made for a test by the openssl CLI: a CA, a server certificate for
/// 127.0.0.1 and localhost, and a client certificate, all signed by the CA.
pub struct Certs {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Certs {
    pub fn make(dir: &Path) -> Certs {
        let openssl = super::external::require("openssl");
        let run = |args: &[&str]| {
            let output = Command::new(&openssl)
                .args(args)
                .current_dir(dir)
                .output()
                .expect("openssl runs");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=tss test CA"];
        ca.extend(ec);
        ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
        run(&ca);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write server.ext");
        std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n")
            .expect("write client.ext");
        for name in ["server", "client"] {
            let (key, csr, cert, ext) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
                format!("{name}.ext"),
            );
            let mut req = vec!["req", "-subj", "/CN=localhost"];
            req.extend(ec);
            req.extend(["-keyout", &key, "-out", &csr]);
            run(&req);
            run(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &cert,
            ]);
        }
        Certs {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        }
    }

    /// redis-server lines for a TLS-only server on `{port}`; `clients` is
    /// `tls-auth-clients` (`no`, or `yes` for mutual TLS).
    pub fn server_conf(&self, clients: &str) -> String {
        format!(
            "tls-port {{port}}\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\n\
             tls-auth-clients {clients}\n",
            self.server_cert.display(),
            self.server_key.display(),
            self.ca.display(),
        )
    }

    /// An admin connection over TLS (with the client certificate, which a server that does
    /// not ask for one ignores).
    pub fn admin(&self, port: u16, auth: &str) -> redis::Connection {
        let read = |p: &Path| std::fs::read(p).expect("read a PEM file");
        let certs = redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: read(&self.client_cert),
                client_key: read(&self.client_key),
            }),
            root_cert: Some(read(&self.ca)),
        };
        redis::Client::build_with_tls(format!("rediss://{auth}127.0.0.1:{port}"), certs)
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .expect("TLS admin connection")
    }
}

/// A plain-TCP admin connection to a server.
pub fn admin(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        .expect("admin connection")
}

/// `ZCARD` of the sessions set through `connection`.
pub fn session_count(connection: &mut redis::Connection) -> usize {
    redis::cmd("ZCARD")
        .arg(format!("{{{PREFIX}}}:sessions"))
        .query(connection)
        .expect("ZCARD")
}

/// One node of the application: a layer with its own Redis revocation store.
pub struct Node {
    pub app: Router,
    pub store: RedisRevocations,
}

/// A node on `config`, once it has loaded the revocation set.
pub async fn node(f: &Fixture, config: RedisConfig) -> Node {
    node_with(f, config, |builder| builder).await
}

/// A node on `config` with its store's settings adjusted by `adjust`, once it has loaded
/// the revocation set.
pub async fn node_with(
    f: &Fixture,
    config: RedisConfig,
    adjust: impl FnOnce(RedisRevocationsBuilder) -> RedisRevocationsBuilder,
) -> Node {
    let builder = RedisRevocations::builder(config)
        .with_prefix(PREFIX)
        .with_clock(f.clock.clone());
    let store = adjust(builder)
        .start()
        .expect("a valid configuration, inside a runtime");
    assert!(
        store.wait_loaded(Duration::from_secs(10)).await,
        "the node loads the revocation set ({:?})",
        store.status()
    );
    let layer: SessionLayer<User> = f
        .layer
        .clone()
        .with_revocation(store.clone(), |u: &User| Some(u.sub.as_str()));
    let app = routes()
        .route(
            "/logout-all",
            post(|s: SessionHandle<User>| async move { s.logout_everywhere().map(|()| "gone") }),
        )
        .layer(layer);
    Node { app, store }
}

/// Polls `node` until `cookie` is refused as revoked; returns how long that took. Every
/// answer meanwhile must be a success.
pub async fn until_revoked(node: &Node, cookie: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let response = send(&node.app, "GET", "/me", Some(cookie)).await;
        if response.status() == StatusCode::UNAUTHORIZED {
            assert_eq!(kind(&response), Some(RejectionKind::Revoked));
            return start.elapsed();
        }
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "no failed request meanwhile"
        );
        assert!(
            start.elapsed() < limit,
            "the revocation did not reach the other node within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Serves requests on both nodes until `done` holds (at most `limit`): a valid session must
/// pass and a revoked one stay refused on each, every time. Returns the requests made.
pub async fn serve_while(
    nodes: [&Node; 2],
    alive: &str,
    revoked: &str,
    limit: Duration,
    what: &str,
    done: impl Fn() -> bool,
) -> usize {
    let start = Instant::now();
    let mut requests = 0;
    while !done() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        for node in nodes {
            let response = send(&node.app, "GET", "/me", Some(alive)).await;
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "a valid session keeps working"
            );
            let response = send(&node.app, "GET", "/me", Some(revoked)).await;
            assert_eq!(
                kind(&response),
                Some(RejectionKind::Revoked),
                "the known set holds"
            );
            requests += 2;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    requests
}

/// What every connection form must show, on nodes `a` and `b`, in three steps around an
/// outage or failover the test causes: a session revoked on `a` is refused by `b` within a
/// second ([`Scenario::start`]); during the outage no request fails and the known set holds,
/// and a revocation is made on `a` ([`Scenario::during_outage`]); once Redis is back (or
/// failed over), that revocation reaches `b` within a second of both nodes reconnecting
/// ([`Scenario::after_recovery`]).
pub struct Scenario {
    revoked_before: String,
    revoked_during: String,
    alive: String,
    reconnections: (u64, u64),
    requests: usize,
}

impl Scenario {
    pub async fn start(a: &Node, b: &Node) -> Scenario {
        let revoked_before = login_cookie(&a.app, "ada").await;
        let revoked_during = login_cookie(&a.app, "bob").await;
        let alive = login_cookie(&a.app, "cy").await;
        assert_eq!(
            send(&b.app, "GET", "/me", Some(&revoked_before))
                .await
                .status(),
            StatusCode::OK,
            "the other node accepts the session at first"
        );
        send(&a.app, "POST", "/logout", Some(&revoked_before)).await;
        let took = until_revoked(b, &revoked_before, Duration::from_secs(1)).await;
        println!("revocation reached the other node in {took:?}");
        Scenario {
            revoked_before,
            revoked_during,
            alive,
            reconnections: (
                a.store.status().reconnections(),
                b.store.status().reconnections(),
            ),
            requests: 0,
        }
    }

    /// Call once Redis is broken: serves until both nodes noticed, then revokes on `a`.
    pub async fn during_outage(&mut self, a: &Node, b: &Node) {
        self.requests += serve_while(
            [a, b],
            &self.alive,
            &self.revoked_before,
            Duration::from_secs(15),
            "the nodes to notice the outage",
            || !a.store.is_connected() && !b.store.is_connected(),
        )
        .await;
        send(&a.app, "POST", "/logout", Some(&self.revoked_during)).await;
        assert_eq!(
            kind(&send(&a.app, "GET", "/me", Some(&self.revoked_during)).await),
            Some(RejectionKind::Revoked),
            "enforced locally during the outage"
        );
    }

    /// Call once Redis can be reached again (or the failover is under way).
    pub async fn after_recovery(mut self, a: &Node, b: &Node) {
        self.requests += serve_while(
            [a, b],
            &self.alive,
            &self.revoked_before,
            Duration::from_secs(30),
            "the nodes to reconnect",
            || a.store.is_connected() && b.store.is_connected(),
        )
        .await;
        let took = until_revoked(b, &self.revoked_during, Duration::from_secs(1)).await;
        println!(
            "outage: {} requests answered, none failed; the revocation made during it \
             reached the other node {took:?} after both reconnected",
            self.requests
        );
        let after = (
            a.store.status().reconnections(),
            b.store.status().reconnections(),
        );
        assert!(
            after.0 > self.reconnections.0 && after.1 > self.reconnections.1,
            "both nodes counted a reconnection: {:?} -> {after:?}",
            self.reconnections
        );
    }
}

/// Sends `args` through `connection`, with the reply as text lines (for INFO, CLUSTER NODES)
/// or an empty string when it is not text.
pub fn text(connection: &mut redis::Connection, args: &[&str]) -> String {
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query::<String>(connection).unwrap_or_default()
}

/// How many times the server ran `command` (lower case, `zrange`), from
/// `INFO commandstats`.
pub fn command_calls(connection: &mut redis::Connection, command: &str) -> u64 {
    let stats = text(connection, &["INFO", "commandstats"]);
    let prefix = format!("cmdstat_{command}:calls=");
    stats
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(0)
}

/// Writes `count` revoked sessions (random ids, expiring at `expires_at`) straight into
/// the sessions set, as a store would have; returns their ids.
pub fn fill_sessions(
    connection: &mut redis::Connection,
    count: usize,
    expires_at: u64,
) -> Vec<SessionId> {
    let sids: Vec<SessionId> = (0..count)
        .map(|_| SessionId::random().expect("random"))
        .collect();
    for chunk in sids.chunks(10_000) {
        let members: Vec<(u64, String)> =
            chunk.iter().map(|s| (expires_at, s.to_string())).collect();
        let _: () = redis::cmd("ZADD")
            .arg(format!("{{{PREFIX}}}:sessions"))
            .arg(&members)
            .query(connection)
            .expect("ZADD");
    }
    sids
}

/// Waits up to `limit` for `done`, polling every 5 ms.
pub async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls `done` every 50 ms (blocking), failing after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
