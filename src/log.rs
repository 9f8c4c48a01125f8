//! Log events, through `tracing` when the feature is on. Never logs a token or a secret.

use crate::error::{RejectionKind, SignError};

pub(crate) fn token_rejected(kind: RejectionKind) {
    #[cfg(feature = "tracing")]
    match kind {
        RejectionKind::Expired | RejectionKind::IdleTimeout | RejectionKind::AbsoluteTimeout => {
            tracing::debug!(kind = kind.as_str(), "session token rejected");
        }
        _ => tracing::info!(kind = kind.as_str(), "session token rejected"),
    }
    #[cfg(not(feature = "tracing"))]
    let _ = kind;
}

pub(crate) fn sign_failed(error: &SignError, changed: bool) {
    #[cfg(feature = "tracing")]
    if changed {
        tracing::error!(%error, "session change could not be signed; request failed, previous session kept");
    } else {
        tracing::error!(%error, "session refresh could not be signed; previous token kept");
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (error, changed);
}
