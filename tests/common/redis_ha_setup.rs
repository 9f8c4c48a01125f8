//! Redis high-availability setups for the tests: Sentinel (primary, replica, three
//! sentinels) and a three-primary Cluster, each process in its own folder on free ports.

use std::process::{Command, Stdio};
use std::time::Duration;

use tower_stateless_session::redis::RedisConfig;

use super::redis_setup::{Certs, PREFIX, Process, TempDir, admin, text, wait_for};

/// The name the sentinels know the primary by.
pub const MASTER: &str = "tss";

/// One primary, one replica, three sentinels (quorum 2, primary down after 1 s); plain TCP,
/// or TLS only (every process, replication and the sentinels' links included).
pub struct SentinelSetup {
    pub primary: Process,
    pub replica: Process,
    pub sentinels: Vec<Process>,
    pub tls: Option<Certs>,
    _dirs: Vec<TempDir>,
}

impl SentinelSetup {
    pub fn start() -> SentinelSetup {
        Self::start_with(None)
    }

    /// Every process TLS only, with certificates made for the test.
    pub fn start_tls() -> SentinelSetup {
        let dir = TempDir::new("sentinel-certs");
        let certs = Certs::make(dir.path());
        Self::start_with(Some((dir, certs)))
    }

    fn start_with(tls: Option<(TempDir, Certs)>) -> SentinelSetup {
        let mut dirs: Vec<TempDir> = (0..5).map(|_| TempDir::new("sentinel")).collect();
        let (tls_conf, certs) = match tls {
            Some((dir, certs)) => {
                dirs.push(dir);
                (
                    format!("{}tls-replication yes\n", certs.server_conf("no")),
                    Some(certs),
                )
            }
            None => (String::new(), None),
        };
        let primary = Process::start("redis-server", dirs[0].path(), None, &tls_conf);
        let replica = Process::start(
            "redis-server",
            dirs[1].path(),
            None,
            &format!("{tls_conf}replicaof 127.0.0.1 {}", primary.port),
        );
        let conf = format!(
            "{tls_conf}sentinel monitor {MASTER} 127.0.0.1 {} 2\n\
             sentinel down-after-milliseconds {MASTER} 1000\n\
             sentinel failover-timeout {MASTER} 5000\n",
            primary.port
        );
        let sentinels = dirs[2..5]
            .iter()
            .map(|dir| Process::start("redis-sentinel", dir.path(), None, &conf))
            .collect::<Vec<_>>();
        let setup = SentinelSetup {
            primary,
            replica,
            sentinels,
            tls: certs,
            _dirs: dirs,
        };
        // A failover needs every sentinel to know the replica and the two other sentinels.
        for sentinel in &setup.sentinels {
            let mut connection = setup.admin(sentinel.port);
            wait_for(
                "the sentinels to see each other and the replica",
                Duration::from_secs(20),
                || {
                    let fields: Vec<String> = redis::cmd("SENTINEL")
                        .arg("MASTER")
                        .arg(MASTER)
                        .query(&mut connection)
                        .unwrap_or_default();
                    let field = |name: &str| {
                        fields
                            .chunks(2)
                            .find(|pair| pair[0] == name)
                            .map(|pair| pair[1].clone())
                            .unwrap_or_default()
                    };
                    field("num-slaves") == "1" && field("num-other-sentinels") == "2"
                },
            );
        }
        let mut replica = setup.admin(setup.replica.port);
        wait_for("the replica to sync", Duration::from_secs(10), || {
            text(&mut replica, &["INFO", "replication"]).contains("master_link_status:up")
        });
        setup
    }

    /// An admin connection, over TLS for a TLS setup.
    pub fn admin(&self, port: u16) -> redis::Connection {
        match &self.tls {
            Some(certs) => certs.admin(port, ""),
            None => admin(port),
        }
    }

    pub fn config(&self) -> RedisConfig {
        match &self.tls {
            None => RedisConfig::sentinel(
                self.sentinels
                    .iter()
                    .map(|s| format!("127.0.0.1:{}", s.port)),
                MASTER,
            ),
            Some(certs) => RedisConfig::sentinel(
                self.sentinels
                    .iter()
                    .map(|s| format!("rediss://127.0.0.1:{}", s.port)),
                MASTER,
            )
            .with_ca_file(&certs.ca),
        }
    }

    /// The port of the primary the sentinels name now.
    pub fn current_primary(&self) -> Option<u16> {
        let mut connection = self.admin(self.sentinels[0].port);
        let (_, port): (String, u16) = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(MASTER)
            .query(&mut connection)
            .ok()?;
        Some(port)
    }
}

/// A cluster of three primaries (no replicas), slots spread by `redis-cli --cluster create`.
pub struct ClusterSetup {
    pub nodes: Vec<Process>,
    _dirs: Vec<TempDir>,
}

impl ClusterSetup {
    pub fn start() -> ClusterSetup {
        let dirs: Vec<TempDir> = (0..3).map(|_| TempDir::new("cluster")).collect();
        let conf = "cluster-enabled yes\ncluster-config-file nodes.conf\n\
                    cluster-node-timeout 1000\ncluster-port {bus}\n";
        let nodes: Vec<Process> = dirs
            .iter()
            .map(|dir| Process::start("redis-server", dir.path(), None, conf))
            .collect();
        let mut create = Command::new(super::external::require("redis-cli"));
        create.args(["--cluster", "create"]);
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let output = create
            .args(["--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs");
        assert!(
            output.status.success(),
            "redis-cli --cluster create: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let setup = ClusterSetup { nodes, _dirs: dirs };
        setup.wait_ok();
        setup
    }

    /// Waits until every node reports `cluster_state:ok`.
    pub fn wait_ok(&self) {
        for node in &self.nodes {
            let mut connection = admin(node.port);
            wait_for("the cluster to be ok", Duration::from_secs(20), || {
                text(&mut connection, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
            });
        }
    }

    pub fn config(&self) -> RedisConfig {
        RedisConfig::cluster(
            self.nodes
                .iter()
                .map(|n| format!("redis://127.0.0.1:{}", n.port)),
        )
    }

    /// The index (in `nodes`) of the node serving the slot of the test's revocation keys.
    pub fn owner_of_test_keys(&self) -> usize {
        let mut connection = admin(self.nodes[0].port);
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(format!("{{{PREFIX}}}:sessions"))
            .query(&mut connection)
            .expect("CLUSTER KEYSLOT");
        let nodes = text(&mut connection, &["CLUSTER", "NODES"]);
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(port) = fields
                .get(1)
                .and_then(|a| a.split('@').next())
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| p.parse::<u16>().ok())
            else {
                continue;
            };
            let serves = fields.iter().skip(8).any(|range| {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                match (lo.parse::<u16>(), hi.parse::<u16>()) {
                    (Ok(lo), Ok(hi)) => (lo..=hi).contains(&slot),
                    _ => false,
                }
            });
            if serves {
                return self
                    .nodes
                    .iter()
                    .position(|n| n.port == port)
                    .expect("the owner is one of ours");
            }
        }
        panic!("no node serves slot {slot}:\n{nodes}");
    }
}
