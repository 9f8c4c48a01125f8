//! Tests that need a program from outside the crate (nginx, redis-server, a browser, ...).
//!
//! Such a test must never report `ok` when it did not run. A test file that needs a program
//! sets `harness = false` in `Cargo.toml` and lists its tests in `main` through [`run`]:
//!
//! ```ignore
//! mod common;
//! use common::external;
//!
//! fn main() {
//!     external::run(external::trials!(["nginx"] => behind_nginx_one, behind_nginx_two));
//! }
//!
//! async fn behind_nginx_one() {
//!     let nginx = external::require("nginx"); // the program's path
//!     // ...
//! }
//! ```
//!
//! Each test then, depending on whether every program it needs is found (on `PATH` or in the
//! `sbin` folders, where Debian puts nginx):
//! - found: runs, on a multi-threaded Tokio runtime with two workers;
//! - missing, `CI` not `true`: reported as `ignored (needs nginx: apt-get install -y nginx)`,
//!   counted in the summary's "ignored" column;
//! - missing under `CI=true`: FAILS with the same install hint (CI must run every test).
//!
//! The command line is libtest's (filters, `--list`, `--test-threads`, `--nocapture`, ...).

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};

pub use libtest_mimic::Trial;

/// Debian package of each program the tests use, for the install hint.
const PACKAGES: &[(&str, &str)] = &[
    ("nginx", "nginx"),
    ("redis-server", "redis-server"),
    ("redis-sentinel", "redis-sentinel"),
    ("redis-cli", "redis-tools"),
    ("openssl", "openssl"),
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
    ("promtool", "prometheus"),
];

/// Folders searched after `PATH` (programs such as nginx live in `sbin`, which is not on
/// every user's `PATH`).
const EXTRA_DIRS: &[&str] = &["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// A program a test needs was not found.
#[derive(Debug, Clone)]
pub struct Missing {
    /// The program's name.
    pub program: String,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let package = PACKAGES
            .iter()
            .find(|(program, _)| *program == self.program)
            .map_or(self.program.as_str(), |(_, package)| package);
        write!(f, "needs {}: apt-get install -y {package}", self.program)
    }
}

/// Whether `CI=true` (or `CI=1`): then a missing program fails the test.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The path of `name` (searched on `PATH`, then in the `sbin` folders), or why it is missing.
pub fn program(name: &str) -> Result<PathBuf, Missing> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| Missing {
            program: name.to_owned(),
        })
}

/// The path of `name`, for use inside a test gated by [`trial`]; panics with the install hint
/// when it is missing (which a gated test only sees under `--ignored`).
pub fn require(name: &str) -> PathBuf {
    program(name).unwrap_or_else(|missing| panic!("{missing}"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A test named `name` that needs every program in `needs`: runs `body` on a fresh Tokio
/// runtime (multi-threaded, two workers) when they are all found; otherwise ignored with the
/// install hint, or failed under `CI=true`. The check is made when the test runs.
pub fn trial<F, Fut>(name: &str, needs: &'static [&'static str], body: F) -> Trial
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    Trial::ignorable_test(name, move || {
        let missing: Vec<String> = needs
            .iter()
            .filter_map(|name| program(name).err())
            .map(|missing| missing.to_string())
            .collect();
        if !missing.is_empty() {
            let reason = missing.join("; ");
            return if in_ci() {
                Err(format!("{reason} (CI=true: this test must run)").into())
            } else {
                Ok(libtest_mimic::Completion::ignored_with(reason))
            };
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        // A panic in `body` is caught by the harness and reported as the failure.
        runtime.block_on(body());
        Ok(libtest_mimic::Completion::Completed)
    })
}

/// Runs `trials` with libtest's command line and exits with its status.
pub fn run(trials: Vec<Trial>) -> ! {
    libtest_mimic::run(&libtest_mimic::Arguments::from_args(), trials).exit()
}

/// `trials!(["nginx", ...] => test_fn, test_fn, ...)`: one [`trial`] per async test function,
/// named after it.
macro_rules! trials {
    ([$($program:literal),+ $(,)?] => $($test:ident),+ $(,)?) => {{
        const NEEDS: &[&str] = &[$($program),+];
        vec![$($crate::common::external::trial(stringify!($test), NEEDS, $test)),+]
    }};
}
pub(crate) use trials;
