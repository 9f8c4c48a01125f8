//! [`KeyRing`], the keys a layer signs and verifies with, and [`KeyRingHandle`], which swaps
//! the ring at run time.
//!
//! A ring holds one issuing key (the first) and any number of keys that only verify, each
//! named by a key id (`kid`) that travels in every token's header. Rotation is a new ring
//! with a new first key and the old one kept for verification; [`KeyRingHandle::replace`]
//! swaps it in atomically while requests are in flight.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::{ArcSwap, Guard};

use super::key::Key;
use super::refresh::RefreshKeys;
use crate::error::ConfigError;

/// One issuing key and any number of keys that only verify.
///
/// The first key issues new tokens; every key verifies the tokens that name its `kid`,
/// with the algorithm the key fixes. Keys of different kinds sit side by side: a ring may
/// hold HS256 and Ed25519 keys at once, which is how a deployment migrates from one to the
/// other (either way) without logging anyone out.
///
/// Keys after the first are of two sorts. A *retired* key ([`with_verify_key`],
/// [`from_keys`]) is one this deployment no longer issues with: a token it signed is
/// re-signed with the first key at its next request, so rotation moves live sessions
/// over. A *peer* key ([`with_peer_key`]) is one another node issues with now (a node key):
/// its tokens are accepted as current and refreshed on the usual schedule only.
///
/// [`with_verify_key`]: KeyRing::with_verify_key
/// [`from_keys`]: KeyRing::from_keys
/// [`with_peer_key`]: KeyRing::with_peer_key
///
/// ```
/// use tower_stateless_session::KeyRing;
///
/// // The first key signs; the others only verify (tokens they signed are re-signed with
/// // the first key at their next refresh).
/// let ring: KeyRing = "k2:ZGV2LW9ubHktc2VjcmV0LWF0LWxlYXN0LTMyLWJ5dGVzLWxvbmch,\
///                      k1:b2xkLWtleS1rZXB0LWZvci12ZXJpZmljYXRpb24tb25seS0zMmI"
///     .parse()?;
/// assert_eq!(ring.issuing_key().expect("an issuing key").kid(), "k2");
/// assert_eq!(ring.kids().collect::<Vec<_>>(), ["k2", "k1"]);
/// # Ok::<(), tower_stateless_session::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    /// `keys[0]` issues; all verify.
    keys: Vec<Key>,
    /// `keys[1..=peers]` are peers' current keys; the keys after them are retired.
    peers: usize,
}

impl KeyRing {
    /// A ring holding only `signing`.
    pub fn new(signing: Key) -> Self {
        KeyRing {
            keys: vec![signing],
            peers: 0,
        }
    }

    /// A ring from keys in order: the first issues, the others only verify (retired keys).
    ///
    /// # Errors
    /// [`ConfigError::NoKeys`] when empty, [`ConfigError::DuplicateKeyId`] when two keys
    /// share an id.
    pub fn from_keys(keys: impl IntoIterator<Item = Key>) -> Result<Self, ConfigError> {
        let mut ring: Vec<Key> = Vec::new();
        for key in keys {
            check_new_key(&ring, &key)?;
            ring.push(key);
        }
        if ring.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        Ok(KeyRing {
            keys: ring,
            peers: 0,
        })
    }

    /// Adds a retired, verify-only key: its tokens are accepted, and re-signed with the
    /// first key at their next request.
    ///
    /// # Errors
    /// [`ConfigError::DuplicateKeyId`] when the ring already has a key with that id.
    pub fn with_verify_key(mut self, key: Key) -> Result<Self, ConfigError> {
        self.check_new(&key)?;
        self.keys.push(key);
        Ok(self)
    }

