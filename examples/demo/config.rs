//! The demo's settings from the environment: listen address and session timeouts.

use std::net::SocketAddr;
use std::time::Duration;

/// Where the demo listens unless `DEMO_ADDR` says otherwise.
const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// The session timeouts, as read from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub(crate) idle: Duration,
    pub(crate) absolute: Duration,
    pub(crate) refresh: Duration,
    pub(crate) leeway: Duration,
    /// With `SESSION_DBSC=on`, the bound cookie's lifetime (`SESSION_DBSC_BOUND_SECS`,
    /// default 600): DBSC is on for the page's cookie session.
    pub(crate) bound: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            idle: Duration::from_secs(1800),
            absolute: Duration::from_secs(172_800),
            refresh: Duration::from_secs(60),
            leeway: Duration::from_secs(60),
            bound: None,
        }
    }
}

impl Timeouts {
    /// Reads the four `SESSION_*_SECS` variables through `lookup`, which returns a variable's
    /// value, `None` when it is unset, or an error when it cannot be read.
    pub(crate) fn from_lookup(
        mut lookup: impl FnMut(&str) -> Result<Option<String>, String>,
    ) -> Result<Self, String> {
        let defaults = Timeouts::default();
        let mut read = |name: &str, default: Duration, min: u64| -> Result<Duration, String> {
            let raw = lookup(name)?;
            parse_secs(name, raw.as_deref(), default, min)
        };
        Ok(Timeouts {
            idle: read("SESSION_IDLE_SECS", defaults.idle, 1)?,
            absolute: read("SESSION_ABSOLUTE_SECS", defaults.absolute, 1)?,
            refresh: read("SESSION_REFRESH_SECS", defaults.refresh, 0)?,
            leeway: read("SESSION_LEEWAY_SECS", defaults.leeway, 0)?,
            bound: match on_off(&mut lookup, "SESSION_DBSC")? {
                true => {
                    let raw = lookup("SESSION_DBSC_BOUND_SECS")?;
                    Some(parse_secs(
                        "SESSION_DBSC_BOUND_SECS",
                        raw.as_deref(),
                        DEFAULT_BOUND,
                        1,
                    )?)
                }
                false => None,
            },
        })
    }
}

/// Parses a whole number of seconds from the variable `name`; `None` means "use `default`".
/// Values below `min` are refused too, so a typo cannot silently disable a timeout.
/// The bound cookie's default lifetime with DBSC on: 10 minutes.
const DEFAULT_BOUND: Duration = Duration::from_secs(600);

/// A switch: `on` or `off` (unset or empty is off).
pub(crate) fn on_off(
    lookup: &mut impl FnMut(&str) -> Result<Option<String>, String>,
    name: &str,
) -> Result<bool, String> {
    match lookup(name)?.as_deref().map(str::trim) {
        None | Some("" | "off") => Ok(false),
        Some("on") => Ok(true),
        Some(other) => Err(format!("{name} must be on or off, got {other:?}")),
    }
}

fn parse_secs(
    name: &str,
    raw: Option<&str>,
    default: Duration,
    min: u64,
) -> Result<Duration, String> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    let secs: u64 = raw.trim().parse().map_err(|_| {
        format!("{name} must be a whole number of seconds (for example 1800), got {raw:?}")
    })?;
    if secs < min {
        return Err(format!("{name} must be at least {min}, got {secs}"));
    }
    Ok(Duration::from_secs(secs))
}

/// Parses the listen address; `None` means the default.
pub(crate) fn parse_addr(raw: Option<&str>) -> Result<SocketAddr, String> {
    let raw = raw.unwrap_or(DEFAULT_ADDR);
    raw.trim()
        .parse()
        .map_err(|_| format!("DEMO_ADDR must be an address like {DEFAULT_ADDR}, got {raw:?}"))
}

/// Whether the pages carry session-bound CSRF tokens (`SESSION_CSRF=token`, feature
/// `csrf`) on top of cross-origin protection, which is always on. Unset or empty: no
/// tokens.
pub(crate) fn csrf_tokens(raw: Option<&str>) -> Result<bool, String> {
    match raw.map(str::trim) {
        None | Some("") => Ok(false),
        Some("token") => Ok(true),
        Some(other) => Err(format!(
            "SESSION_CSRF must be token (or unset: cross-origin protection only), got {other:?}"
        )),
    }
}

/// One environment variable: `Ok(None)` when unset, an error when it is not Unicode.
pub(crate) fn env_var(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid Unicode")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_helpers_reject_bad_values() {
        let default = Duration::from_secs(5);
        for raw in ["abc", "-5", "1.5", "", "10s"] {
            assert!(
                parse_secs("SESSION_IDLE_SECS", Some(raw), default, 1).is_err(),
                "{raw:?} is not a number of seconds"
            );
        }
        assert_eq!(
            parse_secs("SESSION_IDLE_SECS", None, default, 1),
            Ok(default),
            "unset means the default"
        );
        assert_eq!(
            parse_secs("SESSION_IDLE_SECS", Some(" 90 "), default, 1),
            Ok(Duration::from_secs(90)),
            "surrounding spaces are fine"
        );
        assert!(
            parse_secs("SESSION_IDLE_SECS", Some("0"), default, 1).is_err(),
            "a zero idle timeout is refused"
        );

        let error = Timeouts::from_lookup(|name| {
            Ok((name == "SESSION_LEEWAY_SECS").then(|| "soon".to_owned()))
        })
        .expect_err("a non-numeric leeway is refused");
        assert!(
            error.contains("SESSION_LEEWAY_SECS"),
            "the error names the variable: {error}"
        );
        assert_eq!(
            Timeouts::from_lookup(|_| Ok(None)),
            Ok(Timeouts::default()),
            "no variables means the defaults"
        );

        assert_eq!(csrf_tokens(None), Ok(false));
        assert_eq!(csrf_tokens(Some(" ")), Ok(false));
        assert_eq!(csrf_tokens(Some("token")), Ok(true));
        assert!(csrf_tokens(Some("tokens")).is_err(), "a typo is refused");

        assert!(
            parse_addr(Some("localhost:http")).is_err(),
            "a bad DEMO_ADDR is refused"
        );
        assert_eq!(
            parse_addr(None).map(|a| a.port()),
            Ok(3000),
            "DEMO_ADDR defaults to port 3000"
        );
    }
}
