//! Every user error: the rendered diagnostic (code, message, <file:line:col>
//! code frame, help) is snapshotted, and the exit code is 1.

use crate::support::{copy_project, settings, xform};

#[test]
fn error_fixtures_report_clear_diagnostics() {
    insta::glob!("../fixtures", "errors/err_*/dbt_project.yml", |path| {
        let project = path.parent().expect("project dir");
        let dir = copy_project(project);
        let args_file = project.join("ARGS");
        let args: Vec<String> = std::fs::read_to_string(&args_file).map_or_else(
            |_| vec!["compile".to_owned()],
            |s| s.split_whitespace().map(str::to_owned).collect(),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = xform(dir.path(), &args);
        assert_eq!(
            out.code, 1,
            "expected exit code 1, got {}:\n{}",
            out.code, out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        settings().bind(|| insta::assert_snapshot!(out.stderr));
    });
}
