//! `target/run_results.json`, in dbt's v6 shape.

use std::path::Path;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Value, json};

use super::manifest::DBT_VERSION;
use crate::execute::{NodeResult, Status};

/// A UTC time as dbt writes it in run results (`%Y-%m-%dT%H:%M:%S%.6fZ`),
/// written digit by digit: a large `compile` writes four per node, and
/// chrono's format strings cost far more than the digits.
pub(crate) fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    let Ok(year) = u32::try_from(year) else {
        return t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    };
    if year > 9999 {
        return t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    }
    let micros = t.nanosecond() % 1_000_000_000 / 1000;
    let mut out = [0u8; 27];
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, 6, micros);
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ] {
        out[i] = c;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// One result as `run_results.json` has it (and `on-run-end`'s `results`).
pub(crate) fn result_json(r: &NodeResult) -> Value {
    serde_json::to_value(ResultOut(view(r))).unwrap_or(Value::Null)
}

/// What a result in `run_results.json` says, borrowed from wherever it is
/// kept: a [`NodeResult`] ([`view`]), or the node itself for a `compile`,
/// whose results are every node's compiled SQL, not copied for the file.
#[derive(Clone, Copy)]
pub struct ResultView<'a> {
    pub unique_id: &'a str,
    pub status: Status,
    pub message: Option<&'a str>,
    pub failures: Option<i64>,
    pub started: chrono::DateTime<chrono::Utc>,
    pub compile_done: chrono::DateTime<chrono::Utc>,
    pub completed: chrono::DateTime<chrono::Utc>,
    pub execution_time: f64,
    pub thread: usize,
    pub compiled_code: Option<&'a str>,
    pub relation_name: Option<&'a str>,
    pub rows_affected: Option<i64>,
}

/// A [`NodeResult`] as its line in `run_results.json`.
pub fn view(r: &NodeResult) -> ResultView<'_> {
    ResultView {
        unique_id: &r.unique_id,
        status: r.status,
        message: r.message.as_deref(),
        failures: r.failures,
        started: r.started,
        compile_done: r.compile_done,
        completed: r.completed,
        execution_time: r.execution_time,
        thread: r.thread,
        compiled_code: r.compiled_code.as_deref(),
        relation_name: r.relation_name.as_deref(),
        rows_affected: r.rows_affected,
    }
}

/// A result, serialized straight from what it borrows.
struct ResultOut<'a>(ResultView<'a>);

/// A result's `timing`: empty for a skipped node, else its compile and
/// execute steps.
struct Timing<'a>(ResultView<'a>);

impl Serialize for Timing<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = &self.0;
        if r.status == Status::Skipped {
            return s.serialize_seq(Some(0))?.end();
        }
        let mut seq = s.serialize_seq(Some(2))?;
        for (name, start, end) in [
            ("compile", r.started, r.compile_done),
            ("execute", r.compile_done, r.completed),
        ] {
            seq.serialize_element(&Step(name, start, end))?;
        }
        seq.end()
    }
}

struct Step(
    &'static str,
    chrono::DateTime<chrono::Utc>,
    chrono::DateTime<chrono::Utc>,
);

impl Serialize for Step {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("name", self.0)?;
        m.serialize_entry("started_at", &ts(self.1))?;
        m.serialize_entry("completed_at", &ts(self.2))?;
        m.end()
    }
}

/// `adapter_response`: empty where nothing ran (hooks, skipped, failed and
/// only compiled nodes).
struct AdapterResponse<'a>(ResultView<'a>, bool);

impl Serialize for AdapterResponse<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (r, hook) = (&self.0, self.1);
        let message = match r.message {
            Some(m) if !hook && r.status != Status::Skipped && r.status != Status::Error => m,
            _ => return s.serialize_map(Some(0))?.end(),
        };
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("_message", message)?;
        m.serialize_entry("code", "OK")?;
        if let Some(n) = r.rows_affected {
            m.serialize_entry("rows_affected", &n)?;
        }
        m.end()
    }
}

