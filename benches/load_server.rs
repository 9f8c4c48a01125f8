//! A small HTTP/1 server for load tests with `wrk` (see `scripts/load.sh`).
//!
//! ```text
//! cargo bench --bench load_server -- <bare|ours_verify|tower_sessions_memory> <port>
//! ```
//!
//! It serves `GET /` on 127.0.0.1 with the contenders of `benches/request.rs` (the same
//! code, `benches/contenders/mod.rs`): `bare` answers a static string; `ours_verify` reads
//! the session data through `Session<User>` behind `SessionLayer<User>`;
//! `tower_sessions_memory` reads the same data from a tower-sessions memory store (the
//! other contenders of the benchmark are accepted too). Before serving it prints one line on stdout, the `Cookie`
//! header value a client should send (`name=value`), then `listening on ADDR` on stderr.
//!
//! The runtime is current-thread, so the server uses one core; pin it with `taskset` and
//! give the load generator the other cores.

use std::io::Write as _;

#[path = "contenders/mod.rs"]
mod contenders;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A tool, not a benchmark: a plain `cargo bench` (which passes `--bench`) runs nothing.
    if std::env::args().nth(1).is_none_or(|arg| arg == "--bench") {
        eprintln!("load_server: a server for scripts/load.sh; nothing to run under cargo bench");
        return Ok(());
    }
    let mut args = std::env::args().skip(1);
    let usage = "usage: load_server <bare|ours_verify|tower_sessions_memory> <port>";
    let mode = args.next().ok_or(usage)?;
    let port: u16 = args.next().ok_or(usage)?.parse()?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let contender = contenders::by_id(&mode).await.ok_or_else(|| {
            format!("unknown mode {mode:?}: use bare, ours_verify or tower_sessions_memory")
        })?;
        if let Some(recorder) = contender.recorder {
            // The layer resolves its metric handles on its first request: install first.
            metrics::set_global_recorder(recorder.recorder)
                .map_err(|_| "a metrics recorder was already installed")?;
        }
        let (router, cookie) = (contender.router, contender.cookie.to_str()?.to_owned());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{cookie}")?;
        stdout.flush()?;
        drop(stdout);
        eprintln!("{mode}: listening on {}", listener.local_addr()?);
        axum::serve(listener, router).await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
