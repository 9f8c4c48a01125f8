//! [`NodeKeys`]: this node's own Ed25519 key, published to a [`KeyRegistry`] before it signs,
//! kept alive by a heartbeat, and the key ring that follows the registry.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak, mpsc};
use std::time::Duration;

use self::health::NodeRefresh;
use super::registry::{KeyRegistry, RegistrationKey, RegistryEntry};
use super::{Key, KeyRing, KeyRingHandle};
use crate::error::ConfigError;
use crate::metrics::{self, NodeKeyGauges};
use arc_swap::ArcSwap;

use crate::time::{Clock, DEFAULT_IDLE_TIMEOUT, DEFAULT_LEEWAY, SystemClock};

/// Default heartbeat: 30 seconds.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);
/// Default signing window of one publication: 5 minutes.
pub const DEFAULT_SIGNING_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Default cap on the keys a node holds (its own included): 64.
pub const DEFAULT_MAX_KEYS: usize = 64;

/// The most distinct refused entries remembered, so each is logged once.
const MAX_REMEMBERED_BAD: usize = 1024;

/// Settings for [`NodeKeys`]; see [`NodeKeys::builder`].
pub struct NodeKeysBuilder {
    registration: RegistrationKey,
    registry: Arc<dyn KeyRegistry>,
    key: Option<Key>,
    fallback: Option<KeyRing>,
    heartbeat: Duration,
    window: Duration,
    max_keys: usize,
    background: bool,
    #[cfg(test)]
    timing: Option<(Duration, Duration, Arc<dyn Clock>)>,
}

impl NodeKeysBuilder {
    /// This node's key, instead of a fresh one ([`Key::generate_ed25519`]): an Ed25519 key
    /// whose private half this process holds, for a node that keeps its key across restarts.
    #[must_use]
    pub fn with_key(mut self, key: Key) -> Self {
        self.key = Some(key);
        self
    }

    /// Keys every node holds (typically the HS256 ring of a deployment moving to node keys).
    /// They verify the sessions they signed, which are re-signed with the node key at their
    /// next request; and while the node key cannot be used (not published yet, or the
    /// registry unreachable for too long), the fallback's first key issues instead. Default:
    /// none (the node then refuses to sign until its key is published).
    #[must_use]
    pub fn with_fallback(mut self, ring: KeyRing) -> Self {
        self.fallback = Some(ring);
        self
    }

