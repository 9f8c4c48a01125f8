//! DPoP in the layer: every request's proof checked against the request and the token,
//! the login's proof remembered so the new session is bound to its key, and the
//! `WWW-Authenticate: DPoP` answers. The protocol is `pop::dpop`'s.

use http::{HeaderMap, HeaderValue, Method, Uri, header};

use super::cookie::Transport;
use crate::error::{ConfigError, RejectionKind};
use crate::pop::ProofError;
use crate::pop::dpop::{
    self, DPOP_HEADER, Dpop, DpopCheck, MIN_IAT_WINDOW, NONCE_HEADER, ReplayCache, normalize_htu,
};
use crate::server::handle::State;
use crate::token::Binding;

/// DPoP's settings, checked once, and this node's replay cache.
pub(crate) struct DpopConfig {
    pub(crate) settings: Dpop,
    pub(crate) replay: ReplayCache,
    pub(crate) window: u64,
    /// The external origin, normalized (`https://api.example.com`, no trailing slash).
    pub(crate) origin: Option<String>,
}

impl DpopConfig {
    pub(crate) fn derive(settings: &Dpop, transport: &Transport) -> Result<Self, ConfigError> {
        let invalid = |setting, reason| Err(ConfigError::InvalidSetting { setting, reason });
        if *transport != Transport::Bearer {
            return invalid(
                "DPoP transport",
                "the bearer transport (DPoP tokens travel in Authorization)",
            );
        }
        if settings.iat_window < MIN_IAT_WINDOW {
            return invalid("DPoP iat window", "at least 5 seconds");
        }
        if settings.replay_entries == 0 {
            return invalid("DPoP replay cache", "at least one entry");
        }
        let origin = match &settings.external_origin {
            None => None,
            Some(origin) => match normalize_htu(origin) {
                Some(url) if url.ends_with('/') && url.matches('/').count() == 3 => {
                    Some(url.trim_end_matches('/').to_owned())
                }
                _ => {
                    return invalid(
                        "DPoP external origin",
                        "an http or https origin such as https://api.example.com, without a path",
                    );
                }
            },
        };
        let window = settings.iat_window.as_secs();
        Ok(DpopConfig {
            settings: settings.clone(),
            replay: ReplayCache::new(settings.replay_entries, window),
            window,
            origin,
        })
    }
}

/// The request as DPoP compares it.
pub(crate) struct RequestLine<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) scheme: Option<&'a http::uri::Scheme>,
}

/// The URL `htu` must name: scheme and authority from the external origin, else from the
/// request (its URI, a scheme the server put in its extensions, `https`; `Host`).
fn request_url(dpop: &DpopConfig, request: &RequestLine<'_>) -> Option<String> {
    let path = request.uri.path();
    if let Some(origin) = &dpop.origin {
        return Some(format!("{origin}{path}"));
    }
    let scheme = request
        .uri
        .scheme_str()
        .or(request.scheme.map(http::uri::Scheme::as_str))
        .unwrap_or("https");
    let authority = match request.uri.authority() {
        Some(authority) => authority.as_str(),
        None => request.headers.get(header::HOST)?.to_str().ok()?,
    };
    Some(format!("{scheme}://{authority}{path}"))
}

/// Whether the request's `Authorization` uses the `DPoP` scheme.
fn dpop_scheme(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().get(..5))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"dpop "))
}

/// The request's one `DPoP` header, if any; several are malformed.
fn proof_header(headers: &HeaderMap) -> Result<Option<&str>, ProofError> {
    let mut values = headers.get_all(DPOP_HEADER).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ProofError::Malformed);
    }
    first.to_str().map(Some).map_err(|_| ProofError::Malformed)
}

