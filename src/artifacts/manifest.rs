//! `target/manifest.json` in dbt's v12 schema. Keys and their order follow
//! what dbt-core 1.11 writes, so dbt's own readers and dbt-artifacts-parser
//! load it.

use serde_json::{Map, Value, json};

use crate::graph::Dag;
use crate::node::{Node, ResourceType};
use crate::project::{MacroDef, Project};

pub const SCHEMA_VERSION: &str = "https://schemas.getdbt.com/dbt/manifest/v12.json";
/// The dbt-core version whose artifacts these match.
pub const DBT_VERSION: &str = "1.11.0";

fn columns_json(node: &Node) -> Value {
    let mut m = Map::new();
    for (name, c) in &node.columns {
        m.insert(
            name.clone(),
            json!({
                "name": c.name,
                "description": c.description,
                "meta": c.meta,
                "data_type": c.data_type,
                "constraints": c.constraints,
                "quote": c.quote,
                "config": {"meta": c.meta, "tags": c.tags},
                "tags": c.tags,
                "granularity": null,
                "doc_blocks": [],
            }),
        );
    }
    Value::Object(m)
}

fn refs_json(node: &Node) -> Value {
    Value::Array(
        node.refs
            .iter()
            .map(|r| json!({"name": r.name, "package": r.package, "version": r.version}))
            .collect(),
    )
}

fn docs_json(node: &Node) -> Value {
    node.config
        .get("docs")
        .cloned()
        .unwrap_or_else(|| json!({"show": true, "node_color": null}))
}

fn contract_json(node: &Node) -> Value {
    let enforced = node
        .config
        .get("contract")
        .and_then(|c| c.get("enforced"))
        .is_some_and(crate::value::truthy);
    json!({"enforced": enforced, "alias_types": true, "checksum": null})
}

/// Columns with both `unique` and `not_null` tests: dbt's inferred primary key.
fn primary_key(node: &Node, project: Option<&Project>) -> Vec<String> {
    let Some(project) = project else { return Vec::new() };
    let mut unique = Vec::new();
    let mut not_null = Vec::new();
    for n in project.nodes.values() {
        let Some(t) = &n.test else { continue };
        if t.attached_node.as_deref() != Some(node.unique_id.as_str()) {
            continue;
        }
        let (Some(meta), Some(col)) = (&t.metadata, &t.column_name) else {
            continue;
        };
        match meta.name.as_str() {
            "unique" => unique.push(col.clone()),
            "not_null" => not_null.push(col.clone()),
            _ => {}
        }
    }
    let mut pk: Vec<String> = unique.into_iter().filter(|c| not_null.contains(c)).collect();
    pk.sort();
    pk.dedup();
    pk
}

fn compiled_path(node: &Node, project_name: &str) -> Option<String> {
    node.compiled_code.as_ref()?;
    Some(compiled_rel_path(node, project_name))
}

/// `target/compiled/<project>/<path>`, where dbt writes a node's SQL.
pub fn compiled_rel_path(node: &Node, project_name: &str) -> String {
    let _ = project_name;
    let file = if node.test.as_ref().is_some_and(|t| t.metadata.is_some()) {
        format!("{}/{}", node.original_file_path, node.path)
    } else {
        node.original_file_path.clone()
    };
    format!("target/compiled/{}/{file}", node.package_name)
}

/// A node as the manifest (and the `model` Jinja variable) shows it.
pub fn node_json(node: &Node) -> Value {
    node_json_in(node, None)
}