    /// How often the node republishes its entry. Whole seconds, at least 1. Default 30 s.
    #[must_use]
    pub fn with_heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat = interval;
        self
    }

    /// How far ahead one publication lets the node sign: the registry may be unreachable
    /// this long, less one heartbeat, before the node stops signing with its key. Longer
    /// windows ride out longer outages and keep departed nodes' keys longer. At least two
    /// heartbeats. Default 5 minutes.
    #[must_use]
    pub fn with_signing_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The most keys the ring holds, this node's own included. Entries beyond it (the
    /// oldest, by `signs_until`) are left out and logged: sessions they signed are refused.
    /// Restarts add one key each, which stays for the retention time, so size this for the
    /// nodes and the restarts of one retention period. At least 1. Default 64.
    #[must_use]
    pub fn with_max_keys(mut self, max: usize) -> Self {
        self.max_keys = max;
        self
    }

    /// Unit tests set the timing before the first publication, as a layer would after.
    #[cfg(test)]
    pub(crate) fn with_timing(
        mut self,
        idle: Duration,
        leeway: Duration,
        clock: impl Clock,
    ) -> Self {
        self.timing = Some((idle, leeway, Arc::new(clock)));
        self
    }

    /// Whether [`start`](Self::start) runs the heartbeat on a background thread (default
    /// `true`). Without it, call [`NodeKeys::tick`] at the heartbeat interval yourself (tests
    /// with a manual clock do).
    #[must_use]
    pub fn with_background_heartbeat(mut self, background: bool) -> Self {
        self.background = background;
        self
    }

    /// Makes the key (unless one was given), publishes it, builds the ring, and starts the
    /// heartbeat. With a registry that confirms later (a shared store), the node signs with
    /// its key only once the publication is confirmed; see [`NodeKeys::is_signing`].
    ///
    /// # Errors
    /// [`ConfigError::Random`] when the key cannot be made; [`ConfigError::InvalidSetting`]
    /// for a given key that is not an Ed25519 key this process can sign with, a heartbeat
    /// under 1 s, a signing window under two heartbeats, or a cap of 0 keys.
    pub fn start(self) -> Result<NodeKeys, ConfigError> {
        let invalid = |setting, reason| Err(ConfigError::InvalidSetting { setting, reason });
        let heartbeat = self.heartbeat.as_secs();
        let window = self.window.as_secs();
        if heartbeat == 0 {
            return invalid("heartbeat interval", "at least 1 second");
        }
        if window < 2 * heartbeat {
            return invalid("signing window", "at least two heartbeat intervals");
        }
        if self.max_keys == 0 {
            return invalid("max keys", "at least 1");
        }
        let key = match self.key {
            Some(key) => key,
            None => Key::generate_ed25519()?,
        };
        // Only an Ed25519 key has a public half.
        let Some(public) = key.public_key().filter(|_| key.can_sign()) else {
            return invalid("node key", "an Ed25519 key this process can sign with");
        };
        let (stop, stopped) = mpsc::channel::<()>();
        // Until a layer says otherwise (see `adopt_timing`): the layer's defaults.
        let timing = Timing::new(DEFAULT_IDLE_TIMEOUT, DEFAULT_LEEWAY, Arc::new(SystemClock));
        #[cfg(test)]
        let timing = match self.timing {
            Some((idle, leeway, clock)) => Timing::new(idle, leeway, clock),
            None => timing,
        };
        let started = timing.now();
        let inner = Arc::new_cyclic(|node| {
            // The ring's source: reloads of the registry, and the health of both.
            let refresher = Arc::new(NodeRefresh {
                registry: Arc::clone(&self.registry),
                node: node.clone(),
            });
            let handle = KeyRingHandle::with_refresher(KeyRing::new(public.clone()), refresher);
            Inner {
                key,
                public,
                registration: self.registration,
                registry: self.registry,
                fallback: self.fallback,
                handle,
                heartbeat,
                window,
                max_keys: self.max_keys,
                timing,
                rebuild_lock: Mutex::new(()),
                state: Mutex::new(State {
                    signing_since: started,
                    ..State::default()
                }),
                ignored_total: AtomicU64::new(0),
                _stop: Mutex::new(stop),
            }
        });
        let weak = Arc::downgrade(&inner);
        inner.registry.subscribe(Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.rebuild();
            }
        }));
        inner.tick();
        if self.background {
            spawn_heartbeat(Arc::downgrade(&inner), stopped, self.heartbeat)?;
        }
        Ok(NodeKeys { inner })
    }
}

impl fmt::Debug for NodeKeysBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKeysBuilder")
            .field("heartbeat", &self.heartbeat)
            .field("window", &self.window)
            .field("max_keys", &self.max_keys)
            .finish_non_exhaustive()
    }
}

fn spawn_heartbeat(
    inner: Weak<Inner>,
    stopped: mpsc::Receiver<()>,
    interval: Duration,
) -> Result<(), ConfigError> {
    std::thread::Builder::new()
        .name("tss-node-key-heartbeat".to_owned())
        .spawn(move || {
            // Ends when the node keys are dropped (the sender goes with them).
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                match inner.upgrade() {
                    Some(inner) => inner.tick(),
                    None => break,
                }
            }
        })
        .map(drop)
        .map_err(|_| ConfigError::InvalidSetting {
            setting: "heartbeat",
            reason: "the heartbeat thread could not be started",
        })
}

/// How long a token signed with a node key can live (the idle timeout plus the leeway of
/// the layers verifying with the ring, the longest if several), and their clock: one
/// source of truth, the layers' configuration, learned when each layer is built.
struct Timing {
    /// Idle timeout plus leeway, in seconds.
    retention: AtomicU64,
    /// Whether a layer has set it yet (the first replaces the defaults; later ones can
    /// only lengthen it).
    adopted: AtomicBool,
    clock: ArcSwap<Arc<dyn Clock>>,
}

impl Timing {
    fn new(idle: Duration, leeway: Duration, clock: Arc<dyn Clock>) -> Self {
        Timing {
            retention: AtomicU64::new(idle.as_secs().saturating_add(leeway.as_secs())),
            adopted: AtomicBool::new(false),
            clock: ArcSwap::from_pointee(clock),
        }
    }

    fn now(&self) -> u64 {
        self.clock.load().now()
    }

    fn retention(&self) -> u64 {
        self.retention.load(Ordering::Relaxed)
    }

