//! Transport and cookie settings: where the token travels and how the cookie is written.

use std::fmt;

use http::HeaderName;

use crate::error::ConfigError;

/// Where the session token travels.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// In a cookie (the default): read from `Cookie`, written with `Set-Cookie`.
    Cookie,
    /// In `Authorization: Bearer <token>`. A new token (after login or a refresh) is returned
    /// in the response header set by
    /// [`with_token_response_header`](crate::SessionLayer::with_token_response_header)
    /// (default `x-session-token`), marked sensitive; the client must store and resend it.
    Bearer,
    /// In the named request header; a new token is returned in the response header set by
    /// [`with_token_response_header`](crate::SessionLayer::with_token_response_header)
    /// (default: the same name).
    Header(HeaderName),
}

/// The cookie's `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// Sent only on same-site requests.
    Strict,
    /// Sent on same-site requests and top-level cross-site navigations (the default).
    Lax,
    /// Sent on all requests; requires `Secure`.
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// The session cookie's name and attributes as the layer's setters leave them: one value
/// per setter, checked together (and rendered) only by [`CookieSpec::build`], so the order
/// of the setters never matters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CookieSpec {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
}

/// The default cookie name.
pub const DEFAULT_COOKIE_NAME: &str = "session";

impl Default for CookieSpec {
    fn default() -> Self {
        CookieSpec {
            name: DEFAULT_COOKIE_NAME.to_owned(),
            path: "/".to_owned(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
        }
    }
}

/// RFC 6265 `cookie-name`: an RFC 7230 token.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'(' | b')'
                        | b'<'
                        | b'>'
                        | b'@'
                        | b','
                        | b';'
                        | b':'
                        | b'\\'
                        | b'"'
                        | b'/'
                        | b'['
                        | b']'
                        | b'?'
                        | b'='
                        | b'{'
                        | b'}'
                )
        })
}

