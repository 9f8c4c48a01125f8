//! Propagation: the session of a request travels with the calls it makes to downstream
//! services, as a token minted for each service or as the session token itself.
//!
//! - [`SessionToken`] (from [`server`](crate::server)): a token ready for a header,
//!   redacted in `Debug`; the task's current session ([`current_token`], [`TokenScope`]).
//! - `layer.rs`, `service.rs`: the client-side [`PropagateSessionLayer`] and its service.
//! - `mint.rs`: [`Minter`], which mints audience-scoped tokens from a session.
//! - `cache.rs`: the cache of minted tokens.
//! - `audience.rs`: which audience a call is for.

mod audience;
mod cache;
mod layer;
mod mint;
mod service;

pub use self::cache::DEFAULT_MINT_CACHE_ENTRIES;
pub use self::layer::PropagateSessionLayer;
pub use self::mint::{DEFAULT_MINT_LIFETIME, MintError, Minter};
pub use self::service::PropagateSession;
pub use crate::server::{InvalidSessionToken, SessionToken, TokenScope, current_token};
pub use crate::token::minted::{
    Actor, Audience, DOWNSTREAM_TOKEN_TYPE, MAX_AUDIENCE_LEN, MINTED_RESERVED_CLAIMS, MintedClaims,
    TokenType,
};
