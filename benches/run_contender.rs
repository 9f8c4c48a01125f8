//! Runs one contender of `benches/request.rs` a given number of times in process, then
//! exits: a fixed amount of work for instruction counts under callgrind, which do not move
//! with the load of a shared machine the way timings do.
//!
//! ```text
//! cargo bench --no-run --bench run_contender     # prints the binary's path
//! valgrind --tool=callgrind target/release/deps/run_contender-<hash> propagate_minted 500
//! valgrind --tool=callgrind target/release/deps/run_contender-<hash> propagate_minted 1500
//! ```
//!
//! The difference of the two totals ("Collected"), divided by 1000, is the cost of one
//! request: setup and the process's own start cancel out. Contenders are those of
//! `benches/contenders/mod.rs` (`by_id`); setup checks each answers 200 first.

use tower::{Service, ServiceExt};

#[path = "contenders/mod.rs"]
mod contenders;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A tool, not a benchmark: a plain `cargo bench` (which passes `--bench`) runs nothing.
    if std::env::args().nth(1).is_none_or(|arg| arg == "--bench") {
        eprintln!("run_contender: a tool for callgrind; nothing to run under cargo bench");
        return Ok(());
    }
    let mut args = std::env::args().skip(1);
    let usage = "usage: run_contender <contender id> <requests>";
    let id = args.next().ok_or(usage)?;
    let requests: u64 = args.next().ok_or(usage)?.parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let contender = contenders::by_id(&id)
            .await
            .ok_or_else(|| format!("unknown contender {id:?}"))?;
        contenders::check(&contender).await;
        let mut router = contender.router.clone();
        for _ in 0..requests {
            let ready = ServiceExt::<axum::extract::Request>::ready(&mut router).await?;
            let response = ready.call(contenders::request(&contender.cookie)).await?;
            std::hint::black_box(response);
        }
        Ok(())
    })
}
