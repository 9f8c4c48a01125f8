//! [`Target`]: a [`RedisConfig`] checked and turned into what connections are made from
//! (redis-rs clients, the Sentinel client, the cluster seeds).

use std::fmt;
use std::time::Duration;

use ::redis::cluster::{ClusterClient, ClusterClientBuilder};
use ::redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use ::redis::{
    Client, ClientTlsConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, ProtocolVersion,
    TlsCertificates, TlsMode,
};

use super::RedisError;
use super::config::{Form, RedisConfig, redact};

impl Target {
    /// Every check of `config`, and what a connection needs, prepared once.
    pub(crate) fn build(config: &RedisConfig) -> Result<Target, RedisError> {
        config.build()
    }
}

impl RedisConfig {
    fn build(&self) -> Result<Target, RedisError> {
        if self.ping_every.is_zero()
            || self.connect_timeout.is_zero()
            || self.response_timeout.is_zero()
        {
            return Err(RedisError::Invalid(
                "the ping interval and timeouts must not be zero".into(),
            ));
        }
        let protocol = if self.resp3 {
            ProtocolVersion::RESP3
        } else {
            ProtocolVersion::RESP2
        };
        let kind = match &self.form {
            Form::Url(url) => TargetKind::Single(self.single(url, protocol)?),
            Form::Sentinel { sentinels, master } => {
                TargetKind::Sentinel(self.sentinels(sentinels, master, protocol)?)
            }
            Form::Cluster(nodes) => {
                let (nodes, certs) = self.cluster_nodes(nodes)?;
                let target = ClusterTarget {
                    nodes,
                    certs,
                    credentials: self.credentials.clone(),
                };
                // Let the client check what it checks (same TLS mode, user and database for
                // every seed) now rather than at the first connection.
                target.client(protocol, None, self.connect_timeout, self.response_timeout)?;
                TargetKind::Cluster(target)
            }
        };
        Ok(Target {
            kind,
            protocol,
            ping_every: self.ping_every,
            connect_timeout: self.connect_timeout,
            response_timeout: self.response_timeout,
            description: self.describe(),
        })
    }

    fn certificates(&self) -> Result<Option<TlsCertificates>, RedisError> {
        let root_cert = self
            .ca
            .as_ref()
            .map(|pem| pem.read("CA file"))
            .transpose()?;
        let client_tls = match &self.client_cert {
            Some((cert, key)) => Some(ClientTlsConfig {
                client_cert: cert.read("client certificate")?,
                client_key: key.read("client key")?,
            }),
            None => None,
        };
        if root_cert.is_none() && client_tls.is_none() {
            return Ok(None);
        }
        Ok(Some(TlsCertificates {
            client_tls,
            root_cert,
        }))
    }

    /// Errors unless a TLS setting comes with TLS, and TLS with a crypto provider.
    fn check_tls(&self, tls: bool) -> Result<(), RedisError> {
        if !tls && (self.ca.is_some() || self.client_cert.is_some()) {
            return Err(RedisError::Invalid(
                "a CA file or client certificate needs TLS (rediss://)".into(),
            ));
        }
        if tls && ::rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(RedisError::NoCryptoProvider);
        }
        Ok(())
    }

    fn single(&self, url: &str, protocol: ProtocolVersion) -> Result<Client, RedisError> {
        let info = parse_url(url)?;
        let tls = match info.addr() {
            ConnectionAddr::Tcp(..) => false,
            ConnectionAddr::TcpTls { .. } => true,
            _ => {
                return Err(invalid_url(
                    url,
                    "only redis:// and rediss:// are supported",
                ));
            }
        };
        self.check_tls(tls)?;
        let info = self.settle(info, protocol);
        let client = match self.certificates()? {
            Some(certs) => Client::build_with_tls(info, certs),
            None => Client::open(info),
        };
        client.map_err(|e| RedisError::Invalid(format!("{}: {e}", redact(url))))
    }

    /// Applies the configured credentials, database and protocol to a parsed URL.
    fn settle(&self, info: ConnectionInfo, protocol: ProtocolVersion) -> ConnectionInfo {
        let mut redis = info.redis_settings().clone().set_protocol(protocol);
        if let Some((user, password)) = &self.credentials {
            redis = redis.set_password(password);
            if let Some(user) = user {
                redis = redis.set_username(user);
            }
        }
        if let Some(db) = self.database {
            redis = redis.set_db(db);
        }
        info.set_redis_settings(redis)
    }

    fn sentinels(
        &self,
        sentinels: &[String],
        master: &str,
        protocol: ProtocolVersion,
    ) -> Result<SentinelTarget, RedisError> {
        if sentinels.is_empty() {
            return Err(RedisError::Invalid("no sentinel address given".into()));
        }
        if master.trim().is_empty() {
            return Err(RedisError::Invalid(
                "the Sentinel master name is empty".into(),
            ));
        }
        let mut addrs = Vec::new();
        let mut sentinel_auth: Option<(Option<String>, String)> = None;
        for entry in sentinels {
            let info = parse_address(entry)?;
            if let Some(password) = info.redis_settings().password() {
                sentinel_auth = Some((
                    info.redis_settings().username().map(str::to_owned),
                    password.to_owned(),
                ));
            }
            addrs.push(info.addr().clone());
        }
        let tls = matches!(addrs[0], ConnectionAddr::TcpTls { .. });
        if addrs
            .iter()
            .any(|a| matches!(a, ConnectionAddr::TcpTls { .. }) != tls)
        {
            return Err(RedisError::Invalid(
                "the sentinels mix TLS (rediss://) and plain addresses".into(),
            ));
        }
        self.check_tls(tls)?;
        let certs = self.certificates()?;
        let client = {
            let mut builder =
                SentinelClientBuilder::new(addrs.clone(), master, SentinelServerType::Master)
                    .map_err(|e| RedisError::Invalid(format!("Sentinel: {e}")))?
                    .set_client_to_redis_protocol(protocol);
            if tls {
                builder = builder
                    .set_client_to_sentinel_tls_mode(TlsMode::Secure)
                    .set_client_to_redis_tls_mode(TlsMode::Secure);
                if let Some(certs) = &certs {
                    builder = builder
                        .set_client_to_sentinel_certificates(certs.clone())
                        .set_client_to_redis_certificates(certs.clone());
                }
            }
            if let Some((user, password)) = &sentinel_auth {
                builder = builder.set_client_to_sentinel_password(password);
                if let Some(user) = user {
                    builder = builder.set_client_to_sentinel_username(user);
                }
            }
            if let Some((user, password)) = &self.credentials {
                builder = builder.set_client_to_redis_password(password);
                if let Some(user) = user {
                    builder = builder.set_client_to_redis_username(user);
                }
            }
            if let Some(db) = self.database {
                builder = builder.set_client_to_redis_db(db);
            }
            builder
                .build()
                .map_err(|e| RedisError::Invalid(format!("Sentinel: {e}")))?
        };
        Ok(SentinelTarget { client })
    }

    fn cluster_nodes(
        &self,
        nodes: &[String],
    ) -> Result<(Vec<ConnectionInfo>, Option<TlsCertificates>), RedisError> {
        if nodes.is_empty() {
            return Err(RedisError::Invalid("no cluster node given".into()));
        }
        if self.database.is_some_and(|db| db != 0) {
            return Err(RedisError::Invalid("a cluster has only database 0".into()));
        }
        let infos = nodes
            .iter()
            .map(|node| parse_address(node))
            .collect::<Result<Vec<_>, _>>()?;
        let tls = matches!(infos[0].addr(), ConnectionAddr::TcpTls { .. });
        self.check_tls(tls)?;
        Ok((infos, self.certificates()?))
    }
}

