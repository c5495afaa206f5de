//! The `xform` binary: parses arguments and maps the result to an exit code.
//! All logic lives in the library.

fn main() -> std::process::ExitCode {
    // A run lives for seconds and allocates a few hundred MB in small
    // pieces: transparent huge pages make every first touch zero 2 MiB
    // rather than 4 KiB, which measurably costs kernel time and memory on a
    // 10,000-model parse. Faults from here on use small pages. (Before
    // `main`, mimalloc already keeps from asking for huge pages: its
    // `no_thp` feature.)
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_thp_disable(true);
    xform::cli::main()
}

// Parsing allocates many small strings and maps on every worker thread;
// mimalloc handles that pattern far better than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
