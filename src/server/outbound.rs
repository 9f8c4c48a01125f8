//! The way out: turn what the handler did to the session into a `Set-Cookie`, a response
//! header, or nothing.

use http::{HeaderValue, Response, header};

use super::body::ResponseBody;
use super::budget::{IssuedToken, crosses_warning};
use super::rejection::Rejection;
use crate::config::Transport;
use crate::error::SignError;
use crate::log;
use crate::session::{Change, SessionData, SessionHandle};

enum Emit {
    Nothing,
    /// Delete the cookie.
    Remove,
    /// Sign the current claims; `changed` when the handler changed the session (a failure
    /// then fails the request), not when this is only a refresh.
    Sign {
        changed: bool,
    },
}

fn header_value(text: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Applies the session's outcome to a response (the inner service's, or the layer's own).
pub(crate) fn finish<T: SessionData, B>(
    handle: &SessionHandle<T>,
    mut response: Response<ResponseBody<B>>,
) -> Response<ResponseBody<B>> {
    let config = handle.config();
    let mut state = handle.lock();
    let state = &mut *state;
    let codec = &config.codec;
    let cookie = matches!(config.transport, Transport::Cookie);

    let emit = if config.verify_only {
        Emit::Nothing
    } else {
        match (state.change, &mut state.claims) {
            (Change::Ended, _) => Emit::Remove,
            (Change::Started, Some(_)) => Emit::Sign { changed: true },
            (Change::Modified | Change::Renewed, Some(claims)) => {
                codec.refresh(claims);
                Emit::Sign { changed: true }
            }
            (_, Some(claims)) => {
                let now = codec.now();
                let due = now.saturating_sub(claims.iat) >= config.refresh_after;
                let new_exp = codec.expiry(now, claims.auth_time);
                if state.needs_resign || (due && new_exp > claims.exp) {
                    codec.refresh(claims);
                    Emit::Sign { changed: false }
                } else {
                    Emit::Nothing
                }
            }
            // A token came but was refused: delete it so the client stops sending it.
            (_, None) if state.inbound.is_some() => Emit::Remove,
            (_, None) => Emit::Nothing,
        }
    };

    match emit {
        Emit::Nothing => {}
        Emit::Remove => {
            if cookie && let Some(value) = header_value(&config.cookie.removal()) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        Emit::Sign { changed } => {
            let Some(claims) = state.claims.as_ref() else {
                return response;
            };
            // The budget holds the bytes sent: `name=value` for a cookie.
            let overhead = if cookie {
                config.cookie.name().len() + 1
            } else {
                0
            };
            let mut budget = codec.max_token_len().saturating_add(overhead);
            if cookie {
                budget = budget.min(config.cookie_budget);
            }
            let signed = codec
                .sign_capped(claims, budget.saturating_sub(overhead))
                .map_err(|error| match error {
                    SignError::Oversized { len, .. } => SignError::Oversized {
                        len: len + overhead,
                        max: budget,
                    },
                    other => other,
                });
            match signed {
                Ok(token) => {
                    state.needs_resign = false;
                    let size = token.len() + overhead;
                    if crosses_warning(state.inbound_size, size, budget) {
                        log::budget_warning(size, budget);
                    }
                    response
                        .extensions_mut()
                        .insert(IssuedToken { size, budget });
                    let (name, text) = if cookie {
                        let max_age = claims
                            .remember
                            .then(|| claims.exp.saturating_sub(codec.now()));
                        (
                            header::SET_COOKIE,
                            config.cookie.set_cookie(&token, max_age),
                        )
                    } else if let Some(name) = config.token_response_header() {
                        (name, token)
                    } else {
                        return response;
                    };
                    if let Some(value) = header_value(&text) {
                        response.headers_mut().append(name, value);
                    }
                }
                Err(error) => {
                    log::sign_failed(&error, changed);
                    if changed {
                        let failure = (config.sign_failure_response)(&error);
                        let mut replaced = failure.map(ResponseBody::full);
                        std::mem::swap(replaced.extensions_mut(), response.extensions_mut());
                        response = replaced;
                    }
                }
            }
        }
    }
    if let Some(kind) = state.rejection {
        response.extensions_mut().insert(Rejection::new(kind));
    }
    response
}
