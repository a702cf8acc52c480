#!/usr/bin/env bash
# Memory- and thread-safety checks of the realtime core (the executor's raw pointers, the
# parallel runner's workers). Each check runs the tests in `engine/src/rt/tests.rs` — tiny
# schedules built from simple nodes: two threads against one, a swap sent after set_threads, a
# schedule replaced behind the runner, nodes panicking on the main thread or on a worker while
# the other runs — and, where it can, `tests/parallel_safety.rs`.
#
#   benches/sanitize.sh miri      Miri (nightly + miri): undefined behaviour, use-after-free,
#                                 Stacked Borrows aliasing, data races. ~1 min of tests after a
#                                 ~10 min first build of the dependencies.
#   benches/sanitize.sh tsan      ThreadSanitizer (nightly + rust-src, std rebuilt with
#                                 -Zbuild-std), also over tests/parallel.rs (a song rendered on
#                                 2 and 3 threads). First build ~17 min on one job (everything
#                                 instrumented), then ~1 min.
#   benches/sanitize.sh valgrind  memcheck on the stable test binary: invalid reads and writes,
#                                 use-after-free. Needs only valgrind; seconds after the build.
#   benches/sanitize.sh all       all three (the default); a tool that is not installed is
#                                 reported and skipped, unless SANITIZE_STRICT=1.
#
# Installing the tools (when the machine can reach the Rust toolchain server):
#   rustup toolchain install nightly --component miri rust-src
#   apt-get install valgrind
# Miri's floats: by default Miri perturbs transcendental functions (powf, sin, ...) the way
# real libms differ; the tests compare one and two threads bit for bit, so the script asks for
# deterministic floats. Miri cannot emulate MXCSR, so under Miri the processor does not flush
# denormals (cfg(miri) in rt/).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
what="${1:-all}"
strict="${SANITIZE_STRICT:-0}"
failed=0

skip() {
    echo "sanitize: $1: skipped ($2)"
    if [ "$strict" = 1 ]; then
        failed=1
    fi
}

have_nightly_component() {
    rustup component list --toolchain nightly --installed 2>/dev/null | grep -q "^$1"
}

run_miri() {
    if ! have_nightly_component miri; then
        skip miri "no nightly toolchain with the miri component"
        return
    fi
    echo "sanitize: miri"
    MIRIFLAGS="${MIRIFLAGS:--Zmiri-deterministic-floats}" \
        cargo +nightly miri test --lib rt::tests || failed=1
}

run_tsan() {
    if ! have_nightly_component rust-src; then
        skip tsan "no nightly toolchain with the rust-src component"
        return
    fi
    echo "sanitize: tsan"
    local host
    host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
    RUSTFLAGS="-Zsanitizer=thread" RUSTDOCFLAGS="-Zsanitizer=thread" \
        TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1}" \
        cargo +nightly test -Zbuild-std --target "$host" --lib --test parallel_safety \
        -- rt::tests swap_after threads_once || failed=1
    # A whole song on two and three threads at block sizes 17 to 2048 (about a minute here):
    # real interleavings of the workers' tasks, which the tiny schedules above rarely get
    # under ThreadSanitizer.
    RUSTFLAGS="-Zsanitizer=thread" RUSTDOCFLAGS="-Zsanitizer=thread" \
        TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1}" \
        cargo +nightly test -Zbuild-std --target "$host" --test parallel || failed=1
}

run_valgrind() {
    if ! command -v valgrind >/dev/null; then
        skip valgrind "valgrind is not installed"
        return
    fi
    echo "sanitize: valgrind memcheck"
    local bin
    bin="$(cargo test --lib --no-run 2>&1 |
        sed -n 's/.*Executable unittests engine\/src\/lib.rs (\(.*\))/\1/p')"
    if [ -z "$bin" ]; then
        echo "sanitize: could not find the library's test binary" >&2
        failed=1
        return
    fi
    valgrind --tool=memcheck --error-exitcode=9 --leak-check=no --quiet \
        "$bin" rt::tests --test-threads=1 || failed=1
}

case "$what" in
miri) run_miri ;;
tsan) run_tsan ;;
valgrind) run_valgrind ;;
all)
    run_valgrind
    run_miri
    run_tsan
    ;;
*)
    echo "usage: $0 [miri|tsan|valgrind|all]" >&2
    exit 2
    ;;
esac
exit "$failed"
