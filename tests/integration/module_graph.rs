//! The crate's top-level modules form a DAG: each names only the modules below it in
//! `LAYERS` (shared helpers sit in the leaves). Read from the sources, so a new `crate::x`
//! path that points upwards fails here, with the file and the line.

use std::path::Path;

/// Lowest first. A module may name the ones before it, never the ones after.
const LAYERS: &[&str] = &[
    "encoding",
    "error",
    "time",
    "generations",
    "health",
    "metrics",
    "keys",
    "token",
    "revocation",
    "pop",
    "server",
    "propagate",
    "redis",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its comments and without its unit tests (tests may reach
/// across layers to build fixtures).
fn code(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with("tests") {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text,
    };
    Some(
        text.lines()
            .map(|line| match line.find("//") {
                Some(at) => &line[..at],
                None => line,
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

#[test]
fn top_level_modules_form_a_dag() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = Vec::new();
    let mut checked = 0;
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let top = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|c| c.trim_end_matches(".rs"))
            .expect("a module");
        if top == "lib" {
            continue;
        }
        let rank = LAYERS
            .iter()
            .position(|m| *m == top)
            .unwrap_or_else(|| panic!("src/{top} is not in LAYERS: place it in the order"));
        let Some(code) = code(file) else { continue };
        checked += 1;
        for (number, line) in code.lines().enumerate() {
            for (at, _) in line.match_indices("crate::") {
                let name: String = line[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let Some(other) = LAYERS.iter().position(|m| *m == name) else {
                    continue;
                };
                if other > rank {
                    upward.push(format!(
                        "src/{}:{}: {top} names {name}",
                        relative.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} files were read");
    assert!(
        upward.is_empty(),
        "lower modules name higher ones:\n{}",
        upward.join("\n")
    );
}
