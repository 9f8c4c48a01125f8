//! The keys the demo signs and verifies sessions with, read from the environment.
//!
//! - `SESSION_KEYS`: the shared secrets (`kid:base64url-secret[,...]`, the first signs);
//!   without it a random key is generated, with a warning.
//! - `SESSION_ENCRYPTION_KEYS` (and `SESSION_JWE_ALG`, `A256KW` or `dir`; the `jwe`
//!   feature): encryption keys that issue encrypted tokens; the keys of `SESSION_KEYS` then
//!   only verify.
//! - `SESSION_SIGNING`: `hs256` (the default) signs with the keys above; `node` (the
//!   `node-keys` feature) makes this process its own Ed25519 key, published through the key
//!   registry before it signs (no `SESSION_KEYS` needed; when given, those keys still verify
//!   older sessions and sign while the node key is not published yet).
//! - `SESSION_REGISTRATION_KEY` (node signing): base64url, at least 32 bytes, the same on
//!   every instance; it authenticates the registry's entries. Without it a random one is
//!   generated, with a warning: other instances then ignore this one's key.
//!
//! The parts for the `jwe` and `node-keys` features are the modules `encryption` and `node`;
//! `features.rs` refuses their settings at startup in a build without them.

use tower_stateless_session::{Key, KeyRing, KeyRingHandle};

use super::config::env_var;

// The tests set them.
#[cfg(all(test, feature = "jwe"))]
pub(crate) use encryption::{ENCRYPTION_KEYS_VAR, JWE_ALG_VAR};

/// The environment variable holding the key ring.
pub(crate) const KEYS_VAR: &str = "SESSION_KEYS";

/// How sessions are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signing {
    /// HS256 with the shared secrets of `SESSION_KEYS`.
    Hs256,
    /// A node key of this process's own (the `node-keys` feature).
    Node,
}

const SIGNING_VAR: &str = "SESSION_SIGNING";
const REGISTRATION_VAR: &str = "SESSION_REGISTRATION_KEY";

/// Reads `SESSION_SIGNING` through `lookup`.
pub(crate) fn mode(
    mut lookup: impl FnMut(&str) -> Result<Option<String>, String>,
) -> Result<Signing, String> {
    match lookup(SIGNING_VAR)?.as_deref().map(str::trim) {
        None | Some("") | Some("hs256") => Ok(Signing::Hs256),
        Some("node") => Ok(Signing::Node),
        Some(other) => Err(format!(
            "{SIGNING_VAR} must be `hs256` or `node`, got {other:?}"
        )),
    }
}

/// The keys the session layer uses and, with node signing, the node key that keeps them
/// current: its heartbeat stops when this is dropped.
pub(crate) struct Signer {
    keys: KeyRingHandle,
    #[cfg(feature = "node-keys")]
    _node: Option<tower_stateless_session::keys::node::NodeKeys>,
}

impl Signer {
    /// The keys, to build the session layer on.
    pub(crate) fn keys(&self) -> KeyRingHandle {
        self.keys.clone()
    }
}

/// The keys the layer signs and verifies with, as `SESSION_SIGNING` says: the ring of
/// `SESSION_KEYS` (and `SESSION_ENCRYPTION_KEYS`), or this process's node key with the other
/// instances' public keys from the registry. Keep the `Signer` while serving.
pub(crate) async fn load() -> Result<Signer, String> {
    match mode(env_var)? {
        Signing::Hs256 => {
            if env_var(REGISTRATION_VAR)?.is_some() {
                eprintln!("warning: {REGISTRATION_VAR} is ignored without {SIGNING_VAR}=node");
            }
            Ok(Signer {
                keys: keys_from_lookup(env_var)?.into(),
                #[cfg(feature = "node-keys")]
                _node: None,
            })
        }
        #[cfg(feature = "node-keys")]
        Signing::Node => node::load().await,
        #[cfg(not(feature = "node-keys"))]
        Signing::Node => Err(super::features::needs("SESSION_SIGNING=node", "node-keys")),
    }
}