    /// Takes a layer's deadlines and clock; whether anything changed.
    fn adopt(&self, idle: Duration, leeway: Duration, clock: Arc<dyn Clock>) -> bool {
        let retention = idle.as_secs().saturating_add(leeway.as_secs());
        let first = !self.adopted.swap(true, Ordering::Relaxed);
        let before = if first {
            self.retention.swap(retention, Ordering::Relaxed)
        } else {
            self.retention.fetch_max(retention, Ordering::Relaxed)
        };
        let clock_changed = !Arc::ptr_eq(&**self.clock.load(), &clock);
        self.clock.store(Arc::new(clock));
        clock_changed || before != self.retention()
    }
}

#[derive(Default)]
struct State {
    last_publish: Option<u64>,
    signing: Option<bool>,
    /// When `signing` last changed (the start, before the first rebuild).
    signing_since: u64,
    peers: usize,
    dropped_by_cap: usize,
    bad_seen: HashSet<Box<str>>,
}

struct Inner {
    key: Key,
    public: Key,
    registration: RegistrationKey,
    registry: Arc<dyn KeyRegistry>,
    fallback: Option<KeyRing>,
    handle: KeyRingHandle,
    heartbeat: u64,
    window: u64,
    max_keys: usize,
    /// The deadlines and clock of the layers verifying with this ring.
    timing: Timing,
    /// One rebuild at a time (the heartbeat and the registry's listener may race).
    rebuild_lock: Mutex<()>,
    state: Mutex<State>,
    ignored_total: AtomicU64,
    /// Dropped with the node keys, which ends the heartbeat thread.
    _stop: Mutex<mpsc::Sender<()>>,
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A layer verifying with this ring was built: keep keys as long as its tokens live,
    /// by its clock, and publish again at once if that changed anything.
    pub(super) fn adopt_timing(&self, idle: Duration, leeway: Duration, clock: Arc<dyn Clock>) {
        if self.timing.adopt(idle, leeway, clock) {
            self.state().last_publish = None;
            self.tick();
        }
    }

    fn tick(&self) {
        let now = self.timing.now();
        let due = {
            let mut state = self.state();
            let due = state
                .last_publish
                .is_none_or(|last| now >= last.saturating_add(self.heartbeat));
            if due {
                state.last_publish = Some(now);
            }
            due
        };
        if due {
            let signs_until = now.saturating_add(self.window);
            let expires_at = signs_until.saturating_add(self.timing.retention());
            if let Some(entry) =
                RegistryEntry::new(&self.registration, &self.key, signs_until, expires_at)
            {
                // No lock held: the registry may call the listener, which rebuilds.
                self.registry.publish(entry, now);
            }
        }
        self.rebuild();
    }

    /// Whether this node may issue with its own key at `now`: its latest confirmed
    /// publication covers at least the next heartbeat.
    fn own_key_usable(&self, now: u64) -> bool {
        self.registry
            .confirmed(self.key.kid())
            .is_some_and(|until| until > now.saturating_add(self.heartbeat))
    }

    /// The valid entries of other nodes (the newest, up to the cap, in key-id order), and the
    /// number left out by the cap.
    fn peer_entries(&self, now: u64) -> (Vec<(RegistryEntry, Key)>, usize) {
        let mut peers = Vec::new();
        let mut bad = Vec::new();
        for entry in self.registry.entries() {
            if entry.kid() == self.key.kid() || entry.expires_at() <= now {
                continue;
            }
            let key = entry
                .verify(&self.registration)
                .then(|| entry.key().ok())
                .flatten();
            match key {
                Some(key) => peers.push((entry, key)),
                None => bad.push(entry),
            }
        }
        if !bad.is_empty() {
            let mut state = self.state();
            if state.bad_seen.len() > MAX_REMEMBERED_BAD {
                state.bad_seen.clear();
            }
            for entry in bad {
                let text: Box<str> = entry.to_text().into();
                if state.bad_seen.insert(text) {
                    self.ignored_total.fetch_add(1, Ordering::Relaxed);
                    registry_entry_ignored(entry.kid());
                }
            }
        }
        peers.sort_by(|(a, _), (b, _)| {
            b.signs_until()
                .cmp(&a.signs_until())
                .then_with(|| a.kid().cmp(b.kid()))
        });
        let room = self.max_keys.saturating_sub(1);
        let dropped = peers.len().saturating_sub(room);
        peers.truncate(room);
        // A stable order, so heartbeats (which move `signs_until`) leave the ring as it is
        // and the layer's cache of verified tokens with it.
        peers.sort_by(|(a, _), (b, _)| a.kid().cmp(b.kid()));
        (peers, dropped)
    }

