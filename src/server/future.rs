//! [`ResponseFuture`]: the inner call in flight, or the layer's own answer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Response, StatusCode};
use pin_project_lite::pin_project;

use super::body::ResponseBody;
use super::outbound::finish as complete;
use super::rejection::plain;
use crate::propagate::TokenScope;
use crate::session::{SessionData, SessionHandle};

pin_project! {
    /// The response future of [`SessionService`](crate::SessionService).
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
            future: TokenScope<F>,
            handle: SessionHandle<T>,
        },
        Rejected {
            response: Option<Response<Bytes>>,
            handle: SessionHandle<T>,
        },
    }
}

impl<F, T: SessionData> ResponseFuture<F, T> {
    /// The inner call, polled with the request's session as the task's current session
    /// (see [`current_token`](crate::current_token)).
    pub(crate) fn called(future: F, handle: SessionHandle<T>) -> Self {
        let future = TokenScope::new(future, handle.source());
        ResponseFuture {
            state: State::Called { future, handle },
        }
    }
}

impl<F, T> ResponseFuture<F, T> {
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
            StateProj::Called { future, handle } => {
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
        }
    }
}

impl<F, T> std::fmt::Debug for ResponseFuture<F, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
