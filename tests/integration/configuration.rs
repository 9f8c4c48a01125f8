//! Configuration: every setter sets one value, in any order; what depends on several
//! settings is derived once, when the layer is built, and a conflict is one `ConfigError`
//! there (never a panic, never a half-applied setting).

use crate::common::*;
use http::StatusCode;
use tower_stateless_session::{ConfigError, SameSite, SessionLayer};

fn base() -> SessionLayer<User> {
    fixture().layer
}

/// The cookie prefix rules hold whatever the order of the setters; before, the second
/// setter of a conflicting pair panicked, and which one depended on the order.
#[test]
fn a_conflict_is_the_same_error_in_either_order() {
    let name_first = base()
        .with_cookie_name("__Host-session")
        .with_secure(false)
        .build();
    let secure_first = base()
        .with_secure(false)
        .with_cookie_name("__Host-session")
        .build();
    for (order, result) in [("name first", name_first), ("secure first", secure_first)] {
        match result {
            Err(ConfigError::InvalidCookieName { name, reason }) => {
                assert_eq!(name, "__Host-session", "{order}");
                assert!(reason.contains("Secure"), "{order}: {reason}");
            }
            other => panic!("{order}: expected InvalidCookieName, got {other:?}"),
        }
    }
    for conflict in [
        base().with_cookie_path("/app").with_cookie_name("__Host-s"),
        base()
            .with_cookie_domain("example.com")
            .with_cookie_name("__Host-s"),
        base().with_same_site(SameSite::None).with_secure(false),
        base().with_cookie_name("two words"),
    ] {
        assert!(conflict.build().is_err(), "refused at build");
    }
    // A later setter can mend an earlier one: only the final configuration counts.
    base()
        .with_cookie_name("__Host-session")
        .with_secure(false)
        .with_secure(true)
        .build()
        .expect("the final configuration holds");
}

/// The longest token is the explicit setting when there is one, else the cookie budget:
/// the same whatever the order (before, a cookie budget set after the maximum silently
/// replaced it).
#[test]
fn the_token_length_does_not_depend_on_the_order() {
    let max_first = base().with_max_token_len(1000).with_cookie_budget(3000);
    let budget_first = base().with_cookie_budget(3000).with_max_token_len(1000);
    assert_eq!(max_first.codec().max_token_len(), 1000);
    assert_eq!(budget_first.codec().max_token_len(), 1000);
    let derived = base().with_cookie_budget(3000);
    assert_eq!(
        derived.codec().max_token_len(),
        3000,
        "without an explicit maximum, the cookie budget"
    );
}

/// The purpose encrypted tokens are bound to follows the cookie name unless set, in any
/// order.
#[test]
fn the_purpose_follows_the_cookie_name_unless_set() {
    let named = base().with_cookie_name("app_session");
    assert_eq!(named.codec().purpose(), "app_session");
    let set_then_named = base()
        .with_token_purpose("shared")
        .with_cookie_name("app_session");
    let named_then_set = base()
        .with_cookie_name("app_session")
        .with_token_purpose("shared");
    assert_eq!(set_then_named.codec().purpose(), "shared");
    assert_eq!(named_then_set.codec().purpose(), "shared");
}

/// A layer that was never built and does not hold answers 500 on every request, without
/// reaching the handler or panicking.
#[tokio::test]
async fn an_unbuilt_layer_that_does_not_hold_answers_500() {
    let broken = base().with_cookie_name("__Host-s").with_secure(false);
    let app = app(broken);
    let response = send(&app, "GET", "/public", None).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body_text(response).await, "500 Internal Server Error\n");
}
