//! Node configs: the `+key` trees of `dbt_project.yml`, dbt's merge rules
//! and the defaults every resource type starts from.

use serde_json::{Map, Value, json};

use crate::node::ResourceType;

/// Configs whose value is itself a mapping. Without a `+` such a key could be
/// a folder name, so it is read as a config only where no folder of that name
/// is being walked.
const DICT_CONFIGS: &[&str] = &[
    "meta",
    "persist_docs",
    "docs",
    "grants",
    "contract",
    "column_types",
    "quoting",
    "snapshot_meta_column_names",
    "freshness",
    "labels",
];

/// Configs that accumulate across levels instead of replacing.
const LIST_APPEND: &[&str] = &["tags", "pre-hook", "post-hook"];
const DICT_MERGE: &[&str] = &[
    "meta",
    "persist_docs",
    "docs",
    "grants",
    "column_types",
    "quoting",
    "snapshot_meta_column_names",
];

/// dbt spells hooks with a dash in configs; `config(pre_hook=...)` and
/// `+pre_hook:` mean the same.
pub fn canonical_key(key: &str) -> &str {
    match key {
        "pre_hook" => "pre-hook",
        "post_hook" => "post-hook",
        "data_tests" => "tests",
        other => other,
    }
}

/// Merges `more` into `base` by dbt's rules: tags and hooks accumulate,
/// mapping configs merge key by key, everything else is replaced.
pub fn merge_into(base: &mut Map<String, Value>, more: &Map<String, Value>) {
    for (k, v) in more {
        let key = canonical_key(k);
        if key == "tags" {
            let mut list = base
                .get(key)
                .map(crate::value::string_list)
                .unwrap_or_default();
            for item in crate::value::string_list(v) {
                if !list.contains(&item) {
                    list.push(item);
                }
            }
            base.insert(key.to_owned(), json!(list));
        } else if LIST_APPEND.contains(&key) {
            let mut list = match base.remove(key) {
                Some(Value::Array(a)) => a,
                Some(other) => hook_list(&other),
                None => Vec::new(),
            };
            list.extend(hook_list(v));
            base.insert(key.to_owned(), Value::Array(list));
        } else if DICT_MERGE.contains(&key) {
            match (base.get_mut(key), v) {
                (Some(Value::Object(existing)), Value::Object(new)) => {
                    for (nk, nv) in new {
                        existing.insert(nk.clone(), nv.clone());
                    }
                }
                _ => {
                    base.insert(key.to_owned(), v.clone());
                }
            }
        } else {
            base.insert(key.to_owned(), v.clone());
        }
    }
}

/// Where a `pre-hook`/`post-hook` value holds a mapping without `sql`,
/// which dbt refuses: `Some(None)` for the value itself, `Some(Some(i))`
/// for item `i` of a list.
pub fn hook_without_sql(v: &Value) -> Option<Option<usize>> {
    let bad = |x: &Value| matches!(x, Value::Object(m) if !m.contains_key("sql"));
    match v {
        Value::Array(items) => items.iter().position(bad).map(Some),
        other => bad(other).then_some(None),
    }
}

/// Hooks as dbt reads them: a string, a string holding a JSON object
/// (what `before_begin()`/`after_commit()` return), or a `{sql,
/// transaction}` mapping; a mapping becomes `{sql, transaction}` (one
/// without `sql` stays as it is, for parsing to refuse).
pub fn hook_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.iter().flat_map(hook_list).collect(),
        Value::Null => Vec::new(),
        Value::String(s) => {
            let t = s.trim();
            if t.starts_with('{')
                && let Ok(Value::Object(o)) = serde_json::from_str::<Value>(t)
                && o.contains_key("sql")
            {
                return hook_list(&Value::Object(o));
            }
            vec![Value::String(s.clone())]
        }
        Value::Object(m) => {
            // Kept as written: parsing refuses it with its origin (XF0158).
            let Some(sql) = m.get("sql") else {
                return vec![Value::Object(m.clone())];
            };
            let sql = match sql {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let transaction = m
                .get("transaction")
                .is_none_or(|t| t.as_bool().unwrap_or(true));
            vec![json!({"sql": sql, "transaction": transaction})]
        }
        other => vec![Value::String(other.to_string())],
    }
}

/// The configs a `dbt_project.yml` tree gives a node with this fqn. `tree` is
/// the value under `models:` (or `seeds:`, ...).
pub fn from_tree(tree: &Value, fqn: &[String]) -> Map<String, Value> {
    from_tree_by(tree, fqn, merge_into)
}