impl Serialize for ResultOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = &self.0;
        // Project hooks run on the main thread and report no adapter
        // response; so does `run-operation`'s macro, in dbt's `MainThread`.
        let operation = r.unique_id.starts_with("macro.");
        let hook = operation || r.unique_id.starts_with("operation.");
        let worker;
        let thread_id = if operation {
            "MainThread"
        } else if hook {
            "main"
        } else {
            worker = format!("Thread-{} (worker)", r.thread + 1);
            worker.as_str()
        };
        let mut m = s.serialize_map(Some(12))?;
        m.serialize_entry("status", r.status.as_str())?;
        m.serialize_entry("timing", &Timing(*r))?;
        m.serialize_entry("thread_id", thread_id)?;
        m.serialize_entry("execution_time", &r.execution_time)?;
        m.serialize_entry("adapter_response", &AdapterResponse(*r, hook))?;
        m.serialize_entry("message", &r.message)?;
        m.serialize_entry("failures", &r.failures)?;
        m.serialize_entry("unique_id", r.unique_id)?;
        m.serialize_entry("compiled", &r.compiled_code.is_some())?;
        m.serialize_entry("compiled_code", &r.compiled_code)?;
        m.serialize_entry("relation_name", &r.relation_name)?;
        m.serialize_entry("batch_results", &())?;
        m.end()
    }
}

/// Writes `run_results.json` (to a temporary file, then renamed), compact
/// as dbt writes it. The results, most of the document (a `compile` of a
/// large project records every node's compiled SQL), are serialized in
/// parallel chunks and written in order while later chunks are serialized
/// (`stream::write_entries`), so a large run never holds the whole document
/// in memory.
pub fn write(
    target_dir: &Path,
    results: &[NodeResult],
    elapsed: f64,
    invocation_id: &str,
    started: chrono::DateTime<chrono::Utc>,
    args: &Value,
) -> std::io::Result<()> {
    write_views(
        target_dir,
        results,
        view,
        elapsed,
        invocation_id,
        started,
        args,
    )
}

/// As [`write`], for results kept as anything `view` shows as a result.
pub fn write_views<T: Sync>(
    target_dir: &Path,
    results: &[T],
    view: impl Fn(&T) -> ResultView<'_> + Sync,
    elapsed: f64,
    invocation_id: &str,
    started: chrono::DateTime<chrono::Utc>,
    args: &Value,
) -> std::io::Result<()> {
    use std::io::Write as _;
    fn json<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> std::io::Result<()> {
        super::json::to_vec_into(out, v).map_err(std::io::Error::other)
    }
    let metadata = json!({
        "dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
        "dbt_version": DBT_VERSION,
        "generated_at": ts(chrono::Utc::now()),
        "invocation_id": invocation_id,
        "invocation_started_at": ts(started),
        "env": {},
    });
    std::fs::create_dir_all(target_dir)?;
    let tmp = target_dir.join(".run_results.json.tmp");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    let mut head = b"{\"metadata\":".to_vec();
    json(&mut head, &metadata)?;
    head.extend_from_slice(b",\"results\":[");
    w.write_all(&head)?;
    super::stream::write_entries(results, 256, 1024, &mut w, |chunk, buf| {
        for r in chunk {
            buf.push(b',');
            json(buf, &ResultOut(view(r)))?;
        }
        Ok(())
    })?;
    let mut tail = b"],\"elapsed_time\":".to_vec();
    json(&mut tail, &json!(elapsed))?;
    tail.extend_from_slice(b",\"args\":");
    json(&mut tail, args)?;
    tail.push(b'}');
    w.write_all(&tail)?;
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, target_dir.join("run_results.json"))
}

