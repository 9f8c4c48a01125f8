//! Heap allocations of one request through an axum `Router`, for our layer and the
//! alternatives measured in `benches/request.rs`.
//!
//! A counting global allocator wraps the system allocator. It counts per thread, so tests
//! running in parallel do not see each other's allocations, and a current-thread runtime
//! keeps the whole request on the test's thread. Each measurement warms the stack up first
//! (lazy statics, thread-local buffers, the runtime's first poll), then counts exactly one
//! `oneshot`, the dropping of its response included. The request is built before counting
//! starts. `bare` (no session handling) is the router's own share, subtracted from the
//! others.
//!
//! Allocation counts do not depend on timing, so the bounds below are exact thresholds with
//! some headroom: a change that adds allocations to the request path fails here.
//!
//! Run: `cargo test --test allocations -- --nocapture` to see the numbers.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use axum::extract::Request;
use http::{StatusCode, header};
use tokio::runtime::Runtime;
use tower::ServiceExt;

// -----------------------------------------------------------------------------------------
// The counting allocator
// -----------------------------------------------------------------------------------------

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static REALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

fn bump(counter: &'static std::thread::LocalKey<Cell<u64>>, by: u64) {
    // `try_with`: allocations made while the thread's locals are being torn down are not
    // counted rather than aborting.
    let _ = counter.try_with(|c| c.set(c.get() + by));
}

/// The system allocator, counting what the current thread asks of it.
struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counting touches only const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCATIONS, 1);
        bump(&BYTES, layout.size() as u64);
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCATIONS, 1);
        bump(&BYTES, layout.size() as u64);
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump(&REALLOCATIONS, 1);
        bump(&BYTES, new_size.saturating_sub(layout.size()) as u64);
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What the current thread allocated between two snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    /// `alloc` and `alloc_zeroed` calls.
    allocations: u64,
    /// `realloc` calls (a growing buffer).
    reallocations: u64,
    /// Bytes requested: sizes of new blocks plus the growth of reallocated ones.
    bytes: u64,
}

impl Counts {
    fn now() -> Self {
        Counts {
            allocations: ALLOCATIONS.with(Cell::get),
            reallocations: REALLOCATIONS.with(Cell::get),
            bytes: BYTES.with(Cell::get),
        }
    }

    fn since(self, earlier: Counts) -> Counts {
        Counts {
            allocations: self.allocations - earlier.allocations,
            reallocations: self.reallocations - earlier.reallocations,
            bytes: self.bytes - earlier.bytes,
        }
    }

    /// Heap calls of any kind: what costs time in the allocator.
    fn calls(self) -> u64 {
        self.allocations + self.reallocations
    }
}

// -----------------------------------------------------------------------------------------
// The contenders: the same code as the request benchmark's
// -----------------------------------------------------------------------------------------

#[path = "../benches/contenders/mod.rs"]
mod contenders;

use contenders::{
    Contender, OURS_VERIFY, Ours, Propagation, axum_extra_signed_jar, bare,
    jsonwebtoken_cookie_resign, ours, propagate, request, tower_sessions_memory,
};

const OURS_REFRESH: Ours = Ours {
    id: "ours_refresh",
    refresh: true,
    ..OURS_VERIFY
};

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

// -----------------------------------------------------------------------------------------
// Measuring
// -----------------------------------------------------------------------------------------

/// One request, checked: served, and with a `Set-Cookie` exactly when expected.
fn serve_one(rt: &Runtime, contender: &Contender, request: Request, name: &str) {
    let response = rt
        .block_on(contender.router.clone().oneshot(request))
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK, "{name}: not served");
    assert_eq!(
        response.headers().contains_key(header::SET_COOKIE),
        contender.sets_cookie,
        "{name}: unexpected Set-Cookie behaviour"
    );
}

/// The allocations of one request through `contender`, after a warm-up.
fn measure(rt: &Runtime, contender: &Contender, name: &str) -> Counts {
    for _ in 0..3 {
        serve_one(rt, contender, request(&contender.cookie), name);
    }
    let request = request(&contender.cookie);
    let before = Counts::now();
    serve_one(rt, contender, request, name);
    Counts::now().since(before)
}

/// A contender's counts next to `bare`'s, printed; returns the extra allocator calls.
fn report(name: &str, contender: &Contender, rt: &Runtime) -> (Counts, u64) {
    let floor = measure(rt, &bare(), "bare");
    let counts = measure(rt, contender, name);
    let extra = counts.calls().saturating_sub(floor.calls());
    println!(
        "{name:<28} allocations {:>3}  reallocations {:>2}  bytes {:>5}  | over bare: {extra:>3} calls, {:>5} bytes",
        counts.allocations,
        counts.reallocations,
        counts.bytes,
        counts.bytes.saturating_sub(floor.bytes),
    );
    (counts, extra)
}

/// Upper bounds on the heap calls our layer adds to a request (measured with headroom;
/// lower them when the layer gets leaner, never raise them without a reason).
const OURS_VERIFY_MAX_EXTRA_CALLS: u64 = 9;
const OURS_REFRESH_MAX_EXTRA_CALLS: u64 = 24;

