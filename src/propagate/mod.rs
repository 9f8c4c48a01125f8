//! Propagation: the session of a request travels with the calls it makes to downstream
//! services.
//!
//! - `token.rs`: [`SessionToken`], a token ready for a header, redacted in `Debug`.
//! - `scope.rs`: the task's current session ([`current_token`], [`TokenScope`]).
//! - `layer.rs`, `service.rs`: the client-side [`PropagateSessionLayer`] and its service.

mod layer;
mod scope;
mod service;
mod token;

pub use self::layer::PropagateSessionLayer;
pub(crate) use self::scope::TokenSource;
pub use self::scope::{TokenScope, current_token};
pub use self::service::PropagateSession;
pub use self::token::{InvalidSessionToken, SessionToken};
