//! How the demo signs sessions, read from the environment.
//!
//! - `SESSION_SIGNING`: `hs256` (the default) signs with the shared secrets of
//!   `SESSION_KEYS`; `node` makes this process its own Ed25519 key, published through the
//!   key registry before it signs (no `SESSION_KEYS` needed; when given, those keys still
//!   verify older sessions and sign while the node key is not published yet).
//! - `SESSION_REGISTRATION_KEY` (node signing): base64url, at least 32 bytes, the same on
//!   every instance; it authenticates the registry's entries. Without it a random one is
//!   generated, with a warning: other instances then ignore this one's key.

use tower_stateless_session::keys::RegistrationKey;

/// How sessions are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signing {
    /// HS256 with the shared secrets of `SESSION_KEYS`.
    Hs256,
    /// A node key of this process's own.
    Node,
}

const SIGNING_VAR: &str = "SESSION_SIGNING";
const REGISTRATION_VAR: &str = "SESSION_REGISTRATION_KEY";

/// Reads `SESSION_SIGNING` through `lookup`.
pub(crate) fn mode(
    mut lookup: impl FnMut(&str) -> Result<Option<String>, String>,
) -> Result<Signing, String> {
    match lookup(SIGNING_VAR)?.as_deref().map(str::trim) {
        None | Some("") | Some("hs256") => Ok(Signing::Hs256),
        Some("node") => Ok(Signing::Node),
        Some(other) => Err(format!(
            "{SIGNING_VAR} must be `hs256` or `node`, got {other:?}"
        )),
    }
}

/// Reads `SESSION_REGISTRATION_KEY` through `lookup`, or makes a random one (with a warning)
/// when it is unset. Errors name the variable, never its value.
pub(crate) fn registration_key(
    mut lookup: impl FnMut(&str) -> Result<Option<String>, String>,
) -> Result<RegistrationKey, String> {
    if let Some(value) = lookup(REGISTRATION_VAR)? {
        return RegistrationKey::from_base64(&value)
            .map_err(|e| format!("{REGISTRATION_VAR} is invalid: {e}"));
    }
    eprintln!(
        "warning: {REGISTRATION_VAR} is not set, so a random registration key was generated.\n\
         warning: other instances will ignore this one's node key (and it theirs); give every\n\
         warning: instance the same one, at least 32 bytes in base64url, for example:\n\
         warning:   export {REGISTRATION_VAR}=\"$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')\""
    );
    RegistrationKey::generate().map_err(|e| format!("cannot generate a registration key: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(
        vars: &'static [(&'static str, &'static str)],
    ) -> impl FnMut(&str) -> Result<Option<String>, String> {
        move |name| {
            Ok(vars
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned()))
        }
    }

    #[test]
    fn the_signing_mode_is_read_and_checked() {
        assert_eq!(mode(lookup(&[])), Ok(Signing::Hs256));
        assert_eq!(
            mode(lookup(&[("SESSION_SIGNING", "hs256")])),
            Ok(Signing::Hs256)
        );
        assert_eq!(
            mode(lookup(&[("SESSION_SIGNING", " node ")])),
            Ok(Signing::Node)
        );
        let error = mode(lookup(&[("SESSION_SIGNING", "rsa")])).expect_err("refused");
        assert!(error.contains("`hs256` or `node`"), "{error}");
    }

    #[test]
    fn a_short_or_garbled_registration_key_is_refused_without_echoing_it() {
        for value in ["c2hvcnQ", "not base64!"] {
            let vars: &'static [(&str, &str)] =
                Box::leak(Box::new([("SESSION_REGISTRATION_KEY", value)]));
            let error = registration_key(lookup(vars)).expect_err("refused");
            assert!(
                error.starts_with("SESSION_REGISTRATION_KEY is invalid"),
                "{error}"
            );
            assert!(!error.contains(value), "{error} echoes the value");
        }
        let good: &'static [(&str, &str)] = &[(
            "SESSION_REGISTRATION_KEY",
            "cmVnaXN0cmF0aW9uLWtleS1vZi10aGUtZ2F0ZXdheXM",
        )];
        assert!(registration_key(lookup(good)).is_ok());
    }
}
