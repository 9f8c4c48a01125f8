//! Cross-origin protection: unsafe requests sent by a browser from another origin are
//! refused with 403 before the session is read, as Go's `http.CrossOriginProtection` does.
//!
//! The rules, for every method but `GET`, `HEAD` and `OPTIONS`:
//!
//! 1. `Sec-Fetch-Site: same-origin` or `none` (the user typed the URL, used a bookmark):
//!    allowed. Any other value (`cross-site`, `same-site`) is refused.
//! 2. Without `Sec-Fetch-Site` (browsers before 2023, or not a browser): an `Origin` that
//!    names the request's own host (`Host`, or the HTTP/2 `:authority`) is allowed, any
//!    other `Origin` (`null` included) is refused; with no `Origin` either, the request did
//!    not come from a browser form or script and is allowed.
//! 3. A request refused by 1 or 2 is let through when its `Origin` is one of the trusted
//!    origins, or its path is exempt (webhooks and other endpoints that other sites call).
//!
//! Safe methods pass without a header being read: on the path of every `GET` the whole
//! cost is one comparison of the method.

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header};

use crate::error::ConfigError;
use crate::server::cookie::Transport;

/// `Sec-Fetch-Site` (Fetch Metadata): how the request's initiator relates to its target.
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// Whether `method` is safe (it must not change state, so it needs no protection).
#[inline]
pub(crate) fn is_safe(method: &Method) -> bool {
    *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS
}

/// The settings as the setters leave them.
#[derive(Debug, Clone, Default)]
pub(crate) struct CrossOriginSettings {
    /// `None`: on with the cookie transport, off with the header transports.
    pub(crate) enabled: Option<bool>,
    pub(crate) trusted_origins: Vec<String>,
    pub(crate) exempt_paths: Vec<String>,
}

impl CrossOriginSettings {
    /// The checked configuration, or the first invalid origin or path.
    pub(crate) fn derive(&self, transport: &Transport) -> Result<CrossOrigin, ConfigError> {
        let trusted = self
            .trusted_origins
            .iter()
            .map(|origin| check_origin(origin))
            .collect::<Result<Vec<_>, _>>()?;
        let exempt = self
            .exempt_paths
            .iter()
            .map(|path| check_path(path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CrossOrigin {
            enabled: self.enabled.unwrap_or(*transport == Transport::Cookie),
            trusted: trusted.into_boxed_slice(),
            exempt: exempt.into_boxed_slice(),
        })
    }
}

/// An origin as browsers serialize it in `Origin`: `scheme://host[:port]`, lowercase.
fn check_origin(origin: &str) -> Result<Box<str>, ConfigError> {
    let invalid = || ConfigError::InvalidCrossSiteSetting {
        setting: "trusted origin",
        value: origin.to_owned(),
        reason: "an origin, scheme://host[:port], with nothing after the host",
    };
    let (scheme, host) = origin.split_once("://").ok_or_else(invalid)?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let host_ok = !host.is_empty()
        && !host.starts_with(':')
        && host.chars().all(|c| {
            c.is_ascii_graphic() && !matches!(c, '/' | '?' | '#' | '@' | '\\' | '"' | ',')
        });
    if !scheme_ok || !host_ok {
        return Err(invalid());
    }
    Ok(origin.to_ascii_lowercase().into_boxed_str())
}

/// An exempt path: `/` and then visible characters, no query or fragment.
fn check_path(path: &str) -> Result<Box<str>, ConfigError> {
    let valid = path.starts_with('/')
        && path
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '?' | '#'));
    if !valid {
        return Err(ConfigError::InvalidCrossSiteSetting {
            setting: "exempt path",
            value: path.to_owned(),
            reason: "a path starting with `/`, without a query, fragment or spaces",
        });
    }
    Ok(path.into())
}

/// The derived configuration.
#[derive(Debug)]
pub(crate) struct CrossOrigin {
    /// Whether unsafe requests are checked at all.
    pub(crate) enabled: bool,
    /// Origins whose requests pass (lowercase, as browsers send them).
    trusted: Box<[Box<str>]>,
    /// Paths that pass: exactly, or everything under one that ends with `/`.
    exempt: Box<[Box<str>]>,
}

/// Why a request was refused, for the log (neither header is a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `Sec-Fetch-Site` was neither `same-origin` nor `none`.
    FetchSite(HeaderValue),
    /// No `Sec-Fetch-Site`, and `Origin` names another host.
    Origin(HeaderValue),
}

