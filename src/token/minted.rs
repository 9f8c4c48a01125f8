//! Minted downstream tokens: short-lived JWS tokens for one audience, made from a session
//! for a call to one downstream service. No HTTP here.
//!
//! A minted token is a JWS compact serialization like a session token, with its own type
//! in the header (`{"alg":..,"kid":..,"typ":"downstream+jwt"}`, see
//! [`DOWNSTREAM_TOKEN_TYPE`]) and its own claims: `iss` (the service that minted it), `aud`
//! (the one service that may accept it), `sub` and `sid` of the session, `iat`, a short
//! `exp`, for a token minted by a service in the middle of a chain an `act` claim naming
//! it (RFC 8693 §4.1), and the members the application chose to pass on. It has none of a
//! session's claims (`auth_time`, `ver`), so neither kind of token decodes as the other,
//! and the `typ` check refuses each where the other is expected (RFC 8725 §3.11, §3.12).

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::jws::{self, B64, TOKEN_TYPE};
use super::{Claims, SessionId, TokenCodec, Verified, with_scratch};
use crate::error::{ConfigError, Rejection, RejectionKind, SignError};
use crate::keys::Key;

/// The `typ` of minted downstream tokens (RFC 8725 §3.11 explicit typing), distinct from
/// the session token's [`TOKEN_TYPE`] so neither is ever accepted as the other.
pub const DOWNSTREAM_TOKEN_TYPE: &str = "downstream+jwt";

/// Claim names a minted token owns: the application's projection may not use them.
pub const MINTED_RESERVED_CLAIMS: [&str; 9] = [
    "iss", "aud", "sub", "sid", "iat", "exp", "act", "nbf", "jti",
];

/// The longest audience, issuer or token type accepted, in bytes.
pub const MAX_AUDIENCE_LEN: usize = 255;

/// The name of a downstream service as it appears in a minted token's `aud` (and, for the
/// service that mints, its `iss`): 1 to 255 bytes of visible ASCII, compared exactly.
///
/// Cheap to clone (shared). Build the audiences once at startup; an audience-selection
/// function then hands out clones.
///
/// ```
/// use tower_stateless_session::propagate::Audience;
///
/// let profile = Audience::new("profile")?;
/// assert_eq!(profile.as_str(), "profile");
/// assert!(Audience::new("").is_err() && Audience::new("two words").is_err());
/// # Ok::<(), tower_stateless_session::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Audience {
    name: Arc<str>,
}

impl Audience {
    /// An audience from its name.
    ///
    /// # Errors
    /// [`ConfigError::InvalidDownstreamSetting`] when `name` is empty, longer than
    /// [`MAX_AUDIENCE_LEN`] bytes, or holds anything but visible ASCII.
    pub fn new(name: &str) -> Result<Self, ConfigError> {
        check_name("audience", name)?;
        Ok(Audience { name: name.into() })
    }

    /// The audience's name.
    pub fn as_str(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Audience({:?})", &*self.name)
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl std::str::FromStr for Audience {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Audience::new(s)
    }
}

/// Checks a name that travels in a token: 1 to [`MAX_AUDIENCE_LEN`] bytes of visible ASCII.
pub(crate) fn check_name(setting: &'static str, name: &str) -> Result<(), ConfigError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > MAX_AUDIENCE_LEN {
        "longer than 255 bytes"
    } else if !name.bytes().all(|b| b.is_ascii_graphic()) {
        "only visible ASCII characters are allowed (no spaces)"
    } else {
        return Ok(());
    };
    Err(ConfigError::InvalidDownstreamSetting { setting, reason })
}

