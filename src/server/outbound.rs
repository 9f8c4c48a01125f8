//! The way out: turn what the handler did to the session into a `Set-Cookie`, a response
//! header, or nothing.

use http::{HeaderValue, Response, header};

use super::body::ResponseBody;
use super::budget::IssuedToken;
use super::issue::{changed, ensure_issued};
use crate::error::Rejection;
use crate::error::RejectionKind;
use crate::server::cookie::Transport;
use crate::server::handle::{Change, SessionData, SessionHandle};

fn sensitive(text: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Applies the session's outcome to a response (the inner service's, or the layer's own),
/// in place: the response is not moved through here.
pub(crate) fn finish<T: SessionData, B>(
    handle: &SessionHandle<T>,
    response: &mut Response<ResponseBody<B>>,
) {
    let config = handle.config();
    let mut state = handle.lock();
    let state = &mut *state;
    let cookie = config.transport == Transport::Cookie;

    let outcome = ensure_issued(config, state).map(Option::<&_>::cloned);
    match outcome {
        Ok(Some(issued)) => {
            let value = if cookie {
                let claims = state.claims.as_ref();
                let max_age = claims
                    .filter(|c| c.remember)
                    .map(|c| c.exp.saturating_sub(state.now));
                // A DBSC-bound cookie always carries its Max-Age (the browser refreshes
                // when it is gone), and its refresh credential follows every new one.
                #[cfg(feature = "dbsc")]
                let max_age = match (&config.dbsc, claims) {
                    (Some(dbsc), Some(claims)) if claims.cnf.is_some() => {
                        if let Some(value) =
                            super::dbsc::refresh_credential(config, dbsc, claims, state.now)
                        {
                            response.headers_mut().append(header::SET_COOKIE, value);
                        }
                        super::dbsc::bound_max_age(claims, state.now).or(max_age)
                    }
                    // A new session: offer registration.
                    (Some(dbsc), Some(claims)) if state.change == Change::Started => {
                        if let Some(offer) = super::dbsc::offer(dbsc, &claims.sid, state.now) {
                            response
                                .headers_mut()
                                .insert(crate::pop::dbsc::REGISTRATION_HEADER, offer);
                        }
                        max_age
                    }
                    _ => max_age,
                };
                sensitive(&config.cookie.set_cookie(issued.token.as_str(), max_age))
                    .map(|v| (header::SET_COOKIE, v))
            } else {
                config
                    .response_header
                    .clone()
                    .map(|name| (name, issued.token.header_value()))
            };
            if let Some((name, value)) = value {
                response.headers_mut().append(name, value);
            }
            response.extensions_mut().insert(IssuedToken {
                size: issued.size,
                budget: issued.budget,
            });
        }
        Ok(None) => {
            // Logout, or a token that came but was refused: delete the cookie so the client
            // stops sending it. Never in verify-only mode.
            // Not for an ambiguous request: the deletion would only reach the user's own
            // cookie (a planted one has another Domain or Path) and leave the planted one to
            // be sent alone next time.
            let remove = !config.verify_only
                && (state.change == Change::Ended
                    || (state.claims.is_none()
                        && state.inbound.is_some()
                        && state.rejection != Some(RejectionKind::Ambiguous)));
            if cookie
                && remove
                && let Some(value) = sensitive(config.cookie.removal())
            {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            // Logout ends the DBSC session too: without its refresh credential, the next
            // refresh answers `continue: false`.
            #[cfg(feature = "dbsc")]
            if let Some(dbsc) = &config.dbsc
                && state.change == Change::Ended
                && let Some(value) = sensitive(dbsc.refresh_cookie.removal())
            {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        Err(error) => {
            let changed = changed(state);
            super::issue::sign_failed(&error, changed);
            if changed {
                let failure = (config.sign_failure_response)(&error);
                let mut replaced = failure.map(ResponseBody::full);
                std::mem::swap(replaced.extensions_mut(), response.extensions_mut());
                *response = replaced;
            }
        }
    }
    #[cfg(feature = "dpop")]
    if let Some(error) = state.pop.proof_error {
        response.extensions_mut().insert(error);
    }
    #[cfg(feature = "dpop")]
    if let Some(dpop) = &config.dpop
        && response.status() == http::StatusCode::UNAUTHORIZED
    {
        super::dpop::on_unauthorized(dpop, response.headers_mut(), state.rejection, state.now);
    }
    if let Some(kind) = state.rejection {
        response.extensions_mut().insert(Rejection::new(kind));
    }
}
