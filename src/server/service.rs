//! [`SessionService`]: verifies on the way in, re-signs on the way out.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use tower_service::Service;

use super::body::ResponseBody;
use super::future::ResponseFuture;
use super::inbound;
use super::layer::Config;
use crate::error::Rejection;
use crate::error::RejectionKind;
use crate::server::cookie::Transport;
use crate::server::handle::{SessionData, SessionHandle};

/// The service built by [`SessionLayer`](crate::SessionLayer).
///
/// Errors of the inner service pass through unchanged; the layer's own answers (401 when a
/// session is required, 500 when a changed session cannot be signed) are responses, never
/// errors.
///
/// Verifying needs no I/O, with one rare exception: a token naming a key id the ring does
/// not hold, when the ring comes from a source that can refresh it (a JWKS verifier, a node
/// key registry backed by a shared store). Then the inner service is called at once, but
/// its future is first polled only after the refresh (bounded by the source's timeout) and
/// a second verification: if the session is required and still missing, the layer answers
/// 401 and that future is never polled (it is dropped with the response future). A service that reads the session in `call`
/// itself, rather than in its future, sees no session on that path.
pub struct SessionService<S, T> {
    inner: S,
    /// `None` when the layer's configuration does not hold (every request is answered 500).
    config: Option<Arc<Config<T>>>,
}

impl<S, T> SessionService<S, T> {
    pub(crate) fn new(inner: S, config: Arc<Config<T>>) -> Self {
        SessionService {
            inner,
            config: Some(config),
        }
    }

    pub(crate) fn misconfigured(inner: S) -> Self {
        SessionService {
            inner,
            config: None,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, T> Clone for SessionService<S, T> {
    fn clone(&self) -> Self {
        SessionService {
            inner: self.inner.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S: std::fmt::Debug, T> std::fmt::Debug for SessionService<S, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, T, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S, T>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    T: SessionData,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, T>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let Some(config) = &self.config else {
            return ResponseFuture::misconfigured();
        };
        // DBSC's endpoints are the layer's own: the inner service never sees them.
        #[cfg(feature = "dbsc")]
        if let Some(dbsc) = &config.dbsc
            && request.method() == http::Method::POST
        {
            let path = request.uri().path();
            if path == dbsc.settings.registration_path() {
                return ResponseFuture::answered(super::dbsc::register(
                    config,
                    dbsc,
                    request.headers(),
                ));
            }
            if path == dbsc.settings.refresh_path() {
                return ResponseFuture::answered(super::dbsc::refresh(
                    config,
                    dbsc,
                    request.headers(),
                ));
            }
        }
        let inbound::Begun {
            handle,
            oversize,
            key_wait,
        } = inbound::begin(config, request.headers());
        if let Some(report) = oversize {
            let response = (config.oversize_response)(&report);
            return ResponseFuture::rejected(response, handle);
        }
        // Rare path: the token names a key the ring does not hold yet (a node that just
        // joined), and the ring's source can refresh. The inner call is made now but not
        // polled until the refresh is over and the token verified again.
        #[cfg(any(feature = "dbsc", feature = "dpop"))]
        prove(config, &handle, &request);
        if let Some(wait) = key_wait {
            request.extensions_mut().insert(handle.clone());
            return ResponseFuture::awaiting_keys(self.inner.call(request), handle, wait);
        }
        if let Some(response) = required_session_missing(&handle) {
            return ResponseFuture::rejected(response, handle);
        }
        request.extensions_mut().insert(handle.clone());
        ResponseFuture::called(self.inner.call(request), handle)
    }
}

/// The proof-of-possession checks that need the whole request: DBSC's skipped refreshes,
/// DPoP's proof.
#[cfg(any(feature = "dbsc", feature = "dpop"))]
fn prove<T, B>(config: &super::layer::Config<T>, handle: &SessionHandle<T>, request: &Request<B>) {
    // A skipped refresh means the browser sent the request without its bound cookie: a
    // session that came with one stands (the header cannot apply to it), anything else
    // counts as no session. The bound steady request so skips the header lookup.
    #[cfg(feature = "dbsc")]
    if config.dbsc.is_some() {
        let mut state = handle.lock();
        let bound = state.claims.as_ref().is_some_and(|c| c.cnf.is_some());
        if !bound && super::dbsc::skipped(request.headers()) {
            state.claims = None;
            state.inbound = None;
            state.rejection = Some(RejectionKind::RefreshSkipped);
        }
    }
    #[cfg(feature = "dpop")]
    if let Some(dpop) = &config.dpop {
        let line = super::dpop::RequestLine {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            scheme: request.extensions().get::<http::uri::Scheme>(),
        };
        super::dpop::check(dpop, &mut handle.lock(), &line);
    }
    #[cfg(not(feature = "dpop"))]
    let _ = (config, handle, request);
}

/// The layer's own 401 when a session is required and the request has none.
pub(crate) fn required_session_missing<T>(handle: &SessionHandle<T>) -> Option<Response<Bytes>> {
    let config = handle.config();
    if !config.require_session || handle.is_active() {
        return None;
    }
    let kind = handle.rejection().unwrap_or(RejectionKind::Missing);
    let mut response = (config.rejection_response)(&Rejection::new(kind));
    #[cfg(feature = "dpop")]
    if let Some(dpop) = &config.dpop {
        super::dpop::on_unauthorized(dpop, response.headers_mut(), Some(kind), handle.now());
    }
    if config.transport == Transport::Bearer
        && !response.headers().contains_key(header::WWW_AUTHENTICATE)
    {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    Some(response)
}
