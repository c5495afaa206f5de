//! The `xform` binary: parses arguments and maps the result to an exit code.
//! All logic lives in the library.

fn main() -> std::process::ExitCode {
    xform::cli::main()
}
