//! Inlining ephemeral models as `__dbt__cte__<name>` CTEs, with the exact
//! text dbt-core produces.

use std::collections::HashMap;

/// CTEs already collected per node.
pub type Memo = HashMap<String, Vec<(String, String)>>;

/// Pre-injection SQL and used ephemerals of each compiled node.
pub type Precompiled = HashMap<String, (String, Vec<String>)>;

use crate::project::Project;

/// The CTEs a node needs, dependencies first, each as (unique id, CTE text).
/// A node's final SQL and its ephemeral CTEs (unique id, CTE text).
pub type Compiled = (String, Vec<(String, String)>);

/// Finds a node's SQL and the ephemeral models it uses.
pub type PreLookup<'a, 'b> = &'b dyn Fn(&str) -> Option<&'a (String, Vec<String>)>;

pub fn collect_ctes(
    id: &str,
    pre: PreLookup<'_, '_>,
    project: &Project,
    memo: &mut Memo,
) -> Vec<(String, String)> {
    if let Some(v) = memo.get(id) {
        return v.clone();
    }
    // Guard against cycles (already reported by the graph check).
    memo.insert(id.to_owned(), Vec::new());
    let mut out: Vec<(String, String)> = Vec::new();
    let deps = pre(id).map(|(_, d)| d.clone()).unwrap_or_default();
    for dep in deps {
        for cte in collect_ctes(&dep, pre, project, memo) {
            if !out.iter().any(|(u, _)| *u == cte.0) {
                out.push(cte);
            }
        }
        if out.iter().any(|(u, _)| *u == dep) {
            continue;
        }
        let Some((sql, _)) = pre(&dep) else {
            continue;
        };
        let alias = project
            .nodes
            .get(&dep)
            .map_or_else(|| dep.clone(), |n| n.alias.clone());
        out.push((dep.clone(), format!(" __dbt__cte__{alias} as (\n{sql}\n)")));
    }
    memo.insert(id.to_owned(), out.clone());
    out
}

/// Length of leading whitespace and SQL comments.
fn skip_ws_and_comments(sql: &str) -> usize {
    let b = sql.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if sql[i..].starts_with("--") {
            i = sql[i..].find('\n').map_or(sql.len(), |n| i + n + 1);
        } else if sql[i..].starts_with("/*") {
            i = sql[i + 2..].find("*/").map_or(sql.len(), |n| i + 2 + n + 2);
        } else {
            return i;
        }
    }
}

fn starts_with_keyword(s: &str, kw: &str) -> bool {
    s.len() >= kw.len()
        && s[..kw.len()].eq_ignore_ascii_case(kw)
        && s[kw.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
}

/// Inserts CTEs into a query: after an existing `with` (and `recursive`),
/// or as a new `with` before the first token.
pub fn inject(sql: &str, ctes: &[(String, String)]) -> String {
    if ctes.is_empty() {
        return sql.to_owned();
    }
    let joined: Vec<&str> = ctes.iter().map(|(_, c)| c.as_str()).collect();
    let joined = joined.join(", ");
    let lead_ws = sql.len() - sql.trim_start().len();
    let first = skip_ws_and_comments(sql);
    let rest = &sql[first..];
    if starts_with_keyword(rest, "with") {
        let mut kw_end = first + 4;
        let after = &sql[kw_end..];
        let ws = after.len() - after.trim_start().len();
        if starts_with_keyword(after.trim_start(), "recursive") {
            kw_end += ws + "recursive".len();
        }
        let after = &sql[kw_end..];
        let ws_len = after.len() - after.trim_start().len();
        let (ws, body) = after.split_at(ws_len);
        return format!("{}{ws}{joined}, {body}", &sql[..kw_end]);
    }
    // dbt inserts `with` before the first token; a leading comment is a
    // token to it, so the CTEs land before the comment.
    format!("{}with{joined} {}", &sql[..lead_ws], &sql[lead_ws..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctes(names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| {
                (
                    (*n).to_owned(),
                    format!(" __dbt__cte__{n} as (\nselect 1\n)"),
                )
            })
            .collect()
    }

    #[test]
    fn prepends_with_before_first_token() {
        assert_eq!(
            inject("\n\nselect a from x", &ctes(&["e"])),
            "\n\nwith __dbt__cte__e as (\nselect 1\n) select a from x"
        );
    }

    #[test]
    fn joins_existing_with() {
        assert_eq!(
            inject("with x as (select 1)\nselect * from x", &ctes(&["a", "b"])),
            "with  __dbt__cte__a as (\nselect 1\n),  __dbt__cte__b as (\nselect 1\n), x as (select 1)\nselect * from x"
        );
        assert_eq!(
            inject(
                "WITH RECURSIVE r as (select 1) select * from r",
                &ctes(&["a"])
            ),
            "WITH RECURSIVE  __dbt__cte__a as (\nselect 1\n), r as (select 1) select * from r"
        );
    }
}
