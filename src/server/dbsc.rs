//! DBSC in the layer: the registration and refresh endpoints the layer answers itself, the
//! registration offer on login responses, and the refresh credential that goes with every
//! bound cookie. The protocol (proofs, headers, challenges) is `pop::dbsc`'s.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use super::cookie::{CookieSettings, CookieSpec, Transport};
use super::inbound::cookie_value_ranges;
use super::layer::Config;
use crate::error::{ConfigError, RejectionKind};
use crate::pop::dbsc::{
    self, CHALLENGE_GRACE, CHALLENGE_HEADER, Dbsc, ProofCheck, RESPONSE_HEADER, RegistrationOffer,
    SESSION_ID_HEADER, SessionChallenge, SessionInstructions,
};
use crate::pop::{Label, ProofAlgorithm, ProofError, PublicJwk, sf};
use crate::revocation::Revocation;
use crate::server::handle::SessionData;
use crate::token::{Binding, Claims, Confirmation, SessionId};

/// DBSC's settings, checked and rendered once when the layer is built.
pub(crate) struct DbscConfig {
    pub(crate) settings: Dbsc,
    /// The refresh credential's cookie: the session cookie's attributes, its own name, the
    /// refresh path.
    pub(crate) refresh_cookie: CookieSettings,
    /// The session cookie's attributes as the session instructions name them.
    pub(crate) attributes: String,
    pub(crate) bound_secs: u64,
    pub(crate) challenge_secs: u64,
}

impl DbscConfig {
    pub(crate) fn derive(
        settings: &Dbsc,
        cookie: &CookieSpec,
        transport: &Transport,
        idle: u64,
    ) -> Result<Self, ConfigError> {
        let invalid = |setting, reason| Err(ConfigError::InvalidSetting { setting, reason });
        if *transport != Transport::Cookie {
            return invalid(
                "DBSC transport",
                "the cookie transport (DBSC binds a cookie)",
            );
        }
        let bound_secs = settings.bound_lifetime.as_secs();
        if bound_secs == 0 || bound_secs >= idle {
            return invalid(
                "DBSC bound cookie lifetime",
                "at least 1 s and below the idle timeout",
            );
        }
        for path in [&settings.registration_path, &settings.refresh_path] {
            if !path.starts_with(&cookie.path) || !path.bytes().all(|b| b.is_ascii_graphic()) {
                return invalid(
                    "DBSC endpoint path",
                    "a path within the session cookie's Path, visible ASCII only",
                );
            }
        }
        if settings.registration_path == settings.refresh_path {
            return invalid(
                "DBSC endpoint path",
                "different for registration and refresh",
            );
        }
        let session = cookie.build()?;
        let mut refresh = cookie.clone();
        refresh.name = settings
            .refresh_cookie_name
            .clone()
            .unwrap_or_else(|| format!("{}_dbsc", cookie.name));
        refresh.path.clone_from(&settings.refresh_path);
        if refresh.name == cookie.name {
            return invalid(
                "DBSC refresh cookie name",
                "another name than the session cookie's",
            );
        }
        let refresh_cookie = refresh.build()?;
        if settings.bound_lifetime < dbsc::MIN_ADVISED_BOUND_LIFETIME {
            short_bound_lifetime(bound_secs);
        }
        Ok(DbscConfig {
            settings: settings.clone(),
            refresh_cookie,
            attributes: session.attributes().trim_start_matches("; ").to_owned(),
            bound_secs,
            challenge_secs: bound_secs + CHALLENGE_GRACE.as_secs(),
        })
    }
}

/// Log event: a bound lifetime under Chromium's signing quota.
fn short_bound_lifetime(secs: u64) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        bound_secs = secs,
        "DBSC bound cookie lifetime under 3 minutes: Chromium limits how often a key may sign \
         (6 signatures in 9 minutes per site), so users may hit its quota"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = secs;
}

/// What the endpoints answer with: a status, no caching, maybe a body.
fn answer(status: StatusCode, body: impl Into<Bytes>, json: bool) -> Response<Bytes> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if json {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    response
}

