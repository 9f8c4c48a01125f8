//! A headless chromium driven through chromedriver (WebDriver), each test with its own
//! driver process, its own browser profile and its own loopback port.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::common::external;

/// The flags chromium needs on a headless machine with no network (no sandbox as root, no
/// GPU, /dev/shm may be small, and nothing that phones home).
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--window-size=1280,900",
];

/// Where screenshots and browser profiles go: under `target/`.
pub fn work_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser")
}

/// A running chromedriver with one browser session. Dropping it stops the driver.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a session in a fresh profile;
    /// `javascript: false` turns page scripts off (the driver still works).
    pub async fn start(javascript: bool) -> Browser {
        Self::start_with(javascript, &[]).await
    }

    /// As [`start`](Self::start), with more chromium flags.
    pub async fn start_with(javascript: bool, extra: &[String]) -> Browser {
        static PROFILES: AtomicUsize = AtomicUsize::new(0);
        let profile = work_dir().join(format!(
            "profile-{}-{}",
            std::process::id(),
            PROFILES.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("create the browser profile folder");

        let (driver, port) = start_driver();
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        if !javascript {
            args.push("--blink-settings=scriptEnabled=false".to_owned());
        }
        args.extend(extra.iter().cloned());
        let options = json!({
            "binary": external::require("chromium"),
            "args": args,
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("chromedriver did not open a chromium session: {e}"));
        Browser {
            client,
            driver,
            profile,
        }
    }

    /// Ends the browser session (closing chromium) and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// The text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// The first element matching `css`, failing the test with the selector if none does.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// An attribute of the first element matching `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css)
            .await
            .attr(name)
            .await
            .unwrap_or_else(|e| panic!("attribute {name} of {css}: {e}"))
    }

    /// Types `text` into the field `css` and clicks `button`, then waits for the page that
    /// the form post leads to.
    pub async fn submit(&self, field: Option<(&str, &str)>, button: &str) {
        if let Some((css, text)) = field {
            let input = self.find(css).await;
            input.clear().await.expect("clear the field");
            input.send_keys(text).await.expect("type into the field");
        }
        let old_page = self.find("html").await;
        self.find(button).await.click().await.expect("click");
        // The old document goes stale once the new one has loaded.
        self.wait_for("the next page", move || {
            let old_page = old_page.clone();
            async move { old_page.tag_name().await.is_err() }
        })
        .await;
    }

    /// Polls `done` until it holds, failing after 20 s.
    pub async fn wait_for<F, Fut>(&self, what: &str, done: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        while !done().await {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "gave up waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A screenshot of the whole page (the window is made as tall as the document), written
    /// to `name` under [`work_dir`]; returns the path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let height = self
            .js("return document.documentElement.scrollHeight;", vec![])
            .await
            .as_u64()
            .unwrap_or(900);
        // The window's outer height includes nothing in headless mode, but measure anyway.
        let inner = self.js("return window.innerHeight;", vec![]).await;
        let (width, outer) = self.client.get_window_size().await.expect("window size");
        let chrome = outer.saturating_sub(inner.as_u64().unwrap_or(outer));
        self.client
            .set_window_size(width as u32, (height + chrome) as u32)
            .await
            .expect("resize the window");
        let png = self.client.screenshot().await.expect("screenshot");
        self.client
            .set_window_size(width as u32, outer as u32)
            .await
            .expect("restore the window");
        let path = work_dir().join(name);
        std::fs::write(&path, png).expect("write the screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }
}

/// Starts chromedriver on a port of its choosing and reads the port from its first lines;
/// tries three times, since a driver can die at startup on a busy machine.
fn start_driver() -> (Child, u16) {
    let mut failures = Vec::new();
    for attempt in 0..3 {
        match try_start_driver(attempt) {
            Ok(started) => return started,
            Err(failure) => failures.push(failure),
        }
    }
    panic!("chromedriver did not start:\n{}", failures.join("\n"));
}

fn try_start_driver(attempt: usize) -> Result<(Child, u16), String> {
    let log = work_dir().join(format!("chromedriver-{}-{attempt}.log", std::process::id()));
    let stderr = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut driver = Command::new(external::require("chromedriver"))
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot run chromedriver: {e}"))?;
    let stdout = driver.stdout.take().expect("chromedriver's stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    let port = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = driver.kill();
            let status = driver.wait().map(|s| s.to_string()).unwrap_or_default();
            let errors = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!(
                "attempt {attempt}: exited ({status}) before saying its port; stdout: {seen:?}; \
                 stderr: {errors}"
            ));
        };
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            match rest.trim_end_matches('.').trim().parse::<u16>() {
                Ok(port) => break port,
                Err(_) => return Err(format!("attempt {attempt}: no port in {line:?}")),
            }
        }
        seen.push(line);
    };
    let _ = std::fs::remove_file(&log);
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((driver, port))
}