impl CrossOrigin {
    /// Whether a request with `method` to `uri` with `headers` may pass; the reason when
    /// it may not.
    #[inline]
    pub(crate) fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), Refused> {
        if !self.enabled || is_safe(method) {
            return Ok(());
        }
        self.check_unsafe(uri, headers)
    }

    fn check_unsafe(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), Refused> {
        let refused = match headers.get(SEC_FETCH_SITE) {
            Some(site) => match site.as_bytes() {
                b"same-origin" | b"none" => return Ok(()),
                _ => Refused::FetchSite(site.clone()),
            },
            None => match headers.get(header::ORIGIN) {
                // Neither header: not sent by a browser's form or script.
                None => return Ok(()),
                Some(origin) if same_host(origin, uri, headers) => return Ok(()),
                Some(origin) => Refused::Origin(origin.clone()),
            },
        };
        if self.is_exempt(uri.path()) || self.is_trusted(headers) {
            return Ok(());
        }
        Err(refused)
    }

    /// Whether `Origin` is one of the trusted origins.
    fn is_trusted(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return false;
        };
        self.trusted
            .iter()
            .any(|trusted| trusted.as_bytes() == origin.as_bytes())
    }

    /// Whether `path` is exempt from the cross-site defences (this check, and the CSRF
    /// token checks of the layer).
    pub(crate) fn is_exempt(&self, path: &str) -> bool {
        self.exempt.iter().any(|exempt| {
            path == &**exempt || (exempt.ends_with('/') && path.starts_with(&**exempt))
        })
    }
}

