//! Execution parity on the fixture cases under `tests/fixtures/run/`: xform
//! must leave, after every step, the same tables as dbt-core 1.11 with
//! dbt-duckdb and dbt-postgres.
//!
//! Every folder `tests/fixtures/run/<case>/` is a dbt project plus a
//! `steps.yml` that says what to run, in order (the format is in
//! `compat/engine/spec.rs`: commands, file overlays and deletions between
//! steps, expected exit statuses, `expect_xform_error`, `not_on`). In every
//! copied text file and in commands, `@today@`, `@today-N@` and `@today+N@`
//! become ISO dates (UTC) relative to the day the case started.
//!
//! The cases run through the compatibility harness's engine
//! (`compat/engine`, included as `crate::compat`): xform runs the steps on a
//! fresh `DuckDB` file, or a fresh database on the test Postgres server
//! (`.ci/postgres.sh`), with the harness's own profile, and the tables after
//! every step (the engine's normalised dumps) must equal the insta snapshot
//! `snapshots/run_fixture_tables@<case>.snap` (`run_fixture_tables_pg@` on
//! Postgres), which is dbt's output: it is written by the ignored
//! `<case>::dbt_tables` tests, which run dbt (`XFORM_DBT`) on the same
//! steps. Never accept a snapshot change from the xform test.
//!
//! The live side-by-side comparison with dbt (tables, test outcomes,
//! compiled SQL) is `compat/run`, which CI runs over every case on both
//! warehouses; these tests check xform against what dbt did when the
//! snapshot was recorded, without needing dbt.
//!
//! ```sh
//! cargo test --no-default-features --test it exec_compat               # xform
//! cargo insta test --accept --no-default-features --test it -- --ignored dbt_tables  # record dbt's
//! ```
//!
//! `XFORM_RUN_VERBOSE=1` (with `--nocapture`) prints every command's output.
//! In the dumps, a relation exactly as it was after the previous step is
//! shown as one line, `--- schema.name (kind): unchanged`.

use std::path::Path;

use crate::compat::spec::Spec;
use crate::compat::{self, Options, Tool, Warehouse, pg};
use crate::support::{dbt, fixture, pg_url, settings};

fn load_spec(case: &str) -> Spec {
    let dir = fixture("run").join(case);
    Spec::load(&dir)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .unwrap_or_else(|| panic!("{}: no steps.yml", dir.display()))
}

/// Runs a case with one tool; `None` when it does not run here (the case is
/// not meant for the warehouse, or there is no server or dbt).
fn run_case(case: &str, tool: Tool, wh: Warehouse) -> Option<(Spec, compat::Run)> {
    let spec = load_spec(case);
    if let Some(why) = spec.not_on.get(&wh) {
        eprintln!("{case} does not run on {}: {why}", wh.name());
        return None;
    }
    let exe = match tool {
        Tool::Xform => Path::new(env!("CARGO_BIN_EXE_xform")).to_path_buf(),
        Tool::Dbt => dbt()?,
    };
    let server = match wh {
        Warehouse::DuckDb => None,
        Warehouse::Postgres => Some(pg::Server::new(&pg_url()?).expect("XFORM_TEST_PG_URL")),
    };
    let mut opts = Options::new(wh, server.as_ref());
    opts.verbose = std::env::var_os("XFORM_RUN_VERBOSE").is_some();
    let run = compat::run(tool, &exe, &fixture("run").join(case), &spec, &opts)
        .unwrap_or_else(|e| panic!("{case}: {e:#}"));
    Some((spec, run))
}

