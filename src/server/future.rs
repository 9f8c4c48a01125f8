//! [`ResponseFuture`]: the inner call in flight, or the layer's own answer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Response, StatusCode};
use pin_project_lite::pin_project;

use super::body::ResponseBody;
use super::inbound::retry;
use super::outbound::finish;
use super::rejection::plain;
use super::service::{Answer, Pending};
use crate::server::handle::{SessionData, SessionHandle};

/// The inner future as the response future holds it: with `propagate`, polled with the
/// request's session as the task's current session (see `propagate::current_token`).
#[cfg(feature = "propagate")]
type Scoped<F> = super::scope::TokenScope<F>;
#[cfg(not(feature = "propagate"))]
type Scoped<F> = F;

fn scoped<F, T: SessionData>(future: F, handle: &SessionHandle<T>) -> Scoped<F> {
    #[cfg(feature = "propagate")]
    return super::scope::TokenScope::new(future, handle.source());
    #[cfg(not(feature = "propagate"))]
    {
        let _ = handle;
        future
    }
}

pin_project! {
    /// The response future of [`SessionService`](crate::server::SessionService).
    pub struct ResponseFuture<F, T> {
        #[pin]
        state: State<F, T>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, T> {
        Called {
            #[pin]
            future: Scoped<F>,
            handle: SessionHandle<T>,
            // Only on the rare path of a token naming a key not loaded yet: the refresh to
            // wait for before the inner future is first polled, and what to decide then.
            wait: Option<Pending>,
        },
        Rejected {
            response: Option<Response<Bytes>>,
            handle: SessionHandle<T>,
        },
        // The layer's configuration does not hold: no session, no handler.
        Misconfigured,
        // The layer's own answer, sent as it is: a cross-site refusal (the session left as
        // it was) or an endpoint the layer serves itself (DBSC's, with its own cookies).
        Answered {
            response: Option<Response<Bytes>>,
        },
    }
}

impl<F, T: SessionData> ResponseFuture<F, T> {
    /// The inner call.
    pub(crate) fn called(future: F, handle: SessionHandle<T>) -> Self {
        let future = scoped(future, &handle);
        ResponseFuture {
            state: State::Called {
                future,
                handle,
                wait: None,
            },
        }
    }

    /// The inner call, polled only once the refresh `wait` holds is over and the request's
    /// token has been verified again with the refreshed keys; if the layer then refuses
    /// the request (a required session still missing, a CSRF token that does not hold), it
    /// answers by itself and the inner future is never polled (it is dropped with this
    /// future).
    pub(crate) fn awaiting_keys(future: F, handle: SessionHandle<T>, wait: Pending) -> Self {
        let future = scoped(future, &handle);
        ResponseFuture {
            state: State::Called {
                future,
                handle,
                wait: Some(wait),
            },
        }
    }
}

impl<F, T> ResponseFuture<F, T> {
    pub(crate) fn misconfigured() -> Self {
        ResponseFuture {
            state: State::Misconfigured,
        }
    }

    /// The layer's own answer, sent as it is: a cross-site refusal (403) or a DBSC
    /// endpoint's. The session's outcome is not applied (no refresh, no cookie change).
    pub(crate) fn answered(response: Response<Bytes>) -> Self {
        ResponseFuture {
            state: State::Answered {
                response: Some(response),
            },
        }
    }

    pub(crate) fn rejected(response: Response<Bytes>, handle: SessionHandle<T>) -> Self {
        ResponseFuture {
            state: State::Rejected {
                response: Some(response),
                handle,
            },
        }
    }
}

impl<F, T, B, E> Future for ResponseFuture<F, T>
where
    F: Future<Output = Result<Response<B>, E>>,
    T: SessionData,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called {
                future,
                handle,
                wait,
            } => {
                if let Some(pending) = wait {
                    ready!(pending.keys.as_mut().poll(cx));
                    retry(handle);
                    let answer = pending.answer(handle);
                    *wait = None;
                    match answer {
                        Some(Answer::Session(response)) => {
                            return Poll::Ready(Ok(complete(
                                handle,
                                response.map(ResponseBody::full),
                            )));
                        }
                        Some(Answer::Forbidden(response)) => {
                            return Poll::Ready(Ok(response.map(ResponseBody::full)));
                        }
                        None => {}
                    }
                }
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(complete(handle, response.map(ResponseBody::inner))))
            }
            StateProj::Rejected { response, handle } => {
                // Polling again after completion is a caller bug; answer it without panicking.
                let response = response.take().unwrap_or_else(|| {
                    plain(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "response already taken\n",
                    )
                });
                Poll::Ready(Ok(complete(handle, response.map(ResponseBody::full))))
            }
            StateProj::Answered { response } => {
                let response = response.take().unwrap_or_else(|| {
                    plain(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "response already taken\n",
                    )
                });
                Poll::Ready(Ok(response.map(ResponseBody::full)))
            }
            StateProj::Misconfigured => Poll::Ready(Ok(plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "500 Internal Server Error\n",
            )
            .map(ResponseBody::full))),
        }
    }
}

/// The response with the session's outcome applied (see [`finish`](super::outbound::finish)).
fn complete<T: SessionData, B>(
    handle: &SessionHandle<T>,
    mut response: Response<ResponseBody<B>>,
) -> Response<ResponseBody<B>> {
    finish(handle, &mut response);
    response
}

impl<F, T> std::fmt::Debug for ResponseFuture<F, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
