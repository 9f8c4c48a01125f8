#!/usr/bin/env bash
# Fuzz smoke run: builds the cargo-fuzz targets in fuzz/ and runs each one for a short time
# (30 s by default, FUZZ_SECONDS to change) from a freshly written seed corpus. Exits
# non-zero when a target crashes, fails to build, or the tools are missing under CI.
#
# Longer runs: cd fuzz && cargo +nightly fuzz run <target> -- -max_total_time=600
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-30}"
targets=(verify_token cookie_header open_jwe pop_proof dbsc_headers jwks_document registry_entry)

# cargo-fuzz needs a nightly toolchain (sanitizer flags).
if ! command -v rustup >/dev/null 2>&1 || ! rustup toolchain list | grep -q '^nightly'; then
    if [ "${CI:-}" = "true" ]; then
        echo "fuzz-smoke: the nightly toolchain is missing; install it with" \
            "'rustup toolchain install nightly'" >&2
        exit 1
    fi
    echo "fuzz-smoke: no nightly toolchain, skipping the fuzz smoke run" \
        "(install one with 'rustup toolchain install nightly')" >&2
    exit 0
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

cd fuzz

echo "== fuzz: seed corpus"
# Real tokens signed (and encrypted) with the targets' fixed keys, written to
# fuzz/corpus/<target>/.
cargo +nightly test --quiet --lib -- --ignored --exact tests::write_seed_corpus
cargo +nightly test --quiet --lib -- --exact tests::seeds_verify_and_signing_agrees
cargo +nightly test --quiet --lib -- --exact tests::jwe_seeds_open_and_match_the_crate_header

echo "== fuzz: build"
cargo +nightly fuzz build

for target in "${targets[@]}"; do
    echo "== fuzz: ${target} for ${seconds} s"
    # libFuzzer prints a line per new input; keep the log to its summary. A crash makes
    # cargo fuzz exit non-zero, and pipefail passes that on.
    cargo +nightly fuzz run "$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 2>&1 |
        awk '!/^#[0-9]+\t(NEW|REDUCE|pulse)/'
done
echo "== fuzz: no crashes"
