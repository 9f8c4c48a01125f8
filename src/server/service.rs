//! [`SessionService`]: verifies on the way in, re-signs on the way out.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use tower_service::Service;

use super::body::ResponseBody;
use super::cross_origin;
#[cfg(feature = "csrf")]
use super::csrf;
use super::future::ResponseFuture;
use super::grpc;
use super::inbound;
use super::layer::Config;
use crate::error::Rejection;
use crate::error::RejectionKind;
use crate::keys::KeyWait;
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
        // Unsafe requests from other origins are refused before any session work.
        if let Some(response) = cross_origin_refusal(config, &request) {
            return ResponseFuture::answered(response);
        }
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
            let response = grpc::answer_for(request.headers(), (config.oversize_response)(&report));
            return ResponseFuture::rejected(response, handle);
        }
        // What the layer checks of an unsafe request's CSRF token once its session is known.
        #[cfg(feature = "csrf")]
        let csrf = csrf::Demand::of(config, request.method(), request.uri(), request.headers());
        #[cfg(any(feature = "dbsc", feature = "dpop"))]
        prove(config, &handle, &request);
        // Rare path: the token names a key the ring does not hold yet (a node that just
        // joined), and the ring's source can refresh. The inner call is made now but not
        // polled until the refresh is over and the token verified again.
        if let Some(wait) = key_wait {
            let pending = Pending {
                keys: wait,
                grpc: grpc::content_type(request.headers()),
                #[cfg(feature = "csrf")]
                csrf,
            };
            pending.expose(request.extensions_mut(), &handle);
            request.extensions_mut().insert(handle.clone());
            return ResponseFuture::awaiting_keys(self.inner.call(request), handle, pending);
        }
        if let Some(response) = required_session_missing(&handle) {
            let response = grpc::answer_for(request.headers(), response);
            return ResponseFuture::rejected(response, handle);
        }
        #[cfg(feature = "csrf")]
        if let Some(kind) = csrf.as_ref().and_then(|demand| demand.refusal(&handle)) {
            let response = forbidden(config, kind);
            return ResponseFuture::answered(grpc::answer_for(request.headers(), response));
        }
        #[cfg(all(feature = "csrf", feature = "axum"))]
        if let Some(demand) = &csrf {
            csrf::expose(request.extensions_mut(), &handle, demand, true);
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

/// The layer's 403 for a cross-site request, with the rejection in its extensions.
fn forbidden<T>(config: &Config<T>, kind: RejectionKind) -> Response<Bytes> {
    let rejection = Rejection::new(kind);
    let mut response = (config.forbidden_response)(&rejection);
    response.extensions_mut().insert(rejection);
    response
}

/// The refusal of an unsafe request from another origin (counted and logged); `None` when
/// it may pass. A safe method costs one comparison here.
#[inline]
fn cross_origin_refusal<T, B>(config: &Config<T>, request: &Request<B>) -> Option<Response<Bytes>> {
    let refused = config
        .cross_origin
        .check(request.method(), request.uri(), request.headers())
        .err()?;
    cross_origin::refused(request.method(), request.uri(), &refused);
    config
        .metrics
        .forbidden(|| config.budgets(), RejectionKind::CrossOrigin);
    let response = forbidden(config, RejectionKind::CrossOrigin);
    Some(grpc::answer_for(request.headers(), response))
}

/// What the layer still has to decide about a request whose token waits for fresher
/// keys: once it is verified again, whether a required session is missing, and (feature
/// `csrf`) whether its CSRF token holds; answered as gRPC for a gRPC request.
pub(crate) struct Pending {
    /// The refresh to wait for.
    pub(crate) keys: KeyWait,
    /// The request's content type, for a gRPC request.
    grpc: Option<HeaderValue>,
    #[cfg(feature = "csrf")]
    csrf: Option<csrf::Demand>,
}

/// How the layer answers a request by itself once its session is known.
pub(crate) enum Answer {
    /// A session refusal (401): the session's outcome is applied to it (a refused
    /// cookie is deleted).
    Session(Response<Bytes>),
    /// A cross-site refusal (403): the session is left as it was.
    #[cfg_attr(not(feature = "csrf"), allow(dead_code))]
    Forbidden(Response<Bytes>),
}

impl Pending {
    /// Leaves what the CSRF extractor needs in the request's extensions.
    fn expose<T: SessionData>(&self, extensions: &mut http::Extensions, handle: &SessionHandle<T>) {
        #[cfg(all(feature = "csrf", feature = "axum"))]
        if let Some(demand) = &self.csrf {
            csrf::expose(extensions, handle, demand, false);
        }
        #[cfg(not(all(feature = "csrf", feature = "axum")))]
        let _ = (extensions, handle);
    }

    /// The layer's own answer, now that the request's token was verified again; `None`
    /// when the request goes on to the service.
    pub(crate) fn answer<T: SessionData>(&self, handle: &SessionHandle<T>) -> Option<Answer> {
        let as_grpc = |response| match &self.grpc {
            Some(content_type) => grpc::answer(response, content_type.clone()),
            None => response,
        };
        if let Some(response) = required_session_missing(handle) {
            return Some(Answer::Session(as_grpc(response)));
        }
        #[cfg(feature = "csrf")]
        if let Some(kind) = self.csrf.as_ref().and_then(|demand| demand.refusal(handle)) {
            let response = forbidden(handle.config(), kind);
            return Some(Answer::Forbidden(as_grpc(response)));
        }
        None
    }
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