    /// Adds a peer's current key: one another node issues with now (typically the public
    /// half of its node key). Its tokens are accepted as current: refreshed on the usual
    /// schedule by whichever node sees them, not re-signed on sight.
    ///
    /// ```
    /// use tower_stateless_session::{Key, KeyRing};
    ///
    /// let mine = Key::generate_ed25519()?;
    /// let theirs = Key::generate_ed25519()?.public_key().expect("Ed25519");
    /// let ring = KeyRing::new(mine).with_peer_key(theirs.clone())?;
    /// assert!(ring.is_current(theirs.kid()));
    /// # Ok::<(), tower_stateless_session::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::DuplicateKeyId`] when the ring already has a key with that id.
    pub fn with_peer_key(mut self, key: Key) -> Result<Self, ConfigError> {
        self.check_new(&key)?;
        self.peers += 1;
        self.keys.insert(self.peers, key);
        Ok(self)
    }

    fn check_new(&self, key: &Key) -> Result<(), ConfigError> {
        check_new_key(&self.keys, key)
    }

    /// Parses `kid:secret[,kid:secret...]` (HS256 secrets): the first entry signs, the others
    /// only verify.
    ///
    /// Secrets are base64url (the standard alphabet and `=` padding are accepted too) and
    /// must decode to at least 32 bytes. Entries are separated by commas or newlines;
    /// surrounding whitespace, empty entries and lines starting with `#` are ignored, so the
    /// same syntax serves an environment variable and a file.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the entry's position or key id (never its secret).
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        Self::parse_with(spec, Key::from_entry)
    }

    #[cfg(feature = "jwe")]
    /// Parses `kid:secret[,kid:secret...]` into encryption keys ([`Key::encryption`]) for
    /// `management`: the first entry encrypts new tokens, the others only decrypt. Secrets
    /// are base64url of exactly 32 bytes; the syntax is otherwise that of
    /// [`KeyRing::parse`].
    ///
    /// To keep accepting tokens signed before encryption was turned on (sessions then move
    /// to encrypted tokens at their next request, with no logout), add the signing keys
    /// after the encryption keys:
    ///
    /// ```
    /// use tower_stateless_session::keys::KeyManagement;
    /// use tower_stateless_session::KeyRing;
    ///
    /// let signing: KeyRing = "k1:ZGV2LW9ubHktc2VjcmV0LWF0LWxlYXN0LTMyLWJ5dGVzLWxvbmch".parse()?;
    /// let encryption = KeyRing::parse_encryption(
    ///     "e1:ZW5jcnlwdGlvbi1rZXktb2YtMzItYnl0ZXMtLS0tLS0",
    ///     KeyManagement::A256KW,
    /// )?;
    /// let ring = KeyRing::from_keys(encryption.iter().chain(signing.iter()).cloned())?;
    /// assert_eq!(ring.kids().collect::<Vec<_>>(), ["e1", "k1"]);
    /// # Ok::<(), tower_stateless_session::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// A [`ConfigError`] naming the entry's position or key id (never its secret).
    pub fn parse_encryption(
        spec: &str,
        management: super::encryption::KeyManagement,
    ) -> Result<Self, ConfigError> {
        Self::parse_with(spec, |position, kid, secret| {
            Key::encryption_from_entry(position, kid, secret, management)
        })
    }

    /// The `kid:secret` syntax of [`KeyRing::parse`], each entry made into a key by `key`
    /// (given the entry's 1-based position, its trimmed key id and its trimmed secret).
    fn parse_with(
        spec: &str,
        key: impl Fn(usize, &str, &str) -> Result<Key, ConfigError>,
    ) -> Result<Self, ConfigError> {
        let mut keys = Vec::new();
        let entries = spec
            .split([',', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.starts_with('#'));
        for (index, entry) in entries.enumerate() {
            let position = index + 1;
            let (kid, secret) = entry
                .split_once(':')
                .ok_or(ConfigError::MissingSeparator { position })?;
            keys.push(key(position, kid.trim(), secret.trim())?);
        }
        Self::from_keys(keys)
    }

    /// Reads and parses the environment variable `name` (see [`KeyRing::parse`]).
    ///
    /// # Errors
    /// [`ConfigError::EnvVar`] when the variable is unset or not Unicode, otherwise as
    /// [`KeyRing::parse`].
    pub fn from_env(name: &str) -> Result<Self, ConfigError> {
        let value = ConfigError::read_env(name)?;
        Self::parse(&value)
    }

    /// Reads and parses a file (see [`KeyRing::parse`]; one entry per line works).
    ///
    /// # Errors
    /// [`ConfigError::Io`] when the file cannot be read, otherwise as [`KeyRing::parse`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Whether the ring holds no key at all (only a verifier fed from elsewhere can: a JWKS
    /// before its first fetch, or an empty set).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    #[cfg(feature = "node-keys")]
    /// A ring assembled by a key source: `keys[0]` issues (if it can), `keys[1..=peers]` are
    /// peers' current keys, the rest retired. May be empty. Key ids must be distinct.
    pub(crate) fn assemble(keys: Vec<Key>, peers: usize) -> Self {
        debug_assert!(keys.is_empty() || peers < keys.len());
        let peers = peers.min(keys.len().saturating_sub(1));
        KeyRing { keys, peers }
    }

    /// The key that issues new tokens: the first key, when this process can sign with it;
    /// `None` when the first key is a public key only (a verify-only ring).
    pub fn issuing_key(&self) -> Option<&Key> {
        self.keys.first().filter(|k| k.can_sign())
    }

    /// The key with id `kid`, if any.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid() == kid)
    }

    /// Whether `kid` names a current key: the first key, or a peer's
    /// ([`with_peer_key`](KeyRing::with_peer_key)). Tokens of any other key of the ring are
    /// re-signed at their next request.
    pub fn is_current(&self, kid: &str) -> bool {
        self.keys
            .iter()
            .position(|k| k.kid() == kid)
            .is_some_and(|i| self.is_current_index(i))
    }

    /// All key ids, the first key's first.
    pub fn kids(&self) -> impl Iterator<Item = &str> + '_ {
        self.keys.iter().map(|k| k.kid())
    }

    /// All keys, the first key first.
    pub fn iter(&self) -> impl Iterator<Item = &Key> + '_ {
        self.keys.iter()
    }

    /// All keys, the first key first, then peers, then retired keys.
    pub(crate) fn keys(&self) -> &[Key] {
        &self.keys
    }

    #[cfg(feature = "node-keys")]
    /// How many peers' current keys follow the first key.
    pub(crate) fn peers(&self) -> usize {
        self.peers
    }

    /// Whether the key at `index` of [`keys`](KeyRing::keys) is current.
    pub(crate) fn is_current_index(&self, index: usize) -> bool {
        index <= self.peers
    }
}

