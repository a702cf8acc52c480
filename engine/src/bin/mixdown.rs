//! The `mixdown` command line (see [`mixdown::cli`]).

// Debug builds guard the audio callback against allocation (see `mixdown::io::callback`): the
// guard needs its allocator.
#[cfg(debug_assertions)]
#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

fn main() -> std::process::ExitCode {
    mixdown::cli::main()
}
