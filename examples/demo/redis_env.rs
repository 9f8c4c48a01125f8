//! Where the demo keeps revocations: Redis, configured from the environment, or this
//! process's memory.
//!
//! - `REDIS_URL`: one server, `redis://[user:password@]host:port[/db]` or `rediss://...`;
//! - `REDIS_SENTINELS` (`host:port,host:port`) with `REDIS_SENTINEL_MASTER` (the name the
//!   sentinels know the primary by);
//! - `REDIS_CLUSTER_NODES` (`redis://host:port,redis://host:port`, seeds of a Cluster);
//! - `REDIS_CA_FILE`: PEM file of the CA that signed the servers' certificates (TLS only).
//!
//! At most one of `REDIS_URL`, `REDIS_SENTINELS`, `REDIS_CLUSTER_NODES` may be set.
//!
//! Redis needs the `redis` feature; a build without it has no Redis settings, and
//! `features.rs` refuses these variables at startup. Node keys (the key registry) need the
//! `node-keys` feature too.

use std::sync::Arc;

#[cfg(feature = "node-keys")]
use tower_stateless_session::keys::registry::{KeyRegistry, MemoryKeyRegistry};
use tower_stateless_session::revocation::{MemoryRevocations, RevocationStore};

/// The Redis settings read from the environment.
#[cfg(feature = "redis")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedisEnv {
    pub(crate) form: RedisForm,
    pub(crate) ca_file: Option<String>,
}

/// Which of the three forms.
#[cfg(feature = "redis")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RedisForm {
    Url(String),
    Sentinel {
        sentinels: Vec<String>,
        master: String,
    },
    Cluster(Vec<String>),
}

#[cfg(feature = "redis")]
impl RedisEnv {
    /// Reads the variables through `lookup` (a variable's value, `None` when unset, or an
    /// error when unreadable); `None` when no Redis is configured.
    pub(crate) fn from_lookup(
        mut lookup: impl FnMut(&str) -> Result<Option<String>, String>,
    ) -> Result<Option<RedisEnv>, String> {
        let mut read = |name: &str| -> Result<Option<String>, String> {
            Ok(lookup(name)?
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()))
        };
        let url = read("REDIS_URL")?;
        let sentinels = read("REDIS_SENTINELS")?;
        let master = read("REDIS_SENTINEL_MASTER")?;
        let cluster = read("REDIS_CLUSTER_NODES")?;
        let ca_file = read("REDIS_CA_FILE")?;
        let set: Vec<&str> = [
            ("REDIS_URL", url.is_some()),
            ("REDIS_SENTINELS", sentinels.is_some()),
            ("REDIS_CLUSTER_NODES", cluster.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, is_set)| is_set.then_some(name))
        .collect();
        if set.len() > 1 {
            return Err(format!(
                "{} are set together: choose one way to reach Redis",
                set.join(" and ")
            ));
        }
        let list = |raw: &str| -> Vec<String> {
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let form = match (url, sentinels, cluster) {
            (Some(url), None, None) => RedisForm::Url(url),
            (None, Some(sentinels), None) => RedisForm::Sentinel {
                sentinels: list(&sentinels),
                master: master.clone().ok_or(
                    "REDIS_SENTINELS is set without REDIS_SENTINEL_MASTER (the master name)",
                )?,
            },
            (None, None, Some(nodes)) => RedisForm::Cluster(list(&nodes)),
            _ => {
                if ca_file.is_some() || master.is_some() {
                    return Err(
                        "REDIS_CA_FILE or REDIS_SENTINEL_MASTER is set, but none of \
                                REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES"
                            .to_owned(),
                    );
                }
                return Ok(None);
            }
        };
        if master.is_some() && !matches!(form, RedisForm::Sentinel { .. }) {
            return Err("REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS".to_owned());
        }
        Ok(Some(RedisEnv { form, ca_file }))
    }

    fn config(&self) -> tower_stateless_session::redis::RedisConfig {
        use tower_stateless_session::redis::RedisConfig;
        let config = match &self.form {
            RedisForm::Url(url) => RedisConfig::url(url),
            RedisForm::Sentinel { sentinels, master } => {
                RedisConfig::sentinel(sentinels.iter().cloned(), master)
            }
            RedisForm::Cluster(nodes) => RedisConfig::cluster(nodes.iter().cloned()),
        };
        match &self.ca_file {
            Some(path) => config.with_ca_file(path),
            None => config,
        }
    }
}

/// The Redis settings through `lookup`; `None` when there are none.
#[cfg(feature = "redis")]
fn settings(
    lookup: impl FnMut(&str) -> Result<Option<String>, String>,
) -> Result<Option<RedisEnv>, String> {
    RedisEnv::from_lookup(lookup)
}

/// What stands for Redis settings in a build without the `redis` feature: nothing can.
#[cfg(not(feature = "redis"))]
enum NoRedis {}

/// Without the `redis` feature there are no Redis settings: a Redis variable that is set is
/// refused, naming the feature.
#[cfg(not(feature = "redis"))]
fn settings(
    lookup: impl FnMut(&str) -> Result<Option<String>, String>,
) -> Result<Option<NoRedis>, String> {
    super::features::check(lookup).map(|()| None)
}