    fn rebuild(&self) {
        let _one_at_a_time = self
            .rebuild_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = self.timing.now();
        let (peers, dropped) = self.peer_entries(now);
        let signing = self.own_key_usable(now);
        let fallback: Vec<Key> = self
            .fallback
            .as_ref()
            .map(|ring| ring.iter().cloned().collect())
            .unwrap_or_default();

        let mut keys: Vec<Key> = Vec::with_capacity(1 + peers.len() + fallback.len());
        let mut rest = fallback.into_iter().peekable();
        if signing {
            keys.push(self.key.clone());
        } else {
            if let Some(first) = rest.next_if(Key::can_sign) {
                keys.push(first);
            }
            keys.push(self.public.clone());
        }
        let held = |keys: &[Key], kid: &str| keys.iter().any(|k| k.kid() == kid);
        let mut peer_count = 0;
        for (_, key) in peers {
            if !held(&keys, key.kid()) {
                keys.push(key);
                peer_count += 1;
            }
        }
        let current = keys.len() - 1;
        for key in rest {
            if !held(&keys, key.kid()) {
                keys.push(key);
            }
        }
        let ring = KeyRing::assemble(keys, current);

        let changed = {
            let old = self.handle.current();
            old.peers() != ring.peers()
                || old.issuing_key().map(Key::kid) != ring.issuing_key().map(Key::kid)
                || !old.kids().eq(ring.kids())
        };
        {
            let mut state = self.state();
            if state.signing != Some(signing) {
                state.signing_since = now;
                let first = state.signing.is_none();
                node_key_signing(
                    self.key.kid(),
                    signing,
                    first,
                    ring.issuing_key().map(Key::kid),
                );
                state.signing = Some(signing);
            }
            if dropped > 0 && dropped != state.dropped_by_cap {
                registry_capped(self.max_keys, dropped);
            }
            state.dropped_by_cap = dropped;
            state.peers = peer_count;
        }
        metrics::node_keys(NodeKeyGauges {
            keys: 1 + peer_count,
            max_keys: self.max_keys,
            signing,
            ignored_total: self.ignored_total.load(Ordering::Relaxed),
        });
        if changed {
            self.handle.replace(ring);
        }
    }
}

/// This node's signing key, published through a [`KeyRegistry`], and the key ring the
/// session layer uses.
///
/// The ring [`NodeKeys::keys`] hands to the layer is rebuilt whenever the registry changes
/// and at every heartbeat:
///
/// 1. the issuing key: this node's key while its latest publication is confirmed and still
///    covers the next heartbeat; otherwise the fallback ring's first key (a shared HS256 key
///    every node holds), and if there is none, no key at all (signing answers
///    [`SignError::NoSigningKey`](crate::token::SignError::NoSigningKey), so the node never issues
///    a token the others could not verify);
/// 2. as current (peer) keys: this node's public key when it does not issue, and every
///    other node's key whose entry carries a valid registration MAC and has not expired,
///    newest first, at most [`with_max_keys`](NodeKeysBuilder::with_max_keys) in all;
/// 3. the fallback ring's other keys, as retired keys.
///
/// # Retention
///
/// Each publication promises that the node signs with its key until `signs_until` = now +
/// the signing window at most, and sets `expires_at` = `signs_until` + idle timeout +
/// leeway: the last moment a token the key signed can be valid. Every node keeps the key
/// until then, crash or not, and drops it after. A node that cannot publish (the registry
/// is unreachable) stops signing with its key one heartbeat before its last confirmed
/// `signs_until`, so it never signs a token that would outlive the key's entry.
///
/// ```
/// use tower_stateless_session::SessionLayer;
/// use tower_stateless_session::keys::node::NodeKeys;
/// use tower_stateless_session::keys::registry::{MemoryKeyRegistry, RegistrationKey};
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct User { sub: String }
///
/// let registry = MemoryKeyRegistry::new();
/// let node = NodeKeys::builder(RegistrationKey::generate()?, registry).start()?;
/// assert!(node.is_signing(), "an in-memory registry confirms at once");
/// let layer = SessionLayer::<User>::new(node.keys());
/// # Ok::<(), tower_stateless_session::ConfigError>(())
/// ```
///
/// Clones share the same key. The heartbeat stops when the last clone is dropped.
#[derive(Clone)]
pub struct NodeKeys {
    inner: Arc<Inner>,
}

