//! Stateless, signed client-side sessions for axum and hyper, as one Tower layer.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod clock;
mod error;
mod key;
pub mod token;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::error::{ConfigError, RejectionKind, SignError, VerifyError};
pub use crate::key::{
    Algorithm, Key, KeyRing, KeyRingHandle, MAX_KID_LEN, MIN_SECRET_LEN, encode_secret,
};
pub use crate::token::{Claims, SessionId, TokenCodec, Verified};