/// Whether `origin` (`scheme://host[:port]`) names the host the request was sent to. The
/// scheme is not compared: behind a proxy that ends TLS the server cannot tell which one
/// the browser used (as Go's check; HSTS closes the gap from `http` to `https`).
fn same_host(origin: &HeaderValue, uri: &Uri, headers: &HeaderMap) -> bool {
    let origin = origin.as_bytes();
    let Some(at) = memchr::memmem::find(origin, b"://") else {
        return false;
    };
    let origin_host = &origin[at + 3..];
    let host = match uri.authority() {
        Some(authority) => authority.as_str().as_bytes(),
        None => match headers.get(header::HOST) {
            Some(host) => host.as_bytes(),
            None => return false,
        },
    };
    !origin_host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// Log event: a request refused as cross-origin (never a token: the method, the path and
/// the two headers that decided).
pub(crate) fn refused(method: &Method, uri: &Uri, why: &Refused) {
    #[cfg(feature = "tracing")]
    {
        let (header, value) = match why {
            Refused::FetchSite(value) => ("sec-fetch-site", value),
            Refused::Origin(value) => ("origin", value),
        };
        tracing::info!(
            kind = "cross_origin",
            %method,
            path = uri.path(),
            header,
            value = ?value,
            "cross-origin request refused"
        );
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (method, uri, why);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protection(trusted: &[&str], exempt: &[&str]) -> CrossOrigin {
        CrossOriginSettings {
            enabled: None,
            trusted_origins: trusted.iter().map(|s| (*s).to_owned()).collect(),
            exempt_paths: exempt.iter().map(|s| (*s).to_owned()).collect(),
        }
        .derive(&Transport::Cookie)
        .expect("valid settings")
    }

    fn check(protection: &CrossOrigin, method: &str, uri: &str, headers: &[(&str, &str)]) -> bool {
        let mut map = HeaderMap::new();
        map.insert(header::HOST, HeaderValue::from_static("app.example"));
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        protection
            .check(&method, &uri.parse().expect("uri"), &map)
            .is_ok()
    }

    #[test]
    fn the_rules_table() {
        let p = protection(&["https://partner.example"], &["/hooks/", "/ping"]);
        // (method, path, headers, allowed)
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], bool);
        let cases: &[Case<'_>] = &[
            ("GET", "/", &[("sec-fetch-site", "cross-site")], true),
            ("HEAD", "/", &[("origin", "https://evil.example")], true),
            ("OPTIONS", "/", &[("sec-fetch-site", "cross-site")], true),
            ("GET", "/", &[("sec-fetch-site", "none")], true),
            ("POST", "/", &[], true),
            ("POST", "/", &[("sec-fetch-site", "same-origin")], true),
            ("POST", "/", &[("sec-fetch-site", "none")], true),
            ("POST", "/", &[("sec-fetch-site", "cross-site")], false),
            ("POST", "/", &[("sec-fetch-site", "same-site")], false),
            ("DELETE", "/", &[("sec-fetch-site", "cross-site")], false),
            ("PUT", "/", &[("sec-fetch-site", "garbage")], false),
            ("PROPFIND", "/", &[("sec-fetch-site", "cross-site")], false),
            // Sec-Fetch-Site decides before Origin.
            (
                "POST",
                "/",
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "http://app.example"),
                ],
                false,
            ),
            ("POST", "/", &[("origin", "http://app.example")], true),
            ("POST", "/", &[("origin", "https://APP.example")], true),
            ("POST", "/", &[("origin", "https://evil.example")], false),
            (
                "POST",
                "/",
                &[("origin", "https://app.example:8443")],
                false,
            ),
            ("PATCH", "/", &[("origin", "null")], false),
            ("POST", "/", &[("origin", "")], false),
            // Trusted origins and exempt paths.
            (
                "POST",
                "/",
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://partner.example"),
                ],
                true,
            ),
            ("POST", "/", &[("origin", "https://partner.example")], true),
            ("POST", "/", &[("origin", "http://partner.example")], false),
            (
                "POST",
                "/hooks/stripe",
                &[("sec-fetch-site", "cross-site")],
                true,
            ),
            ("POST", "/hooks/", &[("sec-fetch-site", "cross-site")], true),
            ("POST", "/hooks", &[("sec-fetch-site", "cross-site")], false),
            ("POST", "/ping", &[("origin", "https://evil.example")], true),
            (
                "POST",
                "/ping/x",
                &[("origin", "https://evil.example")],
                false,
            ),
            (
                "POST",
                "/pingx",
                &[("origin", "https://evil.example")],
                false,
            ),
        ];
        for (method, path, headers, allowed) in cases {
            assert_eq!(
                check(&p, method, path, headers),
                *allowed,
                "{method} {path} {headers:?}"
            );
        }
    }

    #[test]
    fn the_authority_of_an_http2_request_is_its_host() {
        let p = protection(&[], &[]);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://h2.example"),
        );
        let uri: Uri = "https://h2.example/form".parse().expect("uri");
        assert!(p.check(&Method::POST, &uri, &headers).is_ok());
        let other: Uri = "https://other.example/form".parse().expect("uri");
        assert!(p.check(&Method::POST, &other, &headers).is_err());
        // Neither an authority nor a Host: nothing to match.
        let bare: Uri = "/form".parse().expect("uri");
        assert!(p.check(&Method::POST, &bare, &headers).is_err());
    }

    #[test]
    fn header_transports_are_off_by_default_and_the_switch_wins() {
        for transport in [
            Transport::Bearer,
            Transport::Header(HeaderName::from_static("x-t")),
        ] {
            let off = CrossOriginSettings::default()
                .derive(&transport)
                .expect("valid");
            assert!(!off.enabled, "{transport:?}");
            let on = CrossOriginSettings {
                enabled: Some(true),
                ..CrossOriginSettings::default()
            }
            .derive(&transport)
            .expect("valid");
            assert!(on.enabled, "{transport:?}");
        }
        let off = CrossOriginSettings {
            enabled: Some(false),
            ..CrossOriginSettings::default()
        }
        .derive(&Transport::Cookie)
        .expect("valid");
        assert!(!off.enabled);
        let headers: HeaderMap = [(SEC_FETCH_SITE, HeaderValue::from_static("cross-site"))]
            .into_iter()
            .collect();
        assert!(
            off.check(&Method::POST, &"/".parse().expect("uri"), &headers)
                .is_ok()
        );
    }

    #[test]
    fn bad_origins_and_paths_are_named() {
        for origin in [
            "partner.example",
            "https://",
            "https://partner.example/",
            "https://partner.example/path",
            "https://user@partner.example",
            "https://partner.example?x",
            "://partner.example",
            "1http://partner.example",
            "https://part ner.example",
            "https://:443",
        ] {
            let error = check_origin(origin).expect_err(origin);
            assert!(error.to_string().contains(origin), "{error}");
        }
        assert_eq!(
            check_origin("HTTPS://Partner.Example:8443")
                .expect("valid")
                .as_ref(),
            "https://partner.example:8443",
            "configured origins are lowercased, as browsers send them"
        );
        assert!(check_origin("http://[::1]:3000").is_ok());
        for path in ["hooks", "", "/a b", "/a?b", "/a#b"] {
            let error = check_path(path).expect_err(path);
            assert!(matches!(
                error,
                ConfigError::InvalidCrossSiteSetting {
                    setting: "exempt path",
                    ..
                }
            ));
        }
    }
}
