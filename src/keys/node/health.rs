//! What a node's keys report: the ring's source for the layer (reloads of the registry,
//! and the health of the node key and of the registry), and the node key's own check.

use std::sync::{Arc, Weak};

use super::{Inner, NodeKeys};
use crate::health::{Check, Health, HealthCheck};
use crate::keys::refresh::{KeyWait, RefreshKeys};
use crate::keys::registry::KeyRegistry;

/// The source of a node's ring: asks the registry for a reload when a token names an
/// unknown key, and reports the node key and the registry to
/// [`SessionLayer::health`](crate::SessionLayer::health).
pub(super) struct NodeRefresh {
    pub(super) registry: Arc<dyn KeyRegistry>,
    /// The node (weak: the node holds the ring, which holds this).
    pub(super) node: Weak<Inner>,
}

impl RefreshKeys for NodeRefresh {
    fn unknown_kid(&self, kid: &str) -> Option<KeyWait> {
        self.registry.refresh(kid)
    }

    fn adopt_timing(
        &self,
        idle: std::time::Duration,
        leeway: std::time::Duration,
        clock: Arc<dyn crate::time::Clock>,
    ) {
        if let Some(inner) = self.node.upgrade() {
            inner.adopt_timing(idle, leeway, clock);
        }
    }

    fn health(&self) -> Health {
        let registry = Arc::clone(&self.registry);
        let node = self.node.clone();
        Health::new()
            .with_check("node_key", move || match node.upgrade() {
                Some(inner) => inner.check(),
                None => Check::degraded("the node keys were dropped: nothing issues sessions"),
            })
            .with_check("key_registry", move || registry.health())
    }
}

impl Inner {
    /// Ok while this node issues with its own, published key; degraded while it issues
    /// with the fallback key, or cannot issue at all, since the change.
    fn check(&self) -> Check {
        let state = self.state();
        let check = match state.signing {
            Some(true) => Check::ok(),
            // The same key `rebuild` issues with: the fallback ring's issuing key.
            _ if self
                .fallback
                .as_ref()
                .is_some_and(|f| f.issuing_key().is_some()) =>
            {
                Check::degraded(
                    "node key not confirmed by the key registry: issuing with the fallback key",
                )
            }
            _ => Check::degraded(
                "node key not confirmed by the key registry: no key to issue sessions with \
                 (logins answered 503, refreshes postponed)",
            ),
        };
        check.since(state.signing_since)
    }
}

/// Ok while this node issues sessions with its own key, published and confirmed by the
/// registry; degraded while it issues with the fallback ring's key or cannot issue at
/// all (verifying goes on in both cases). The same check as `"node_key"` in
/// [`SessionLayer::health`](crate::SessionLayer::health).
impl HealthCheck for NodeKeys {
    fn check(&self) -> Check {
        self.inner.check()
    }
}
