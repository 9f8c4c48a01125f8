//! Arbitrary text as a key-registry entry. None may panic; an entry that parses writes
//! back to the same text (one spelling each), and only the seed entry carries a MAC that
//! verifies with the fixture's registration key (the fuzzer cannot make one).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_stateless_session::keys::registry::RegistryEntry;
use tower_stateless_session_fuzz::{REGISTRY, T0};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(entry) = RegistryEntry::parse(text) else {
        return;
    };
    assert_eq!(entry.to_text(), text, "an entry has one spelling");
    let (registration, node) = &*REGISTRY;
    if entry.verify(registration) {
        let seed = RegistryEntry::new(registration, node, T0 + 600, T0 + 3600).expect("seed");
        assert_eq!(entry.to_text(), seed.to_text(), "only the seed's MAC verifies");
    }
    let _ = entry.key();
});