/// Checks a token type for a header: a media type without parameters, `A-Z a-z 0-9` and
/// `. _ - + /`, at most 64 bytes, and not the session token's type.
/// The `typ` of minted downstream tokens, when not the default [`DOWNSTREAM_TOKEN_TYPE`]:
/// a media type of 1 to 64 bytes (`A-Z a-z 0-9 . _ - + /`, an `application/` prefix
/// allowed) other than the session token's type. Set the same on the minter
/// ([`Minter::with_token_type`](crate::propagate::Minter::with_token_type)) and on the
/// downstream layers
/// ([`SessionLayer::with_accepted_token_type`](crate::SessionLayer::with_accepted_token_type)).
///
/// ```
/// use tower_stateless_session::propagate::TokenType;
///
/// let typ = TokenType::new("orders+jwt")?;
/// assert_eq!(typ.as_str(), "orders+jwt");
/// assert!(TokenType::new("sess+jwt").is_err(), "the session token's own type");
/// # Ok::<(), tower_stateless_session::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenType(Arc<str>);

impl TokenType {
    /// A token type from its text.
    ///
    /// # Errors
    /// [`ConfigError::InvalidDownstreamSetting`] when `typ` is not a media type of at most
    /// 64 bytes (`A-Z a-z 0-9 . _ - + /`), or is the session token's type.
    pub fn new(typ: &str) -> Result<Self, ConfigError> {
        check_token_type(typ)?;
        Ok(TokenType(typ.into()))
    }

    /// The type's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// [`DOWNSTREAM_TOKEN_TYPE`].
impl Default for TokenType {
    fn default() -> Self {
        TokenType(DOWNSTREAM_TOKEN_TYPE.into())
    }
}

fn check_token_type(typ: &str) -> Result<(), ConfigError> {
    let bare = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    let reason = if bare.is_empty() || typ.len() > 64 {
        "1 to 64 bytes"
    } else if !typ
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'/'))
    {
        "only A-Z, a-z, 0-9, '.', '_', '-', '+' and '/' are allowed"
    } else if bare.eq_ignore_ascii_case(TOKEN_TYPE) {
        "the session token's type; a minted token needs a type of its own"
    } else {
        return Ok(());
    };
    Err(ConfigError::InvalidDownstreamSetting {
        setting: "token type",
        reason,
    })
}

/// An actor of a delegation chain (RFC 8693 §4.1): the service that minted the token, and
/// inside it the actors before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Actor {
    /// The acting service (the `iss` it mints under).
    pub sub: String,
    /// The actor before this one, if the chain is longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

impl Actor {
    pub(crate) fn new(sub: &str, previous: Option<Actor>) -> Self {
        Actor {
            sub: sub.to_owned(),
            act: previous.map(Box::new),
        }
    }
}

/// The registered claims of a minted downstream token, as verified (see
/// [`SessionHandle::minted`](crate::SessionHandle::minted)).
///
/// It serializes as the token carried them (`aud` as a string when there is one), ready to
/// show in a diagnostic endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MintedClaims {
    /// The service that minted the token.
    pub iss: String,
    /// The audiences the token names (one, for tokens this crate mints); the verifying
    /// service is among them.
    #[serde(serialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// The subject of the session (the user), unchanged along a chain.
    pub sub: String,
    /// The session's id, unchanged along a chain.
    pub sid: SessionId,
    /// When the token was minted (Unix seconds).
    pub iat: u64,
    /// When the token expires (Unix seconds).
    pub exp: u64,
    /// The service that minted it on the session's behalf when it is not the first hop:
    /// RFC 8693's `act`, the current actor outermost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
}

impl MintedClaims {
    /// The actors of the chain, the most recent first (empty for a first hop).
    pub fn actors(&self) -> impl Iterator<Item = &str> + '_ {
        std::iter::successors(self.act.as_ref(), |a| a.act.as_deref()).map(|a| a.sub.as_str())
    }
}

fn one_or_many<S: serde::Serializer>(aud: &[String], serializer: S) -> Result<S::Ok, S::Error> {
    match aud {
        [one] => serializer.serialize_str(one),
        many => many.serialize(serializer),
    }
}

