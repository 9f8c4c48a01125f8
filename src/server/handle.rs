//! The session handle shared between the layer and the handler.
//!
//! The layer puts a [`SessionHandle<T>`] into the request's extensions; the handler reads or
//! changes the session through it; the layer reads the outcome when the response comes back
//! and turns it into a `Set-Cookie` (or a response header), or into nothing at all.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http::HeaderValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(feature = "propagate")]
use super::scope::{SessionView, TokenScope, TokenSource};
use super::token::SessionToken;
use crate::error::RejectionKind;
use crate::metrics::IssueReason;
use crate::revocation::Revocation;
use crate::server::Config;
use crate::server::issue::{Issued, changed, ensure_issued};
#[cfg(feature = "propagate")]
use crate::token::MintedClaims;
use crate::token::{Claims, SessionId};

/// What session data must be: serializable to a JSON object, cloneable (verified tokens
/// are cached, see [`with_verify_cache`](crate::SessionLayer::with_verify_cache)),
/// shareable across threads.
///
/// Implemented for every type that qualifies. The data's fields sit next to the registered
/// claims in the token, so they may not use the names in
/// [`RESERVED_CLAIMS`](crate::token::RESERVED_CLAIMS).
pub trait SessionData: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> SessionData for T {}

/// What the handler did to the session during this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing: the layer refreshes the token only if it is due.
    None,
    /// A new session began (login): new `sid`, new `auth_time`.
    Started,
    /// The data changed; `sid` and `auth_time` stay.
    Modified,
    /// The `sid` changed; data and `auth_time` stay.
    Renewed,
    /// The session ended (logout).
    Ended,
}

/// The token that came with the request: the header value it sits in (a cheap, shared
/// clone) and its byte range there.
#[derive(Clone)]
pub(crate) struct InboundToken {
    pub(crate) value: HeaderValue,
    pub(crate) range: Range<usize>,
}

impl InboundToken {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.value.as_bytes()[self.range.clone()]
    }
}

pub(crate) struct State<T> {
    /// Shared with the cache of verified tokens; copied on the first change.
    pub(crate) claims: Option<Arc<Claims<T>>>,
    pub(crate) change: Change,
    /// Why the request's token was not accepted (`Missing` when there was none).
    pub(crate) rejection: Option<RejectionKind>,
    /// The verified token was signed by an old key or migrated: re-sign it now.
    pub(crate) resign: Option<IssueReason>,
    pub(crate) inbound: Option<InboundToken>,
    /// Bytes the token came in: `name=value` for a cookie, the token for a header.
    pub(crate) inbound_size: Option<usize>,
    /// A token signed during this request for the current claims (cleared by any change).
    pub(crate) issued: Option<Issued>,
    /// The time the request was received, read once (Unix seconds).
    pub(crate) now: u64,
    /// The registered claims of the minted token the request carried (downstream services).
    #[cfg(feature = "propagate")]
    pub(crate) minted: Option<Arc<MintedClaims>>,
    /// A [`SessionHandle::modify`] closure is running: no other change may start.
    pub(crate) changing: bool,
    /// What the request proved of a key (DPoP).
    #[cfg(feature = "dpop")]
    pub(crate) pop: PopState,
}

/// What a request proved of a key.
#[cfg(feature = "dpop")]
#[derive(Default)]
pub(crate) struct PopState {
    /// DPoP: a valid proof was checked on this request (a refresh may then extend a bound
    /// token).
    pub(crate) proven: bool,
    /// DPoP: the thumbprint of a valid proof on a request without a token; a login binds
    /// the new session to it.
    pub(crate) dpop_jkt: Option<String>,
    /// Why the request's proof was refused, for the logs.
    pub(crate) proof_error: Option<crate::pop::ProofError>,
}