/// Every step exited as `steps.yml` expects, and the tables after each are
/// the recorded snapshot.
fn assert_case(case: &str, tool: Tool, wh: Warehouse) {
    let Some((spec, run)) = run_case(case, tool, wh) else {
        return;
    };
    for (i, (step, spec_step)) in run.steps.iter().zip(&spec.steps).enumerate() {
        let expected = spec_step.step().expected_exit(wh);
        assert_eq!(
            step.exit,
            expected,
            "{case}: step {} `{} {}` exited with {}, expected {expected}:\n{}",
            i + 1,
            tool.name(),
            step.cmd,
            step.exit,
            step.output
        );
    }
    let mut s = settings();
    s.set_snapshot_suffix(case);
    let on = match wh {
        Warehouse::DuckDb => "",
        Warehouse::Postgres => " on Postgres",
    };
    s.set_description(format!(
        "tables after each step of tests/fixtures/run/{case}{on}"
    ));
    let name = match wh {
        Warehouse::DuckDb => "run_fixture_tables",
        Warehouse::Postgres => "run_fixture_tables_pg",
    };
    let dump = run.render(spec.statuses);
    s.bind(|| insta::assert_snapshot!(name, dump));
}

/// xform's side: the same exit statuses and tables as dbt recorded; in a
/// case where xform deliberately refuses what dbt does wrong
/// (`expect_xform_error`), exit status 1 at some step.
fn xform_case(case: &str, wh: Warehouse) {
    if let Some(why) = load_spec(case).expect_xform_error {
        let Some((_, run)) = run_case(case, Tool::Xform, wh) else {
            return;
        };
        let Some(n) = run.stopped else {
            panic!("{case}: xform ran every step, but should refuse ({why})");
        };
        let step = &run.steps[n - 1];
        assert_eq!(
            step.exit, 1,
            "{case}: step {n}: xform should refuse with exit status 1 ({why}):\n{}",
            step.output
        );
        assert!(!step.output.contains("panicked"), "{case}: {}", step.output);
        return;
    }
    assert_case(case, Tool::Xform, wh);
}

/// Every listed case has a valid `steps.yml`, and every folder under
/// `tests/fixtures/run/` is either listed or named by another test module
/// (other tests reuse the fixture format for their own cases).
fn check_fixtures_are_used(listed: &[&str]) {
    let root = fixture("run");
    for case in listed {
        load_spec(case);
    }
    let others: String = std::fs::read_dir(crate::support::repo().join("tests/it"))
        .expect("tests/it")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n != "exec_compat.rs"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    for entry in std::fs::read_dir(&root).expect("tests/fixtures/run") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            listed.contains(&name.as_str()) || others.contains(&format!("\"{name}\"")),
            "tests/fixtures/run/{name} is not used: list it in `cases!` in exec_compat.rs"
        );
    }
}

/// One module per case: xform on `DuckDB` and on Postgres against dbt's
/// recorded tables, and the ignored tests that record them. A case's
/// `steps.yml` names the warehouses it is not meant for (`not_on`).
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                use crate::compat::{Tool, Warehouse};

                #[test]
                fn xform_tables_match_dbt() {
                    super::xform_case(stringify!($case), Warehouse::DuckDb);
                }

                #[test]
                fn xform_tables_match_dbt_on_postgres() {
                    super::xform_case(stringify!($case), Warehouse::Postgres);
                }

                #[test]
                #[ignore = "runs dbt to record its tables in the snapshot"]
                fn dbt_tables() {
                    super::assert_case(stringify!($case), Tool::Dbt, Warehouse::DuckDb);
                }

                #[test]
                #[ignore = "runs dbt to record its tables in the snapshot"]
                fn dbt_tables_on_postgres() {
                    super::assert_case(stringify!($case), Tool::Dbt, Warehouse::Postgres);
                }
            }
        )*

        #[test]
        fn every_run_fixture_has_a_test() {
            check_fixtures_are_used(&[$(stringify!($case)),*]);
        }
    };
}

cases![
    cross_db,
    data_tests,
    incremental,
    merge_bad_keys,
    microbatch,
    models,
    on_schema_change,
    quoting,
    seeds,
    snapshot_check,
    snapshot_timestamp,
    unit_tests,
    versions,
];