/// What goes into a minted token, borrowed from the minter.
pub(crate) struct MintParts<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) audience: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) sid: SessionId,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    pub(crate) act: Option<&'a Actor>,
    /// The application's projection, its names checked against
    /// [`MINTED_RESERVED_CLAIMS`].
    pub(crate) data: &'a Map<String, Value>,
}

#[derive(Serialize)]
struct Payload<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    sid: SessionId,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<&'a Actor>,
    #[serde(flatten)]
    data: &'a Map<String, Value>,
}

/// The first name of `data` that a minted token reserves, if any.
pub(crate) fn reserved_name(data: &Map<String, Value>) -> Option<&str> {
    data.keys()
        .map(String::as_str)
        .find(|name| MINTED_RESERVED_CLAIMS.contains(name))
}

/// Signs a minted token with `key` (which must be able to sign), typed `typ`.
pub(crate) fn sign(
    key: &Key,
    typ: &str,
    parts: &MintParts<'_>,
    max_len: usize,
) -> Result<String, SignError> {
    let header = format!(
        r#"{{"alg":"{}","kid":"{}","typ":"{typ}"}}"#,
        key.algorithm().as_str(),
        key.kid()
    );
    let payload = Payload {
        iss: parts.issuer,
        aud: parts.audience,
        sub: parts.subject,
        sid: parts.sid,
        iat: parts.iat,
        exp: parts.exp,
        act: parts.act,
        data: parts.data,
    };
    let json = serde_json::to_vec(&payload).map_err(SignError::Serialize)?;
    let len = (header.len() * 4).div_ceil(3)
        + 1
        + (json.len() * 4).div_ceil(3)
        + 1
        + key.signature_b64_len();
    if len > max_len {
        return Err(SignError::Oversized { len, max: max_len });
    }
    let mut token = String::with_capacity(len);
    B64.encode_string(header, &mut token);
    token.push('.');
    B64.encode_string(&json, &mut token);
    if !key.append_signature(&mut token) {
        return Err(SignError::NoSigningKey);
    }
    debug_assert_eq!(token.len(), len);
    Ok(token)
}

/// A minted token's payload: the registered claims picked out, every other member kept
/// for the application's data. Duplicate members are refused.
struct Payloaded {
    iss: String,
    aud: Vec<String>,
    sub: String,
    sid: SessionId,
    iat: u64,
    exp: u64,
    nbf: Option<u64>,
    act: Option<Actor>,
    /// Every member but the registered ones; `sub` is kept here too, so session data with
    /// a `sub` field reads it.
    rest: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for Payloaded {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PayloadVisitor)
    }
}

struct PayloadVisitor;

fn put<E: de::Error, V>(slot: &mut Option<V>, value: V, name: &'static str) -> Result<(), E> {
    if slot.replace(value).is_some() {
        return Err(E::duplicate_field(name));
    }
    Ok(())
}

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = Payloaded;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of minted token claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Payloaded, A::Error> {
        let (mut iss, mut aud, mut sub, mut sid) = (None, None, None, None);
        let (mut iat, mut exp, mut nbf, mut act) = (None, None, None, None);
        let mut rest = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            match name.as_str() {
                "iss" => put(&mut iss, map.next_value::<String>()?, "iss")?,
                "aud" => put(&mut aud, map.next_value::<OneOrMany>()?, "aud")?,
                "sub" => put(&mut sub, map.next_value::<String>()?, "sub")?,
                "sid" => put(&mut sid, map.next_value::<SessionId>()?, "sid")?,
                "iat" => put(&mut iat, map.next_value::<u64>()?, "iat")?,
                "exp" => put(&mut exp, map.next_value::<u64>()?, "exp")?,
                "nbf" => put(&mut nbf, map.next_value::<u64>()?, "nbf")?,
                "act" => put(&mut act, map.next_value::<Actor>()?, "act")?,
                _ => {
                    let value = map.next_value::<Value>()?;
                    if rest.contains_key(&name) {
                        return Err(de::Error::custom("duplicate member"));
                    }
                    rest.insert(name, value);
                }
            }
        }
        let sub: String = sub.ok_or_else(|| de::Error::missing_field("sub"))?;
        rest.insert("sub".to_owned(), Value::String(sub.clone()));
        Ok(Payloaded {
            iss: iss.ok_or_else(|| de::Error::missing_field("iss"))?,
            aud: match aud.ok_or_else(|| de::Error::missing_field("aud"))? {
                OneOrMany::One(one) => vec![one],
                OneOrMany::Many(many) => many,
            },
            sub,
            sid: sid.ok_or_else(|| de::Error::missing_field("sid"))?,
            iat: iat.ok_or_else(|| de::Error::missing_field("iat"))?,
            exp: exp.ok_or_else(|| de::Error::missing_field("exp"))?,
            nbf,
            act,
            rest,
        })
    }
}

