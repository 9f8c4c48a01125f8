//! What every Redis-backed part is built from: where Redis is, the part's key prefix, and
//! the clock its entries expire by.

use std::fmt;
use std::sync::Arc;

use super::RedisConfig;
use crate::time::{Clock, SystemClock};

/// The settings every Redis-backed part's builder shares.
pub(crate) struct PartSettings {
    pub(crate) config: RedisConfig,
    prefix: String,
    pub(crate) clock: Arc<dyn Clock>,
}

impl PartSettings {
    /// Settings on `config`, with the part's default prefix and the system clock.
    pub(crate) fn new(config: RedisConfig, default_prefix: &str) -> Self {
        PartSettings {
            config,
            prefix: default_prefix.to_owned(),
            clock: Arc::new(SystemClock),
        }
    }

    pub(crate) fn set_prefix(&mut self, prefix: &str) {
        self.prefix = prefix.to_owned();
    }

    pub(crate) fn set_clock(&mut self, clock: impl Clock) {
        self.clock = Arc::new(clock);
    }

    /// The Redis key (or channel) `name` of this part: `{<prefix>}:<name>`. The braces are
    /// a hash tag, so every key of the part and its channel share one Cluster slot, and a
    /// write and its message go in one pipeline.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{{{}}}:{name}", self.prefix)
    }
}

impl fmt::Debug for PartSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartSettings")
            .field("config", &self.config)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_prefix_as_a_hash_tag() {
        let mut settings = PartSettings::new(RedisConfig::url("redis://127.0.0.1/0"), "tss:x");
        assert_eq!(settings.key("events"), "{tss:x}:events");
        settings.set_prefix("app");
        assert_eq!(settings.key("entries"), "{app}:entries");
    }
}
