//! `target/run_results.json`, in dbt's v6 shape.

use std::path::Path;

use serde_json::{Value, json};

use super::manifest::DBT_VERSION;
use crate::execute::{NodeResult, Status};

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// One result as `run_results.json` has it (and `on-run-end`'s `results`).
pub(crate) fn result_json(r: &NodeResult) -> Value {
    // Project hooks run on the main thread and report no adapter response;
    // so does `run-operation`'s macro, in dbt's `MainThread`.
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
    // Hooks run on the main thread; nothing ran for skipped, failed or only
    // compiled nodes: no adapter response.
    let adapter_response = if hook
        || r.status == Status::Skipped
        || r.status == Status::Error
        || r.message.is_none()
    {
        json!({})
    } else {
        let mut m =
            json!({"_message": r.message.clone().unwrap_or_else(|| "OK".to_owned()), "code": "OK"});
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

/// Writes `run_results.json` (to a temporary file, then renamed). Results
/// are serialized one at a time straight into the file, so a large run
/// never holds the whole document in memory.
pub fn write(
    target_dir: &Path,
    results: &[NodeResult],
    elapsed: f64,
    invocation_id: &str,
    started: chrono::DateTime<chrono::Utc>,
    args: &Value,
) -> std::io::Result<()> {
    use serde::ser::{SerializeMap, SerializeSeq};
    struct Results<'a>(&'a [NodeResult]);
    impl serde::Serialize for Results<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(self.0.len()))?;
            for r in self.0 {
                seq.serialize_element(&result_json(r))?;
            }
            seq.end()
        }
    }
    struct Doc<'a> {
        metadata: Value,
        results: Results<'a>,
        elapsed: f64,
        args: &'a Value,
    }
    impl serde::Serialize for Doc<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(4))?;
            m.serialize_entry("metadata", &self.metadata)?;
            m.serialize_entry("results", &self.results)?;
            m.serialize_entry("elapsed_time", &self.elapsed)?;
            m.serialize_entry("args", self.args)?;
            m.end()
        }
    }
    let doc = Doc {
        metadata: json!({
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
            "dbt_version": DBT_VERSION,
            "generated_at": ts(chrono::Utc::now()),
            "invocation_id": invocation_id,
            "invocation_started_at": ts(started),
            "env": {},
        }),
        results: Results(results),
        elapsed,
        args,
    };
    std::fs::create_dir_all(target_dir)?;
    let tmp = target_dir.join(".run_results.json.tmp");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    serde::Serialize::serialize(&doc, &mut serde_json::Serializer::pretty(&mut w))
        .map_err(std::io::Error::other)?;
    std::io::Write::flush(&mut w)?;
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
