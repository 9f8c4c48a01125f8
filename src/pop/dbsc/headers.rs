//! DBSC's headers, read and written: `Secure-Session-Registration`,
//! `Secure-Session-Challenge`, `Secure-Session-Skipped`, and the bare-or-string request
//! headers.

use std::fmt;

use crate::pop::sf::{self, BareItem, Member};
use crate::pop::{ProofAlgorithm, ProofError};

/// The response header offering registration.
pub const REGISTRATION_HEADER: &str = "secure-session-registration";
/// The request header carrying a proof.
pub const RESPONSE_HEADER: &str = "secure-session-response";
/// The response header carrying the next challenge.
pub const CHALLENGE_HEADER: &str = "secure-session-challenge";
/// The request header naming the session a refresh is for.
pub const SESSION_ID_HEADER: &str = "sec-secure-session-id";
/// The request header of a request sent without its bound cookie.
pub const SKIPPED_HEADER: &str = "secure-session-skipped";

/// A `Secure-Session-Registration` offer: the algorithms the server accepts, the
/// registration path, the challenge, and an optional `authorization` for the proof to echo.
///
/// ```
/// use tower_stateless_session::pop::ProofAlgorithm;
/// use tower_stateless_session::pop::dbsc::RegistrationOffer;
///
/// let offer = RegistrationOffer::parse(r#"(ES256 RS256);path="/r";challenge="c""#)?;
/// assert_eq!(offer.algorithms, [ProofAlgorithm::Es256, ProofAlgorithm::Rs256]);
/// assert_eq!(offer.to_string(), r#"(ES256 RS256);path="/r";challenge="c""#);
/// # Ok::<(), tower_stateless_session::pop::ProofError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationOffer {
    /// The algorithms offered that are on the allow-list, in order (others are skipped).
    pub algorithms: Vec<ProofAlgorithm>,
    /// Where to register.
    pub path: String,
    /// The challenge the registration proof must carry as `jti`.
    pub challenge: String,
    /// What the proof must carry as `authorization`, if anything.
    pub authorization: Option<String>,
}

impl RegistrationOffer {
    /// Reads the first offer of a header value. Unknown algorithms and parameters are
    /// skipped.
    ///
    /// # Errors
    /// [`ProofError::Malformed`] when the value is not a list whose first member is an
    /// inner list of tokens with a string `path` and a string `challenge`, or offers no
    /// algorithm on the allow-list.
    pub fn parse(value: &str) -> Result<Self, ProofError> {
        let list = sf::parse_list(value)?;
        let Some(Member::InnerList(items, _)) = list.first() else {
            return Err(ProofError::Malformed);
        };
        let member = &list[0];
        let mut algorithms = Vec::new();
        for item in items {
            let BareItem::Token(name) = &item.bare else {
                return Err(ProofError::Malformed);
            };
            if let Some(alg) = ProofAlgorithm::from_name(name) {
                algorithms.push(alg);
            }
        }
        let text = |key| match member.param(key) {
            Some(BareItem::String(s)) => Ok(Some(s.clone())),
            None => Ok(None),
            Some(_) => Err(ProofError::Malformed),
        };
        let path = text("path")?.ok_or(ProofError::Malformed)?;
        let challenge = text("challenge")?.ok_or(ProofError::Malformed)?;
        let authorization = text("authorization")?;
        if algorithms.is_empty() {
            return Err(ProofError::Malformed);
        }
        Ok(RegistrationOffer {
            algorithms,
            path,
            challenge,
            authorization,
        })
    }
}

impl fmt::Display for RegistrationOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, alg) in self.algorithms.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(alg.as_str())?;
        }
        let quote = |s: &str| sf::string(s).ok_or(fmt::Error);
        write!(
            f,
            ");path={};challenge={}",
            quote(&self.path)?,
            quote(&self.challenge)?
        )?;
        if let Some(authorization) = &self.authorization {
            write!(f, ";authorization={}", quote(authorization)?)?;
        }
        Ok(())
    }
}

/// A `Secure-Session-Challenge`: the challenge, and the session it is for (absent on a
/// registration's own challenge).
///
/// ```
/// use tower_stateless_session::pop::dbsc::SessionChallenge;
///
/// let c = SessionChallenge::parse(r#""cv";id="s-1""#)?;
/// assert_eq!((c.challenge.as_str(), c.session_id.as_deref()), ("cv", Some("s-1")));
/// assert_eq!(c.to_string(), r#""cv";id="s-1""#);
/// # Ok::<(), tower_stateless_session::pop::ProofError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionChallenge {
    /// The challenge.
    pub challenge: String,
    /// The session identifier (`id`), if given.
    pub session_id: Option<String>,
}

impl SessionChallenge {
    /// Reads a header value.
    ///
    /// # Errors
    /// [`ProofError::Malformed`] unless it is an sf-string item, with a string `id` if any.
    pub fn parse(value: &str) -> Result<Self, ProofError> {
        let item = sf::parse_item(value)?;
        let BareItem::String(challenge) = item.bare.clone() else {
            return Err(ProofError::Malformed);
        };
        let session_id = match item.param("id") {
            None => None,
            Some(BareItem::String(id)) => Some(id.clone()),
            Some(_) => return Err(ProofError::Malformed),
        };
        Ok(SessionChallenge {
            challenge,
            session_id,
        })
    }
}

impl fmt::Display for SessionChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&sf::string(&self.challenge).ok_or(fmt::Error)?)?;
        if let Some(id) = &self.session_id {
            write!(f, ";id={}", sf::string(id).ok_or(fmt::Error)?)?;
        }
        Ok(())
    }
}

/// A `Secure-Session-Skipped`: the browser skipped a refresh and sent the request without
/// its bound cookie. The reason is a token (`unreachable`, `server_error`,
/// `quota_exceeded`, or one yet to come).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Why the browser skipped the refresh.
    pub reason: String,
    /// The session it skipped, if named.
    pub session_id: Option<String>,
}

impl Skipped {
    /// Reads a header value.
    ///
    /// # Errors
    /// [`ProofError::Malformed`] unless it is a token item, with a string
    /// `session_identifier` if any.
    pub fn parse(value: &str) -> Result<Self, ProofError> {
        let item = sf::parse_item(value)?;
        let BareItem::Token(reason) = item.bare.clone() else {
            return Err(ProofError::Malformed);
        };
        let session_id = match item.param("session_identifier") {
            None => None,
            Some(BareItem::String(id)) => Some(id.clone()),
            Some(_) => return Err(ProofError::Malformed),
        };
        Ok(Skipped { reason, session_id })
    }
}