/// Refuses `key` next to `ring` when its id is taken, or when its secret is already in the
/// ring for another purpose (one key, one purpose: an HMAC secret is never an AES key, and
/// an AES key never both wraps and encrypts).
fn check_new_key(ring: &[Key], key: &Key) -> Result<(), ConfigError> {
    if ring.iter().any(|k| k.kid() == key.kid()) {
        return Err(ConfigError::DuplicateKeyId {
            kid: key.kid().to_owned(),
        });
    }
    if let Some((purpose, fingerprint)) = key.secret_use() {
        let reused = ring.iter().find(|k| {
            k.secret_use()
                .is_some_and(|(p, f)| p != purpose && f == fingerprint)
        });
        if let Some(other) = reused {
            return Err(ConfigError::SecretReused {
                kid: key.kid().to_owned(),
                other: other.kid().to_owned(),
            });
        }
    }
    Ok(())
}

impl std::str::FromStr for KeyRing {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<Key> for KeyRing {
    fn from(key: Key) -> Self {
        KeyRing::new(key)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("first", &self.keys.first().map(Key::kid))
            .field("kids", &self.kids().collect::<Vec<_>>())
            .field("peers", &self.peers)
            .finish()
    }
}

/// A shared, swappable [`KeyRing`]: clones see the same ring, and [`replace`] swaps it for
/// all of them at once, without locks on the request path.
///
/// Keep one handle from startup and call [`replace`] from a file watcher, a signal handler
/// or a secrets-manager callback. Requests in flight finish with the ring they started with.
///
/// ```
/// use tower_stateless_session::{Key, KeyRing, KeyRingHandle};
///
/// let old = Key::generate_hs256("2026-01")?;
/// let handle = KeyRingHandle::new(KeyRing::new(old.clone()));
/// // Rotate: a new signing key, the old one kept to verify live tokens.
/// let new = Key::generate_hs256("2026-02")?;
/// handle.replace(KeyRing::from_keys([new, old])?);
/// assert_eq!(handle.current().issuing_key().expect("an issuing key").kid(), "2026-02");
/// # Ok::<(), tower_stateless_session::ConfigError>(())
/// ```
///
/// [`replace`]: KeyRingHandle::replace
#[derive(Clone)]
pub struct KeyRingHandle {
    ring: Arc<ArcSwap<KeyRing>>,
    /// Bumped by every replacement, so caches of verified tokens know their keys changed.
    generation: Arc<AtomicU64>,
    /// Where a fresher ring can be asked for when a token names an unknown key (a JWKS
    /// verifier, the node-key registry); `None` for a ring that only changes by `replace`.
    refresher: Option<Arc<dyn RefreshKeys>>,
}

impl KeyRingHandle {
    /// A handle holding `ring`.
    pub fn new(ring: KeyRing) -> Self {
        KeyRingHandle {
            ring: Arc::new(ArcSwap::from_pointee(ring)),
            generation: Arc::new(AtomicU64::new(0)),
            refresher: None,
        }
    }