fn node_json_in(node: &Node, project: Option<&Project>) -> Value {
    match node.resource_type {
        ResourceType::Source => return source_json(node),
        ResourceType::Exposure => return exposure_json(node),
        _ => {}
    }
    let mut m = Map::new();
    m.insert("database".into(), json!(node.database));
    m.insert("schema".into(), json!(node.schema));
    m.insert("name".into(), json!(node.name));
    m.insert("resource_type".into(), json!(node.resource_type.as_str()));
    m.insert("package_name".into(), json!(node.package_name));
    m.insert("path".into(), json!(node.path));
    m.insert("original_file_path".into(), json!(node.original_file_path));
    m.insert("unique_id".into(), json!(node.unique_id));
    m.insert("fqn".into(), json!(node.fqn));
    m.insert("alias".into(), json!(node.alias));
    m.insert(
        "checksum".into(),
        if node.checksum.is_empty() {
            json!({"name": "none", "checksum": ""})
        } else {
            json!({"name": "sha256", "checksum": node.checksum})
        },
    );
    m.insert("config".into(), Value::Object(node.config.clone()));
    m.insert("tags".into(), json!(node.tags));
    m.insert("description".into(), json!(node.description));
    m.insert("columns".into(), columns_json(node));
    m.insert("meta".into(), Value::Object(node.meta.clone()));
    m.insert("group".into(), node.config.get("group").cloned().unwrap_or(Value::Null));
    m.insert("docs".into(), docs_json(node));
    m.insert("patch_path".into(), json!(node.patch_path));
    m.insert("build_path".into(), Value::Null);
    m.insert("unrendered_config".into(), Value::Object(node.unrendered_config.clone()));
    m.insert("created_at".into(), json!(0.0));
    m.insert("relation_name".into(), json!(node.relation_name));
    m.insert("raw_code".into(), json!(node.raw_code));
    m.insert("doc_blocks".into(), json!([]));
    if node.resource_type == ResourceType::Seed {
        m.insert(
            "root_path".into(),
            json!(node.abs_path.parent().map(|p| p.display().to_string())),
        );
        m.insert("depends_on".into(), json!({"macros": node.depends_on_macros}));
        return Value::Object(m);
    }
    m.insert("language".into(), json!("sql"));
    m.insert("refs".into(), refs_json(node));
    m.insert("sources".into(), json!(node.sources));
    m.insert("metrics".into(), json!([]));
    m.insert("functions".into(), json!([]));
    m.insert(
        "depends_on".into(),
        json!({"macros": node.depends_on_macros, "nodes": node.depends_on_nodes}),
    );
    m.insert(
        "compiled_path".into(),
        json!(compiled_path(node, &node.package_name)),
    );
    m.insert("compiled".into(), json!(node.compiled_code.is_some()));
    m.insert("compiled_code".into(), json!(node.compiled_code));
    m.insert("extra_ctes_injected".into(), json!(node.compiled_code.is_some()));
    m.insert(
        "extra_ctes".into(),
        Value::Array(
            node.extra_ctes
                .iter()
                .map(|(id, sql)| json!({"id": id, "sql": sql}))
                .collect(),
        ),
    );
    m.insert("contract".into(), contract_json(node));
    match node.resource_type {
        ResourceType::Model => {
            m.insert(
                "access".into(),
                node.config.get("access").cloned().unwrap_or(json!("protected")),
            );
            m.insert("constraints".into(), json!([]));
            m.insert("version".into(), json!(node.version));
            m.insert("latest_version".into(), json!(node.latest_version));
            m.insert("deprecation_date".into(), Value::Null);
            m.insert("primary_key".into(), json!(primary_key(node, project)));
            m.insert("time_spine".into(), Value::Null);
        }
        ResourceType::Test => {
            if let Some(t) = &node.test
                && let Some(meta) = &t.metadata
            {
                m.insert("column_name".into(), json!(t.column_name));
                m.insert("file_key_name".into(), json!(t.file_key_name));
                m.insert("attached_node".into(), json!(t.attached_node));
                m.insert(
                    "test_metadata".into(),
                    json!({"name": meta.name, "kwargs": meta.kwargs, "namespace": meta.namespace}),
                );
            }
        }
        _ => {}
    }
    Value::Object(m)
}