impl<T> State<T> {
    pub(crate) fn new(rejection: RejectionKind, inbound_size: Option<usize>, now: u64) -> Self {
        State {
            now,
            claims: None,
            change: Change::None,
            rejection: Some(rejection),
            resign: None,
            inbound: None,
            inbound_size,
            issued: None,
            #[cfg(feature = "propagate")]
            minted: None,
            changing: false,
            #[cfg(feature = "dpop")]
            pop: PopState::default(),
        }
    }
}

struct Inner<T> {
    config: Arc<Config<T>>,
    state: Mutex<State<T>>,
}

/// The session of the current request, whether or not there is one.
///
/// Found in the request's extensions (and, with the `axum` feature, an extractor that always
/// succeeds when the layer is installed). Clones share the same session. Use it to start a
/// session (login); use [`Session<T>`] in handlers that need one to exist.
pub struct SessionHandle<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for SessionHandle<T> {
    fn clone(&self) -> Self {
        SessionHandle {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// A session known to be active when it was extracted.
///
/// As an axum extractor it answers 401 when the request has no valid session, and
/// `Option<Session<T>>` gives `None` instead. It dereferences to [`SessionHandle<T>`] for
/// reading and changing the session.
pub struct Session<T>(pub(crate) SessionHandle<T>);

impl<T> Clone for Session<T> {
    fn clone(&self) -> Self {
        Session(self.0.clone())
    }
}

impl<T> Deref for Session<T> {
    type Target = SessionHandle<T>;

    fn deref(&self) -> &SessionHandle<T> {
        &self.0
    }
}

impl<T> Session<T> {
    /// The underlying handle.
    pub fn into_handle(self) -> SessionHandle<T> {
        self.0
    }
}

/// The registered claims of a session, without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session id.
    pub sid: SessionId,
    /// When the current token was signed (Unix seconds).
    pub issued_at: u64,
    /// When the current token expires (Unix seconds).
    pub expires_at: u64,
    /// When the session began (Unix seconds); the absolute deadline counts from here.
    pub auth_time: u64,
    /// When the session ends whatever its activity (Unix seconds).
    pub absolute_deadline: u64,
    /// Whether the session is persistent ("remember me").
    pub remember: bool,
}

/// A change to the session could not be made.
#[non_exhaustive]
#[derive(Debug)]
pub enum SessionError {
    /// The layer runs in verify-only mode: it never signs, so sessions cannot change here.
    ReadOnly,
    /// There is no active session to change.
    NoSession,
    /// The operating system's random source failed while creating a session id.
    Random(crate::error::RandomError),
    /// The layer has no revocation store (see
    /// [`with_revocation`](crate::SessionLayer::with_revocation)).
    NoRevocation,
    /// A [`modify`](SessionHandle::modify) closure is running on this session: a change
    /// cannot start inside it (make it after the closure returns).
    ChangeInProgress,
    /// A DPoP layer's login needs a valid `DPoP` proof in its request: the new session is
    /// bound to the proof's key.
    ProofRequired,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::ReadOnly => {
                f.write_str("the session layer is verify-only: sessions cannot change here")
            }
            SessionError::NoSession => f.write_str("there is no active session to change"),
            SessionError::Random(e) => write!(f, "could not generate a session id: {e}"),
            SessionError::NoRevocation => {
                f.write_str("the session layer has no revocation store: configure with_revocation")
            }
            SessionError::ChangeInProgress => f.write_str(
                "the session is being changed by a modify closure: change it after the closure \
                 returns",
            ),
            SessionError::ProofRequired => f.write_str(
                "a DPoP login needs a valid DPoP proof in its request: the session is bound to \
                 its key",
            ),
        }
    }
}

impl std::error::Error for SessionError {}

