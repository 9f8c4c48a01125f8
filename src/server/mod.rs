//! The server side: [`SessionLayer`], its service, future, body and rejection.

mod body;
mod budget;
mod cache;
mod future;
mod inbound;
pub(crate) mod issue;
mod layer;
mod outbound;
mod rejection;
mod service;

pub use self::body::ResponseBody;
pub use self::budget::{
    BUDGET_WARNING_PERCENT, CookieSize, DEFAULT_COOKIE_BUDGET, DEFAULT_COOKIE_HEADER_BUDGET,
    IssuedToken, Oversize, OversizeAction,
};
pub use self::cache::DEFAULT_VERIFY_CACHE_ENTRIES;
pub use self::future::ResponseFuture;
pub(crate) use self::layer::Config;
pub use self::layer::{DEFAULT_REFRESH_AFTER, DEFAULT_TOKEN_RESPONSE_HEADER, SessionLayer};
pub use self::rejection::Rejection;
pub use self::service::SessionService;

#[cfg(test)]
mod tests_key_refresh;
