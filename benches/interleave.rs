//! The ratios the issues set, timed in interleaved rounds, for a machine others share.
//!
//! Criterion times one contender after the other, so a compile that starts on the machine
//! halfway through a run slows some contenders and not others. Here every round times each
//! contender for 500 requests in turn, and the statistics are taken over the rounds (median
//! and 10th percentile), so a burst of load lands on all of them alike and the ratios hold
//! where the nanoseconds do not.
//!
//! Run: `cargo bench --all-features --bench interleave -- 1000` (the number of rounds,
//! default 400). It prints each contender's time per request and the ratios:
//! - `ours_verify` overhead over `bare` / `tower_sessions_memory`'s (issue 20: at most
//!   0.30), and the same of `ours_verify_uncached` (issue 20: at most 0.68);
//! - with `--features dbsc`, `ours_verify_bound` / `ours_verify`, whole requests (issue 21:
//!   at most 1.10);
//! - `ours_verify` minus `ours_verify_no_cross_origin`: what cross-origin protection costs a
//!   `GET` (issue 22: at most 20 ns);
//! - with `--features metrics`, `ours_verify_metrics` overhead / `ours_verify`'s (at most
//!   1.15).
//!
//! The contenders are the request benchmark's (`benches/contenders/mod.rs`).

mod contenders;

use std::hint::black_box;
use std::time::Instant;

use axum::extract::Request;
use tower::{Service, ServiceExt};

use contenders::{Contender, check, request};

/// Requests per contender per round.
const PER_ROUND: u32 = 500;

/// The `q` quantile of `values` (sorted in place).
fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(400);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ids = [
        "bare",
        "ours_verify",
        "ours_verify_no_cross_origin",
        "ours_verify_uncached",
        "tower_sessions_memory",
        "ours_verify_metrics",
        "ours_verify_bound",
    ];
    let mut contenders: Vec<Contender> = ids
        .into_iter()
        .filter(|id| contenders::ids().contains(id))
        .map(|id| {
            rt.block_on(contenders::by_id(id))
                .expect("a known contender")
        })
        .collect();
    for contender in &contenders {
        let _recording = contender.recording();
        rt.block_on(check(contender));
    }

    let mut times = vec![Vec::with_capacity(rounds); contenders.len()];
    for _ in 0..rounds {
        for (contender, times) in contenders.iter_mut().zip(&mut times) {
            let router = &mut contender.router;
            let cookie = &contender.cookie;
            let per_request = rt.block_on(async {
                let start = Instant::now();
                for _ in 0..PER_ROUND {
                    let ready = ServiceExt::<Request>::ready(router)
                        .await
                        .expect("infallible");
                    black_box(ready.call(request(cookie)).await.expect("infallible"));
                }
                start.elapsed().as_nanos() as f64 / f64::from(PER_ROUND)
            });
            times.push(per_request);
        }
    }

    println!("{rounds} rounds of {PER_ROUND} requests per contender, ns per request:");
    let mut stats = Vec::new();
    for (contender, times) in contenders.iter().zip(&mut times) {
        let (median, p10) = (quantile(times, 0.5), quantile(times, 0.1));
        println!("{:<24} median {median:>7.0}   p10 {p10:>7.0}", contender.id);
        stats.push((contender.id, median, p10));
    }
    let find = |id: &str| stats.iter().find(|(i, _, _)| *i == id).copied();
    let (Some(bare), Some(verify), Some(uncached), Some(memory)) = (
        find("bare"),
        find("ours_verify"),
        find("ours_verify_uncached"),
        find("tower_sessions_memory"),
    ) else {
        return;
    };
    for (label, pick) in [
        (
            "median",
            (|s: (&str, f64, f64)| s.1) as fn((&str, f64, f64)) -> f64,
        ),
        ("p10", |s| s.2),
    ] {
        let overhead = |s| pick(s) - pick(bare);
        print!(
            "{label:<6}: overhead ours_verify / tower_sessions_memory {:.3}; \
             ours_verify_uncached / tower_sessions_memory {:.3}",
            overhead(verify) / overhead(memory),
            overhead(uncached) / overhead(memory)
        );
        if let Some(bound) = find("ours_verify_bound") {
            print!(
                "; ours_verify_bound / ours_verify {:.3}",
                pick(bound) / pick(verify)
            );
        }
        if let Some(off) = find("ours_verify_no_cross_origin") {
            print!(
                "; ours_verify - ours_verify_no_cross_origin {:+.1} ns",
                pick(verify) - pick(off)
            );
        }
        if let Some(metrics) = find("ours_verify_metrics") {
            print!(
                "; ours_verify_metrics / ours_verify {:.3}",
                overhead(metrics) / overhead(verify)
            );
        }
        println!();
    }
}