fn has_prefix(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

impl CookieSpec {
    /// Checks every value and every rule between them (a name is a token; a path starts
    /// with `/`; a domain is a host name; `__Host-` needs `Secure`, `Path=/` and no
    /// `Domain`; `__Secure-` needs `Secure`; `SameSite=None` needs `Secure`), then renders
    /// the attributes and the removal cookie once.
    ///
    /// # Errors
    /// The first broken rule, as [`ConfigError::InvalidCookieName`] or
    /// [`ConfigError::InvalidCookieAttribute`].
    pub(crate) fn build(&self) -> Result<CookieSettings, ConfigError> {
        let bad_name = |reason| {
            Err(ConfigError::InvalidCookieName {
                name: self.name.clone(),
                reason,
            })
        };
        let bad_attribute =
            |attribute, reason| Err(ConfigError::InvalidCookieAttribute { attribute, reason });
        if !is_token(&self.name) {
            return bad_name(
                "a cookie name is a non-empty token: visible ASCII without separators",
            );
        }
        if !self.path.starts_with('/')
            || !self.path.bytes().all(|b| b.is_ascii_graphic() && b != b';')
        {
            return bad_attribute(
                "Path",
                "a path starts with '/' and holds visible ASCII other than ';'",
            );
        }
        if let Some(domain) = &self.domain {
            let bare = domain.strip_prefix('.').unwrap_or(domain);
            let valid = !bare.is_empty()
                && bare
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !valid {
                return bad_attribute("Domain", "a domain holds letters, digits, '-' and '.'");
            }
        }
        if has_prefix(&self.name, "__Host-") {
            if !self.secure {
                return bad_name("the __Host- prefix requires Secure");
            }
            if self.path != "/" {
                return bad_name("the __Host- prefix requires Path=/");
            }
            if self.domain.is_some() {
                return bad_name("the __Host- prefix forbids a Domain");
            }
        } else if has_prefix(&self.name, "__Secure-") && !self.secure {
            return bad_name("the __Secure- prefix requires Secure");
        }
        if self.same_site == SameSite::None && !self.secure {
            return bad_attribute("SameSite", "SameSite=None requires Secure");
        }
        let attributes = self.attributes();
        // The same name, Path and Domain, an empty value, and both ways of saying "expired
        // already" (`Max-Age` for current browsers, `Expires` for old ones).
        let removal = format!(
            "{}={attributes}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            self.name
        );
        Ok(CookieSettings {
            name: self.name.clone(),
            attributes,
            removal,
        })
    }

    /// `; Path=..; Domain=..; HttpOnly; Secure; SameSite=..`.
    fn attributes(&self) -> String {
        use fmt::Write as _;
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = write!(out, "; Path={}", self.path);
        if let Some(domain) = &self.domain {
            let _ = write!(out, "; Domain={domain}");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if self.secure {
            out.push_str("; Secure");
        }
        let _ = write!(out, "; SameSite={}", self.same_site.as_str());
        out
    }

    /// The settings as a `cookie` crate cookie with an empty value (tests read what the
    /// layer writes back with it).
    #[cfg(test)]
    fn as_cookie(&self) -> cookie::Cookie<'static> {
        let mut c = cookie::Cookie::new(self.name.clone(), "");
        c.set_path(self.path.clone());
        if let Some(domain) = &self.domain {
            c.set_domain(domain.clone());
        }
        c.set_http_only(self.http_only);
        c.set_secure(self.secure);
        c.set_same_site(match self.same_site {
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::None => cookie::SameSite::None,
        });
        c
    }
}

/// The session cookie, checked and rendered: what the request path writes.
#[derive(Clone)]
pub(crate) struct CookieSettings {
    name: String,
    /// `; Path=..; Domain=..; HttpOnly; Secure; SameSite=..`, rendered once.
    attributes: String,
    /// The `Set-Cookie` that deletes the cookie, rendered once by the `cookie` crate.
    removal: String,
}

impl CookieSettings {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    #[cfg_attr(not(any(test, feature = "dbsc")), allow(dead_code))]
    pub(crate) fn attributes(&self) -> &str {
        &self.attributes
    }

    /// Whether a standard cookie parser (the `cookie` crate) reads the `Set-Cookie` this
    /// layer writes back as the same name and attributes.
    #[cfg(test)]
    fn reads_back(&self, spec: &CookieSpec) -> bool {
        let written = self.set_cookie("v", None);
        let Ok(read) = cookie::Cookie::parse(written.as_str()) else {
            return false;
        };
        let expected = spec.as_cookie();
        read.name() == expected.name()
            && read.value() == "v"
            && read.path() == expected.path()
            && read.domain() == expected.domain()
            && read.http_only().unwrap_or(false) == spec.http_only
            && read.secure().unwrap_or(false) == spec.secure
            && read.same_site() == expected.same_site()
    }

    /// `name=token; attributes[; Max-Age=N]`.
    pub(crate) fn set_cookie(&self, token: &str, max_age: Option<u64>) -> String {
        let mut out =
            String::with_capacity(self.name.len() + 1 + token.len() + self.attributes.len() + 20);
        out.push_str(&self.name);
        out.push('=');
        out.push_str(token);
        out.push_str(&self.attributes);
        if let Some(max_age) = max_age {
            use fmt::Write as _;
            let _ = write!(out, "; Max-Age={max_age}");
        }
        out
    }

    /// A `Set-Cookie` that deletes the cookie (same name, Path and Domain; empty value,
    /// `Max-Age=0` and an `Expires` in the past).
    pub(crate) fn removal(&self) -> &str {
        &self.removal
    }
}

impl fmt::Debug for CookieSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieSettings")
            .field("name", &self.name)
            .field("attributes", &self.attributes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(change: impl FnOnce(&mut CookieSpec)) -> CookieSpec {
        let mut spec = CookieSpec::default();
        change(&mut spec);
        spec
    }

    #[test]
    fn defaults_are_secure() {
        let c = CookieSpec::default().build().expect("the defaults hold");
        assert_eq!(c.name(), "session");
        assert_eq!(c.attributes(), "; Path=/; HttpOnly; Secure; SameSite=Lax");
        assert_eq!(
            c.set_cookie("t", Some(60)),
            "session=t; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=60"
        );
        let removal = cookie::Cookie::parse(c.removal()).expect("the removal parses");
        assert_eq!(
            (removal.name(), removal.value(), removal.path()),
            ("session", "", Some("/"))
        );
        assert_eq!(removal.max_age(), Some(cookie::time::Duration::ZERO));
        assert!(
            removal
                .expires_datetime()
                .is_some_and(|at| at < cookie::time::OffsetDateTime::now_utc())
        );
        assert_eq!(
            (removal.http_only(), removal.secure(), removal.same_site()),
            (Some(true), Some(true), Some(cookie::SameSite::Lax))
        );
    }

    #[test]
    fn the_removal_keeps_path_and_domain() {
        let spec = spec(|c| {
            c.path = "/app".into();
            c.domain = Some("example.com".into());
        });
        let c = spec.build().expect("path and domain");
        let removal = cookie::Cookie::parse(c.removal()).expect("the removal parses");
        assert_eq!(removal.path(), Some("/app"));
        assert_eq!(removal.domain(), Some("example.com"));
        assert!(c.reads_back(&spec));
    }

    #[test]
    fn names_must_be_tokens() {
        for bad in ["", "a b", "a;b", "a=b", "sé", "a\tb", "(x)", "a,b"] {
            assert!(
                spec(|c| c.name = bad.into()).build().is_err(),
                "{bad:?} should be refused"
            );
        }
        spec(|c| c.name = "my_app.sid-2".into())
            .build()
            .expect("valid token");
    }

    #[test]
    fn prefix_rules_are_checked_on_the_whole_configuration() {
        let host = |change: fn(&mut CookieSpec)| {
            spec(|c| {
                c.name = "__Host-s".into();
                change(c);
            })
            .build()
        };
        assert!(host(|_| {}).is_ok(), "secure, Path=/, no Domain");
        assert!(host(|c| c.domain = Some("example.com".into())).is_err());
        assert!(host(|c| c.path = "/app".into()).is_err());
        assert!(host(|c| c.secure = false).is_err());
        let built = host(|_| {}).expect("valid");
        assert_eq!(
            built.attributes(),
            "; Path=/; HttpOnly; Secure; SameSite=Lax"
        );

        let with_domain = |name: &str| {
            spec(|c| {
                c.domain = Some("example.com".into());
                c.name = name.into();
            })
            .build()
        };
        assert!(
            with_domain("__host-s").is_err(),
            "prefixes match case-insensitively"
        );
        assert!(
            spec(|c| c.secure = false).build().is_ok(),
            "a plain cookie may be insecure"
        );
        assert!(
            spec(|c| {
                c.secure = false;
                c.name = "__Secure-s".into();
            })
            .build()
            .is_err()
        );
        assert!(
            spec(|c| {
                c.secure = false;
                c.same_site = SameSite::None;
            })
            .build()
            .is_err(),
            "SameSite=None needs Secure"
        );
    }

    /// Every combination the layer accepts is written so that a standard parser (the
    /// `cookie` crate) reads back the same name, value and attributes, and its removal as
    /// an expired cookie of the same name, Path and Domain.
    #[test]
    fn what_the_layer_writes_reads_back_with_the_cookie_crate() {
        let mut checked = 0;
        for name in ["session", "__Host-s", "__Secure-s", "a.b-c_d"] {
            for path in ["/", "/app", "/a/b.c"] {
                for domain in [None, Some("example.com"), Some(".example.com")] {
                    for (secure, http_only) in [(true, true), (true, false), (false, true)] {
                        for same_site in [SameSite::Strict, SameSite::Lax, SameSite::None] {
                            let spec = CookieSpec {
                                name: name.into(),
                                path: path.into(),
                                domain: domain.map(str::to_owned),
                                secure,
                                http_only,
                                same_site,
                            };
                            let Ok(built) = spec.build() else { continue };
                            assert!(built.reads_back(&spec), "{spec:?}");
                            let removal =
                                cookie::Cookie::parse(built.removal()).expect("the removal parses");
                            let expected = spec.as_cookie();
                            assert_eq!((removal.name(), removal.value()), (name, ""), "{spec:?}");
                            assert_eq!(removal.path(), expected.path(), "{spec:?}");
                            assert_eq!(removal.domain(), expected.domain(), "{spec:?}");
                            assert_eq!(
                                removal.max_age(),
                                Some(cookie::time::Duration::ZERO),
                                "{spec:?}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 100, "only {checked} combinations were valid");
    }

    #[test]
    fn attributes_are_validated() {
        assert!(spec(|c| c.path = "app".into()).build().is_err());
        assert!(spec(|c| c.path = "/a;b".into()).build().is_err());
        assert!(spec(|c| c.domain = Some("a b".into())).build().is_err());
        assert!(spec(|c| c.domain = Some(".".into())).build().is_err());
        let c = spec(|c| {
            c.path = "/app".into();
            c.domain = Some(".example.com".into());
            c.http_only = false;
            c.same_site = SameSite::Strict;
        })
        .build()
        .expect("valid attributes");
        assert_eq!(
            c.attributes(),
            "; Path=/app; Domain=.example.com; Secure; SameSite=Strict"
        );
    }
}