/// The config a node gets from a project-file tree as written: deeper
/// levels replace a key instead of merging into it, as dbt records
/// `unrendered_config`.
pub fn from_tree_written(tree: &Value, fqn: &[String]) -> Map<String, Value> {
    from_tree_by(tree, fqn, replace_into)
}

/// Sets every key of `more` in `base`, replacing what was there.
pub fn replace_into(base: &mut Map<String, Value>, more: &Map<String, Value>) {
    for (k, v) in more {
        base.insert(canonical_key(k).to_owned(), v.clone());
    }
}

/// Whether a tree sets a key that merges across levels (`tags`, hooks,
/// `meta`, ...), so that its written form can differ from the merged one.
pub fn has_merging_keys(tree: &Value) -> bool {
    match tree {
        Value::Object(m) => m.iter().any(|(k, v)| {
            let key = canonical_key(k.trim_start_matches('+'));
            LIST_APPEND.contains(&key) || DICT_MERGE.contains(&key) || has_merging_keys(v)
        }),
        _ => false,
    }
}

fn from_tree_by(
    tree: &Value,
    fqn: &[String],
    merge: impl Fn(&mut Map<String, Value>, &Map<String, Value>),
) -> Map<String, Value> {
    let mut out = Map::new();
    let Value::Object(level) = tree else {
        return out;
    };
    let mut level: &Map<String, Value> = level;
    let mut depth = 0;
    loop {
        let next = fqn.get(depth);
        let mut here = Map::new();
        for (k, v) in level {
            if let Some(key) = k.strip_prefix('+') {
                here.insert(key.to_owned(), v.clone());
            } else if !v.is_object()
                || (DICT_CONFIGS.contains(&k.as_str()) && next.is_none_or(|n| n != k.as_str()))
            {
                here.insert(k.clone(), v.clone());
            }
        }
        merge(&mut out, &here);
        let Some(next) = next else { break };
        match level.get(next) {
            Some(Value::Object(sub)) => {
                level = sub;
                depth += 1;
            }
            _ => break,
        }
    }
    out
}

/// The config every node of a resource type starts with, in the key order
/// dbt writes to `manifest.json`.
pub fn defaults(rt: ResourceType) -> Map<String, Value> {
    defaults_ref(rt).clone()
}

/// The defaults of a resource type, built once.
pub fn defaults_ref(rt: ResourceType) -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    static CACHE: std::sync::OnceLock<Vec<(ResourceType, Map<String, Value>)>> =
        std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        [
            ResourceType::Model,
            ResourceType::Seed,
            ResourceType::Snapshot,
            ResourceType::Test,
            ResourceType::Analysis,
            ResourceType::Source,
            ResourceType::Exposure,
            ResourceType::UnitTest,
        ]
        .into_iter()
        .map(|t| (t, build_defaults(t)))
        .collect()
    });
    cache
        .iter()
        .find(|(t, _)| *t == rt)
        .map_or_else(|| EMPTY.get_or_init(Map::new), |(_, m)| m)
}