impl<T> SessionHandle<T> {
    pub(crate) fn new(config: Arc<Config<T>>, state: State<T>) -> Self {
        SessionHandle {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(state),
            }),
        }
    }

    /// The handle in `extensions`, if a [`SessionLayer<T>`](crate::SessionLayer) put one there.
    pub fn from_extensions(extensions: &http::Extensions) -> Option<&Self>
    where
        T: Send + Sync + 'static,
    {
        extensions.get::<Self>()
    }

    pub(crate) fn config(&self) -> &Config<T> {
        &self.inner.config
    }

    /// Locks the state. A handler that panicked while holding the lock leaves the state as
    /// it was; the layer carries on with it rather than failing every later access.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn writable(&self) -> Result<MutexGuard<'_, State<T>>, SessionError> {
        if self.config().verify_only {
            return Err(SessionError::ReadOnly);
        }
        let state = self.lock();
        if state.changing {
            return Err(SessionError::ChangeInProgress);
        }
        Ok(state)
    }

    /// Whether there is an active session.
    pub fn is_active(&self) -> bool {
        self.lock().claims.is_some()
    }

    /// Whether the layer is verify-only (sessions can be read, never changed).
    pub fn is_read_only(&self) -> bool {
        self.config().verify_only
    }

    /// A copy of the session data, if there is a session.
    pub fn data(&self) -> Option<T>
    where
        T: Clone,
    {
        self.lock().claims.as_ref().map(|c| c.data.clone())
    }

    /// Runs `f` on the session data, if there is a session. The session is not locked
    /// while `f` runs: it may use this handle too (a change made there is not seen by `f`).
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        let claims = self.lock().claims.clone()?;
        Some(f(&claims.data))
    }

    /// The session's id and timestamps, if there is a session.
    ///
    /// `None` also for a [`Session<T>`] whose session was ended earlier in the same request.
    pub fn info(&self) -> Option<SessionInfo> {
        self.lock().claims.as_ref().map(|c| self.info_of(c))
    }

    fn info_of(&self, c: &Claims<T>) -> SessionInfo {
        let absolute = self.config().codec.absolute_timeout_secs();
        SessionInfo {
            sid: c.sid,
            issued_at: c.iat,
            expires_at: c.exp,
            auth_time: c.auth_time,
            absolute_deadline: c.auth_time.saturating_add(absolute),
            remember: c.remember,
        }
    }

    /// The key the session is bound to and the protocol that proves it (its `cnf`), when
    /// it is bound: a DBSC-registered browser session or a DPoP token. `None` for an
    /// unbound session and without a session.
    pub fn confirmation(&self) -> Option<crate::token::Confirmation> {
        self.lock().claims.as_ref().and_then(|c| c.cnf.clone())
    }

    #[cfg(feature = "propagate")]
    /// On a downstream service with an [audience](crate::SessionLayer::with_audience): the
    /// registered claims of the minted token the request carried (`iss`, `aud`, `sub`,
    /// `sid`, `iat`, `exp`, `act`). `None` elsewhere and without a valid token.
    pub fn minted(&self) -> Option<Arc<MintedClaims>> {
        self.lock().minted.clone()
    }

    /// The current time by the layer's clock (Unix seconds), to compare with the times of
    /// [`SessionInfo`].
    pub fn now(&self) -> u64 {
        self.config().codec.now()
    }

    /// The size of the session token the request carried, in bytes: `name=value` for a
    /// cookie, the token itself for a header transport. For metrics; `None` without a token.
    pub fn token_size(&self) -> Option<usize> {
        self.lock().inbound_size
    }

    /// Why the request's token was not accepted, if it was not: [`RejectionKind::Missing`]
    /// when there was none. `None` when the request carried a valid session (and also after
    /// a login in this request).
    pub fn rejection(&self) -> Option<RejectionKind> {
        self.lock().rejection
    }

    /// Starts a new session holding `data`, replacing any current one: a fresh `sid`,
    /// `auth_time` now (or, right after a revocation of its subject in this same second,
    /// the next second, so the new session is not revoked with the old ones), a
    /// browser-session cookie. Call it at login. Returns the new session's id and
    /// timestamps.
    ///
    /// On a layer with DPoP, the session is bound to the key of the request's `DPoP`
    /// proof.
    ///
    /// # Errors
    /// [`SessionError::ReadOnly`] in verify-only mode; [`SessionError::Random`] if the random
    /// source fails; [`SessionError::ProofRequired`] on a DPoP layer when the request
    /// carries no valid proof.
    pub fn login(&self, data: T) -> Result<SessionInfo, SessionError> {
        self.start(data, false)
    }

    /// As [`login`](SessionHandle::login), for a persistent ("remember me") session whose
    /// cookie carries `Max-Age` up to the token's expiry and so survives a browser restart.
    ///
    /// # Errors
    /// As [`login`](SessionHandle::login).
    pub fn login_persistent(&self, data: T) -> Result<SessionInfo, SessionError> {
        self.start(data, true)
    }

    fn start(&self, data: T, remember: bool) -> Result<SessionInfo, SessionError> {
        let mut state = self.writable()?;
        let mut claims = self
            .config()
            .codec
            .fresh_claims(data)
            .map_err(SessionError::Random)?;
        claims.remember = remember;
        #[cfg(feature = "dpop")]
        if self.config().dpop.is_some() {
            let jkt = state
                .pop
                .dpop_jkt
                .clone()
                .ok_or(SessionError::ProofRequired)?;
            claims.cnf = Some(crate::token::Confirmation::new(
                jkt,
                crate::token::Binding::Dpop,
            ));
        }
        self.begin_after_revocations(&mut claims);
        let info = self.info_of(&claims);
        state.claims = Some(Arc::new(claims));
        state.change = Change::Started;
        state.rejection = None;
        state.issued = None;
        Ok(info)
    }

    /// A session that begins now must begin after every revocation of its subject made up
    /// to now, even one made earlier in this very second ("log out everywhere", then log in
    /// again: a password change). Such a revocation covers sessions that began before the
    /// next second, so the new session begins at the first second it does not cover (at
    /// most the leeway ahead, where the `iat` check still accepts it).
    fn begin_after_revocations(&self, claims: &mut Claims<T>) {
        let config = self.config();
        let Some(revocations) = &config.revocations else {
            return;
        };
        let Some(subject) = (revocations.subject)(&claims.data) else {
            return;
        };
        let now = claims.auth_time;
        let latest = now.saturating_add(config.codec.leeway_secs());
        let mut start = now;
        while start < latest
            && revocations
                .store
                .is_revoked(&claims.sid, Some(subject), start, now)
        {
            start += 1;
        }
        if start != now {
            claims.auth_time = start;
            config.codec.refresh_at(claims, start);
        }
    }

    /// Changes the session data in place; `sid` and `auth_time` stay. Returns what `f`
    /// returns.
    ///
    /// # Errors
    /// [`SessionError::ReadOnly`] in verify-only mode; [`SessionError::NoSession`] when there
    /// is no session.
    ///
    /// The session is not locked while `f` runs, so `f` may read the session through this
    /// handle; a change started there ([`login`](Self::login), [`logout`](Self::logout),
    /// [`renew`](Self::renew), another `modify`) is refused with
    /// [`SessionError::ChangeInProgress`] instead of being lost or deadlocking.
    pub fn modify<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R, SessionError>
    where
        T: Clone,
    {
        let mut claims = {
            let mut state = self.writable()?;
            let claims = state.claims.clone().ok_or(SessionError::NoSession)?;
            state.changing = true;
            claims
        };
        // Clears the flag however `f` ends, a panic included.
        struct Changing<'a, T>(&'a SessionHandle<T>);
        impl<T> Drop for Changing<'_, T> {
            fn drop(&mut self) {
                self.0.lock().changing = false;
            }
        }
        let changing = Changing(self);
        let result = f(&mut Arc::make_mut(&mut claims).data);
        drop(changing);
        let mut state = self.lock();
        state.claims = Some(claims);
        if state.change == Change::None || state.change == Change::Renewed {
            state.change = Change::Modified;
        }
        state.issued = None;
        Ok(result)
    }

    /// Gives the session a fresh `sid`, keeping its data and `auth_time`. Call it after a
    /// privilege change, so an id seen before (fixation) is worthless after.
    ///
    /// # Errors
    /// [`SessionError::ReadOnly`] in verify-only mode; [`SessionError::NoSession`] when there
    /// is no session; [`SessionError::Random`] if the random source fails.
    pub fn renew(&self) -> Result<(), SessionError>
    where
        T: Clone,
    {
        let mut state = self.writable()?;
        let state = &mut *state;
        let claims = state.claims.as_mut().ok_or(SessionError::NoSession)?;
        Arc::make_mut(claims).sid = SessionId::random().map_err(SessionError::Random)?;
        if state.change == Change::None || state.change == Change::Modified {
            state.change = Change::Renewed;
        }
        state.issued = None;
        Ok(())
    }

    /// Ends the session: the response deletes the cookie (cookie transport). Harmless when
    /// there is no session.
    ///
    /// With a revocation store (see
    /// [`with_revocation`](crate::SessionLayer::with_revocation)) the session is also
    /// revoked, so copies of its token stop working everywhere the store reaches. Without
    /// one, the token stays valid until its `exp` for anyone who kept a copy.
    ///
    /// # Errors
    /// [`SessionError::ReadOnly`] in verify-only mode.
    pub fn logout(&self) -> Result<(), SessionError> {
        let mut state = self.writable()?;
        if let (Some(claims), Some(revocations)) = (&state.claims, &self.config().revocations) {
            let now = self.config().codec.now();
            revocations.store.revoke(
                Revocation::Session {
                    sid: claims.sid,
                    expires_at: self.forget_after(claims.auth_time),
                },
                now,
            );
        }
        state.claims = None;
        state.change = Change::Ended;
        state.issued = None;
        Ok(())
    }

    /// Ends this session and revokes every session of its subject that began up to now,
    /// on every device ("log out everywhere", after a password change). Needs a revocation
    /// store and a subject.
    ///
    /// A session begun after this call is not revoked, even within the same second (see
    /// [`login`](Self::login)): a password change can log out everywhere and log the user
    /// in again in one request.
    ///
    /// # Errors
    /// [`SessionError::ReadOnly`] in verify-only mode; [`SessionError::NoRevocation`]
    /// without a revocation store; [`SessionError::NoSession`] without a session or when
    /// the session has no subject.
    pub fn logout_everywhere(&self) -> Result<(), SessionError> {
        let subject = {
            let state = self.writable()?;
            let revocations = self
                .config()
                .revocations
                .as_ref()
                .ok_or(SessionError::NoRevocation)?;
            let claims = state.claims.as_ref().ok_or(SessionError::NoSession)?;
            (revocations.subject)(&claims.data)
                .ok_or(SessionError::NoSession)?
                .to_owned()
        };
        self.revoke_subject(&subject)?;
        self.logout()
    }

    /// Revokes every session of `subject` that began up to now (for example from an admin
    /// handler). The current session is not ended unless it belongs to `subject`, in which
    /// case its next request is refused.
    ///
    /// # Errors
    /// [`SessionError::ReadOnly`] in verify-only mode; [`SessionError::NoRevocation`]
    /// without a revocation store.
    pub fn revoke_subject(&self, subject: &str) -> Result<(), SessionError> {
        drop(self.writable()?);
        let revocations = self
            .config()
            .revocations
            .as_ref()
            .ok_or(SessionError::NoRevocation)?;
        let now = self.config().codec.now();
        // Sessions that began before `now + 1`: every one that exists now.
        let before = now.saturating_add(1);
        revocations.store.revoke(
            Revocation::Subject {
                subject: subject.to_owned(),
                before,
                expires_at: self.forget_after(before),
            },
            now,
        );
        Ok(())
    }

    /// When a revocation of sessions that began at `auth_time` can be forgotten: every
    /// token they could have is past its absolute deadline (and the leeway).
    fn forget_after(&self, auth_time: u64) -> u64 {
        let codec = &self.config().codec;
        auth_time
            .saturating_add(codec.absolute_timeout_secs())
            .saturating_add(codec.leeway_secs())
            .saturating_add(1)
    }
}