/// The response, with the refusal's reason in its extensions (for logging layers and
/// tests; never in the body).
fn with_reason(mut response: Response<Bytes>, error: ProofError) -> Response<Bytes> {
    response.extensions_mut().insert(error);
    response
}

fn sensitive(text: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// The `Secure-Session-Registration` offer for a session that just began.
pub(crate) fn offer(dbsc: &DbscConfig, sid: &SessionId, now: u64) -> Option<HeaderValue> {
    let key = &dbsc.settings.key;
    let sid = sid.to_string();
    let offer = RegistrationOffer {
        algorithms: vec![ProofAlgorithm::Es256, ProofAlgorithm::Rs256],
        path: dbsc.settings.registration_path.clone(),
        challenge: key.issue(Label::DbscRegister, sid.as_bytes(), now),
        authorization: Some(key.seal(Label::DbscAuthorization, sid.as_bytes())),
    };
    HeaderValue::from_str(&offer.to_string()).ok()
}

/// A `Secure-Session-Challenge` for the session of `key`.
fn challenge_header(dbsc: &DbscConfig, key: &PublicJwk, now: u64) -> Option<HeaderValue> {
    let challenge = SessionChallenge {
        challenge: dbsc
            .settings
            .key
            .issue(Label::DbscRefresh, key.thumbprint().as_bytes(), now),
        session_id: Some(dbsc::session_identifier(key)),
    };
    HeaderValue::from_str(&challenge.to_string()).ok()
}

/// The `exp` of the refresh credential that goes with a bound cookie expiring at
/// `bound_exp`: the idle timeout counted from the proof that made the bound cookie (its
/// `exp` less the bound lifetime), never past the absolute deadline.
fn refresh_exp<T>(config: &Config<T>, dbsc: &DbscConfig, claims: &Claims<T>) -> u64 {
    let codec = &config.codec;
    let proof_time = claims.exp.saturating_sub(dbsc.bound_secs);
    proof_time.saturating_add(codec.idle_timeout_secs()).min(
        claims
            .auth_time
            .saturating_add(codec.absolute_timeout_secs()),
    )
}

/// The `Set-Cookie` of the refresh credential for the bound session `claims`: the same
/// session, bound as `dbsc-refresh`, scoped to the refresh path. `None` when it cannot be
/// signed (logged).
pub(crate) fn refresh_credential<T: SessionData>(
    config: &Config<T>,
    dbsc: &DbscConfig,
    claims: &Claims<T>,
    now: u64,
) -> Option<HeaderValue> {
    let cnf = claims.cnf.as_ref()?;
    let mut refresh = Claims {
        sid: claims.sid,
        iat: claims.iat,
        exp: refresh_exp(config, dbsc, claims),
        auth_time: claims.auth_time,
        ver: claims.ver,
        remember: claims.remember,
        cnf: Some(Confirmation::new(cnf.jkt.clone(), Binding::DbscRefresh)),
        data: &claims.data,
    };
    refresh.iat = refresh.iat.min(refresh.exp);
    let budget = config
        .cookie_budget
        .saturating_sub(dbsc.refresh_cookie.name().len() + 1);
    match config.codec.sign_capped(&refresh, budget) {
        Ok(token) => {
            let max_age = refresh.remember.then(|| refresh.exp.saturating_sub(now));
            sensitive(&dbsc.refresh_cookie.set_cookie(&token, max_age))
        }
        Err(error) => {
            super::issue::sign_failed(&error, false);
            None
        }
    }
}

/// The `Max-Age` of a bound cookie: the browser must drop it when it expires, which is
/// what makes it refresh.
pub(crate) fn bound_max_age<T>(claims: &Claims<T>, now: u64) -> Option<u64> {
    match &claims.cnf {
        Some(cnf) if cnf.binding == Binding::Dbsc => Some(claims.exp.saturating_sub(now)),
        _ => None,
    }
}

/// The first value of the cookie `name` in the request.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h [u8]> {
    headers.get_all(header::COOKIE).iter().find_map(|value| {
        let bytes = value.as_bytes();
        cookie_value_ranges(bytes, name.as_bytes())
            .next()
            .map(|(start, end)| &bytes[start..end])
    })
}