fn build_defaults(rt: ResourceType) -> Map<String, Value> {
    let mut m = Map::new();
    if rt == ResourceType::UnitTest {
        m.insert("tags".into(), json!([]));
        m.insert("meta".into(), json!({}));
        m.insert("enabled".into(), json!(true));
        m.insert("static_analysis".into(), Value::Null);
        return m;
    }
    m.insert("enabled".into(), json!(true));
    m.insert("alias".into(), Value::Null);
    m.insert("schema".into(), Value::Null);
    m.insert("database".into(), Value::Null);
    m.insert("tags".into(), json!([]));
    m.insert("meta".into(), json!({}));
    m.insert("group".into(), Value::Null);
    m.insert("static_analysis".into(), Value::Null);
    match rt {
        ResourceType::Test => {
            m.insert("materialized".into(), json!("test"));
            // dbt's default schema suffix for stored test failures.
            m.insert("schema".into(), json!("dbt_test__audit"));
            m.insert("severity".into(), json!("ERROR"));
            m.insert("store_failures".into(), Value::Null);
            m.insert("store_failures_as".into(), Value::Null);
            m.insert("where".into(), Value::Null);
            m.insert("limit".into(), Value::Null);
            m.insert("fail_calc".into(), json!("count(*)"));
            m.insert("warn_if".into(), json!("!= 0"));
            m.insert("error_if".into(), json!("!= 0"));
        }
        ResourceType::Model
        | ResourceType::Seed
        | ResourceType::Snapshot
        | ResourceType::Analysis => {
            let mat = match rt {
                ResourceType::Seed => "seed",
                ResourceType::Snapshot => "snapshot",
                _ => "view",
            };
            m.insert("materialized".into(), json!(mat));
            m.insert("incremental_strategy".into(), Value::Null);
            m.insert("batch_size".into(), Value::Null);
            m.insert("lookback".into(), json!(1));
            m.insert("begin".into(), Value::Null);
            m.insert("persist_docs".into(), json!({}));
            m.insert("post-hook".into(), json!([]));
            m.insert("pre-hook".into(), json!([]));
            m.insert("quoting".into(), json!({}));
            m.insert("column_types".into(), json!({}));
            m.insert("full_refresh".into(), Value::Null);
            m.insert("unique_key".into(), Value::Null);
            m.insert("on_schema_change".into(), json!("ignore"));
            m.insert("on_configuration_change".into(), json!("apply"));
            m.insert("grants".into(), json!({}));
            m.insert("packages".into(), json!([]));
            m.insert("docs".into(), json!({"show": true, "node_color": null}));
            m.insert(
                "contract".into(),
                json!({"enforced": false, "alias_types": true}),
            );
            m.insert("event_time".into(), Value::Null);
            m.insert("concurrent_batches".into(), Value::Null);
            match rt {
                ResourceType::Model => {
                    m.insert("access".into(), json!("protected"));
                    m.insert("freshness".into(), Value::Null);
                }
                ResourceType::Seed => {
                    m.insert("delimiter".into(), json!(","));
                    m.insert("quote_columns".into(), Value::Null);
                }
                ResourceType::Snapshot => {
                    m.insert("strategy".into(), Value::Null);
                    m.insert("target_schema".into(), Value::Null);
                    m.insert("target_database".into(), Value::Null);
                    m.insert("updated_at".into(), Value::Null);
                    m.insert("check_cols".into(), Value::Null);
                    m.insert(
                        "snapshot_meta_column_names".into(),
                        json!({"dbt_valid_to": null, "dbt_valid_from": null, "dbt_scd_id": null, "dbt_updated_at": null, "dbt_is_deleted": null}),
                    );
                    m.insert("dbt_valid_to_current".into(), Value::Null);
                }
                _ => {}
            }
        }
        ResourceType::Source => {
            m = Map::new();
            m.insert("enabled".into(), json!(true));
            m.insert("event_time".into(), Value::Null);
            m.insert(
                "freshness".into(),
                json!({"warn_after": {"count": null, "period": null}, "error_after": {"count": null, "period": null}, "filter": null}),
            );
            m.insert("loaded_at_field".into(), Value::Null);
            m.insert("loaded_at_query".into(), Value::Null);
            m.insert("meta".into(), json!({}));
            m.insert("tags".into(), json!([]));
            m.insert("static_analysis".into(), Value::Null);
        }
        ResourceType::Exposure => {
            m = Map::new();
            m.insert("enabled".into(), json!(true));
            m.insert("tags".into(), json!([]));
            m.insert("meta".into(), json!({}));
        }
        _ => {}
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fqn(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn deeper_folders_override_and_tags_accumulate() {
        let tree = json!({
            "shop": {
                "+materialized": "view",
                "+tags": ["a"],
                "marts": {"+materialized": "table", "tags": "b", "meta": {"x": 1}},
            }
        });
        let c = from_tree(&tree, &fqn(&["shop", "marts", "orders"]));
        assert_eq!(c["materialized"], json!("table"));
        assert_eq!(c["tags"], json!(["a", "b"]));
        assert_eq!(c["meta"], json!({"x": 1}));
        let c = from_tree(&tree, &fqn(&["shop", "staging", "stg"]));
        assert_eq!(c["materialized"], json!("view"));
    }

    #[test]
    fn folder_named_like_a_dict_config_is_a_folder() {
        let tree = json!({"shop": {"meta": {"+materialized": "table"}}});
        let c = from_tree(&tree, &fqn(&["shop", "meta", "m"]));
        assert_eq!(c["materialized"], json!("table"));
        assert!(!c.contains_key("meta"));
    }

    #[test]
    fn hooks_accumulate_and_normalise() {
        let mut base = Map::new();
        merge_into(&mut base, json!({"pre_hook": "a"}).as_object().unwrap());
        merge_into(
            &mut base,
            json!({"pre-hook": [{"sql": "b", "transaction": false}]})
                .as_object()
                .unwrap(),
        );
        assert_eq!(
            base["pre-hook"],
            json!(["a", {"sql": "b", "transaction": false}])
        );
        // What after_commit() returns: a JSON string.
        merge_into(
            &mut base,
            json!({"pre-hook": "\n  {\"sql\": \"c\", \"transaction\": false}\n"})
                .as_object()
                .unwrap(),
        );
        assert_eq!(
            base["pre-hook"][2],
            json!({"sql": "c", "transaction": false})
        );
    }
}
