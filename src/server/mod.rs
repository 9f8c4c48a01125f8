//! The server side: [`SessionLayer`], its service, future, body and rejection.

mod body;
mod future;
mod inbound;
mod layer;
mod outbound;
mod rejection;
mod service;

pub use self::body::ResponseBody;
pub use self::future::ResponseFuture;
pub(crate) use self::layer::Config;
pub use self::layer::{DEFAULT_REFRESH_AFTER, DEFAULT_TOKEN_RESPONSE_HEADER, SessionLayer};
pub use self::rejection::Rejection;
pub use self::service::SessionService;