/// A request header read as DBSC's bare-or-string value.
fn bare_header(headers: &HeaderMap, name: &str) -> Result<Option<String>, ProofError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => {
            let text = value.to_str().map_err(|_| ProofError::Malformed)?;
            sf::bare_or_string(text).map(Some)
        }
    }
}

/// Whether the request carries `Secure-Session-Skipped` (malformed or not: the browser
/// sent it without its bound cookie either way).
pub(crate) fn skipped(headers: &HeaderMap) -> bool {
    const SKIPPED: http::HeaderName = http::HeaderName::from_static(dbsc::SKIPPED_HEADER);
    headers.contains_key(SKIPPED)
}

/// Verifies a token read from a cookie: the codec's checks, the deadlines, revocation.
fn verify_cookie<T: SessionData>(
    config: &Config<T>,
    token: &[u8],
    now: u64,
) -> Result<Claims<T>, RejectionKind> {
    let codec = &config.codec;
    let verified = codec
        .decode_token::<T>(token, config.migration.as_deref())
        .map_err(|e| e.kind())?;
    codec
        .check_times_at(&verified.claims, now)
        .map_err(|e| e.kind())?;
    if let Some(revocations) = &config.revocations
        && revocations.revoked(&verified.claims, now)
    {
        return Err(RejectionKind::Revoked);
    }
    Ok(verified.claims)
}

/// `POST` to the registration path: verify the proof over the offered challenge, bind the
/// session to the proof's key under a new session id, answer the session instructions.
pub(crate) fn register<T: SessionData>(
    config: &Arc<Config<T>>,
    dbsc: &DbscConfig,
    headers: &HeaderMap,
) -> Response<Bytes> {
    let now = config.codec.now();
    let refused = |status, reason: &str| {
        registration_refused(reason);
        answer(status, Bytes::new(), false)
    };
    let Some(token) = cookie(headers, config.cookie.name()) else {
        return refused(StatusCode::UNAUTHORIZED, "no session cookie");
    };
    let claims = match verify_cookie(config, token, now) {
        Ok(claims) => claims,
        Err(kind) => return refused(StatusCode::UNAUTHORIZED, kind.as_str()),
    };
    // A bound cookie cannot register a second key.
    if claims.cnf.is_some() {
        return refused(StatusCode::FORBIDDEN, "the session is already bound");
    }
    let proof = match bare_header(headers, RESPONSE_HEADER) {
        Ok(Some(proof)) => proof,
        Ok(None) => return refused(StatusCode::BAD_REQUEST, "no proof"),
        Err(error) => {
            return with_reason(refused(StatusCode::BAD_REQUEST, error.as_str()), error);
        }
    };
    let sid = claims.sid.to_string();
    let key = &dbsc.settings.key;
    let authorization = key.seal(Label::DbscAuthorization, sid.as_bytes());
    let check = ProofCheck {
        endpoint_path: &dbsc.settings.registration_path,
        authorization: Some(&authorization),
        session_id: None,
        now,
    };
    let verified = dbsc::verify_proof(&proof, None, &check).and_then(|proof| {
        key.check(
            Label::DbscRegister,
            sid.as_bytes(),
            &proof.challenge,
            now,
            dbsc.challenge_secs,
        )?;
        proof.key.ok_or(ProofError::MissingKey)
    });
    let jwk = match verified {
        Ok(jwk) => jwk,
        Err(error) => {
            return with_reason(refused(StatusCode::BAD_REQUEST, error.as_str()), error);
        }
    };
    // A new id for the bound session; the unbound one is over.
    let Ok(new_sid) = SessionId::random() else {
        return refused(StatusCode::SERVICE_UNAVAILABLE, "random source failed");
    };
    if let Some(revocations) = &config.revocations {
        let codec = &config.codec;
        revocations.store.revoke(
            Revocation::Session {
                sid: claims.sid,
                expires_at: claims
                    .auth_time
                    .saturating_add(codec.absolute_timeout_secs())
                    .saturating_add(codec.leeway_secs())
                    .saturating_add(1),
            },
            now,
        );
    }
    let mut bound = claims;
    bound.sid = new_sid;
    bound.cnf = Some(Confirmation::new(jwk.thumbprint(), Binding::Dbsc));
    config
        .codec
        .extend_at(&mut bound, now, Some(dbsc.bound_secs));
    let id = dbsc::session_identifier(&jwk);
    let instructions = SessionInstructions {
        session_identifier: id,
        refresh_url: dbsc.settings.refresh_path.clone(),
        scope: dbsc::Scope {
            include_site: false,
            scope_specification: Vec::new(),
        },
        credentials: vec![dbsc::Credential {
            kind: "cookie",
            name: config.cookie.name().to_owned(),
            attributes: dbsc.attributes.clone(),
        }],
    };
    let Some(mut response) = bound_response(config, dbsc, &bound, &jwk, now) else {
        return refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the bound session did not sign",
        );
    };
    *response.body_mut() = Bytes::from(instructions.to_json());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    registered(jwk.thumbprint());
    response
}