impl<T: SessionData> SessionHandle<T> {
    /// The session's token as it stands now: the token the request carried, or, if the
    /// session changed or a refresh is due, a freshly signed one (which the response then
    /// also carries, so client and downstream see the same token). `None` without a
    /// session.
    ///
    /// Inside the request's task, [`PropagateSessionLayer`](crate::propagate::PropagateSessionLayer)
    /// finds the session by itself; for work spawned onto other tasks, run it in
    /// [`scope`](Self::scope) (needed for minting; a forwarding client can also be given
    /// this token).
    ///
    /// Do not call it (or make a propagating call) inside a [`with`](Self::with) or
    /// [`modify`](Self::modify) closure: the session is locked there.
    pub fn token(&self) -> Option<SessionToken> {
        self.inner.current_token()
    }

    #[cfg(feature = "propagate")]
    /// Runs `future` with this session as the current one, as the layer does for the
    /// request's own task: for work spawned onto another task, so calls made there through
    /// a [`PropagateSessionLayer`](crate::propagate::PropagateSessionLayer) carry a token (minted or
    /// forwarded) for this session.
    ///
    /// ```
    /// # use tower_stateless_session::SessionHandle;
    /// # async fn example(session: SessionHandle<serde_json::Value>) {
    /// tokio::spawn(session.scope(async move {
    ///     // Calls through a PropagateSessionLayer client here act for the session.
    /// }));
    /// # }
    /// ```
    pub fn scope<F: std::future::Future>(&self, future: F) -> TokenScope<F> {
        TokenScope::new(future, self.source())
    }