    #[cfg(feature = "node-keys")]
    /// A handle whose ring `refresher` can refresh on demand.
    pub(crate) fn with_refresher(ring: KeyRing, refresher: Arc<dyn RefreshKeys>) -> Self {
        KeyRingHandle {
            refresher: Some(refresher),
            ..KeyRingHandle::new(ring)
        }
    }

    #[cfg(feature = "node-keys")]
    /// A handle on the same ring without the refresher (for the source itself, which must
    /// not keep itself alive).
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    pub(crate) fn without_refresher(&self) -> Self {
        KeyRingHandle {
            ring: Arc::clone(&self.ring),
            generation: Arc::clone(&self.generation),
            refresher: None,
        }
    }

    #[cfg(feature = "node-keys")]
    /// A handle on the same ring, which `refresher` can refresh on demand.
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    pub(crate) fn sharing_with_refresher(&self, refresher: Arc<dyn RefreshKeys>) -> Self {
        KeyRingHandle {
            refresher: Some(refresher),
            ..self.without_refresher()
        }
    }

    /// The source that can refresh this ring, if any.
    pub(crate) fn refresher(&self) -> Option<&Arc<dyn RefreshKeys>> {
        self.refresher.as_ref()
    }

    /// The ring in use now.
    pub fn current(&self) -> Arc<KeyRing> {
        self.ring.load_full()
    }

    /// Swaps in `ring` for every clone of this handle; returns the ring it replaced.
    pub fn replace(&self, ring: KeyRing) -> Arc<KeyRing> {
        let old = self.ring.swap(Arc::new(ring));
        self.generation.fetch_add(1, Ordering::SeqCst);
        old
    }

    /// A counter that changes with every [`replace`](Self::replace) (cheap to read: for
    /// caches and metrics that need to know the keys changed).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Re-reads the environment variable `name` and swaps in its ring. On error the current
    /// ring stays in use.
    ///
    /// # Errors
    /// As [`KeyRing::from_env`].
    pub fn reload_from_env(&self, name: &str) -> Result<(), ConfigError> {
        self.replace(KeyRing::from_env(name)?);
        Ok(())
    }

