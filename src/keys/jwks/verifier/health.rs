//! A JWKS verifier's health check: is the set fetched, and is it current.

use super::{JwksError, JwksVerifier, Shared};
use crate::health::{Check, HealthCheck};

impl Shared {
    /// Ok while fetches succeed; degraded before the first fetch is over and while they
    /// fail, since the change. The reason names the kind of failure in fixed words (never
    /// the URL or the server's text).
    pub(super) fn check(&self) -> Check {
        let status = self.status();
        let check = match (&status.last_error, status.last_success) {
            (None, Some(_)) => Check::ok(),
            (None, None) => {
                Check::degraded("JWKS not fetched yet: tokens wait for the first fetch")
            }
            (Some(error), Some(_)) => Check::degraded(format!(
                "JWKS fetch failing ({}): verifying with the last set fetched, keys added \
                 since are refused",
                kind(error)
            )),
            (Some(error), None) => Check::degraded(format!(
                "JWKS fetch failing ({}): no set loaded, every token is refused",
                kind(error)
            )),
        };
        match status.since {
            Some(since) => check.since(since),
            None => check,
        }
    }
}

/// What went wrong, in fixed words.
fn kind(error: &JwksError) -> String {
    match error {
        JwksError::Timeout => "timeout".to_owned(),
        JwksError::Http(_) => "connection or HTTP error".to_owned(),
        JwksError::Status(code) => format!("answered {code}"),
        JwksError::TooLarge => "document over its size cap".to_owned(),
        JwksError::Invalid => "not a JWK set".to_owned(),
        JwksError::InvalidUrl | JwksError::HttpsNeedsClient | JwksError::NoRuntime => {
            "configuration".to_owned()
        }
    }
}

/// Ok while the JWKS fetches succeed; degraded before the first one is over and while
/// they fail (the last good set stays in use). The same check as `"jwks"` in
/// [`SessionLayer::health`](crate::SessionLayer::health).
impl HealthCheck for JwksVerifier {
    fn check(&self) -> Check {
        self.shared.check()
    }
}