/// The key ring from the variables `lookup` finds (see [`configured_keys`]), or a
/// throw-away signing key, with a warning, when none is set.
/// The error text comes from [`ConfigError`](tower_stateless_session::ConfigError), which
/// names keys by position or id and never repeats a secret.
pub(crate) fn keys_from_lookup(
    lookup: impl Fn(&str) -> Result<Option<String>, String>,
) -> Result<KeyRing, String> {
    if let Some(ring) = configured_keys(lookup)? {
        return Ok(ring);
    }
    eprintln!(
        "warning: {KEYS_VAR} is not set, so a random signing key was generated for this run.\n\
         warning: sessions will not survive a restart, and other instances cannot verify them.\n\
         warning: set it as `kid:base64url-secret[,kid:secret...]` (the first key signs, the\n\
         warning: others only verify; secrets must be at least 32 bytes), for example:\n\
         warning:   export {KEYS_VAR}=\"k1:$(openssl rand -base64 32)\""
    );
    Key::generate_hs256("demo")
        .map(KeyRing::new)
        .map_err(|e| format!("cannot generate a key: {e}"))
}

/// The key ring the variables configure: the encryption keys first when
/// `SESSION_ENCRYPTION_KEYS` is set (they issue; the `jwe` feature), then the signing keys of
/// `SESSION_KEYS` (which then only verify); `None` when neither is set.
fn configured_keys(
    lookup: impl Fn(&str) -> Result<Option<String>, String>,
) -> Result<Option<KeyRing>, String> {
    let signing = lookup(KEYS_VAR)?
        .map(|spec| KeyRing::parse(&spec).map_err(|e| format!("{KEYS_VAR} is invalid: {e}")))
        .transpose()?;
    #[cfg(feature = "jwe")]
    if let Some(ring) = encryption::ring(&lookup, signing.as_ref())? {
        return Ok(Some(ring));
    }
    Ok(signing)
}

/// Encrypted sessions (the `jwe` feature): `SESSION_ENCRYPTION_KEYS` and `SESSION_JWE_ALG`.
#[cfg(feature = "jwe")]
mod encryption {
    use tower_stateless_session::KeyRing;
    use tower_stateless_session::keys::KeyManagement;

    use super::KEYS_VAR;

    /// The environment variable holding the encryption keys (turns the encrypted mode on).
    pub(crate) const ENCRYPTION_KEYS_VAR: &str = "SESSION_ENCRYPTION_KEYS";
    /// The environment variable choosing the encryption keys' key management.
    pub(crate) const JWE_ALG_VAR: &str = "SESSION_JWE_ALG";

    /// The encryption keys of `SESSION_ENCRYPTION_KEYS`, with the key management that
    /// `SESSION_JWE_ALG` names, followed by the keys of `signing`, which then only verify;
    /// `None` when `SESSION_ENCRYPTION_KEYS` is unset.
    pub(super) fn ring(
        lookup: impl Fn(&str) -> Result<Option<String>, String>,
        signing: Option<&KeyRing>,
    ) -> Result<Option<KeyRing>, String> {
        let alg = lookup(JWE_ALG_VAR)?;
        let Some(spec) = lookup(ENCRYPTION_KEYS_VAR)? else {
            if alg.is_some() {
                eprintln!("warning: {JWE_ALG_VAR} is ignored without {ENCRYPTION_KEYS_VAR}");
            }
            return Ok(None);
        };
        let management = match alg.as_deref().map(str::trim) {
            None | Some("") => KeyManagement::default(),
            Some(name) => KeyManagement::from_name(name)
                .ok_or_else(|| format!("{JWE_ALG_VAR} must be `A256KW` or `dir`, not {name:?}"))?,
        };
        let encryption = KeyRing::parse_encryption(&spec, management)
            .map_err(|e| format!("{ENCRYPTION_KEYS_VAR} is invalid: {e}"))?;
        let verify_only = signing.into_iter().flat_map(KeyRing::iter);
        KeyRing::from_keys(encryption.iter().chain(verify_only).cloned())
            .map(Some)
            .map_err(|e| format!("{ENCRYPTION_KEYS_VAR} and {KEYS_VAR} together: {e}"))
    }
}