/// The revocation store: Redis when configured, this process's memory otherwise.
pub(crate) async fn revocation_store(
    lookup: impl FnMut(&str) -> Result<Option<String>, String>,
) -> Result<Arc<dyn RevocationStore>, String> {
    let Some(env) = settings(lookup)? else {
        eprintln!(
            "revocations are kept in this process (set REDIS_URL, REDIS_SENTINELS or \
             REDIS_CLUSTER_NODES to share them)"
        );
        return Ok(Arc::new(MemoryRevocations::new()));
    };
    redis_store(&env).await
}

#[cfg(feature = "redis")]
async fn redis_store(env: &RedisEnv) -> Result<Arc<dyn RevocationStore>, String> {
    // The library leaves the choice of rustls crypto provider to the application.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = tower_stateless_session::redis::RedisRevocations::builder(env.config())
        .with_prefix("demo:revocations")
        .start()
        .map_err(|e| format!("Redis configuration: {e}"))?;
    if store.wait_loaded(std::time::Duration::from_secs(3)).await {
        eprintln!("revocations are shared through Redis ({store:?})");
    } else if let Some((read, total)) = store.status().loading() {
        eprintln!(
            "revocations: loading from Redis ({read} of about {total} entries so far); \
             serving with what is loaded, the rest follows in the background"
        );
    } else {
        eprintln!(
            "warning: Redis is not reachable yet; serving with an empty revocation set and \
             retrying in the background"
        );
    }
    Ok(Arc::new(store))
}

#[cfg(not(feature = "redis"))]
async fn redis_store(env: &NoRedis) -> Result<Arc<dyn RevocationStore>, String> {
    match *env {}
}

/// Where node keys are published: Redis when configured (shared with the other
/// instances), this process's memory otherwise.
#[cfg(feature = "node-keys")]
pub(crate) async fn key_registry(
    lookup: impl FnMut(&str) -> Result<Option<String>, String>,
) -> Result<Arc<dyn KeyRegistry>, String> {
    let Some(env) = settings(lookup)? else {
        eprintln!(
            "the node key is published in this process only (set REDIS_URL, REDIS_SENTINELS \
             or REDIS_CLUSTER_NODES to share it with other instances)"
        );
        return Ok(Arc::new(MemoryKeyRegistry::new()));
    };
    redis_registry(&env).await
}

#[cfg(all(feature = "redis", feature = "node-keys"))]
async fn redis_registry(env: &RedisEnv) -> Result<Arc<dyn KeyRegistry>, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = tower_stateless_session::redis::RedisKeyRegistry::builder(env.config())
        .with_prefix("demo:keys")
        .start()
        .map_err(|e| format!("Redis configuration: {e}"))?;
    if registry
        .wait_loaded(std::time::Duration::from_secs(3))
        .await
    {
        eprintln!("node keys are shared through Redis ({registry:?})");
    } else {
        eprintln!(
            "warning: Redis is not reachable yet; the node key will be published (and used) \
             once it is"
        );
    }
    Ok(Arc::new(registry))
}

#[cfg(all(not(feature = "redis"), feature = "node-keys"))]
async fn redis_registry(env: &NoRedis) -> Result<Arc<dyn KeyRegistry>, String> {
    match *env {}
}

#[cfg(all(test, feature = "redis"))]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<RedisEnv>, String> {
        RedisEnv::from_lookup(|name| {
            Ok(vars
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned()))
        })
    }

    #[test]
    fn each_form_is_read() {
        assert_eq!(read(&[]), Ok(None));
        assert_eq!(
            read(&[
                ("REDIS_URL", "rediss://u:p@h:1/0"),
                ("REDIS_CA_FILE", "/ca.pem")
            ]),
            Ok(Some(RedisEnv {
                form: RedisForm::Url("rediss://u:p@h:1/0".into()),
                ca_file: Some("/ca.pem".into()),
            }))
        );
        assert_eq!(
            read(&[
                ("REDIS_SENTINELS", "a:1, b:2"),
                ("REDIS_SENTINEL_MASTER", "m")
            ]),
            Ok(Some(RedisEnv {
                form: RedisForm::Sentinel {
                    sentinels: vec!["a:1".into(), "b:2".into()],
                    master: "m".into()
                },
                ca_file: None,
            }))
        );
        assert_eq!(
            read(&[("REDIS_CLUSTER_NODES", "redis://a:1,redis://b:2")]),
            Ok(Some(RedisEnv {
                form: RedisForm::Cluster(vec!["redis://a:1".into(), "redis://b:2".into()]),
                ca_file: None,
            }))
        );
    }

    #[test]
    fn two_forms_or_a_half_form_is_a_startup_error() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (
                &[
                    ("REDIS_URL", "redis://h"),
                    ("REDIS_CLUSTER_NODES", "redis://a:1"),
                ],
                "REDIS_URL and REDIS_CLUSTER_NODES are set together",
            ),
            (
                &[("REDIS_URL", "redis://h"), ("REDIS_SENTINELS", "a:1")],
                "REDIS_URL and REDIS_SENTINELS",
            ),
            (
                &[("REDIS_SENTINELS", "a:1")],
                "without REDIS_SENTINEL_MASTER",
            ),
            (
                &[("REDIS_URL", "redis://h"), ("REDIS_SENTINEL_MASTER", "m")],
                "without REDIS_SENTINELS",
            ),
            (&[("REDIS_CA_FILE", "/ca.pem")], "none of"),
        ];
        for (vars, expected) in cases {
            let error = read(vars).expect_err("refused");
            assert!(error.contains(expected), "{vars:?}: {error}");
        }
    }
}
