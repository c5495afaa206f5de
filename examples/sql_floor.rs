//! The SQL floor for `bench/build.py`: replay a statement log in one
//! `DuckDB` connection, with no tool around it, and print how long that took.
//!
//! ```text
//! sql_floor [--slowest N] DB_PATH STATEMENTS.jsonl [STATEMENTS.jsonl ...]
//! ```
//!
//! Each log has one JSON object a line, `{"node": "<unique_id>" | null, "sql":
//! "<one statement>"}`, in execution order: what xform writes to
//! `$XFORM_STATEMENT_LOG`. Blank lines are skipped. All logs are read and
//! parsed before the clock starts; then `DB_PATH` is opened with one connection
//! and every statement runs back to back: statements that can return rows
//! (`select`, `with`, `pragma`, `show`, ...) through prepare + query with every
//! row fetched, the others through `execute_batch`.
//!
//! If the statements of different nodes are interleaved in a log (a run on
//! several threads), each node's statements are replayed as one block, the
//! blocks in the order in which their nodes finished, so that one connection
//! never sees one node's `BEGIN` inside another's transaction. Statements
//! without a node keep their place. A log written one node at a time replays
//! unchanged.
//!
//! Prints on stdout:
//! `{"statements": N, "seconds": S, "open_seconds": .., "close_seconds": ..,
//!   "files": [{"path": .., "statements": .., "seconds": .., "regrouped": ..}]}`
//! where `seconds` covers open + every statement + close (`DuckDB` checkpoints
//! on close) and each file's `seconds` covers only its own statements.
//! Errors name the file, line and statement number and exit with status 1.
//! `--slowest N` also prints, on stderr, the time spent per kind of statement
//! (first keyword) and the N slowest statements.
//!
//! Build: `cargo build --release --no-default-features --example sql_floor`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use duckdb::Connection;
use serde::Deserialize;

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    node: Option<String>,
    sql: String,
}

struct Statement {
    /// 1-based line in its file.
    line: usize,
    node: Option<String>,
    sql: String,
}

struct Log {
    path: String,
    statements: Vec<Statement>,
    regrouped: bool,
}

const USAGE: &str =
    "usage: sql_floor [--slowest N] DB_PATH STATEMENTS.jsonl [STATEMENTS.jsonl ...]";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        eprintln!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let mut slowest = 0;
    if args.first().is_some_and(|a| a == "--slowest") {
        let Some(Ok(n)) = args.get(1).map(|n| n.parse::<usize>()) else {
            eprintln!("sql_floor: --slowest needs a number\n{USAGE}");
            return ExitCode::from(2);
        };
        slowest = n;
        args.drain(..2);
    }
    if args.len() < 2 {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    match run(&args[0], &args[1..], slowest) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("sql_floor: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run(db_path: &str, log_paths: &[String], slowest: usize) -> Result<String, String> {
    let logs = log_paths
        .iter()
        .map(|p| read_log(p))
        .collect::<Result<Vec<_>, _>>()?;

    let start = Instant::now();
    let conn = Connection::open(db_path).map_err(|e| format!("cannot open {db_path}: {e}"))?;
    let open_seconds = start.elapsed().as_secs_f64();

    let mut files = Vec::new();
    let mut number = 0usize;
    // (seconds, log index, statement index), only with --slowest.
    let mut timings: Vec<(f64, usize, usize)> = Vec::new();
    for (li, log) in logs.iter().enumerate() {
        let t = Instant::now();
        for (si, st) in log.statements.iter().enumerate() {
            number += 1;
            let ts = (slowest > 0).then(Instant::now);
            execute(&conn, &st.sql).map_err(|e| {
                let node = st.node.as_deref().unwrap_or("-");
                format!(
                    "statement {number} failed ({}:{}, node {node}): {e}\n  sql: {}",
                    log.path,
                    st.line,
                    abbreviate(&st.sql, 400)
                )
            })?;
            if let Some(ts) = ts {
                timings.push((ts.elapsed().as_secs_f64(), li, si));
            }
        }
        files.push(serde_json::json!({
            "path": log.path,
            "statements": log.statements.len(),
            "seconds": t.elapsed().as_secs_f64(),
            "regrouped": log.regrouped,
        }));
    }

    let t = Instant::now();
    if let Err((conn, e)) = conn.close() {
        // Dropping it would try to close again and panic on the error.
        std::mem::forget(conn);
        return Err(format!("closing {db_path} failed: {e}"));
    }
    let close_seconds = t.elapsed().as_secs_f64();
    let seconds = start.elapsed().as_secs_f64();
    if slowest > 0 {
        report_slowest(&logs, &mut timings, slowest);
    }

    Ok(serde_json::json!({
        "statements": number,
        "seconds": seconds,
        "open_seconds": open_seconds,
        "close_seconds": close_seconds,
        "files": files,
    })
    .to_string())
}

/// On stderr: time per statement kind (first keyword), then the slowest
/// statements.
fn report_slowest(logs: &[Log], timings: &mut [(f64, usize, usize)], n: usize) {
    let mut kinds: HashMap<String, (usize, f64)> = HashMap::new();
    for &(secs, li, si) in timings.iter() {
        let k = kinds
            .entry(first_keyword(&logs[li].statements[si].sql))
            .or_default();
        k.0 += 1;
        k.1 += secs;
    }
    let mut kinds: Vec<_> = kinds.into_iter().collect();
    kinds.sort_by(|a, b| b.1.1.total_cmp(&a.1.1));
    eprintln!("sql_floor: time by statement kind:");
    for (kind, (count, secs)) in kinds {
        eprintln!("  {secs:9.3} s  {count:7}  {kind}");
    }
    timings.sort_by(|a, b| b.0.total_cmp(&a.0));
    eprintln!("sql_floor: slowest statements:");
    for &(secs, li, si) in timings.iter().take(n) {
        let st = &logs[li].statements[si];
        eprintln!(
            "  {secs:9.3} s  {}:{} {}: {}",
            logs[li].path,
            st.line,
            st.node.as_deref().unwrap_or("-"),
            abbreviate(&st.sql, 160)
        );
    }
}

fn read_log(path: &str) -> Result<Log, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mut statements = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_str(line).map_err(|e| {
            format!(
                "{path}:{}: not a statement log line ({e}): {}",
                i + 1,
                abbreviate(line, 200)
            )
        })?;
        statements.push(Statement {
            line: i + 1,
            node: entry.node,
            sql: entry.sql,
        });
    }
    let (statements, regrouped) = regroup(statements);
    if regrouped {
        eprintln!(
            "sql_floor: {path}: statements of different nodes are interleaved; \
             replaying each node's statements as one block, in node completion order"
        );
    }
    Ok(Log {
        path: path.to_owned(),
        statements,
        regrouped,
    })
}