/// Node signing (the `node-keys` feature): this process's Ed25519 key, published through
/// the key registry (Redis, or this process's memory) before it signs.
#[cfg(feature = "node-keys")]
mod node {
    use tower_stateless_session::keys::node::NodeKeys;
    use tower_stateless_session::keys::registry::RegistrationKey;

    use super::super::redis_env::key_registry;
    use super::{REGISTRATION_VAR, Signer, configured_keys, env_var};

    /// Reads `SESSION_REGISTRATION_KEY` through `lookup`, or makes a random one (with a
    /// warning) when it is unset. Errors name the variable, never its value.
    pub(crate) fn registration_key(
        mut lookup: impl FnMut(&str) -> Result<Option<String>, String>,
    ) -> Result<RegistrationKey, String> {
        if let Some(value) = lookup(REGISTRATION_VAR)? {
            return RegistrationKey::from_base64(&value)
                .map_err(|e| format!("{REGISTRATION_VAR} is invalid: {e}"));
        }
        eprintln!(
            "warning: {REGISTRATION_VAR} is not set, so a random registration key was generated.\n\
             warning: other instances will ignore this one's node key (and it theirs); give every\n\
             warning: instance the same one, at least 32 bytes in base64url, for example:\n\
             warning:   export {REGISTRATION_VAR}=\"$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')\""
        );
        RegistrationKey::generate().map_err(|e| format!("cannot generate a registration key: {e}"))
    }

    /// This process's node key, with the other instances' public keys from the registry.
    pub(super) async fn load() -> Result<Signer, String> {
        let registration = registration_key(env_var)?;
        let registry = key_registry(env_var).await?;
        // The deadlines and the clock come from the session layer built on the node's ring.
        let mut node = NodeKeys::builder(registration, registry);
        if let Some(shared) = configured_keys(env_var)? {
            // Sessions of the shared keys still verify (or decrypt), and move to the node
            // key; while the node key is not published, the first of them issues instead.
            node = node.with_fallback(shared);
        }
        let node = node
            .start()
            .map_err(|e| format!("cannot start the node key: {e}"))?;
        // Publish before use: the key signs once the registry confirms it (at once in memory).
        for _ in 0..50 {
            if node.is_signing() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        if node.is_signing() {
            eprintln!("signing with this node's Ed25519 key {}", node.kid());
        } else {
            eprintln!(
                "warning: the node key {} is not published yet; new sessions are refused (503) \
                 until it is",
                node.kid()
            );
        }
        Ok(Signer {
            keys: node.keys(),
            _node: Some(node),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(
        vars: &'static [(&'static str, &'static str)],
    ) -> impl FnMut(&str) -> Result<Option<String>, String> {
        move |name| {
            Ok(vars
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned()))
        }
    }

    #[test]
    fn the_signing_mode_is_read_and_checked() {
        assert_eq!(mode(lookup(&[])), Ok(Signing::Hs256));
        assert_eq!(
            mode(lookup(&[("SESSION_SIGNING", "hs256")])),
            Ok(Signing::Hs256)
        );
        assert_eq!(
            mode(lookup(&[("SESSION_SIGNING", " node ")])),
            Ok(Signing::Node)
        );
        let error = mode(lookup(&[("SESSION_SIGNING", "rsa")])).expect_err("refused");
        assert!(error.contains("`hs256` or `node`"), "{error}");
    }

    #[cfg(feature = "node-keys")]
    #[test]
    fn a_short_or_garbled_registration_key_is_refused_without_echoing_it() {
        use super::node::registration_key;

        for value in ["c2hvcnQ", "not base64!"] {
            let vars: &'static [(&str, &str)] =
                Box::leak(Box::new([("SESSION_REGISTRATION_KEY", value)]));
            let error = registration_key(lookup(vars)).expect_err("refused");
            assert!(
                error.starts_with("SESSION_REGISTRATION_KEY is invalid"),
                "{error}"
            );
            assert!(!error.contains(value), "{error} echoes the value");
        }
        let good: &'static [(&str, &str)] = &[(
            "SESSION_REGISTRATION_KEY",
            "cmVnaXN0cmF0aW9uLWtleS1vZi10aGUtZ2F0ZXdheXM",
        )];
        assert!(registration_key(lookup(good)).is_ok());
    }
}