#[test]
fn allocations_per_request_bare() {
    let rt = runtime();
    let counts = measure(&rt, &bare(), "bare");
    println!(
        "{:<28} allocations {:>3}  reallocations {:>2}  bytes {:>5}",
        "bare", counts.allocations, counts.reallocations, counts.bytes
    );
    // The counter sees the router's own work (request extensions, response headers), and a
    // second measurement gives the same figure: the counts are deterministic.
    assert!(counts.calls() > 0, "the counting allocator saw nothing");
    assert_eq!(
        measure(&rt, &bare(), "bare"),
        counts,
        "allocation counts differ between two identical requests"
    );
}

#[test]
fn allocations_per_request_ours_verify() {
    let rt = runtime();
    let (_, extra) = report("ours_verify", &ours(OURS_VERIFY), &rt);
    assert!(
        extra <= OURS_VERIFY_MAX_EXTRA_CALLS,
        "verifying a session now costs {extra} heap calls over bare (bound {OURS_VERIFY_MAX_EXTRA_CALLS})"
    );
}

/// The cold path (no cache: every request checks the MAC and decodes the claims) adds to
/// `ours_verify` only the session data's own heap parts and the shared claims: the MAC,
/// the base64 and the claims prefix allocate nothing. `User` is a `String` and a
/// `Vec<String>` of two: four allocations.
#[test]
fn allocations_per_request_ours_verify_uncached() {
    const USER_HEAP_PARTS: u64 = 4;
    const SHARED_CLAIMS: u64 = 1;
    let rt = runtime();
    let (cached, _) = report("ours_verify", &ours(OURS_VERIFY), &rt);
    let uncached = ours(Ours {
        id: "ours_verify_uncached",
        cache: false,
        ..OURS_VERIFY
    });
    let (counts, _) = report("ours_verify_uncached", &uncached, &rt);
    assert!(
        counts.calls() <= cached.calls() + USER_HEAP_PARTS + SHARED_CLAIMS,
        "the cold path now costs {} heap calls against {} with the cache",
        counts.calls(),
        cached.calls()
    );
}

#[test]
fn allocations_per_request_ours_refresh() {
    let rt = runtime();
    let (_, extra) = report("ours_refresh", &ours(OURS_REFRESH), &rt);
    assert!(
        extra <= OURS_REFRESH_MAX_EXTRA_CALLS,
        "a refreshing request now costs {extra} heap calls over bare (bound {OURS_REFRESH_MAX_EXTRA_CALLS})"
    );
}

/// Metrics into a real Prometheus recorder add no allocation: the handles are resolved on
/// the first request, and counting is an atomic add.
#[cfg(feature = "metrics")]
#[test]
fn allocations_per_request_ours_verify_metrics_equal_ours_verify() {
    let rt = runtime();
    let plain = ours(OURS_VERIFY);
    let with_metrics = ours(contenders::OURS_VERIFY_METRICS);
    let counts = {
        let _recording = with_metrics.recording();
        let (counts, _) = report("ours_verify_metrics", &with_metrics, &rt);
        // The requests were recorded (this fails if the handles missed the recorder).
        rt.block_on(contenders::check(&with_metrics));
        counts
    };
    let (plain_counts, _) = report("ours_verify", &plain, &rt);
    assert_eq!(
        counts.calls(),
        plain_counts.calls(),
        "recording metrics changed the heap calls of a request"
    );
}

/// Our layer against the alternatives, call for call: verifying allocates less than a
/// memory-store session read or a signed-jar decode, and a refresh less than the
/// hand-written jsonwebtoken re-sign.
#[test]
fn allocations_per_request_ours_against_the_alternatives() {
    let rt = runtime();
    let (_, verify) = report("ours_verify", &ours(OURS_VERIFY), &rt);
    let (_, refresh) = report("ours_refresh", &ours(OURS_REFRESH), &rt);
    let (_, tower_sessions) = report(
        "tower_sessions_memory",
        &rt.block_on(tower_sessions_memory()),
        &rt,
    );
    let (_, signed_jar) = report(
        "axum_extra_signed_jar",
        &rt.block_on(axum_extra_signed_jar()),
        &rt,
    );
    let (_, jwt) = report(
        "jsonwebtoken_cookie_resign",
        &jsonwebtoken_cookie_resign(),
        &rt,
    );
    assert!(
        verify < tower_sessions,
        "ours_verify ({verify}) should allocate less than tower_sessions_memory ({tower_sessions})"
    );
    assert!(
        verify < signed_jar,
        "ours_verify ({verify}) should allocate less than axum_extra_signed_jar ({signed_jar})"
    );
    assert!(
        refresh < jwt,
        "ours_refresh ({refresh}) should allocate less than jsonwebtoken_cookie_resign ({jwt})"
    );
}

/// A call with a minted token from the cache allocates no more than a call forwarding the
/// session token: minting's steady state is a cache lookup, not a signature.
#[test]
fn allocations_per_request_propagate_minted_against_forward() {
    let rt = runtime();
    let (forward, _) = report("propagate_forward", &propagate(Propagation::Forward), &rt);
    let (minted, _) = report("propagate_minted", &propagate(Propagation::Minted), &rt);
    let (cold, _) = report(
        "propagate_minted_cold",
        &propagate(Propagation::MintedCold),
        &rt,
    );
    assert!(
        minted.calls() <= forward.calls(),
        "propagate_minted ({}) should make no more heap calls than propagate_forward ({})",
        minted.calls(),
        forward.calls()
    );
    assert!(
        cold.calls() > minted.calls(),
        "a cold mint signs a new token, which the warm cache avoids ({} vs {})",
        cold.calls(),
        minted.calls()
    );
}
