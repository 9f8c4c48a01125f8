//! Asking for a fresher key ring when a token names a key id the ring does not hold.
//!
//! A verifier fed from elsewhere (a JWKS document, the node-key registry) can be a moment
//! behind: a node that just joined signs with a key the verifier has not loaded yet. On
//! that rare path the layer asks the ring's source to refresh once and waits, bounded, for
//! the result before it decides; the common path never gets here.

use std::future::Future;
use std::pin::Pin;

use crate::health::Health;

/// Resolves when a refresh attempt is over (whatever its outcome). Bounded by the source's
/// own timeout.
pub type KeyWait = Pin<Box<dyn Future<Output = ()> + Send + Sync + 'static>>;

/// A source that can refresh a ring on demand.
pub(crate) trait RefreshKeys: Send + Sync + 'static {
    /// A token named `kid`, which the ring does not hold. Returns a wait for a refresh
    /// attempt (started now, already in flight, or the next one the rate limit allows), or
    /// `None` when no refresh will come (then the token is refused at once).
    fn unknown_kid(&self, kid: &str) -> Option<KeyWait>;

    /// The health checks of the source (the JWKS endpoint; the node key and its
    /// registry), which [`SessionLayer::health`](crate::SessionLayer::health) adds to the
    /// layer's own. None by default.
    fn health(&self) -> Health {
        Health::new()
    }

    /// A session layer verifying with this source was built with these deadlines and this
    /// clock: a source that decides how long a key stays in the ring (node keys) keeps it
    /// as long as a token signed with it can live there. Nothing by default.
    fn adopt_timing(
        &self,
        idle: std::time::Duration,
        leeway: std::time::Duration,
        clock: std::sync::Arc<dyn crate::time::Clock>,
    ) {
        let _ = (idle, leeway, clock);
    }
}
