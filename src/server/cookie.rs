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

/// The session cookie's name and attributes, validated together so every combination the
/// layer accepts is one browsers keep.
#[derive(Clone)]
pub(crate) struct CookieSettings {
    name: String,
    path: String,
    domain: Option<String>,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    /// `; Path=..; Domain=..; HttpOnly; Secure; SameSite=..`, rendered once.
    attributes: String,
    /// The `Set-Cookie` that deletes the cookie, rendered once by the `cookie` crate.
    removal: String,
}

/// The default cookie name.
pub const DEFAULT_COOKIE_NAME: &str = "session";

impl Default for CookieSettings {
    fn default() -> Self {
        let mut settings = CookieSettings {
            name: DEFAULT_COOKIE_NAME.to_owned(),
            path: "/".to_owned(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            attributes: String::new(),
            removal: String::new(),
        };
        settings.render();
        settings
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

impl CookieSettings {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    #[cfg(test)]
    pub(crate) fn attributes(&self) -> &str {
        &self.attributes
    }

    fn render(&mut self) {
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
        self.attributes = out;
        let mut removal = self.as_cookie();
        removal.make_removal();
        self.removal = removal.to_string();
    }

    /// The settings as a `cookie` crate cookie with an empty value.
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

    /// Whether a standard cookie parser (the `cookie` crate) reads the `Set-Cookie` this
    /// layer writes back as the same name and attributes: a last check, at build time, that
    /// nothing in the configuration is written in a way a client would read differently.
    fn reads_back(&self) -> bool {
        let written = self.set_cookie("v", None);
        let Ok(read) = cookie::Cookie::parse(written.as_str()) else {
            return false;
        };
        let expected = self.as_cookie();
        read.name() == expected.name()
            && read.value() == "v"
            && read.path() == expected.path()
            && read.domain() == expected.domain()
            && read.http_only().unwrap_or(false) == self.http_only
            && read.secure().unwrap_or(false) == self.secure
            && read.same_site() == expected.same_site()
    }

    /// Checks the cookie prefix rules and `SameSite=None` against the current attributes.
    fn check(&self) -> Result<(), ConfigError> {
        let reason = if has_prefix(&self.name, "__Host-") {
            if !self.secure {
                Some("the __Host- prefix requires Secure")
            } else if self.path != "/" {
                Some("the __Host- prefix requires Path=/")
            } else if self.domain.is_some() {
                Some("the __Host- prefix forbids a Domain")
            } else {
                None
            }
        } else if has_prefix(&self.name, "__Secure-") && !self.secure {
            Some("the __Secure- prefix requires Secure")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(ConfigError::InvalidCookieName {
                name: self.name.clone(),
                reason,
            });
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(ConfigError::InvalidCookieAttribute {
                attribute: "SameSite",
                reason: "SameSite=None requires Secure",
            });
        }
        Ok(())
    }

    /// Applies `change` to a copy and keeps it only if the result is valid.
    fn try_change(&mut self, change: impl FnOnce(&mut Self)) -> Result<(), ConfigError> {
        let mut next = self.clone();
        change(&mut next);
        next.check()?;
        next.render();
        if !next.reads_back() {
            return Err(ConfigError::InvalidCookieAttribute {
                attribute: "Set-Cookie",
                reason: "the cookie would not read back as written",
            });
        }
        *self = next;
        Ok(())
    }

    pub(crate) fn set_name(&mut self, name: &str) -> Result<(), ConfigError> {
        if !is_token(name) {
            return Err(ConfigError::InvalidCookieName {
                name: name.to_owned(),
                reason: "a cookie name is a non-empty token: visible ASCII without separators",
            });
        }
        self.try_change(|c| c.name = name.to_owned())
    }

    pub(crate) fn set_path(&mut self, path: &str) -> Result<(), ConfigError> {
        if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_graphic() && b != b';') {
            return Err(ConfigError::InvalidCookieAttribute {
                attribute: "Path",
                reason: "a path starts with '/' and holds visible ASCII other than ';'",
            });
        }
        self.try_change(|c| c.path = path.to_owned())
    }

    pub(crate) fn set_domain(&mut self, domain: Option<&str>) -> Result<(), ConfigError> {
        if let Some(domain) = domain {
            let bare = domain.strip_prefix('.').unwrap_or(domain);
            let valid = !bare.is_empty()
                && bare
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !valid {
                return Err(ConfigError::InvalidCookieAttribute {
                    attribute: "Domain",
                    reason: "a domain holds letters, digits, '-' and '.'",
                });
            }
        }
        self.try_change(|c| c.domain = domain.map(str::to_owned))
    }

    pub(crate) fn set_secure(&mut self, secure: bool) -> Result<(), ConfigError> {
        self.try_change(|c| c.secure = secure)
    }

    pub(crate) fn set_http_only(&mut self, http_only: bool) {
        self.http_only = http_only;
        self.render();
    }

    pub(crate) fn set_same_site(&mut self, same_site: SameSite) -> Result<(), ConfigError> {
        self.try_change(|c| c.same_site = same_site)
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

    #[test]
    fn defaults_are_secure() {
        let c = CookieSettings::default();
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
        let mut c = CookieSettings::default();
        c.set_path("/app").expect("path");
        c.set_domain(Some("example.com")).expect("domain");
        let removal = cookie::Cookie::parse(c.removal()).expect("the removal parses");
        assert_eq!(removal.path(), Some("/app"));
        assert_eq!(removal.domain(), Some("example.com"));
        assert!(c.reads_back());
    }

    #[test]
    fn names_must_be_tokens() {
        let mut c = CookieSettings::default();
        for bad in ["", "a b", "a;b", "a=b", "sé", "a\tb", "(x)", "a,b"] {
            assert!(c.set_name(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(
            c.name(),
            "session",
            "a refused change leaves the settings as they were"
        );
        c.set_name("my_app.sid-2").expect("valid token");
    }

    #[test]
    fn prefix_rules_hold_in_either_order() {
        let mut c = CookieSettings::default();
        c.set_name("__Host-s").expect("secure, Path=/, no Domain");
        assert!(c.set_domain(Some("example.com")).is_err());
        assert!(c.set_path("/app").is_err());
        assert!(c.set_secure(false).is_err());
        assert_eq!(c.attributes(), "; Path=/; HttpOnly; Secure; SameSite=Lax");

        let mut c = CookieSettings::default();
        c.set_domain(Some("example.com")).expect("domain");
        assert!(
            c.set_name("__host-s").is_err(),
            "prefixes match case-insensitively"
        );
        c.set_secure(false).expect("plain cookie may be insecure");
        assert!(c.set_name("__Secure-s").is_err());
        assert!(
            c.set_same_site(SameSite::None).is_err(),
            "SameSite=None needs Secure"
        );
    }

    #[test]
    fn attributes_are_validated() {
        let mut c = CookieSettings::default();
        assert!(c.set_path("app").is_err());
        assert!(c.set_path("/a;b").is_err());
        assert!(c.set_domain(Some("a b")).is_err());
        assert!(c.set_domain(Some(".")).is_err());
        c.set_path("/app").expect("path");
        c.set_domain(Some(".example.com")).expect("domain");
        c.set_http_only(false);
        c.set_same_site(SameSite::Strict).expect("strict");
        assert_eq!(
            c.attributes(),
            "; Path=/app; Domain=.example.com; Secure; SameSite=Strict"
        );
    }
}
