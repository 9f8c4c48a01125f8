//! Which downstream service a call is for: one audience per client (the usual case), or
//! one chosen for each outgoing request.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::Request;
use http::request::Parts;

use crate::token::Audience;

type SelectFn = dyn Fn(&Parts) -> Option<Audience> + Send + Sync;

/// Where a minting client finds the audience of a call.
#[derive(Clone)]
pub(crate) enum AudienceSource {
    /// Every call of this client goes to the same service.
    Fixed(Audience),
    /// A function of the outgoing request (its host, its path); `None` sends no token.
    PerRequest(Arc<SelectFn>),
}

impl AudienceSource {
    pub(crate) fn per_request(
        select: impl Fn(&Parts) -> Option<Audience> + Send + Sync + 'static,
    ) -> Self {
        AudienceSource::PerRequest(Arc::new(select))
    }

    /// The audience of `request` (handed back unchanged); a fixed one is borrowed, so a
    /// call does not touch its shared count.
    pub(crate) fn select<B>(&self, request: Request<B>) -> (Request<B>, Option<Cow<'_, Audience>>) {
        match self {
            AudienceSource::Fixed(audience) => (request, Some(Cow::Borrowed(audience))),
            AudienceSource::PerRequest(select) => {
                let (parts, body) = request.into_parts();
                let audience = select(&parts).map(Cow::Owned);
                (Request::from_parts(parts, body), audience)
            }
        }
    }
}

impl fmt::Debug for AudienceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AudienceSource::Fixed(audience) => f.debug_tuple("Fixed").field(audience).finish(),
            AudienceSource::PerRequest(_) => f.write_str("PerRequest(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_request_selection_sees_the_request_and_keeps_it_whole() {
        let profile = Audience::new("profile").expect("valid");
        let source = AudienceSource::per_request(move |parts: &Parts| {
            (parts.uri.host() == Some("profile.internal")).then(|| profile.clone())
        });
        let request = Request::get("http://profile.internal/whoami")
            .header("x-trace", "1")
            .body("body")
            .expect("request");
        let (request, audience) = source.select(request);
        assert_eq!(audience.as_deref().map(Audience::as_str), Some("profile"));
        assert_eq!(request.uri().path(), "/whoami");
        assert_eq!(request.headers()["x-trace"], "1");
        assert_eq!(*request.body(), "body");
        let other = Request::get("http://billing.internal/")
            .body(())
            .expect("request");
        assert_eq!(source.select(other).1, None);
        let fixed = AudienceSource::Fixed(Audience::new("billing").expect("valid"));
        let any = Request::get("http://x/").body(()).expect("request");
        assert_eq!(
            fixed.select(any).1.map(|a| a.to_string()).as_deref(),
            Some("billing")
        );
    }
}