/// Make each node's statements contiguous, placed where the node's last
/// statement was (a node finishes before its children start, so completion
/// order is a valid order to run nodes one at a time). Returns the input
/// unchanged, and `false`, when no node's statements are interleaved.
fn regroup(statements: Vec<Statement>) -> (Vec<Statement>, bool) {
    let mut last: HashMap<&str, usize> = HashMap::new();
    let mut interleaved = false;
    for (i, st) in statements.iter().enumerate() {
        if let Some(node) = st.node.as_deref() {
            if let Some(&prev) = last.get(node) {
                // Anything but this same node since its previous statement?
                interleaved |= statements[prev + 1..i]
                    .iter()
                    .any(|s| s.node.as_deref() != Some(node));
            }
            last.insert(node, i);
        }
    }
    if !interleaved {
        return (statements, false);
    }
    let last: HashMap<String, usize> = last.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    // Sort key: (position of the block, position within the original log).
    let mut keyed: Vec<(usize, usize, Statement)> = statements
        .into_iter()
        .enumerate()
        .map(|(i, st)| {
            let block = st.node.as_ref().map_or(i, |n| last[n]);
            (block, i, st)
        })
        .collect();
    keyed.sort_by_key(|&(block, i, _)| (block, i));
    (keyed.into_iter().map(|(_, _, st)| st).collect(), true)
}

/// Run one statement; fetch every row of statements that can return rows.
fn execute(conn: &Connection, sql: &str) -> duckdb::Result<()> {
    if returns_rows(sql) {
        let mut stmt = conn.prepare(sql)?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
        Ok(())
    } else {
        conn.execute_batch(sql)
    }
}

/// Whether the statement's first keyword starts a query that returns rows.
fn returns_rows(sql: &str) -> bool {
    matches!(
        first_keyword(sql).as_str(),
        "select"
            | "with"
            | "from"
            | "values"
            | "table"
            | "show"
            | "describe"
            | "desc"
            | "summarize"
            | "pragma"
            | "explain"
            | "call"
    )
}

/// The statement's first word, lowercased, after comments and parentheses.
fn first_keyword(sql: &str) -> String {
    let mut s = sql;
    loop {
        s = s.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    s.chars()
        .take_while(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn abbreviate(s: &str, max: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut out: String = one_line.chars().take(max).collect();
    let _ = write!(out, " ... ({} chars)", s.len());
    out
}
