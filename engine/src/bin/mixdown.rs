//! The `mixdown` command line (see [`mixdown::cli`]).

fn main() -> std::process::ExitCode {
    mixdown::cli::main()
}