    #[cfg(feature = "propagate")]
    /// The handle as the current-token source of its request's task.
    pub(crate) fn source(&self) -> Arc<dyn TokenSource> {
        let inner: Arc<Inner<T>> = Arc::clone(&self.inner);
        inner
    }
}

/// Before a call acts for the session: signs it now if it changed or a refresh is due, so
/// the call carries the token the client gets. `false` when a changed session could not be
/// signed: nothing may act for it then (the failure is logged); an unchanged session
/// whose refresh failed goes on with the token the request carried.
fn settle<T: SessionData>(config: &Config<T>, state: &mut State<T>) -> bool {
    match ensure_issued(config, state) {
        Ok(_) => true,
        Err(error) => {
            let changed = changed(state);
            super::issue::sign_failed(&error, changed);
            !changed
        }
    }
}

impl<T: SessionData> Inner<T> {
    /// The session's token as it stands now (see [`SessionHandle::token`]).
    fn current_token(&self) -> Option<SessionToken> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *state;
        if state.claims.is_none() || !settle(&self.config, state) {
            return None;
        }
        match &state.issued {
            Some(issued) => Some(issued.token.clone()),
            // Unchanged and not due: the token the request carried.
            None => state
                .inbound
                .as_ref()
                .and_then(|inbound| SessionToken::from_bytes(inbound.bytes())),
        }
    }
}

#[cfg(feature = "propagate")]
impl<T: SessionData> TokenSource for Inner<T> {
    fn current(&self) -> Option<SessionToken> {
        self.current_token()
    }

    fn view(&self, f: &mut dyn FnMut(&SessionView<'_>)) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *state;
        if state.claims.is_none() || !settle(&self.config, state) {
            return false;
        }
        // The same token `current` would forward.
        let token = match (&state.issued, &state.inbound) {
            (Some(issued), _) => issued.token.as_str().as_bytes(),
            (None, Some(inbound)) => inbound.bytes(),
            (None, None) => return false,
        };
        let Some(claims) = state.claims.as_deref() else {
            return false;
        };
        f(&SessionView {
            token,
            claims,
            minted: state.minted.as_deref(),
            session_keys: self.config.codec.keys(),
        });
        true
    }
}

impl<T> fmt::Debug for SessionHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("SessionHandle")
            .field("sid", &state.claims.as_ref().map(|c| c.sid))
            .field("change", &state.change)
            .field("rejection", &state.rejection)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Session<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Session").field(&self.0).finish()
    }
}
