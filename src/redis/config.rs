//! [`RedisConfig`]: where Redis is and how to reach it, checked when a Redis-backed part is
//! built.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::RedisError;
use super::target::Target;

const DEFAULT_PING_EVERY: Duration = Duration::from_secs(5);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Where Redis is and how to reach it: one server (`redis://` or `rediss://` URL), a
/// Sentinel-managed primary, or a Cluster; TLS with the system roots or a CA of your own,
/// optionally a client certificate; ACL user and password.
///
/// Nothing is checked or read (files included) until a Redis-backed part is built from it;
/// then every mistake is a [`RedisError`] naming it, never a panic later.
///
/// ```
/// use tower_stateless_session::redis::RedisConfig;
///
/// // One server, TLS with a private CA, an ACL user.
/// let one = RedisConfig::url("rediss://app:secret@redis.internal:6380/0")
///     .with_ca_file("/etc/redis/ca.pem");
/// // Sentinel: the sentinels and the name of the primary they watch.
/// let ha = RedisConfig::sentinel(["10.0.0.1:26379", "10.0.0.2:26379"], "sessions")
///     .with_credentials(Some("app"), "secret");
/// // Cluster: a few seed nodes; the rest is discovered.
/// let cluster = RedisConfig::cluster(["redis://10.0.1.1:7000", "redis://10.0.1.2:7000"]);
/// // A URL string converts too.
/// let plain: RedisConfig = "redis://127.0.0.1:6379".into();
/// ```
///
/// # TLS and the crypto provider
/// `rediss://` (and TLS sentinels or cluster nodes) use rustls. The library does not choose a
/// rustls crypto provider for the application: install one at startup, before building, e.g.
/// `rustls::crypto::ring::default_provider().install_default()`. Without one, building fails
/// with [`RedisError::NoCryptoProvider`].
#[derive(Clone)]
pub struct RedisConfig {
    pub(super) form: Form,
    pub(super) ca: Option<Pem>,
    pub(super) client_cert: Option<(Pem, Pem)>,
    pub(super) credentials: Option<(Option<String>, String)>,
    pub(super) database: Option<i64>,
    pub(super) resp3: bool,
    pub(super) ping_every: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) response_timeout: Duration,
}

#[derive(Clone)]
pub(super) enum Form {
    Url(String),
    Sentinel {
        sentinels: Vec<String>,
        master: String,
    },
    Cluster(Vec<String>),
}

/// PEM text, given directly or as a file read at build time.
#[derive(Clone)]
pub(super) enum Pem {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl Pem {
    pub(super) fn read(&self, what: &'static str) -> Result<Vec<u8>, RedisError> {
        match self {
            Pem::Bytes(bytes) => Ok(bytes.clone()),
            Pem::File(path) => std::fs::read(path).map_err(|error| RedisError::File {
                what,
                path: path.clone(),
                error,
            }),
        }
    }
}

impl From<&str> for RedisConfig {
    fn from(url: &str) -> Self {
        RedisConfig::url(url)
    }
}

impl From<String> for RedisConfig {
    fn from(url: String) -> Self {
        RedisConfig::url(&url)
    }
}

impl RedisConfig {
    fn new(form: Form) -> Self {
        RedisConfig {
            form,
            ca: None,
            client_cert: None,
            credentials: None,
            database: None,
            resp3: true,
            ping_every: DEFAULT_PING_EVERY,
            connect_timeout: DEFAULT_TIMEOUT,
            response_timeout: DEFAULT_TIMEOUT,
        }
    }

    /// One server: `redis://[[user]:password@]host[:port][/db]`, or `rediss://...` for TLS
    /// (server certificate checked against the system roots, or the CA of
    /// [`with_ca_file`](Self::with_ca_file)).
    pub fn url(url: &str) -> Self {
        Self::new(Form::Url(url.to_owned()))
    }

