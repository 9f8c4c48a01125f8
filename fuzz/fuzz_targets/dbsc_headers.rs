//! Arbitrary text into the structured-field parsers (RFC 9651) and DBSC's headers. The
//! first byte picks the parser; the rest is the field value.
//!
//! None may panic; what parses writes back to text that parses to the same value
//! (registration offers and challenges), and a string written by `sf::string` reads back
//! as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_stateless_session::pop::dbsc::{RegistrationOffer, SessionChallenge, Skipped};
use tower_stateless_session::pop::sf;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match selector % 6 {
        0 => {
            if let Ok(offer) = RegistrationOffer::parse(text) {
                let written = offer.to_string();
                let again = RegistrationOffer::parse(&written).expect("an offer reads back");
                assert_eq!(again, offer, "{written}");
            }
        }
        1 => {
            if let Ok(challenge) = SessionChallenge::parse(text) {
                let written = challenge.to_string();
                let again = SessionChallenge::parse(&written).expect("a challenge reads back");
                assert_eq!(again, challenge, "{written}");
            }
        }
        2 => {
            let _ = Skipped::parse(text);
        }
        3 => {
            if let Some(quoted) = sf::string(text) {
                let item = sf::parse_item(&quoted).expect("a written string reads back");
                assert_eq!(item.bare, sf::BareItem::String(text.to_owned()));
                assert_eq!(sf::bare_or_string(&quoted).as_deref(), Ok(text));
            }
        }
        4 => {
            if let Ok(value) = sf::bare_or_string(text) {
                assert!(!value.is_empty() || text.trim_matches(' ').starts_with('"'));
            }
        }
        _ => {
            let _ = sf::parse_list(text);
            let _ = sf::parse_item(text);
        }
    }
});
