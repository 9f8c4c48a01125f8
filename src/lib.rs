//! Stateless, signed client-side sessions for axum and hyper, as one Tower layer.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod clock;
mod config;
mod error;
#[cfg(feature = "axum")]
mod extract;
mod key;
mod log;
mod server;
mod session;
pub mod token;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::config::{DEFAULT_COOKIE_NAME, SameSite, Transport};
pub use crate::error::{ConfigError, RejectionKind, SignError, VerifyError};
#[cfg(feature = "axum")]
pub use crate::extract::SessionRejection;
pub use crate::key::{
    Algorithm, Key, KeyRing, KeyRingHandle, MAX_KID_LEN, MIN_SECRET_LEN, encode_secret,
};
pub use crate::server::{
    DEFAULT_REFRESH_AFTER, DEFAULT_TOKEN_RESPONSE_HEADER, Rejection, ResponseBody,
    ResponseFuture, SessionLayer, SessionService,
};
pub use crate::session::{Session, SessionData, SessionError, SessionHandle, SessionInfo};
pub use crate::token::{Claims, SessionId, TokenCodec, Verified};
