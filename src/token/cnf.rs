//! The confirmation claim (RFC 7800 `cnf`) of a token bound to a key: the key's RFC 7638
//! thumbprint (`jkt`, as RFC 9449 names it) and the protocol that proves possession of it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The protocol that proves a bound token's key, written as `cnf.pop`. The token says
/// which binding it carries so that each is accepted only where its proof is checked: a
/// DPoP-bound token is refused as a cookie, a DBSC-bound one as a DPoP token, a refresh
/// credential anywhere but the refresh endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Binding {
    /// A DBSC bound cookie: extended only at the refresh endpoint, against a proof.
    #[serde(rename = "dbsc")]
    Dbsc,
    /// A DBSC refresh credential: accepted only by the refresh endpoint.
    #[serde(rename = "dbsc-refresh")]
    DbscRefresh,
    /// A DPoP access token: every request carries a proof.
    #[serde(rename = "dpop")]
    Dpop,
}

impl Binding {
    /// `dbsc`, `dbsc-refresh` or `dpop`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Binding::Dbsc => "dbsc",
            Binding::DbscRefresh => "dbsc-refresh",
            Binding::Dpop => "dpop",
        }
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bound token's `cnf`: `{"jkt":"<thumbprint>","pop":"dbsc"}`. Neither member is a
/// secret (the thumbprint names a public key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// The RFC 7638 SHA-256 thumbprint of the key, base64url.
    pub jkt: String,
    /// The protocol that proves it.
    #[serde(rename = "pop")]
    pub binding: Binding,
}

impl Confirmation {
    /// A confirmation of the key with thumbprint `jkt`, proven by `binding`.
    pub fn new(jkt: impl Into<String>, binding: Binding) -> Self {
        Confirmation {
            jkt: jkt.into(),
            binding,
        }
    }
}
