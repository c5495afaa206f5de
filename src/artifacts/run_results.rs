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

/// Writes `run_results.json` (to a temporary file, then renamed), compact
/// as dbt writes it. The results, most of the document (a `compile` of a
/// large project records every node's compiled SQL), are serialized in
/// parallel chunks and written as each wave is done, so a large run never
/// holds the whole document in memory.
pub fn write(
    target_dir: &Path,
    results: &[NodeResult],
    elapsed: f64,
    invocation_id: &str,
    started: chrono::DateTime<chrono::Utc>,
    args: &Value,
) -> std::io::Result<()> {
    use rayon::prelude::*;
    use std::io::Write as _;
    let json = |out: &mut Vec<u8>, v: &Value| {
        super::json::to_vec_into(out, v).map_err(std::io::Error::other)
    };
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
    let mut first = true;
    for wave in results.chunks(4096) {
        let chunks: Vec<std::io::Result<Vec<u8>>> = wave
            .par_chunks(512)
            .map(|chunk| {
                let mut buf = Vec::with_capacity(chunk.len() * 1024);
                for r in chunk {
                    buf.push(b',');
                    json(&mut buf, &result_json(r))?;
                }
                Ok(buf)
            })
            .collect();
        for c in chunks {
            let c = c?;
            // Each result starts with a comma; the array's first does not.
            let body = if first {
                c.get(1..).unwrap_or_default()
            } else {
                &c[..]
            };
            first &= c.is_empty();
            w.write_all(body)?;
        }
    }
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
