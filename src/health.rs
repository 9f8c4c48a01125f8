//! Health of what the sessions depend on, for a `/health` endpoint.
//!
//! Each dependency (the revocation store, a key registry, a JWKS source, anything the
//! application adds) reports a [`Check`]: [`Status::Ok`], or [`Status::Degraded`] with a
//! reason, each with the time the state began when it is known. There is no "down": every
//! dependency of this crate has a fallback that keeps sessions working (the last known
//! revocations, the last fetched keys), so a lost connection degrades what a node knows,
//! never whether it can serve. Serve the report with `200 OK` in both states, so an
//! orchestrator does not restart a healthy node because Redis went away; alert on
//! `degraded` instead (see [`observability`](crate::observability)).
//!
//! ```
//! use tower_stateless_session::health::{Check, Health, Status};
//! use tower_stateless_session::revocation::MemoryRevocations;
//! use tower_stateless_session::{Key, KeyRing, SessionLayer};
//!
//! # #[derive(Clone, serde::Serialize, serde::Deserialize)] struct User { sub: String }
//! let layer = SessionLayer::<User>::new(KeyRing::new(Key::generate_hs256("k1")?))
//!     .with_revocation(MemoryRevocations::new(), |user: &User| Some(user.sub.as_str()));
//! // The layer's own dependencies, plus one of the application's.
//! let health = layer.health().with_check("database", || Check::ok());
//!
//! let report = health.report();
//! assert_eq!(report.status(), Status::Ok);
//! assert!(report.to_json().starts_with(r#"{"status":"ok","checks":{"database":"#));
//! # Ok::<(), tower_stateless_session::ConfigError>(())
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// The state of one dependency, or of all of them together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Working as configured.
    Ok,
    /// Working from a fallback (the last known state); see the reason.
    Degraded,
}

impl Status {
    /// `"ok"` or `"degraded"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Degraded => "degraded",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one dependency reports: its status, why it is degraded, and since when.
///
/// Serializes as `{"status":"ok","since":1700000000}` or
/// `{"status":"degraded","reason":"...","since":1700000000}`; `since` (Unix seconds) is
/// left out when unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Check {
    /// Ok or degraded.
    pub status: Status,
    /// Why it is degraded (`None` when ok). Never holds a secret or a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Cow<'static, str>>,
    /// When this status began (Unix seconds), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}

impl Check {
    /// Ok, since an unknown time.
    pub fn ok() -> Self {
        Check {
            status: Status::Ok,
            reason: None,
            since: None,
        }
    }

    /// Degraded for `reason`, since an unknown time.
    pub fn degraded(reason: impl Into<Cow<'static, str>>) -> Self {
        Check {
            status: Status::Degraded,
            reason: Some(reason.into()),
            since: None,
        }
    }

    /// The same check, in this state since `since` (Unix seconds).
    #[must_use]
    pub fn since(mut self, since: u64) -> Self {
        self.since = Some(since);
        self
    }
}

/// Something that can report its health: a store, a key source, a closure.
///
/// [`check`](HealthCheck::check) runs when a report is made (a `/health` request), so it
/// must answer from memory, without waiting on the network: report the state the
/// background task last saw.
pub trait HealthCheck: Send + Sync + 'static {
    /// The current state.
    fn check(&self) -> Check;
}

impl<F: Fn() -> Check + Send + Sync + 'static> HealthCheck for F {
    fn check(&self) -> Check {
        self()
    }
}

/// A named set of health checks; [`report`](Health::report) runs them all.
///
/// Cheap to clone (the checks are shared). Get the layer's own with
/// [`SessionLayer::health`](crate::SessionLayer::health), then add the application's.
#[derive(Clone, Default)]
pub struct Health {
    checks: Vec<(Cow<'static, str>, Arc<dyn HealthCheck>)>,
}

impl Health {
    /// No checks: its report is ok.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a check under `name` (a later check of the same name replaces it).
    #[must_use]
    pub fn with_check(
        mut self,
        name: impl Into<Cow<'static, str>>,
        check: impl HealthCheck,
    ) -> Self {
        self.put(name.into(), Arc::new(check));
        self
    }

    /// Adds every check of `other` (each replacing a check of the same name): to serve the
    /// checks of several layers, or of a part used outside a layer, in one report.
    #[must_use]
    pub fn merge(mut self, other: Health) -> Self {
        for (name, check) in other.checks {
            self.put(name, check);
        }
        self
    }

    /// Puts `check` last under `name`, replacing a check of the same name.
    fn put(&mut self, name: Cow<'static, str>, check: Arc<dyn HealthCheck>) {
        self.checks.retain(|(existing, _)| *existing != name);
        self.checks.push((name, check));
    }

    /// The names of the checks, in the order they were added.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.checks.iter().map(|(name, _)| name.as_ref())
    }

    /// Runs every check: degraded if any of them is.
    pub fn report(&self) -> HealthReport {
        let checks: BTreeMap<String, Check> = self
            .checks
            .iter()
            .map(|(name, check)| (name.to_string(), check.check()))
            .collect();
        let status = checks
            .values()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Ok);
        HealthReport { status, checks }
    }
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Health")
            .field("checks", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

/// The state of every dependency at one moment.
///
/// Serializes as `{"status":"ok"|"degraded","checks":{"<name>":<Check>,...}}`, names in
/// alphabetical order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    status: Status,
    checks: BTreeMap<String, Check>,
}

impl HealthReport {
    /// Degraded if any check is, ok otherwise.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Whether every check is ok.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// The check named `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.get(name)
    }

    /// Every check, by name.
    pub fn checks(&self) -> impl Iterator<Item = (&str, &Check)> + '_ {
        self.checks
            .iter()
            .map(|(name, check)| (name.as_str(), check))
    }

    /// The report as JSON, for a `/health` response body (serve it with `200 OK` whatever
    /// the status).
    pub fn to_json(&self) -> String {
        // Plain strings, integers and maps: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"status":"degraded"}"#.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_degraded_check_degrades_the_report() {
        let health = Health::new()
            .with_check("a", || Check::ok().since(10))
            .with_check("b", || Check::degraded("Redis unreachable").since(20));
        let report = health.report();
        assert_eq!(report.status(), Status::Degraded);
        assert_eq!(
            report.to_json(),
            r#"{"status":"degraded","checks":{"a":{"status":"ok","since":10},"b":{"status":"degraded","reason":"Redis unreachable","since":20}}}"#
        );
        assert_eq!(
            Health::new().report().to_json(),
            r#"{"status":"ok","checks":{}}"#
        );
    }

    #[test]
    fn a_check_added_twice_is_replaced() {
        let health = Health::new()
            .with_check("a", || Check::degraded("old"))
            .with_check("a", Check::ok);
        assert_eq!(health.names().collect::<Vec<_>>(), ["a"]);
        assert!(health.report().is_ok());
    }

    #[test]
    fn merging_adds_the_other_checks_and_replaces_same_names() {
        let health = Health::new()
            .with_check("a", Check::ok)
            .with_check("b", || Check::degraded("old b"))
            .merge(
                Health::new()
                    .with_check("b", Check::ok)
                    .with_check("c", || Check::degraded("c is down")),
            );
        assert_eq!(health.names().collect::<Vec<_>>(), ["a", "b", "c"]);
        let report = health.report();
        assert_eq!(report.check("b").map(|c| c.status), Some(Status::Ok));
        assert_eq!(report.status(), Status::Degraded, "c is degraded");
    }
}