fn source_json(node: &Node) -> Value {
    let s = node.source.clone().unwrap_or_default();
    let quoting = json!({
        "database": s.quoting.get("database").cloned(),
        "schema": s.quoting.get("schema").cloned(),
        "identifier": s.quoting.get("identifier").cloned(),
        "column": s.quoting.get("column").cloned(),
    });
    let freshness = if s.freshness.is_null() {
        json!({"warn_after": {"count": null, "period": null}, "error_after": {"count": null, "period": null}, "filter": null})
    } else {
        s.freshness.clone()
    };
    json!({
        "database": node.database,
        "schema": node.schema,
        "name": node.name,
        "resource_type": "source",
        "package_name": node.package_name,
        "path": node.path,
        "original_file_path": node.original_file_path,
        "unique_id": node.unique_id,
        "fqn": node.fqn,
        "source_name": s.source_name,
        "source_description": s.source_description,
        "loader": s.loader,
        "identifier": s.identifier,
        "quoting": quoting,
        "loaded_at_field": s.loaded_at_field,
        "loaded_at_query": null,
        "freshness": freshness,
        "external": null,
        "description": node.description,
        "columns": columns_json(node),
        "meta": node.meta,
        "source_meta": s.source_meta,
        "tags": node.tags,
        "config": node.config,
        "patch_path": null,
        "unrendered_config": node.unrendered_config,
        "relation_name": node.relation_name,
        "created_at": 0.0,
        "unrendered_database": null,
        "unrendered_schema": null,
        "doc_blocks": [],
    })
}

fn exposure_json(node: &Node) -> Value {
    let e = node.exposure.clone().unwrap_or_default();
    let owner = match &e.owner {
        Value::Object(o) => json!({"email": o.get("email"), "name": o.get("name")}),
        _ => json!({"email": null, "name": null}),
    };
    json!({
        "name": node.name,
        "resource_type": "exposure",
        "package_name": node.package_name,
        "path": node.path,
        "original_file_path": node.original_file_path,
        "unique_id": node.unique_id,
        "fqn": node.fqn,
        "type": e.kind,
        "owner": owner,
        "description": node.description,
        "label": e.label,
        "maturity": e.maturity,
        "meta": node.meta,
        "tags": node.tags,
        "config": node.config,
        "unrendered_config": node.unrendered_config,
        "url": e.url,
        "depends_on": {"macros": node.depends_on_macros, "nodes": node.depends_on_nodes},
        "refs": refs_json(node),
        "sources": node.sources,
        "metrics": [],
        "created_at": 0.0,
    })
}

fn macro_json(m: &MacroDef) -> Value {
    json!({
        "name": m.name,
        "resource_type": "macro",
        "package_name": m.package_name,
        "path": m.path,
        "original_file_path": m.path,
        "unique_id": m.unique_id,
        "macro_sql": m.macro_sql,
        "depends_on": {"macros": []},
        "description": m.description,
        "meta": m.meta,
        "docs": {"show": true, "node_color": null},
        "config": {"meta": m.meta, "docs": {"show": true, "node_color": null}},
        "patch_path": m.patch_path,
        "arguments": m.arguments,
        "created_at": 0.0,
        "supported_languages": null,
    })
}

/// Invocation facts recorded in `metadata`.
pub struct Invocation<'a> {
    pub invocation_id: &'a str,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// Builds the whole manifest.