/// A snapshot of a node's key state, for metrics and health checks.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeKeysStatus {
    /// This node's key id (the RFC 7638 thumbprint of its public key).
    pub kid: String,
    /// Whether this node's key issues new sessions now (published and confirmed).
    pub signing: bool,
    /// When `signing` last changed (Unix seconds; the node's start until its first
    /// rebuild).
    pub signing_since: u64,
    /// The latest `signs_until` of this node's entry the registry has confirmed.
    pub confirmed_until: Option<u64>,
    /// When this node last published its entry (Unix seconds).
    pub last_published: Option<u64>,
    /// Other nodes' keys in the ring.
    pub peer_keys: usize,
    /// Entries refused since start (bad registration MAC or unusable key), counted once each.
    pub ignored_entries: u64,
    /// Valid entries left out by the cap at the last rebuild.
    pub dropped_by_cap: usize,
}

impl NodeKeys {
    /// Settings for a node publishing through `registry`, its entries authenticated with
    /// `registration`.
    pub fn builder(registration: RegistrationKey, registry: impl KeyRegistry) -> NodeKeysBuilder {
        NodeKeysBuilder {
            registration,
            registry: Arc::new(registry),
            key: None,
            fallback: None,
            heartbeat: DEFAULT_HEARTBEAT,
            window: DEFAULT_SIGNING_WINDOW,
            max_keys: DEFAULT_MAX_KEYS,
            #[cfg(test)]
            timing: None,
            background: true,
        }
    }

    /// The key ring handle to give the layer ([`SessionLayer::new`](crate::SessionLayer::new))
    /// and the JWKS service. It follows the registry.
    pub fn keys(&self) -> KeyRingHandle {
        self.inner.handle.clone()
    }

    /// This node's key id.
    pub fn kid(&self) -> &str {
        self.inner.key.kid()
    }

    /// This node's public key (verify-only).
    pub fn public_key(&self) -> &Key {
        &self.inner.public
    }

    /// Whether this node's key issues new sessions now.
    pub fn is_signing(&self) -> bool {
        self.inner
            .handle
            .current()
            .issuing_key()
            .is_some_and(|k| k.kid() == self.kid())
    }

    /// Publishes the entry when a heartbeat is due, and rebuilds the ring (drops expired
    /// keys, demotes this node's key when its publication lapses). The background heartbeat
    /// calls it; call it yourself without one.
    pub fn tick(&self) {
        self.inner.tick();
    }

    /// A snapshot of the key state (cheap: a lock and a few reads, no I/O).
    pub fn status(&self) -> NodeKeysStatus {
        let confirmed_until = self.inner.registry.confirmed(self.kid());
        let state = self.inner.state();
        NodeKeysStatus {
            kid: self.kid().to_owned(),
            signing: state.signing.unwrap_or(false),
            signing_since: state.signing_since,
            confirmed_until,
            last_published: state.last_publish,
            peer_keys: state.peers,
            ignored_entries: self.inner.ignored_total.load(Ordering::Relaxed),
            dropped_by_cap: state.dropped_by_cap,
        }
    }
}

impl fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKeys")
            .field("kid", &self.kid())
            .field("ring", &self.inner.handle)
            .finish_non_exhaustive()
    }
}

mod health;

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn registry_entry_ignored(kid: &str) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        kid,
        "key registry entry ignored: its registration MAC does not verify or its key is \
         unusable (written by something without the registration key?)"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = kid;
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn node_key_signing(kid: &str, signing: bool, first: bool, issuing: Option<&str>) {
    #[cfg(feature = "tracing")]
    if signing {
        tracing::info!(kid, "node key published: signing with it");
    } else if first {
        tracing::info!(
            kid,
            issuing,
            "node key sent to the registry: signing with it once the registry confirms it"
        );
    } else {
        tracing::warn!(
            kid,
            issuing,
            "node key no longer confirmed by the registry: not signing with it"
        );
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (kid, signing, first, issuing);
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn registry_capped(max_keys: usize, dropped: usize) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        max_keys,
        dropped,
        "more live node keys than the cap: the oldest are left out, and sessions they \
         signed are refused; raise with_max_keys or restart nodes less often"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (max_keys, dropped);
}

#[cfg(test)]
mod tests;
