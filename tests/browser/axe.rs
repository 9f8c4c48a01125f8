//! The accessibility check: axe-core (Deque's rule engine, MPL-2.0) run inside the page.
//!
//! The script comes from the npm registry through `npm pack` at a pinned version, is
//! checked against the registry's published SHA-512, and is kept under `target/`, so later
//! runs need neither npm nor the network.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha512};

use crate::common::external;
use crate::driver::Browser;

/// The axe-core release used, and its tarball's integrity as the npm registry lists it.
const AXE_VERSION: &str = "4.14.1";
const AXE_INTEGRITY: &str = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==";

/// The rule sets checked: WCAG 2.x A and AA (labels, names, contrast, structure) and axe's
/// best practices (landmarks, headings).
const TAGS: &[&str] = &[
    "wcag2a",
    "wcag2aa",
    "wcag21a",
    "wcag21aa",
    "wcag22aa",
    "best-practice",
];

/// `axe.min.js`, from the cache under `target/` or fetched with npm into it. One fetch at a
/// time in this process: the trials run in parallel, and two of them unpacking into the same
/// folder would move the file away from under each other.
pub fn script() -> String {
    static FETCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = FETCH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("axe-core-{AXE_VERSION}"));
    let cached = dir.join("axe.min.js");
    if let Ok(text) = std::fs::read_to_string(&cached) {
        return text;
    }
    std::fs::create_dir_all(&dir).expect("create the axe-core cache folder");
    let tarball = fetch(&dir);
    let bytes = std::fs::read(&tarball).expect("read the axe-core tarball");
    let integrity = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&bytes))
    );
    assert_eq!(
        integrity, AXE_INTEGRITY,
        "the axe-core {AXE_VERSION} tarball does not match the registry's integrity"
    );
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&dir)
        .arg("package/axe.min.js")
        .status()
        .expect("run tar");
    assert!(
        status.success(),
        "tar could not unpack {}",
        tarball.display()
    );
    // Rename into place, so a concurrent run never reads half a file.
    std::fs::rename(dir.join("package/axe.min.js"), &cached).expect("move axe.min.js");
    std::fs::read_to_string(&cached).expect("read axe.min.js")
}

/// `npm pack axe-core@VERSION` into `dir`; the tarball's path.
fn fetch(dir: &Path) -> PathBuf {
    let output = Command::new(external::require("npm"))
        .args(["pack", &format!("axe-core@{AXE_VERSION}"), "--silent"])
        .arg("--pack-destination")
        .arg(dir)
        .output()
        .expect("run npm pack");
    assert!(
        output.status.success(),
        "npm pack axe-core@{AXE_VERSION} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    dir.join(format!("axe-core-{AXE_VERSION}.tgz"))
}

/// Runs axe on the current page and fails the test with a readable list of violations.
/// Each rule in `must_pass` must have found something to check on this page, and passed.
pub async fn check(browser: &Browser, source: &str, page: &str, must_pass: &[&str]) {
    // Loaded through the driver, which the page's Content-Security-Policy does not govern.
    browser.js(source, vec![]).await;
    let result = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values: arguments[0] } })
               .then((r) => done({
                 passes: r.passes.map((p) => p.id),
                 violations: r.violations.map((v) => ({
                   id: v.id,
                   impact: v.impact,
                   help: v.help,
                   nodes: v.nodes.map((n) => n.target.join(' ') + ': ' + n.failureSummary),
                 })),
               }))
               .catch((e) => done({ error: String(e) }));",
            vec![Value::from(TAGS.to_vec())],
        )
        .await
        .unwrap_or_else(|e| panic!("axe did not run on {page}: {e}"));
    assert!(
        result.get("error").is_none(),
        "axe failed on {page}: {result}"
    );
    let passes: Vec<&str> = result["passes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for rule in must_pass {
        assert!(
            passes.contains(rule),
            "axe's {rule:?} rule found something to check and passed on {page}: {passes:?}"
        );
    }
    let violations = result["violations"].as_array().cloned().unwrap_or_default();
    let report: Vec<String> = violations
        .iter()
        .map(|v| {
            format!(
                "{} ({}): {}\n    {}",
                v["id"],
                v["impact"],
                v["help"],
                v["nodes"]
                    .as_array()
                    .map(|n| n
                        .iter()
                        .map(|n| n.as_str().unwrap_or_default().replace('\n', " "))
                        .collect::<Vec<_>>()
                        .join("\n    "))
                    .unwrap_or_default()
            )
        })
        .collect();
    assert!(
        report.is_empty(),
        "accessibility violations on {page}:\n{}",
        report.join("\n")
    );
}
