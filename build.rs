//! When linking a prebuilt `DuckDB` (`DUCKDB_LIB_DIR`, the fast development
//! path), record its folder as an rpath so the binary and tests find
//! `libduckdb.so` without `LD_LIBRARY_PATH` set. On Linux, link the binary
//! as a non-PIE executable (faster start, see below).

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR")
        && !dir.is_empty()
        && std::env::var_os("CARGO_FEATURE_BUNDLED").is_none()
    {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    // The binary is linked at a fixed address (not position-independent):
    // a PIE has ~68,000 relocations to apply to 1.6 MB of `.data.rel.ro`
    // at every start, each touched page a copy-on-write fault, which was
    // about a tenth of `xform --version`'s time. Shared libraries, the
    // heap and the stacks are still placed at random.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=xform=-no-pie");
    }
}