/// Checks the request's DPoP proof against the session the layer verified (or, without a
/// token, remembers a valid proof's key for a login), refusing the session when it fails.
pub(crate) fn check<T>(dpop: &DpopConfig, state: &mut State<T>, request: &RequestLine<'_>) {
    let now = state.now;
    let bound = state.claims.as_ref().map(|claims| claims.cnf.clone());
    // Without a valid token, a refused token stays refused; without any token, a proof is
    // a login's.
    if bound.is_none() && state.inbound.is_some() {
        return;
    }
    let refuse = |state: &mut State<T>, kind: RejectionKind, error: Option<ProofError>| {
        state.claims = None;
        state.rejection = Some(kind);
        state.pop.proof_error = error;
        proof_refused(kind, error);
    };
    if let Some(cnf) = &bound {
        match cnf {
            None => return refuse(state, RejectionKind::Unbound, None),
            Some(cnf) if cnf.binding != Binding::Dpop || !dpop_scheme(request.headers) => {
                return refuse(state, RejectionKind::WrongBinding, None);
            }
            Some(_) => {}
        }
    }
    let proof = match proof_header(request.headers) {
        Ok(Some(proof)) => proof,
        Ok(None) if bound.is_some() => return refuse(state, RejectionKind::ProofMissing, None),
        Ok(None) => return,
        Err(error) => return refuse(state, RejectionKind::ProofInvalid, Some(error)),
    };
    let Some(url) = request_url(dpop, request) else {
        return refuse(
            state,
            RejectionKind::ProofInvalid,
            Some(ProofError::WrongUrl),
        );
    };
    let token = state.inbound.as_ref().map(|t| t.bytes().to_vec());
    let checked = DpopCheck {
        method: request.method.as_str(),
        url: &url,
        now,
        iat_window: dpop.window,
        token: token.as_deref(),
    };
    let proof = match dpop::verify_proof(proof, &checked) {
        Ok(proof) => proof,
        Err(error) => return refuse(state, RejectionKind::ProofInvalid, Some(error)),
    };
    if let Some(Some(cnf)) = &bound
        && !crate::encoding::ct_eq(cnf.jkt.as_bytes(), proof.jkt.as_bytes())
    {
        return refuse(
            state,
            RejectionKind::ProofInvalid,
            Some(ProofError::KeyMismatch),
        );
    }
    if let Some(key) = &dpop.settings.nonce
        && !proof
            .nonce
            .as_deref()
            .is_some_and(|nonce| dpop::nonce_is_current(key, nonce, now))
    {
        return refuse(
            state,
            RejectionKind::NonceRequired,
            Some(ProofError::NonceRequired),
        );
    }
    if let Err(error) = dpop.replay.record(&proof.jti, now) {
        return refuse(state, RejectionKind::ProofInvalid, Some(error));
    }
    state.pop.proven = true;
    if bound.is_none() {
        state.pop.dpop_jkt = Some(proof.jkt);
    }
}

/// The `WWW-Authenticate` of a DPoP refusal, and the `DPoP-Nonce` that goes with
/// `use_dpop_nonce`.
pub(crate) fn challenge(
    dpop: &DpopConfig,
    kind: Option<RejectionKind>,
    now: u64,
) -> (HeaderValue, Option<HeaderValue>) {
    let value = match kind {
        Some(RejectionKind::NonceRequired) => {
            r#"DPoP algs="ES256 RS256", error="use_dpop_nonce", error_description="a server nonce is required""#
        }
        Some(RejectionKind::ProofInvalid | RejectionKind::ProofMissing) => {
            r#"DPoP algs="ES256 RS256", error="invalid_dpop_proof""#
        }
        Some(RejectionKind::Missing) | None => r#"DPoP algs="ES256 RS256""#,
        Some(_) => r#"DPoP algs="ES256 RS256", error="invalid_token""#,
    };
    let nonce = dpop
        .settings
        .nonce
        .as_ref()
        .and_then(|key| HeaderValue::from_str(&dpop::nonce(key, now)).ok());
    (HeaderValue::from_static(value), nonce)
}

/// Adds DPoP's `WWW-Authenticate` (and a `DPoP-Nonce`) to a 401 that has none.
pub(crate) fn on_unauthorized(
    dpop: &DpopConfig,
    headers: &mut HeaderMap,
    kind: Option<RejectionKind>,
    now: u64,
) {
    if headers.contains_key(header::WWW_AUTHENTICATE) {
        return;
    }
    let (value, nonce) = challenge(dpop, kind, now);
    headers.insert(header::WWW_AUTHENTICATE, value);
    if let Some(nonce) = nonce {
        headers.insert(NONCE_HEADER, nonce);
    }
}

/// Log event: a DPoP request refused (never the proof or the token).
fn proof_refused(kind: RejectionKind, error: Option<ProofError>) {
    crate::metrics::pop_event(
        "dpop",
        match (kind, error) {
            (RejectionKind::NonceRequired, _) => "nonce_required",
            (_, Some(ProofError::KeyMismatch)) => "wrong_key",
            (_, Some(_)) | (RejectionKind::ProofMissing, _) => "proof_refused",
            _ => "token_refused",
        },
    );
    #[cfg(feature = "tracing")]
    tracing::info!(
        kind = kind.as_str(),
        reason = error.map(|e| e.as_str()),
        "DPoP request refused"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (kind, error);
}
