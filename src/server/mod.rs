//! The server side: [`SessionLayer`], its service, future, body and rejection; the session
//! handle and the extractors handlers use; the cookie and transport settings.

mod body;
mod budget;
mod cache;
pub(crate) mod cookie;
#[cfg(feature = "dbsc")]
mod dbsc;
#[cfg(feature = "dpop")]
mod dpop;
#[cfg(feature = "axum")]
mod extract;
mod future;
pub(crate) mod handle;
mod inbound;
pub(crate) mod issue;
mod layer;
mod outbound;
mod rejection;
#[cfg(feature = "propagate")]
pub(crate) mod scope;
mod service;
mod token;

pub use self::body::ResponseBody;
pub use self::budget::{
    BUDGET_WARNING_PERCENT, CookieSize, DEFAULT_COOKIE_BUDGET, DEFAULT_COOKIE_HEADER_BUDGET,
    IssuedToken, Oversize, OversizeAction,
};
pub use self::cache::DEFAULT_VERIFY_CACHE_ENTRIES;
pub use self::cookie::{DEFAULT_COOKIE_NAME, SameSite, Transport};
pub use self::future::ResponseFuture;
pub use self::handle::{Session, SessionData, SessionError, SessionHandle, SessionInfo};
pub(crate) use self::layer::Config;
pub use self::layer::{DEFAULT_REFRESH_AFTER, DEFAULT_TOKEN_RESPONSE_HEADER, SessionLayer};
#[cfg(feature = "propagate")]
pub use self::scope::{TokenScope, current_token};
pub use self::service::SessionService;
pub use self::token::{InvalidSessionToken, SessionToken};

#[cfg(all(test, feature = "node-keys"))]
mod tests_key_refresh;