/// Reads the statuses of the last run, for `retry`.
pub fn read_statuses(target_dir: &Path) -> std::io::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(target_dir.join("run_results.json"))?;
    let v: Value = serde_json::from_str(&text).map_err(std::io::Error::other)?;
    Ok(v["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    Some((
                        r["unique_id"].as_str()?.to_owned(),
                        r["status"].as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The result as it was built before it was serialized directly: a
    /// `json!` value, field by field, with chrono's own format.
    fn reference(r: &NodeResult) -> Value {
        let ts = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        let operation = r.unique_id.starts_with("macro.");
        let hook = operation || r.unique_id.starts_with("operation.");
        let timing = if r.status == Status::Skipped {
            json!([])
        } else {
            json!([
                {"name": "compile", "started_at": ts(r.started), "completed_at": ts(r.compile_done)},
                {"name": "execute", "started_at": ts(r.compile_done), "completed_at": ts(r.completed)},
            ])
        };
        let adapter_response = if hook
            || r.status == Status::Skipped
            || r.status == Status::Error
            || r.message.is_none()
        {
            json!({})
        } else {
            let mut m = json!({"_message": r.message.clone().unwrap(), "code": "OK"});
            if let Some(n) = r.rows_affected {
                m["rows_affected"] = json!(n);
            }
            m
        };
        json!({
            "status": r.status.as_str(),
            "timing": timing,
            "thread_id": if operation {
                "MainThread".to_owned()
            } else if hook {
                "main".to_owned()
            } else {
                format!("Thread-{} (worker)", r.thread + 1)
            },
            "execution_time": r.execution_time,
            "adapter_response": adapter_response,
            "message": r.message,
            "failures": r.failures,
            "unique_id": r.unique_id,
            "compiled": r.compiled_code.is_some(),
            "compiled_code": r.compiled_code,
            "relation_name": r.relation_name,
            "batch_results": null,
        })
    }

    fn result(id: &str, status: Status) -> NodeResult {
        use chrono::TimeZone;
        let t = chrono::Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .unwrap()
            .checked_add_signed(chrono::Duration::nanoseconds(7_654_321))
            .unwrap();
        NodeResult {
            unique_id: id.to_owned(),
            status,
            message: None,
            failures: None,
            started: t,
            compile_done: t + chrono::Duration::microseconds(1),
            completed: t + chrono::Duration::seconds(61),
            execution_time: 61.000_001,
            thread: 1,
            compiled_code: None,
            relation_name: None,
            rows_affected: None,
            diag: None,
            run_path: None,
        }
    }

    #[test]
    fn results_serialize_as_the_json_value_did() {
        let mut cases = Vec::new();
        for status in [
            Status::Success,
            Status::Error,
            Status::Skipped,
            Status::Pass,
            Status::Fail,
            Status::Warn,
        ] {
            for id in [
                "model.p.m",
                "test.p.t",
                "macro.p.op",
                "operation.p.on-run-end.0",
            ] {
                cases.push(result(id, status));
                let mut r = result(id, status);
                r.message = Some("INSERT 0 \"3\"\n".to_owned());
                r.rows_affected = Some(3);
                r.failures = Some(0);
                r.compiled_code = Some("select '<a>' as \"x\"\n".to_owned());
                r.relation_name = Some("\"db\".\"s\".\"m\"".to_owned());
                cases.push(r);
                let mut r = result(id, status);
                r.message = Some("OK".to_owned());
                cases.push(r);
            }
        }
        for r in &cases {
            let mut direct = Vec::new();
            crate::artifacts::json::to_vec_into(&mut direct, &ResultOut(view(r))).unwrap();
            let mut old = Vec::new();
            crate::artifacts::json::to_vec_into(&mut old, &reference(r)).unwrap();
            assert_eq!(
                String::from_utf8(direct).unwrap(),
                String::from_utf8(old).unwrap(),
                "{} {:?}",
                r.unique_id,
                r.status
            );
            assert_eq!(result_json(r), reference(r));
        }
    }

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        use chrono::TimeZone;
        for (y, nanos) in [
            (2026, 0),
            (1970, 999_999_999),
            (9, 123_456_789),
            (9999, 1000),
        ] {
            let t = chrono::Utc
                .with_ymd_and_hms(y, 12, 31, 23, 59, 58)
                .unwrap()
                .checked_add_signed(chrono::Duration::nanoseconds(nanos))
                .unwrap();
            assert_eq!(ts(t), t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        }
    }
}