/// A `200` setting the bound cookie for `claims` and its refresh credential, with the
/// next challenge.
fn bound_response<T: SessionData>(
    config: &Config<T>,
    dbsc: &DbscConfig,
    claims: &Claims<T>,
    key: &PublicJwk,
    now: u64,
) -> Option<Response<Bytes>> {
    let budget = config.token_budget();
    let token = config
        .codec
        .sign_capped(claims, budget.saturating_sub(config.token_overhead()))
        .inspect_err(|error| super::issue::sign_failed(error, true))
        .ok()?;
    let bound = sensitive(&config.cookie.set_cookie(&token, bound_max_age(claims, now)))?;
    let refresh = refresh_credential(config, dbsc, claims, now)?;
    let mut response = answer(StatusCode::OK, Bytes::new(), false);
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, bound);
    headers.append(header::SET_COOKIE, refresh);
    if let Some(challenge) = challenge_header(dbsc, key, now) {
        headers.insert(CHALLENGE_HEADER, challenge);
    }
    Some(response)
}

/// `POST` to the refresh path: against a fresh proof of the registered key, a new bound
/// cookie; without one, a challenge; for a session that is over, `continue: false`.
pub(crate) fn refresh<T: SessionData>(
    config: &Arc<Config<T>>,
    dbsc: &DbscConfig,
    headers: &HeaderMap,
) -> Response<Bytes> {
    let now = config.codec.now();
    let id = match bare_header(headers, SESSION_ID_HEADER) {
        Ok(Some(id)) => id,
        Ok(None) | Err(_) => {
            refresh_refused(ProofError::Malformed, "no session identifier");
            return answer(StatusCode::BAD_REQUEST, Bytes::new(), false);
        }
    };
    let end = |why: &str| {
        refresh_ended(why);
        let mut response = answer(StatusCode::OK, dbsc::termination(&id), true);
        let headers = response.headers_mut();
        for removal in [config.cookie.removal(), dbsc.refresh_cookie.removal()] {
            if let Some(value) = sensitive(removal) {
                headers.append(header::SET_COOKIE, value);
            }
        }
        response
    };
    let Some(token) = cookie(headers, dbsc.refresh_cookie.name()) else {
        return end("no refresh credential (logged out)");
    };
    let mut claims = match verify_cookie(config, token, now) {
        Ok(claims) => claims,
        Err(kind) => return end(kind.as_str()),
    };
    let Some(cnf) = claims
        .cnf
        .clone()
        .filter(|c| c.binding == Binding::DbscRefresh)
    else {
        return end("not a refresh credential");
    };
    let final_refusal = |error: ProofError| {
        stolen_cookie_suspected(error);
        with_reason(answer(StatusCode::UNAUTHORIZED, Bytes::new(), false), error)
    };
    let key = match dbsc::key_of_session_identifier(&id) {
        Ok(key) if crate::encoding::ct_eq(key.thumbprint().as_bytes(), cnf.jkt.as_bytes()) => key,
        _ => return final_refusal(ProofError::KeyMismatch),
    };
    let challenge = |status| {
        let mut response = answer(status, Bytes::new(), false);
        if let Some(value) = challenge_header(dbsc, &key, now) {
            response.headers_mut().insert(CHALLENGE_HEADER, value);
        }
        response
    };
    let proof = match bare_header(headers, RESPONSE_HEADER) {
        Ok(Some(proof)) => proof,
        Ok(None) => {
            crate::metrics::pop_event("dbsc", "challenged");
            return challenge(StatusCode::FORBIDDEN);
        }
        Err(error) => {
            refresh_refused(error, "unreadable proof header");
            return with_reason(answer(StatusCode::BAD_REQUEST, Bytes::new(), false), error);
        }
    };
    let check = ProofCheck {
        endpoint_path: &dbsc.settings.refresh_path,
        authorization: None,
        session_id: Some(&id),
        now,
    };
    let verified = match dbsc::verify_proof(&proof, Some(&key), &check) {
        Ok(verified) => verified,
        Err(
            error @ (ProofError::BadSignature
            | ProofError::UnexpectedKey
            | ProofError::AlgorithmKeyMismatch
            | ProofError::AlgorithmNotAllowed
            | ProofError::SignatureEncoding),
        ) => return final_refusal(error),
        Err(error) => {
            refresh_refused(error, "proof refused");
            return with_reason(answer(StatusCode::BAD_REQUEST, Bytes::new(), false), error);
        }
    };
    // A stale or foreign challenge after a valid signature is retryable: a new one.
    if let Err(error) = dbsc.settings.key.check(
        Label::DbscRefresh,
        cnf.jkt.as_bytes(),
        &verified.challenge,
        now,
        dbsc.challenge_secs,
    ) {
        refresh_refused(error, "challenge refused, a new one sent");
        return with_reason(challenge(StatusCode::FORBIDDEN), error);
    }
    claims.cnf = Some(Confirmation::new(cnf.jkt, Binding::Dbsc));
    config
        .codec
        .extend_at(&mut claims, now, Some(dbsc.bound_secs));
    match bound_response(config, dbsc, &claims, &key, now) {
        Some(response) => {
            refreshed();
            response
        }
        // Transient: the browser tries again later.
        None => answer(StatusCode::SERVICE_UNAVAILABLE, Bytes::new(), false),
    }
}