    /// A primary watched by Redis Sentinel: the sentinels' addresses (`host:port`, or
    /// `redis://[[user]:password@]host:port` / `rediss://...` when the sentinels need
    /// credentials or TLS) and the name they know the primary by. The primary is asked of
    /// the sentinels on every (re)connection, so a failover is followed by itself. TLS to
    /// the sentinels (`rediss://`) means TLS to the primary too; credentials for the primary
    /// come from [`with_credentials`](Self::with_credentials).
    pub fn sentinel<I, S>(sentinels: I, master: &str) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(Form::Sentinel {
            sentinels: sentinels.into_iter().map(Into::into).collect(),
            master: master.to_owned(),
        })
    }

    /// A Redis Cluster, from seed nodes (`redis://host:port` or `rediss://host:port`, with
    /// `user:password@` if needed; bare `host:port` means `redis://`). The other nodes and
    /// the slot map are discovered from the seeds.
    pub fn cluster<I, S>(nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(Form::Cluster(nodes.into_iter().map(Into::into).collect()))
    }

    /// Trusts the CA certificate(s) in the PEM file at `path` for the servers' certificates,
    /// instead of the system roots (managed services with their own CA). The file is read
    /// when the Redis-backed part is built. Needs TLS (`rediss://`).
    #[must_use]
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca = Some(Pem::File(path.into()));
        self
    }

    /// As [`with_ca_file`](Self::with_ca_file), with the PEM text itself.
    #[must_use]
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca = Some(Pem::Bytes(pem.into()));
        self
    }

    /// Presents a client certificate (mutual TLS): the certificate chain and its private
    /// key, as PEM files read at build time. Needs TLS.
    #[must_use]
    pub fn with_client_cert_files(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_cert = Some((Pem::File(cert.into()), Pem::File(key.into())));
        self
    }

    /// As [`with_client_cert_files`](Self::with_client_cert_files), with the PEM text itself.
    #[must_use]
    pub fn with_client_cert_pem(
        mut self,
        cert: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        self.client_cert = Some((Pem::Bytes(cert.into()), Pem::Bytes(key.into())));
        self
    }

    /// The ACL user (`None`: the `default` user) and password for the data nodes; for a URL
    /// or cluster seeds, instead of the ones written in them. Default: those in the URLs,
    /// else none.
    #[must_use]
    pub fn with_credentials(mut self, user: Option<&str>, password: &str) -> Self {
        self.credentials = Some((user.map(str::to_owned), password.to_owned()));
        self
    }

    /// The database number (not for a cluster, which has only database 0). Default: the
    /// URL's, else 0.
    #[must_use]
    pub fn with_database(mut self, database: i64) -> Self {
        self.database = Some(database);
        self
    }

    /// Whether to ask for RESP3 (default `true`). With RESP3 a subscription shares the
    /// command connection and arrives as push messages; a server that does not speak it
    /// (Redis before 6) is detected and spoken to in RESP2, with a separate subscriber
    /// connection. Turn it off for a proxy that mishandles RESP3.
    #[must_use]
    pub fn with_resp3(mut self, resp3: bool) -> Self {
        self.resp3 = resp3;
        self
    }

    /// How often an idle connection is checked with `PING` (default 5 s), so a half-open
    /// connection (peer gone without a FIN) is noticed and replaced.
    #[must_use]
    pub fn with_ping_interval(mut self, every: Duration) -> Self {
        self.ping_every = every;
        self
    }

    /// How long to wait for a connection (default 2 s) and for each reply (default 2 s).
    #[must_use]
    pub fn with_timeouts(mut self, connect: Duration, response: Duration) -> Self {
        self.connect_timeout = connect;
        self.response_timeout = response;
        self
    }

    /// Checks the whole configuration (URLs, TLS files, crypto provider) without connecting.
    ///
    /// # Errors
    /// The first problem found, as a [`RedisError`].
    pub fn check(&self) -> Result<(), RedisError> {
        Target::build(self).map(drop)
    }

    /// What to print: forms and hosts, never a password.
    pub(super) fn describe(&self) -> String {
        match &self.form {
            Form::Url(url) => redact(url),
            Form::Sentinel { sentinels, master } => format!(
                "sentinel {master} via {}",
                sentinels
                    .iter()
                    .map(|s| redact(s))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Form::Cluster(nodes) => format!(
                "cluster via {}",
                nodes
                    .iter()
                    .map(|s| redact(s))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("target", &self.describe())
            .field("custom_ca", &self.ca.is_some())
            .field("client_cert", &self.client_cert.is_some())
            .field(
                "user",
                &self.credentials.as_ref().map(|(user, _)| user.as_deref()),
            )
            .field("database", &self.database)
            .field("resp3", &self.resp3)
            .field("ping_every", &self.ping_every)
            .finish_non_exhaustive()
    }
}

/// `scheme://[user@]host...`: the URL with its password replaced.
pub(crate) fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split_once(':').map_or("", |(user, _)| user);
            format!("{user}:***@{host}")
        }
        None => authority.to_owned(),
    };
    let mut out = String::new();
    if !scheme.is_empty() {
        out.push_str(scheme);
        out.push_str("://");
    }
    out.push_str(&authority);
    if !path.is_empty() {
        out.push('/');
        out.push_str(path);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(config: RedisConfig) -> String {
        match config.check() {
            Ok(()) => panic!("{config:?} passed the checks"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn good_forms_pass() {
        for config in [
            RedisConfig::url("redis://127.0.0.1:6379/2"),
            RedisConfig::url("redis://user:pw@localhost"),
            RedisConfig::sentinel(["127.0.0.1:26379", "redis://127.0.0.1:26380"], "mymaster"),
            RedisConfig::cluster(["redis://127.0.0.1:7000", "127.0.0.1:7001"]),
        ] {
            config.check().unwrap_or_else(|e| panic!("{config:?}: {e}"));
        }
    }

    #[test]
    fn bad_forms_say_what_is_wrong() {
        let cases = [
            (RedisConfig::url("http://x"), "redis:// or rediss://"),
            (RedisConfig::url("127.0.0.1:6379"), "redis:// or rediss://"),
            (
                RedisConfig::url("redis://:pw@host:notaport"),
                "invalid Redis URL",
            ),
            (RedisConfig::url("redis://h").with_ca_pem("x"), "needs TLS"),
            (
                RedisConfig::url("redis://h").with_ca_file("/nonexistent/ca.pem"),
                "needs TLS",
            ),
            (
                RedisConfig::sentinel(Vec::<String>::new(), "m"),
                "no sentinel",
            ),
            (RedisConfig::sentinel(["h:1"], " "), "master name"),
            (RedisConfig::sentinel(["h"], "m"), "host:port"),
            (
                RedisConfig::sentinel(["redis://h:1", "rediss://h:2"], "m"),
                "mix TLS",
            ),
            (
                RedisConfig::cluster(Vec::<String>::new()),
                "no cluster node",
            ),
            (
                RedisConfig::cluster(["redis://a:1"]).with_database(3),
                "only database 0",
            ),
            (
                RedisConfig::url("redis://h").with_ping_interval(Duration::ZERO),
                "must not be zero",
            ),
        ];
        for (config, expected) in cases {
            let message = error(config);
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }

    #[test]
    fn errors_and_debug_never_show_the_password() {
        let config = RedisConfig::url("redis://ada:hunter2@host:notaport");
        let message = error(config.clone());
        assert!(!message.contains("hunter2"), "{message}");
        assert!(!format!("{config:?}").contains("hunter2"));
        let config = RedisConfig::url("redis://h").with_credentials(Some("ada"), "hunter2");
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(redact("rediss://ada:pw@h:1/0"), "rediss://ada:***@h:1/0");
        assert_eq!(redact("redis://h:1"), "redis://h:1");
    }

    #[test]
    fn tls_without_a_crypto_provider_is_a_clear_error() {
        // No unit test of the library installs a provider: the application must.
        for config in [
            RedisConfig::url("rediss://h"),
            RedisConfig::sentinel(["rediss://h:1"], "m"),
            RedisConfig::cluster(["rediss://h:1"]),
        ] {
            let message = error(config);
            assert!(message.contains("crypto provider"), "{message}");
        }
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        // The crypto-provider check comes first for TLS; the file is read only once TLS
        // itself is possible, so this test works whether or not a provider is installed.
        let message = error(RedisConfig::url("rediss://h").with_ca_file("/nonexistent/ca.pem"));
        assert!(
            message.contains("/nonexistent/ca.pem") || message.contains("crypto provider"),
            "{message}"
        );
    }
}
