//! The `xform` binary: parses arguments and maps the result to an exit code.
//! All logic lives in the library.

fn main() -> std::process::ExitCode {
    xform::cli::main()
}

// Parsing allocates many small strings and maps on every worker thread;
// mimalloc handles that pattern far better than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
