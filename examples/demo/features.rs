//! Which crate features the demo's settings need, checked once at startup.
//!
//! The default build (`cargo run --example demo`) signs sessions with HS256 and keeps
//! revocations in this process. A setting for another product needs that product's
//! feature compiled in; a demo built without it refuses to start and names the feature and
//! the command to use, rather than ignore the setting:
//!
//! ```text
//! error: SESSION_ENCRYPTION_KEYS needs the jwe feature: cargo run --example demo --features jwe
//! ```

/// Each setting that needs a feature: the variable, the value it needs the feature for
/// (`None`: any value), and the feature.
const NEEDS: &[(&str, Option<&str>, &str)] = &[
    ("SESSION_ENCRYPTION_KEYS", None, "jwe"),
    ("SESSION_JWE_ALG", None, "jwe"),
    ("SESSION_SIGNING", Some("node"), "node-keys"),
    ("SESSION_REGISTRATION_KEY", None, "node-keys"),
    ("REDIS_URL", None, "redis"),
    ("REDIS_SENTINELS", None, "redis"),
    ("REDIS_SENTINEL_MASTER", None, "redis"),
    ("REDIS_CLUSTER_NODES", None, "redis"),
    ("REDIS_CA_FILE", None, "redis"),
    ("SESSION_DBSC", Some("on"), "dbsc"),
    ("SESSION_DBSC_BOUND_SECS", None, "dbsc"),
    ("SESSION_DPOP", Some("on"), "dpop"),
    ("SESSION_CSRF", Some("token"), "csrf"),
];

/// The features the demo's settings can need, and `metrics` (it adds `GET /metrics`), in
/// the order the suggested command lists them, with whether this build has them.
const BUILT: &[(&str, bool)] = &[
    ("dbsc", cfg!(feature = "dbsc")),
    ("dpop", cfg!(feature = "dpop")),
    ("csrf", cfg!(feature = "csrf")),
    ("jwe", cfg!(feature = "jwe")),
    ("metrics", cfg!(feature = "metrics")),
    ("node-keys", cfg!(feature = "node-keys")),
    ("redis", cfg!(feature = "redis")),
];

/// Whether this build has `feature`.
fn built(feature: &str) -> bool {
    BUILT.iter().any(|&(name, on)| name == feature && on)
}

/// Checks the settings that `lookup` finds against the features of this build: an error
/// naming each set variable whose feature is missing, and a command that builds the demo
/// with every feature the settings need (and the optional ones this build has).
/// Unreadable variables are errors too; empty values count as unset.
pub(crate) fn check(
    mut lookup: impl FnMut(&str) -> Result<Option<String>, String>,
) -> Result<(), String> {
    // (setting as the user wrote it, feature) for each setting that is set.
    let mut set = Vec::new();
    for &(name, value, feature) in NEEDS {
        let Some(actual) = lookup(name)? else {
            continue;
        };
        let actual = actual.trim();
        let applies = match value {
            None => !actual.is_empty(),
            Some(value) => actual == value,
        };
        if applies {
            let setting = match value {
                None => name.to_owned(),
                Some(value) => format!("{name}={value}"),
            };
            set.push((setting, feature));
        }
    }
    let mut missing = Vec::new();
    for &(feature, on) in BUILT {
        let settings: Vec<&str> = set
            .iter()
            .filter(|(_, needs)| *needs == feature)
            .map(|(setting, _)| setting.as_str())
            .collect();
        if !on && !settings.is_empty() {
            let verb = if settings.len() == 1 { "needs" } else { "need" };
            missing.push(format!(
                "{} {verb} the {feature} feature",
                settings.join(" and ")
            ));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let features: Vec<&str> = BUILT
        .iter()
        .filter(|&&(feature, on)| {
            (on && feature == "metrics") || set.iter().any(|(_, needs)| *needs == feature)
        })
        .map(|&(feature, _)| feature)
        .collect();
    Err(format!(
        "{}: cargo run --example demo --features {}",
        missing.join("; "),
        features.join(",")
    ))
}

/// The error for one setting whose feature this build lacks, for code that meets it
/// without [`check`] having run first.
#[cfg_attr(all(feature = "node-keys", feature = "csrf"), allow(dead_code))]
pub(crate) fn needs(setting: &str, feature: &str) -> String {
    debug_assert!(!built(feature), "{feature} is built in");
    format!("{setting} needs the {feature} feature: cargo run --example demo --features {feature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_vars(vars: &[(&str, &str)]) -> Result<(), String> {
        check(|name| {
            Ok(vars
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned()))
        })
    }

    #[test]
    fn each_setting_starts_the_demo_only_with_its_feature() {
        assert_eq!(check_vars(&[]), Ok(()), "the default settings need nothing");
        for &(name, value, feature) in NEEDS {
            let value = value.unwrap_or("some-secret-value");
            let result = check_vars(&[(name, value)]);
            if built(feature) {
                assert_eq!(result, Ok(()), "{name}={value} with {feature} built in");
                continue;
            }
            let error = result.expect_err("refused without its feature");
            let setting = if value != "some-secret-value" {
                format!("{name}={value}")
            } else {
                name.to_owned()
            };
            assert!(
                error.starts_with(&format!("{setting} needs the {feature} feature: ")),
                "{error}"
            );
            assert!(
                error.contains("cargo run --example demo --features ") && error.contains(feature),
                "the command names {feature}: {error}"
            );
            assert!(
                !error.contains("some-secret-value"),
                "{error} echoes the value"
            );
        }
    }

    #[test]
    fn other_values_and_empty_ones_need_nothing() {
        for vars in [
            &[("SESSION_SIGNING", "hs256")][..],
            &[("SESSION_SIGNING", "")][..],
            &[("REDIS_URL", "  ")][..],
            &[("SESSION_ENCRYPTION_KEYS", "")][..],
        ] {
            assert_eq!(check_vars(vars), Ok(()), "{vars:?}");
        }
    }

    #[test]
    fn the_command_builds_every_feature_the_settings_need() {
        let vars = [
            ("SESSION_ENCRYPTION_KEYS", "e1:x"),
            ("SESSION_SIGNING", "node"),
            ("REDIS_SENTINELS", "a:1"),
            ("REDIS_SENTINEL_MASTER", "m"),
        ];
        let Err(error) = check_vars(&vars) else {
            assert!(built("jwe") && built("node-keys") && built("redis"));
            return;
        };
        let metrics = if built("metrics") { "metrics," } else { "" };
        assert!(
            error.ends_with(&format!(
                ": cargo run --example demo --features jwe,{metrics}node-keys,redis"
            )),
            "{error}"
        );
        if !built("redis") {
            assert!(
                error.contains("REDIS_SENTINELS and REDIS_SENTINEL_MASTER need the redis feature"),
                "{error}"
            );
        }
    }

    #[test]
    fn the_message_for_one_setting() {
        assert_eq!(
            needs("SESSION_SIGNING=node", "some-feature"),
            "SESSION_SIGNING=node needs the some-feature feature: \
             cargo run --example demo --features some-feature"
        );
    }
}
