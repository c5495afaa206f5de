//! When linking a prebuilt `DuckDB` (`DUCKDB_LIB_DIR`, the fast development
//! path), record its folder as an rpath so the binary and tests find
//! `libduckdb.so` without `LD_LIBRARY_PATH` set.

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR")
        && !dir.is_empty()
        && std::env::var_os("CARGO_FEATURE_BUNDLED").is_none()
    {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