/// Log event: a registration was refused.
fn registration_refused(reason: &str) {
    crate::metrics::pop_event("dbsc", "registration_refused");
    #[cfg(feature = "tracing")]
    tracing::info!(
        reason,
        "DBSC registration refused; the session stays unbound"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = reason;
}

/// Log event: a session was bound to a key.
fn registered(jkt: &str) {
    crate::metrics::pop_event("dbsc", "registered");
    #[cfg(feature = "tracing")]
    tracing::debug!(jkt, "DBSC session registered");
    #[cfg(not(feature = "tracing"))]
    let _ = jkt;
}

/// Log event: a refresh succeeded.
fn refreshed() {
    crate::metrics::pop_event("dbsc", "refreshed");
    #[cfg(feature = "tracing")]
    tracing::debug!("DBSC bound cookie refreshed");
}

/// Log event: a refresh was refused without ending the session.
fn refresh_refused(error: ProofError, what: &str) {
    crate::metrics::pop_event("dbsc", "refresh_refused");
    #[cfg(feature = "tracing")]
    tracing::info!(reason = error.as_str(), what, "DBSC refresh refused");
    #[cfg(not(feature = "tracing"))]
    let _ = (error, what);
}

/// Log event: the browser's session is over.
fn refresh_ended(why: &str) {
    crate::metrics::pop_event("dbsc", "ended");
    #[cfg(feature = "tracing")]
    tracing::info!(why, "DBSC refresh answered continue: false");
    #[cfg(not(feature = "tracing"))]
    let _ = why;
}

/// Log event: a refresh proof that only someone without the key would send.
fn stolen_cookie_suspected(error: ProofError) {
    crate::metrics::pop_event("dbsc", "wrong_key");
    #[cfg(feature = "tracing")]
    tracing::warn!(
        reason = error.as_str(),
        "DBSC refresh with a valid refresh credential but a proof from another key (or none \
         the registered key could make): a stolen cookie may be in use; refused for good"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = error;
}