impl TokenCodec {
    /// Verifies a minted downstream token for `audience`, of type `typ` (normally
    /// [`DOWNSTREAM_TOKEN_TYPE`]), and decodes its claims: the registered ones, and the
    /// application's data `T` from the other members (`sub` included).
    ///
    /// The checks are those of [`verify`](TokenCodec::verify) (length, structure, a known
    /// `kid` with the key's algorithm, the signature, then the deadlines with the leeway),
    /// with the token's own type in place of the session's, and its claims: `iss`, `aud`,
    /// `sub`, `sid`, `iat`, `exp` required, `aud` naming `audience`
    /// ([`RejectionKind::WrongAudience`] otherwise), `exp` after `iat`. The returned
    /// [`Claims`] carry `auth_time = iat` (a minted token does not say when the session
    /// began) and the codec's data version.
    ///
    /// # Errors
    /// A [`Rejection`] whose [`kind`](Rejection::kind) names the first failed check.
    pub fn verify_minted<T: DeserializeOwned>(
        &self,
        token: impl AsRef<[u8]>,
        audience: &Audience,
        typ: &str,
    ) -> Result<(Verified<T>, MintedClaims), Rejection> {
        let (verified, minted) = self.decode_minted(token.as_ref(), audience, typ)?;
        self.check_times_at(&verified.claims, self.now())?;
        Ok((verified, minted))
    }

    /// The checks of [`verify_minted`](Self::verify_minted) that do not depend on time.
    pub(crate) fn decode_minted<T: DeserializeOwned>(
        &self,
        token: &[u8],
        audience: &Audience,
        typ: &str,
    ) -> Result<(Verified<T>, MintedClaims), Rejection> {
        let invalid = Rejection::new(RejectionKind::InvalidClaims);
        let ring = self.keys.load();
        let (key_index, payload_b64) = jws::verify_typed(&ring, token, self.max_len, typ)?;
        let current = ring.is_current_index(key_index);
        drop(ring);
        let payload: Payloaded = with_scratch(|buf| {
            jws::decode_segment_into(payload_b64, buf)?;
            jws::parse_object(buf).map_err(|_| invalid)
        })?;
        if !payload.aud.iter().any(|a| a == audience.as_str()) {
            return Err(Rejection::new(RejectionKind::WrongAudience));
        }
        if payload.exp <= payload.iat || payload.nbf.is_some_and(|nbf| nbf > payload.iat) {
            return Err(invalid);
        }
        let data: T = serde_json::from_value(Value::Object(payload.rest)).map_err(|_| invalid)?;
        let claims = Claims {
            sid: payload.sid,
            iat: payload.iat,
            exp: payload.exp,
            auth_time: payload.iat,
            ver: self.data_version,
            remember: false,
            cnf: None,
            data,
        };
        let minted = MintedClaims {
            iss: payload.iss,
            aud: payload.aud,
            sub: payload.sub,
            sid: payload.sid,
            iat: payload.iat,
            exp: payload.exp,
            act: payload.act,
        };
        let verified = Verified {
            claims,
            signed_with_current_key: current,
            migrated: false,
        };
        Ok((verified, minted))
    }
}

#[cfg(test)]
mod tests;