fn invalid_url(url: &str, reason: impl fmt::Display) -> RedisError {
    RedisError::InvalidUrl {
        url: redact(url),
        reason: reason.to_string(),
    }
}

fn parse_url(url: &str) -> Result<ConnectionInfo, RedisError> {
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err(invalid_url(url, "it must start with redis:// or rediss://"));
    }
    url.into_connection_info().map_err(|e| invalid_url(url, e))
}

/// `host:port` (plain) or a `redis://` / `rediss://` URL.
fn parse_address(entry: &str) -> Result<ConnectionInfo, RedisError> {
    let entry = entry.trim();
    if entry.contains("://") {
        return parse_url(entry);
    }
    let (host, port) = entry
        .rsplit_once(':')
        .ok_or_else(|| invalid_url(entry, "expected host:port"))?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(invalid_url(entry, "expected host:port"));
    }
    parse_url(&format!("redis://{entry}"))
}

/// A checked configuration, ready to connect.
pub(crate) struct Target {
    pub(crate) kind: TargetKind,
    /// The protocol to ask for first.
    pub(crate) protocol: ProtocolVersion,
    pub(crate) ping_every: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) response_timeout: Duration,
    /// For `Debug` and logs: hosts, never passwords.
    pub(crate) description: String,
}

pub(crate) enum TargetKind {
    Single(Client),
    Sentinel(SentinelTarget),
    Cluster(ClusterTarget),
}

pub(crate) struct SentinelTarget {
    pub(crate) client: SentinelClient,
}

pub(crate) struct ClusterTarget {
    nodes: Vec<ConnectionInfo>,
    certs: Option<TlsCertificates>,
    credentials: Option<(Option<String>, String)>,
}

impl ClusterTarget {
    /// A cluster client speaking `protocol`, its pushes (RESP3) sent to `push`.
    pub(crate) fn client(
        &self,
        protocol: ProtocolVersion,
        push: Option<tokio::sync::mpsc::UnboundedSender<::redis::PushInfo>>,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Result<ClusterClient, RedisError> {
        let mut builder = ClusterClientBuilder::new(self.nodes.clone())
            .use_protocol(protocol)
            .connection_timeout(connect_timeout)
            .response_timeout(response_timeout);
        if let Some(certs) = &self.certs {
            builder = builder.certs(certs.clone());
        }
        if let Some((user, password)) = &self.credentials {
            builder = builder.password(password.clone());
            if let Some(user) = user {
                builder = builder.username(user.clone());
            }
        }
        if let Some(push) = push {
            builder = builder.push_sender(push);
        }
        builder
            .build()
            .map_err(|e| RedisError::Invalid(format!("cluster: {e}")))
    }

    /// The seed nodes.
    pub(crate) fn seeds(&self) -> &[ConnectionInfo] {
        &self.nodes
    }

    /// A client for seed `index` alone (a RESP2 subscriber connection).
    pub(crate) fn seed_client(
        &self,
        index: usize,
        protocol: ProtocolVersion,
    ) -> Result<Client, RedisError> {
        let info = self.nodes[index].clone();
        let mut redis = info.redis_settings().clone().set_protocol(protocol);
        if let Some((user, password)) = &self.credentials {
            redis = redis.set_password(password);
            if let Some(user) = user {
                redis = redis.set_username(user);
            }
        }
        let info = info.set_redis_settings(redis);
        let client = match &self.certs {
            Some(certs) if matches!(info.addr(), ConnectionAddr::TcpTls { .. }) => {
                Client::build_with_tls(info, certs.clone())
            }
            _ => Client::open(info),
        };
        client.map_err(|e| RedisError::Invalid(format!("cluster seed: {e}")))
    }
}