pub fn build(project: &Project, dag: &Dag, inv: &Invocation<'_>) -> Value {
    let mut nodes = Map::new();
    let mut sources = Map::new();
    let mut exposures = Map::new();
    for n in project.nodes.values() {
        let created = (inv.started_at.timestamp_micros() as f64) / 1e6;
        let mut v = node_json_in(n, Some(project));
        if let Value::Object(o) = &mut v {
            o.insert("created_at".into(), json!(created));
        }
        match n.resource_type {
            ResourceType::Source => {
                sources.insert(n.unique_id.clone(), v);
            }
            ResourceType::Exposure => {
                exposures.insert(n.unique_id.clone(), v);
            }
            _ => {
                nodes.insert(n.unique_id.clone(), v);
            }
        }
    }
    let mut macros = Map::new();
    for m in project.macros.values() {
        macros.insert(m.unique_id.clone(), macro_json(m));
    }
    let mut docs = Map::new();
    docs.insert(
        "doc.dbt.__overview__".into(),
        json!({
            "name": "__overview__", "resource_type": "doc", "package_name": "dbt",
            "path": "overview.md", "original_file_path": "docs/overview.md",
            "unique_id": "doc.dbt.__overview__",
            "block_contents": "### Welcome!\n\nThis project was compiled by xform.",
        }),
    );
    for d in project.docs.values() {
        docs.insert(
            d.unique_id.clone(),
            json!({
                "name": d.name, "resource_type": "doc", "package_name": d.package_name,
                "path": d.path, "original_file_path": d.original_file_path,
                "unique_id": d.unique_id, "block_contents": d.block_contents,
            }),
        );
    }
    let mut disabled = Map::new();
    for (uid, list) in &project.disabled {
        disabled.insert(
            uid.clone(),
            Value::Array(list.iter().map(|n| node_json_in(n, Some(project))).collect()),
        );
    }
    let (parent_map, child_map) = dag.parent_child_maps();
    let mut groups = Map::new();
    let mut group_map: Map<String, Value> = Map::new();
    for (uid, g) in &project.groups {
        let name = g.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
        groups.insert(
            uid.clone(),
            json!({
                "name": name, "resource_type": "group",
                "package_name": g.get("package_name"), "path": g.get("original_file_path"),
                "original_file_path": g.get("original_file_path"), "unique_id": uid,
                "owner": g.get("owner").cloned().unwrap_or(json!({"email": null, "name": null})),
                "description": g.get("description"), "config": {"meta": {}}
            }),
        );
        let members: Vec<&str> = project
            .nodes
            .values()
            .filter(|n| n.config.get("group").and_then(Value::as_str) == Some(name.as_str()))
            .map(|n| n.unique_id.as_str())
            .collect();
        group_map.insert(name, json!(members));
    }
    let quoting = project
        .root_package()
        .map(|p| p.file.quoting.clone())
        .unwrap_or_default();
    json!({
        "metadata": {
            "dbt_schema_version": SCHEMA_VERSION,
            "dbt_version": DBT_VERSION,
            "generated_at": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "invocation_id": inv.invocation_id,
            "invocation_started_at": inv.started_at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
            "env": {},
            "project_name": project.root,
            "project_id": crate::project::properties::md5_hex(&project.root),
            "user_id": null,
            "send_anonymous_usage_stats": false,
            "adapter_type": project.target.kind,
            "quoting": {
                "database": quoting.get("database").cloned().unwrap_or(json!(true)),
                "schema": quoting.get("schema").cloned().unwrap_or(json!(true)),
                "identifier": quoting.get("identifier").cloned().unwrap_or(json!(true)),
                "column": quoting.get("column").cloned(),
            },
            "run_started_at": inv.started_at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
        },
        "nodes": nodes,
        "sources": sources,
        "macros": macros,
        "docs": docs,
        "exposures": exposures,
        "metrics": {},
        "groups": groups,
        "selectors": project_selectors(project),
        "disabled": disabled,
        "parent_map": parent_map,
        "child_map": child_map,
        "group_map": group_map,
        "saved_queries": {},
        "semantic_models": {},
        "unit_tests": {},
        "functions": {},
    })
}

fn project_selectors(project: &Project) -> Value {
    let mut out = Map::new();
    if let Some(list) = project.selectors.get("selectors").and_then(Value::as_array) {
        for s in list {
            if let Some(name) = s.get("name").and_then(Value::as_str) {
                out.insert(name.to_owned(), s.clone());
            }
        }
    }
    Value::Object(out)
}

/// Writes `manifest.json` under the target folder.
pub fn write(project: &Project, dag: &Dag, inv: &Invocation<'_>) -> std::io::Result<std::path::PathBuf> {
    let dir = project.target_path();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("manifest.json");
    let value = build(project, dag, inv);
    let file = std::fs::File::create(&path)?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut w, &value).map_err(std::io::Error::other)?;
    std::io::Write::flush(&mut w)?;
    Ok(path)
}