    /// Re-reads `path` and swaps in its ring. On error the current ring stays in use.
    ///
    /// # Errors
    /// As [`KeyRing::from_file`].
    pub fn reload_from_file(&self, path: impl AsRef<Path>) -> Result<(), ConfigError> {
        self.replace(KeyRing::from_file(path)?);
        Ok(())
    }

    /// A cheap, short-lived borrow of the current ring for the request path.
    pub(crate) fn load(&self) -> Guard<Arc<KeyRing>> {
        self.ring.load()
    }
}

impl From<KeyRing> for KeyRingHandle {
    fn from(ring: KeyRing) -> Self {
        KeyRingHandle::new(ring)
    }
}

impl From<Key> for KeyRingHandle {
    fn from(key: Key) -> Self {
        KeyRingHandle::new(KeyRing::new(key))
    }
}

impl fmt::Debug for KeyRingHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyRingHandle")
            .field(&**self.load())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::encode_secret;

    const S32: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"; // 32 ASCII bytes
    const S32_PADDED_STD: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    fn err(spec: &str) -> String {
        KeyRing::parse(spec).expect_err(spec).to_string()
    }

    #[test]
    fn parse_accepts_padding_whitespace_newlines_and_comments() {
        let spec = format!("# keys\n  a : {S32_PADDED_STD} \n\nb:{S32},\n");
        let ring = KeyRing::parse(&spec).expect("valid spec");
        assert_eq!(ring.kids().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            ring.issuing_key().expect("an issuing key").kid(),
            "a",
            "the first entry signs"
        );
        assert!(ring.get("b").is_some() && ring.get("c").is_none());
    }

    #[test]
    fn parse_errors_name_the_problem_but_never_the_secret() {
        let short = encode_secret(b"only-thirty-one-bytes-of-secret");
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "no keys given"),
            (" , \n# nothing\n".into(), "no keys given"),
            (S32.into(), "key #1: expected `kid:secret`"),
            (format!("a:{S32},{S32}"), "key #2: expected `kid:secret`"),
            (format!(":{S32}"), "key #1: invalid key id: empty"),
            (format!("{}:{S32}", "k".repeat(65)), "longer than 32 bytes"),
            (format!("k/1:{S32}"), "only A-Z"),
            (
                "k1:not base64!".into(),
                "key `k1`: secret is not valid base64url",
            ),
            (
                format!("k1:{short}"),
                "key `k1`: secret is 31 bytes, at least 32",
            ),
            (format!("k1:{S32},k1:{S32}"), "key id `k1` appears twice"),
        ];
        for (spec, expected) in cases {
            let message = err(&spec);
            assert!(
                message.contains(expected),
                "spec {spec:?}: message {message:?} lacks {expected:?}"
            );
            assert!(
                !message.contains(S32),
                "message {message:?} leaks the secret"
            );
        }
    }

    #[test]
    fn a_secret_in_the_kid_position_is_not_echoed() {
        // Someone swapped the order: `secret:kid`. The secret is rejected as a key id
        // (too long) and the error names only the entry's position.
        for spec in [format!("{S32}:k1"), format!("{S32}+/:{S32}")] {
            let message = err(&spec);
            assert!(message.starts_with("key #1: invalid key id"), "{message}");
            assert!(
                !message.contains(S32),
                "message {message:?} leaks the secret"
            );
        }
    }

    #[test]
    fn debug_never_prints_secret_bytes() {
        let key = Key::hs256_base64("k1", S32).expect("valid key");
        let ring = KeyRing::new(key.clone());
        let handle = KeyRingHandle::new(ring.clone());
        for text in [
            format!("{key:?}"),
            format!("{ring:?}"),
            format!("{handle:?}"),
        ] {
            assert!(text.contains("k1"), "{text} should name the kid");
            assert!(!text.contains(S32), "{text} leaks the secret");
            assert!(!text.contains("0123456789"), "{text} leaks the raw secret");
        }
    }

    #[test]
    fn handle_replace_is_seen_by_every_clone() {
        let a = KeyRingHandle::new(KeyRing::new(Key::generate_hs256("a").expect("rng")));
        let b = a.clone();
        let old = a.replace(KeyRing::new(Key::generate_hs256("b").expect("rng")));
        assert_eq!(old.issuing_key().expect("an issuing key").kid(), "a");
        assert_eq!(
            b.current().issuing_key().expect("an issuing key").kid(),
            "b"
        );
    }

    #[test]
    fn reload_failure_keeps_the_current_ring() {
        let handle = KeyRingHandle::new(KeyRing::new(Key::generate_hs256("a").expect("rng")));
        let missing = std::env::temp_dir().join("tss-no-such-key-file");
        let e = handle
            .reload_from_file(&missing)
            .expect_err("file is missing");
        assert!(matches!(e, ConfigError::Io { .. }), "got {e:?}");
        assert_eq!(
            handle
                .current()
                .issuing_key()
                .expect("an issuing key")
                .kid(),
            "a"
        );
    }

    #[test]
    fn from_file_reads_one_entry_per_line() {
        let path = std::env::temp_dir().join(format!("tss-keys-{}", std::process::id()));
        std::fs::write(&path, format!("new:{S32}\nold:{S32_PADDED_STD}\n")).expect("write");
        let ring = KeyRing::from_file(&path).expect("valid file");
        std::fs::remove_file(&path).ok();
        assert_eq!(ring.kids().collect::<Vec<_>>(), ["new", "old"]);
    }

    #[test]
    fn with_verify_key_rejects_duplicates() {
        let ring = KeyRing::new(Key::generate_hs256("a").expect("rng"));
        let e = ring
            .with_verify_key(Key::generate_hs256("a").expect("rng"))
            .expect_err("duplicate");
        assert!(matches!(e, ConfigError::DuplicateKeyId { .. }));
    }

    #[cfg(feature = "node-keys")]
    #[test]
    fn hs256_and_ed25519_keys_share_a_ring() {
        let ed = Key::generate_ed25519().expect("rng");
        let hs = Key::generate_hs256("hs").expect("rng");
        let ring = KeyRing::from_keys([ed.clone(), hs.clone()]).expect("distinct kids");
        assert_eq!(ring.issuing_key().map(Key::kid), Some(ed.kid()));
        assert!(ring.get("hs").is_some() && !ring.is_current("hs"));
        let back = KeyRing::from_keys([hs, ed.public_key().expect("Ed25519")]).expect("ok");
        assert_eq!(back.issuing_key().map(Key::kid), Some("hs"));
        assert!(!back.is_current(ed.kid()), "a retired key is not current");
    }

    #[test]
    fn peer_keys_are_current_and_sit_before_retired_keys() {
        let ring = Key::generate_hs256("me")
            .map(KeyRing::new)
            .and_then(|r| r.with_verify_key(Key::generate_hs256("old")?))
            .and_then(|r| r.with_peer_key(Key::generate_hs256("p1")?))
            .and_then(|r| r.with_peer_key(Key::generate_hs256("p2")?))
            .expect("distinct kids");
        assert_eq!(ring.kids().collect::<Vec<_>>(), ["me", "p1", "p2", "old"]);
        assert!(ring.is_current("me") && ring.is_current("p1") && ring.is_current("p2"));
        assert!(!ring.is_current("old") && !ring.is_current("nobody"));
        let e = ring
            .with_peer_key(Key::generate_hs256("p1").expect("rng"))
            .expect_err("duplicate");
        assert!(matches!(e, ConfigError::DuplicateKeyId { .. }));
    }

    #[cfg(feature = "node-keys")]
    #[test]
    fn a_public_first_key_issues_nothing() {
        let public = Key::generate_ed25519()
            .expect("rng")
            .public_key()
            .expect("Ed25519");
        let ring = KeyRing::new(public);
        assert!(ring.issuing_key().is_none());
        assert!(!ring.iter().next().expect("one key").can_sign());
    }
}
