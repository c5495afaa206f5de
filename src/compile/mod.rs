//! The parse and compile phases.
//!
//! `parse` renders every node once with `execute = false`, as dbt's parser
//! does, to learn its `config()`, `ref()`s, `source()`s and macro calls; then
//! it settles configs, names relations, resolves dependencies and checks the
//! graph. `compile` renders selected nodes again with refs resolved to
//! relations and inlines ephemeral models as CTEs.
//!
//! Invariant: neither phase opens a warehouse connection.

pub mod ephemeral;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use minijinja::Value;
use minijinja::value::Object;
use rayon::prelude::*;
use serde_json::Map;

use crate::diagnostics::{Diag, Diags, closest};
use crate::graph::Dag;
use crate::jinja::context::{NodeCtx, Phase, Recorded, Resolved, Resolver};
use crate::jinja::relation::Relation;
use crate::jinja::static_template::StaticTemplate;
use crate::jinja::{Renderer, errors};
use crate::node::{FastState, Node, RefCall, ResourceType, UnitRows};
use crate::project::{Project, config};

fn template_name(node: &Node) -> String {
    format!("node:{}", node.unique_id)
}

/// Whether a node's SQL is rendered in the parse phase.
fn is_rendered(node: &Node) -> bool {
    matches!(
        node.resource_type,
        ResourceType::Model
            | ResourceType::Snapshot
            | ResourceType::Analysis
            | ResourceType::Test
            | ResourceType::Exposure
    )
}

/// The `model` variable, built only when a template reads it.
#[derive(Debug)]
struct LazyModel {
    node: Arc<Node>,
    json: OnceLock<Value>,
}

impl LazyModel {
    fn value(&self) -> &Value {
        self.json.get_or_init(|| {
            Value::from_serialize(crate::artifacts::manifest::node_json(&self.node))
        })
    }
}

impl Object for LazyModel {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.value()
            .get_item(key)
            .ok()
            .filter(|v| !v.is_undefined())
    }
    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        let keys: Vec<Value> = self
            .value()
            .try_iter()
            .map(Iterator::collect)
            .unwrap_or_default();
        minijinja::value::Enumerator::Values(keys)
    }
}

fn model_value(node: &Node) -> Value {
    shared_model_value(Arc::new(node.clone()))
}

fn shared_model_value(node: Arc<Node>) -> Value {
    Value::from_object(LazyModel {
        node,
        json: OnceLock::new(),
    })
}

/// Renders a generic test's kwargs as dbt does: strings that look like a
/// `ref(...)`/`source(...)`/`var(...)` call are evaluated as expressions,
/// other Jinja is rendered, plain values pass through.
///
/// With `direct`, a built-in test whose helper macros are not overridden and
/// that has no `where` config gets its `ref`/`source` arguments resolved
/// directly: `get_where_subquery` would return the relation unchanged.
fn render_test_kwargs(
    renderer: &Renderer,
    ctx: &Arc<NodeCtx>,
    node: &Node,
    direct: bool,
) -> Result<Value, minijinja::Error> {
    let Some(meta) = node.test.as_ref().and_then(|t| t.metadata.as_ref()) else {
        return Ok(Value::from(()));
    };
    let mut out: Vec<(String, Value)> = Vec::new();
    let root = Value::from_dyn_object(Arc::clone(ctx));
    for (k, v) in &meta.kwargs {
        let call = if direct {
            v.as_str().and_then(static_call)
        } else {
            None
        };
        let rendered = if k == "column_name" {
            Value::from_serialize(v)
        } else if let Some(call) = call {
            match call {
                StaticCall::Ref(r) => {
                    let mut args: Vec<Value> =
                        r.package.iter().map(|p| Value::from(p.as_str())).collect();
                    args.push(Value::from(r.name.as_str()));
                    if let Some(v) = &r.version {
                        args.push(Value::from(minijinja::value::Kwargs::from_iter([(
                            "version",
                            Value::from_serialize(v.value()),
                        )])));
                    }
                    crate::jinja::context::do_ref(ctx, &args)?
                }
                StaticCall::Source([s, t]) => crate::jinja::context::do_source(
                    ctx,
                    &[Value::from(s.as_str()), Value::from(t.as_str())],
                )?,
            }
        } else {
            render_native(renderer, &root, v)?
        };
        out.push((k.clone(), rendered));
    }
    Ok(Value::from_iter(out))
}

fn looks_like_call(s: &str) -> Option<&str> {
    let t = s.trim();
    for f in ["env_var", "ref", "var", "source", "doc"] {
        if let Some(rest) = t.strip_prefix(f)
            && rest.trim_start().starts_with('(')
            && t.ends_with(')')
        {
            return Some(t);
        }
    }
    None
}

fn render_native(
    renderer: &Renderer,
    root: &Value,
    v: &serde_json::Value,
) -> Result<Value, minijinja::Error> {
    match v {
        serde_json::Value::String(s) => {
            let expr = looks_like_call(s).map(str::to_owned).or_else(|| {
                let t = s.trim();
                let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
                (!inner.contains("}}") && !inner.contains("{{")).then(|| inner.trim().to_owned())
            });
            match expr {
                Some(e) => renderer
                    .env
                    .compile_expression(&crate::jinja::mutable::rewrite_expression(&e))?
                    .eval(root),
                None if s.contains("{{") || s.contains("{%") => {
                    let source = crate::jinja::mutable::rewrite(s);
                    let t = renderer.env.template_from_str(&source)?;
                    t.render(root).map(Value::from)
                }
                None => Ok(Value::from(s.as_str())),
            }
        }
        serde_json::Value::Array(a) => {
            let mut out = Vec::with_capacity(a.len());
            for x in a {
                out.push(render_native(renderer, root, x)?);
            }
            // Python lists: a test may append to its arguments.
            Ok(crate::jinja::mutable::make_list(Value::from(out)))
        }
        serde_json::Value::Object(m) => {
            let mut out = Vec::with_capacity(m.len());
            for (k, x) in m {
                out.push((k.clone(), render_native(renderer, root, x)?));
            }
            Ok(crate::jinja::mutable::make_dict(Value::from_iter(out)))
        }
        other => Ok(Value::from_serialize(other)),
    }
}

/// Renders one node's template in the parse phase.
///
/// The node is lent to the `model` variable for the render (moved, not
/// copied) and put back after it; it is copied only if the template kept
/// `model` somewhere that outlives the render.
///
/// A template without Jinja statements is read without a render, as dbt's
/// static parser reads it (`unrendered` counts those); if one of its calls
/// fails, the render reports the error.
fn parse_node(
    renderer: &Renderer,
    project: &Project,
    node: &mut Node,
    unrendered: &AtomicUsize,
) -> Result<Recorded, Diag> {
    if let Some(t) = static_template(renderer, node) {
        let ctx = NodeCtx::new(
            Arc::clone(&renderer.shared),
            Phase::Parse,
            &node.package_name,
        );
        if t.render(&ctx).is_ok() {
            unrendered.fetch_add(1, Ordering::Relaxed);
            return Ok(ctx.take_recorded());
        }
    }
    let lent = Arc::new(std::mem::replace(node, Node::vacant(node.resource_type)));
    let result = {
        let mut ctx = NodeCtx::new(
            Arc::clone(&renderer.shared),
            Phase::Parse,
            &lent.package_name,
        );
        ctx.this = Some(Relation::new(
            &project.target.database,
            &project.target.schema,
            &lent.name,
        ));
        ctx.model = shared_model_value(Arc::clone(&lent));
        ctx.config.clone_from(&lent.config);
        config::merge_into(ctx.config.explicit_mut(), &lent.yaml_config);
        let ctx = Arc::new(ctx);
        render_node(renderer, project, &lent, &ctx, false).map(|_| ctx.take_recorded())
    };
    *node = Arc::try_unwrap(lent).unwrap_or_else(|shared| (*shared).clone());
    result
}

/// A model's template when it needs no Jinja engine (see
/// `jinja::static_template`), where the renderer allows it
/// ([`Renderer::static_templates`]).
fn static_template<'a>(renderer: &Renderer, node: &'a Node) -> Option<StaticTemplate<'a>> {
    if !renderer.static_templates
        || node.resource_type != ResourceType::Model
        || node.test.is_some()
    {
        return None;
    }
    StaticTemplate::parse(&node.raw_code)
}

/// Renders a node's template in `ctx`. A generic test also gets its
/// rendered arguments as `_dbt_generic_test_kwargs` (see
/// `render_test_kwargs` for `direct`).
fn render_node(
    renderer: &Renderer,
    project: &Project,
    node: &Node,
    ctx: &Arc<NodeCtx>,
    direct: bool,
) -> Result<String, Diag> {
    let diag = |e: &minijinja::Error| errors::to_diag(e, project, Some(node));
    let root = if node.test.as_ref().is_some_and(|t| t.metadata.is_some()) {
        let kwargs = render_test_kwargs(renderer, ctx, node, direct).map_err(|e| diag(&e))?;
        Value::from_object(WithExtra {
            base: Value::from_dyn_object(Arc::clone(ctx)),
            name: "_dbt_generic_test_kwargs",
            value: kwargs,
        })
    } else {
        Value::from_dyn_object(Arc::clone(ctx))
    };
    let tname = template_name(node);
    let source = crate::jinja::mutable::rewrite(&node.raw_code);
    let tmpl = renderer
        .env
        .template_from_named_str(&tname, &source)
        .map_err(|e| diag(&e))?;
    tmpl.render(root).map_err(|e| diag(&e))
}

/// Whether the root project replaces one of dbt's naming macros.
fn naming_overridden(project: &Project, base: &str) -> bool {
    let adapter_prefixes = crate::adapter::for_kind(&project.target.kind)
        .map(|a| a.dispatch_prefixes().to_vec())
        .unwrap_or_default();
    let mut names = vec![base.to_owned(), format!("default__{base}")];
    for p in adapter_prefixes {
        names.push(format!("{p}__{base}"));
    }
    project
        .macros
        .values()
        .any(|m| !m.builtin && names.contains(&m.name))
}

fn conf_str<'a>(c: &'a crate::node::NodeConfig, key: &str) -> Option<&'a str> {
    c.get(key).and_then(serde_json::Value::as_str)
}

/// Calls a naming macro (`generate_schema_name` ...) for a node.
fn call_naming_macro(
    renderer: &Renderer,
    project: &Project,
    node: &Node,
    name: &str,
    custom: Option<&str>,
) -> Result<String, Diag> {
    let ctx = Arc::new({
        let mut c = NodeCtx::new(
            Arc::clone(&renderer.shared),
            Phase::Parse,
            &node.package_name,
        );
        c.model = model_value(node);
        c.config.clone_from(&node.config);
        c
    });
    let custom_v = custom.map_or(Value::from(()), Value::from);
    let source = format!("{name}(__custom, model)");
    let expr = renderer
        .env
        .compile_expression(&source)
        .map_err(|e| errors::to_diag(&e, project, Some(node)))?;
    let root = Value::from_object(WithExtra {
        base: Value::from_dyn_object(ctx),
        name: "__custom",
        value: custom_v,
    });
    let v = expr
        .eval(root)
        .map_err(|e| errors::to_diag(&e, project, Some(node)))?;
    Ok(v.as_str()
        .map_or_else(|| v.to_string(), str::to_owned)
        .trim()
        .to_owned())
}

/// A context with one more variable.
#[derive(Debug)]
struct WithExtra {
    base: Value,
    name: &'static str,
    value: Value,
}

impl Object for WithExtra {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if key.as_str() == Some(self.name) {
            return Some(self.value.clone());
        }
        self.base.get_item(key).ok().filter(|v| !v.is_undefined())
    }
}

/// Renders `{{ doc('name') }}` and other Jinja in descriptions, recording
/// the doc blocks each description calls (the node's own in
/// `Node::doc_blocks`, each column's in `Column::doc_blocks`), as dbt does.
fn render_descriptions(
    renderer: &Renderer,
    project: &Project,
    node: &mut Node,
) -> Result<(), Diag> {
    let needs = |s: &str| s.contains("{{") || s.contains("{%");
    if !needs(&node.description) && !node.columns.values().any(|c| needs(&c.description)) {
        return Ok(());
    }
    let ctx = Arc::new(NodeCtx::new(
        Arc::clone(&renderer.shared),
        Phase::Parse,
        &node.package_name,
    ));
    let root = Value::from_dyn_object(ctx);
    let package = node.package_name.clone();
    let shown = node.clone_header();
    let render = |text: &str| -> Result<(String, Vec<String>), Diag> {
        let blocks = doc_calls(text)
            .into_iter()
            .filter_map(|(pkg, name)| resolve_doc(project, pkg.as_deref(), &name, &package))
            .collect();
        let source = crate::jinja::mutable::rewrite(text);
        let rendered = renderer
            .env
            .render_str(&source, &root)
            .map_err(|e| errors::to_diag(&e, project, Some(&shown)))?;
        Ok((rendered, blocks))
    };
    if needs(&node.description) {
        (node.description, node.doc_blocks) = render(&node.description)?;
    }
    let mut cols = std::mem::take(&mut node.columns);
    for c in cols.values_mut() {
        if needs(&c.description) {
            (c.description, c.doc_blocks) = render(&c.description)?;
        }
    }
    node.columns = cols;
    Ok(())
}

/// The unique id of the doc block `doc(name)` or `doc(package, name)`
/// finds from a node of `node_package`, searched as dbt's `resolve_doc`
/// does: the named package only; else the root project, the node's
/// package, then any package.
fn resolve_doc(
    project: &Project,
    package: Option<&str>,
    name: &str,
    node_package: &str,
) -> Option<String> {
    let find = |pkg: Option<&str>| {
        project
            .docs
            .values()
            .find(|d| d.name == name && pkg.is_none_or(|p| d.package_name == p))
            .map(|d| d.unique_id.clone())
    };
    match package {
        Some(p) => find(Some(p)),
        None => find(Some(&project.root))
            .or_else(|| find(Some(node_package)))
            .or_else(|| find(None)),
    }
}

/// `doc('name')` / `doc('pkg', 'name')` calls in a text.
fn doc_calls(text: &str) -> Vec<(Option<String>, String)> {
    static RE: OnceLock<Option<regex::Regex>> = OnceLock::new();
    let Some(re) = RE.get_or_init(|| {
        regex::Regex::new(r#"doc\(\s*['"]([\w]+)['"]\s*(?:,\s*['"]([\w]+)['"]\s*)?\)"#).ok()
    }) else {
        return Vec::new();
    };
    re.captures_iter(text)
        .map(|c| match c.get(2) {
            Some(n) => (Some(c[1].to_owned()), n.as_str().to_owned()),
            None => (None, c[1].to_owned()),
        })
        .collect()
}

/// Settles a node's config, names and tags after its parse render.
/// A hook is SQL text or a `{sql, transaction}` mapping: dbt refuses a
/// mapping without `sql` when it parses the project, and so does xform
/// (dropping it would silently skip the hook).
fn check_hooks(
    project: &Project,
    node: &Node,
    origin: &str,
    cfg: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), Diag> {
    for (key, v) in cfg {
        let canonical = config::canonical_key(key);
        if !matches!(canonical, "pre-hook" | "post-hook") {
            continue;
        }
        if let Some(at) = config::hook_without_sql(v) {
            let bad = at.and_then(|i| v.get(i)).unwrap_or(v);
            let mut d = Diag::error(
                "XF0158",
                format!(
                    "a `{canonical}` of {} `{}` (from {origin}) is a mapping without `sql`: {bad}",
                    node.resource_type.as_str(),
                    node.name
                ),
            )
            .with_help(
                "a hook is SQL text, or a mapping `{sql: \"...\", transaction: true|false}`",
            );
            if let Some(span) = &node.span {
                d = d.with_source(project.source_text(&span.file)).with_label(
                    span.offset,
                    0,
                    "in this node",
                );
            }
            return Err(d);
        }
    }
    Ok(())
}

fn settle(
    renderer: &Renderer,
    project: &Project,
    node: &mut Node,
    mut recorded: Recorded,
    overrides: (bool, bool, bool),
    test_macros: &TestMacros<'_>,
) -> Result<(), Diag> {
    let rt = node.resource_type;
    render_descriptions(renderer, project, node)?;
    let project_cfg = std::mem::take(&mut node.config).into_explicit();
    let yaml_cfg = std::mem::take(&mut node.yaml_config);
    // Those of `dbt_project.yml` are reported where they are written, at load.
    for (origin, cfg) in [
        ("its properties YAML", &yaml_cfg),
        ("its `config()` call", &recorded.config),
    ] {
        check_hooks(project, node, origin, cfg)?;
    }
    // Effective config accumulates tags and hooks; `unrendered_config`
    // records what was written, later levels replacing earlier ones.
    let mut effective = project_cfg.clone();
    config::merge_into(&mut effective, &yaml_cfg);
    config::merge_into(&mut effective, &recorded.config);
    // Jinja in YAML configs was rendered at load; record what was written.
    let raw_project = crate::project::project_config_written(&project.packages, node);
    let raw_yaml = node.raw_yaml_config.take();
    let mut unrendered = project_cfg;
    for (k, v) in raw_project
        .iter()
        .flatten()
        .chain(raw_yaml.as_deref().unwrap_or(&yaml_cfg))
        .chain(recorded.config.iter())
    {
        unrendered.insert(config::canonical_key(k).to_owned(), v.clone());
    }
    if !recorded.config.is_empty() || !recorded.vars.is_empty() {
        node.facts = Some(Box::new(crate::node::ParseFacts {
            config_call_keys: recorded
                .config
                .keys()
                .map(|k| config::canonical_key(k).to_owned())
                .collect(),
            vars: std::mem::take(&mut recorded.vars),
        }));
    }
    if rt == ResourceType::UnitTest {
        node.tags = effective
            .get("tags")
            .map(crate::value::string_list)
            .unwrap_or_default();
        if let Some(serde_json::Value::Object(m)) = effective.get("meta") {
            node.meta.clone_from(m);
        }
    }
    if matches!(
        rt,
        ResourceType::Exposure | ResourceType::Source | ResourceType::UnitTest
    ) {
        node.config = crate::node::NodeConfig::new(rt, effective);
        node.unrendered_config = unrendered;
        if rt == ResourceType::Source {
            node.relation_name = Some(relation_for(project, node).render());
        }
        return Ok(());
    }
    // Mapping configs (`docs`, `contract`, ...) merge into their defaults.
    let mut explicit = effective;
    let defaults = config::defaults_ref(rt);
    for (k, v) in &mut explicit {
        if let (Some(serde_json::Value::Object(d)), serde_json::Value::Object(given)) =
            (defaults.get(k), &*v)
        {
            let mut merged = d.clone();
            for (gk, gv) in given {
                merged.insert(gk.clone(), gv.clone());
            }
            *v = serde_json::Value::Object(merged);
        }
    }
    let cfg = crate::node::NodeConfig::shared(rt, explicit);
    // Tags a node had before (a model version's from its file's fqn) stay,
    // as dbt adds tags to a node and never removes them.
    let mut tags = std::mem::take(&mut node.tags);
    for t in cfg
        .get("tags")
        .map(crate::value::string_list)
        .unwrap_or_default()
    {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    node.tags = tags;
    if let Some(serde_json::Value::Object(m)) = cfg.get("meta") {
        for (k, v) in m {
            node.meta.insert(k.clone(), v.clone());
        }
    }
    node.config = cfg;
    node.unrendered_config = unrendered;
    node.refs = std::mem::take(&mut recorded.refs);
    node.sources = std::mem::take(&mut recorded.sources);
    add_constraint_parents(node);
    if let Some(meta) = node.test.as_ref().and_then(|t| t.metadata.as_ref()) {
        let pkg = meta.namespace.as_deref().unwrap_or("dbt");
        let wanted = format!("test_{}", meta.name);
        let test_macro = test_macros
            .named(&wanted)
            .find(|m| {
                m.package_name == pkg
                    || (meta.namespace.is_none()
                        && (m.package_name == node.package_name || m.package_name == project.root))
            })
            .map_or_else(
                || format!("macro.{pkg}.test_{}", meta.name),
                |m| m.unique_id.clone(),
            );
        // The test macro comes first. dbt parses `unique`, `not_null` and
        // the like without rendering their arguments: the test macro is
        // their only macro until they are compiled. Any other generic test
        // is parsed in a context that holds only the test macro,
        // `get_where_subquery` and what they call (`TestMacroNamespace`):
        // any other macro its arguments call is undefined there, so it is
        // not recorded until compile. (A macro the test macro itself calls
        // would be; xform keeps none of those until compile either.)
        let wheres: Vec<&String> = if is_fast_parsed_test(&test_macro) {
            Vec::new()
        } else {
            recorded
                .macros
                .iter()
                .filter(|m| m.ends_with(".get_where_subquery") && **m != test_macro)
                .collect()
        };
        let mut macros = Vec::with_capacity(1 + wheres.len());
        macros.push(test_macro);
        macros.extend(wheres.into_iter().cloned());
        node.depends_on_macros = macros;
    } else {
        node.depends_on_macros = std::mem::take(&mut recorded.macros);
    }

    // Names: snapshots with the legacy `target_schema` skip the macros.
    let custom_schema = conf_str(&node.config, "schema").map(str::to_owned);
    let custom_db = conf_str(&node.config, "database").map(str::to_owned);
    let custom_alias = conf_str(&node.config, "alias").map(str::to_owned);
    let target = &project.target;
    node.schema =
        if let (ResourceType::Snapshot, Some(ts)) = (rt, conf_str(&node.config, "target_schema")) {
            ts.to_owned()
        } else if overrides.0 {
            call_naming_macro(
                renderer,
                project,
                node,
                "generate_schema_name",
                custom_schema.as_deref(),
            )?
        } else {
            match &custom_schema {
                Some(c) => format!("{}_{}", target.schema, c.trim()),
                None => target.schema.clone(),
            }
        };
    node.database = if let (ResourceType::Snapshot, Some(td)) =
        (rt, conf_str(&node.config, "target_database"))
    {
        td.to_owned()
    } else if overrides.2 {
        call_naming_macro(
            renderer,
            project,
            node,
            "generate_database_name",
            custom_db.as_deref(),
        )?
    } else {
        custom_db.unwrap_or_else(|| target.database.clone())
    };
    node.alias = if overrides.1 {
        call_naming_macro(
            renderer,
            project,
            node,
            "generate_alias_name",
            custom_alias.as_deref(),
        )?
    } else {
        match (&custom_alias, &node.version) {
            (Some(a), _) => a.trim().to_owned(),
            (None, Some(v)) => format!("{}_v{}", node.name, v.text().replace('.', "_")),
            (None, None) => node.name.clone(),
        }
    };
    if matches!(
        rt,
        ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
    ) && !node.is_ephemeral()
    {
        node.relation_name = Some(relation_for(project, node).render());
    }
    Ok(())
}

/// The quoted relation of a node, honouring `quoting:` in the project and
/// the node's config.
pub fn relation_for(project: &Project, node: &Node) -> Relation {
    let mut r = Relation::new(&node.database, &node.schema, &node.alias);
    let adapter = crate::adapter::for_kind(&project.target.kind);
    if let Some(a) = &adapter {
        r.quote = a.default_quote_policy();
        r.quote_char = a.quote_char();
    }
    let mut apply = |m: &Map<String, serde_json::Value>| {
        if let Some(b) = m.get("database").and_then(serde_json::Value::as_bool) {
            r.quote.0 = b;
        }
        if let Some(b) = m.get("schema").and_then(serde_json::Value::as_bool) {
            r.quote.1 = b;
        }
        if let Some(b) = m.get("identifier").and_then(serde_json::Value::as_bool) {
            r.quote.2 = b;
        }
    };
    if let Some(root) = project.root_package() {
        apply(&root.file.quoting);
    }
    if let Some(serde_json::Value::Object(q)) = node.config.get("quoting") {
        apply(q);
    }
    if let Some(src) = &node.source {
        apply(&src.quoting);
    }
    r.kind = Some(match node.materialized() {
        "table" | "incremental" | "seed" | "snapshot" => "table".to_owned(),
        other => other.to_owned(),
    });
    r
}

/// Finds the offset of a `ref('name')` / `source(..)` call in a node's file,
/// for pointing errors at it.
fn find_call(project: &Project, node: &Node, func: &str, name: &str) -> Option<(usize, usize)> {
    // `ref('m', v=2)`: the call that also names the version, when a
    // versioned call is meant.
    let (name, version) = match name.split_once('\0') {
        Some((n, v)) => (n, Some(v)),
        None => (name, None),
    };
    let text = project.source_text(&node.abs_path);
    let t = &text.text;
    let mut from = 0;
    while let Some(i) = t[from..].find(func) {
        let at = from + i;
        let rest = &t[at + func.len()..];
        let rest_trim = rest.trim_start();
        if rest_trim.starts_with('(') {
            let close = rest.find(')').unwrap_or(rest.len());
            let args = &rest[..close];
            if (args.contains(&format!("'{name}'")) || args.contains(&format!("\"{name}\"")))
                && version.is_none_or(|v| {
                    args.split_once('=')
                        .is_some_and(|(_, val)| val.trim().trim_matches(['\'', '"']) == v)
                })
            {
                return Some((at, func.len() + close + 1));
            }
        }
        from = at + func.len();
    }
    None
}

/// Looks up refs and sources by dbt's rules.
pub struct Lookup {
    /// (package, name) → unique ids of enabled refable nodes.
    by_name: HashMap<String, Vec<(String, String)>, FastState>,
    sources: HashMap<(String, String), Vec<String>, FastState>,
    disabled: HashMap<String, String, FastState>,
    root: String,
}

impl Lookup {
    pub fn new(project: &Project) -> Self {
        let mut by_name: HashMap<String, Vec<(String, String)>, FastState> =
            HashMap::with_capacity_and_hasher(project.nodes.len(), FastState::default());
        let mut sources: HashMap<(String, String), Vec<String>, FastState> = HashMap::default();
        for n in project.nodes.values() {
            match n.resource_type {
                ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot => {
                    // A version is found as `name.v<v>`; the latest also
                    // by the model's name, as dbt's ref lookup stores them.
                    let entry = (n.package_name.clone(), n.unique_id.clone());
                    if n.version.is_some() && n.is_latest_version() {
                        by_name
                            .entry(n.name.clone())
                            .or_default()
                            .push(entry.clone());
                    }
                    by_name.entry(n.search_name()).or_default().push(entry);
                }
                ResourceType::Source => {
                    if let Some(s) = &n.source {
                        sources
                            .entry((s.source_name.clone(), n.name.clone()))
                            .or_default()
                            .push(n.unique_id.clone());
                    }
                }
                _ => {}
            }
        }
        let mut disabled = HashMap::default();
        for (uid, list) in &project.disabled {
            if let Some(n) = list.first() {
                if n.is_latest_version() {
                    disabled.insert(n.name.clone(), uid.clone());
                }
                disabled.insert(n.search_name(), uid.clone());
            }
        }
        Self {
            by_name,
            sources,
            disabled,
            root: project.root.clone(),
        }
    }

    /// dbt's search: a named package; else the root project, then the
    /// node's own package, then any package.
    /// The nodes a ref's name (with its version) can mean.
    fn named(&self, call: &RefCall) -> Option<&Vec<(String, String)>> {
        match &call.version {
            // The name as it is: no string built per lookup.
            None => self.by_name.get(call.name.as_str()),
            Some(_) => self.by_name.get(&call.search_name()),
        }
    }

    pub fn find_ref(&self, from_package: &str, call: &RefCall) -> Option<&str> {
        let cands = self.named(call)?;
        if let Some(p) = &call.package {
            return cands
                .iter()
                .find(|(pk, _)| pk == p)
                .map(|(_, u)| u.as_str());
        }
        cands
            .iter()
            .find(|(pk, _)| *pk == self.root)
            .or_else(|| cands.iter().find(|(pk, _)| pk == from_package))
            .or_else(|| {
                if cands.len() == 1 {
                    cands.first()
                } else {
                    None
                }
            })
            .map(|(_, u)| u.as_str())
    }

    /// Packages that each define `name`, when a ref without a package
    /// cannot choose between them.
    pub fn ambiguous(&self, from_package: &str, call: &RefCall) -> Option<Vec<&str>> {
        if call.package.is_some() {
            return None;
        }
        let cands = self.named(call)?;
        let local = cands
            .iter()
            .any(|(pk, _)| *pk == self.root || pk == from_package);
        (!local && cands.len() > 1).then(|| cands.iter().map(|(pk, _)| pk.as_str()).collect())
    }

    pub fn find_source(&self, from_package: &str, src: &str, tbl: &str) -> Option<&str> {
        let cands = self.sources.get(&(src.to_owned(), tbl.to_owned()))?;
        cands
            .iter()
            .find(|u| u.starts_with(&format!("source.{from_package}.")))
            .or_else(|| cands.first())
            .map(String::as_str)
    }
}

/// Runs the parse phase over the whole project.
pub fn parse(project: &mut Project, renderer: &Renderer, diags: &mut Diags) -> Dag {
    let overrides = (
        naming_overridden(project, "generate_schema_name"),
        naming_overridden(project, "generate_alias_name"),
        naming_overridden(project, "generate_database_name"),
    );
    let static_tests = StaticTests::new(project);
    // The node map is taken out while its nodes are rendered in parallel in
    // place (nothing is copied or moved); the project stays readable for
    // macros and errors.
    let mut nodes = std::mem::take(&mut project.nodes);
    let t = crate::timing::Stopwatch::start();
    let unrendered = AtomicUsize::new(0);
    let failed: Vec<(String, Diag)> = {
        let p: &Project = project;
        let test_macros = TestMacros::new(p);
        // Small pieces: models (rendered) and tests (mostly not) cost very
        // different amounts, and no core should be left alone with the last
        // large piece.
        nodes
            .par_iter_mut()
            .with_max_len(64)
            .filter_map(|(id, node)| {
                let recorded = if let Some(r) = static_tests.recorded(node) {
                    r
                } else if is_rendered(node) {
                    match parse_node(renderer, p, node, &unrendered) {
                        Ok(r) => r,
                        Err(d) => return Some((id.clone(), d)),
                    }
                } else {
                    Recorded::default()
                };
                settle(renderer, p, node, recorded, overrides, &test_macros)
                    .err()
                    .map(|d| (id.clone(), d))
            })
            .collect()
    };
    tracing::debug!(
        "rendered and settled nodes in {t} ({} models read without a render)",
        unrendered.into_inner()
    );
    let t = crate::timing::Stopwatch::start();
    // A node that failed stays out of the graph; its error is reported.
    if !failed.is_empty() {
        let bad: std::collections::HashSet<&str> =
            failed.iter().map(|(id, _)| id.as_str()).collect();
        nodes.retain(|id, _| !bad.contains(id.as_str()));
    }
    for (_, d) in failed {
        diags.push(d);
    }
    if nodes.values().any(|n| !n.enabled()) {
        let all = std::mem::take(&mut nodes);
        for (id, n) in all {
            if n.enabled() {
                nodes.insert(id, n);
            } else {
                project.disabled.entry(id).or_default().push(n);
            }
        }
    }
    project.nodes = nodes;
    // Both only read the project: side by side.
    let (collisions, lookup) =
        rayon::join(|| relation_collisions(project), || Lookup::new(project));
    diags.extend(collisions);
    resolve_dependencies(project, &lookup, diags);
    resolve_constraint_targets(project);
    resolve_unit_tests(project, diags);
    warn_model_versions(project, diags);
    tracing::debug!("resolved dependencies in {t}");
    let t = crate::timing::Stopwatch::start();
    let dag = Dag::build(&project.nodes);
    for cycle in dag.cycles() {
        diags.push(cycle_diag(project, &cycle));
    }
    tracing::debug!("built the graph in {t}");
    dag
}

/// The project's test macros (`test_<name>`) by name, in the order of
/// `Project::macros`: each generic test looks up its macro, and a scan of
/// every macro per test is slow for tens of thousands of tests.
struct TestMacros<'a>(HashMap<&'a str, Vec<&'a crate::project::MacroDef>, FastState>);

impl<'a> TestMacros<'a> {
    fn new(project: &'a Project) -> Self {
        let mut by_name: HashMap<&str, Vec<_>, FastState> = HashMap::default();
        for m in project
            .macros
            .values()
            .filter(|m| m.name.starts_with("test_"))
        {
            by_name.entry(m.name.as_str()).or_default().push(m);
        }
        Self(by_name)
    }

    fn named(&self, name: &str) -> impl Iterator<Item = &'a crate::project::MacroDef> + '_ {
        self.0.get(name).into_iter().flatten().copied()
    }
}

/// dbt's four built-in generic tests need no render to be parsed: their
/// only refs are in their arguments, which have fixed shapes. Skipping the
/// render keeps parsing large projects fast. Any override of the test or
/// helper macros turns this off.
struct StaticTests {
    enabled: bool,
    /// Their SQL needs no render either: nothing replaces the SQL of the
    /// tests, `should_store_failures` or any adapter's variant of them.
    sql: bool,
    where_subquery: String,
}

const BUILTIN_TESTS: [&str; 4] = ["unique", "not_null", "accepted_values", "relationships"];

impl StaticTests {
    fn new(project: &Project) -> Self {
        let overridden = project.macros.values().any(|m| {
            !m.builtin
                && (m.name == "get_where_subquery"
                    || m.name.ends_with("__get_where_subquery")
                    || BUILTIN_TESTS
                        .iter()
                        .any(|t| m.name.ends_with(&format!("test_{t}"))))
        });
        let sql_overridden = project.macros.values().any(|m| {
            (!m.builtin && m.name == "should_store_failures")
                || BUILTIN_TESTS.iter().any(|t| {
                    m.name.ends_with(&format!("__test_{t}"))
                        && m.name != format!("default__test_{t}")
                })
        });
        Self {
            enabled: !overridden,
            sql: !overridden && !sql_overridden,
            where_subquery: "macro.dbt.get_where_subquery".to_owned(),
        }
    }

    /// The compiled SQL of one of the four built-in generic tests, byte for
    /// byte what rendering dbt's macros gives, and the ephemeral models it
    /// reads; `None` when anything about the test needs the render (a
    /// `where:` config, templated arguments, a versioned ref, an argument
    /// that does not resolve: the render reports those).
    fn compile(
        &self,
        resolver: &dyn Resolver,
        shared: &crate::jinja::Shared,
        node: &Node,
    ) -> Option<(String, Vec<String>)> {
        use std::fmt::Write as _;
        if !self.sql {
            return None;
        }
        let test = node.test.as_ref()?;
        let meta = test.metadata.as_ref()?;
        if meta.namespace.is_some()
            || !BUILTIN_TESTS.contains(&meta.name.as_str())
            || node
                .raw_code
                .strip_prefix("{{ test_")
                .and_then(|r| r.strip_suffix("(**_dbt_generic_test_kwargs) }}"))
                != Some(meta.name.as_str())
            || node.config.get("where").is_some_and(|w| !w.is_null())
        {
            return None;
        }
        let plain = |v: &serde_json::Value| -> Option<String> {
            let s = v.as_str()?;
            (!s.contains("{{") && !s.contains("{%") && looks_like_call(s).is_none())
                .then(|| s.to_owned())
        };
        let mut ephemerals: Vec<String> = Vec::new();
        let mut relation = |v: &serde_json::Value| -> Option<String> {
            let rel = match static_call(v.as_str()?)? {
                StaticCall::Ref(call) => {
                    if call.version.is_some() {
                        return None;
                    }
                    let r = resolver.resolve_ref(&node.package_name, &call).ok()?;
                    if r.ephemeral && !ephemerals.contains(&r.unique_id) {
                        ephemerals.push(r.unique_id);
                    }
                    r.relation
                }
                StaticCall::Source([s, t]) => resolver.resolve_source(&s, &t).ok()?,
            };
            Some(rel.render())
        };
        let (mut column, mut model, mut values, mut quote, mut to, mut field) =
            (None, None, None, true, None, None);
        // Arguments in their declared order: refs resolve in that order, as
        // the render resolves them.
        for (k, v) in &meta.kwargs {
            match (meta.name.as_str(), k.as_str()) {
                (_, "column_name") => column = Some(v.as_str()?.to_owned()),
                (_, "model") => model = Some(relation(v)?),
                ("accepted_values", "values") => {
                    let mut out = Vec::new();
                    for x in v.as_array()? {
                        out.push(match x {
                            serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => {
                                n.to_string()
                            }
                            _ => plain(x)?,
                        });
                    }
                    values = Some(out);
                }
                ("accepted_values", "quote") => quote = v.as_bool()?,
                ("relationships", "to") => to = Some(relation(v)?),
                ("relationships", "field") => field = Some(plain(v)?),
                _ => return None,
            }
        }
        let (col, model) = (column?, model?);
        let mut body = String::with_capacity(256);
        body.push_str("\n    \n    \n\n");
        match meta.name.as_str() {
            "not_null" => {
                let store = match node.config.get("store_failures") {
                    None | Some(serde_json::Value::Null) => shared.store_failures_flag(),
                    Some(serde_json::Value::Bool(b)) => *b,
                    Some(_) => return None,
                };
                let list = if store { "*" } else { col.as_str() };
                let _ = write!(
                    body,
                    "\n\nselect {list}\nfrom {model}\nwhere {col} is null\n\n"
                );
            }
            "unique" => {
                let _ = write!(
                    body,
                    "select\n    {col} as unique_field,\n    count(*) as n_records\n\n\
                     from {model}\nwhere {col} is not null\ngroup by {col}\n\
                     having count(*) > 1\n\n"
                );
            }
            "accepted_values" => {
                let list: Vec<String> = values?
                    .into_iter()
                    .map(|v| if quote { format!("'{v}'") } else { v })
                    .collect();
                let _ = write!(
                    body,
                    "with all_values as (\n\n    select\n        {col} as value_field,\n\
                     \x20       count(*) as n_records\n\n    from {model}\n    group by {col}\n\n)\n\n\
                     select *\nfrom all_values\nwhere value_field not in (\n    {}\n)\n\n",
                    list.join(",")
                );
            }
            _ => {
                let (to, field) = (to?, field?);
                let _ = write!(
                    body,
                    "with child as (\n    select {col} as from_field\n    from {model}\n\
                     \x20   where {col} is not null\n),\n\nparent as (\n    select {field} as to_field\n\
                     \x20   from {to}\n)\n\nselect\n    from_field\n\nfrom child\nleft join parent\n\
                     \x20   on child.from_field = parent.to_field\n\nwhere parent.to_field is null\n\n"
                );
            }
        }
        body.push('\n');
        Some((body, ephemerals))
    }

    fn recorded(&self, node: &Node) -> Option<Recorded> {
        if !self.enabled {
            return None;
        }
        let meta = node.test.as_ref()?.metadata.as_ref()?;
        if meta.namespace.is_some()
            || !matches!(
                meta.name.as_str(),
                "unique" | "not_null" | "accepted_values" | "relationships"
            )
        {
            return None;
        }
        let mut rec = Recorded::default();
        for (k, v) in &meta.kwargs {
            if k == "column_name" {
                continue;
            }
            match v {
                serde_json::Value::String(s)
                    if (s.contains('(') || s.contains("{{") || s.contains("{%")) =>
                {
                    let call = static_call(s)?;
                    match call {
                        StaticCall::Ref(mut r) => {
                            // dbt records the ref of `unique` and `not_null`
                            // to a model version with the version as
                            // declared (`1`), others as rendered (`'1'`).
                            if k == "model"
                                && matches!(meta.name.as_str(), "unique" | "not_null")
                                && let Some(v) =
                                    node.test.as_ref().and_then(|t| t.target_version.as_ref())
                            {
                                r.version = Some(v.clone());
                            }
                            if !rec.refs.contains(&r) {
                                rec.refs.push(r);
                            }
                        }
                        StaticCall::Source(pair) => {
                            if !rec.sources.contains(&pair) {
                                rec.sources.push(pair);
                            }
                        }
                    }
                }
                serde_json::Value::Array(a)
                    if a.iter().any(|x| {
                        x.as_str()
                            .is_some_and(|s| s.contains("{{") || s.contains("{%"))
                    }) =>
                {
                    return None;
                }
                serde_json::Value::Object(_) => return None,
                _ => {}
            }
        }
        rec.macros.push(self.where_subquery.clone());
        rec.config = node
            .test
            .as_ref()
            .map(|t| t.config.clone())
            .unwrap_or_default();
        Some(rec)
    }
}

enum StaticCall {
    Ref(RefCall),
    Source([String; 2]),
}

/// Recognises `ref('m')`, `ref('pkg', 'm')`, `source('s', 't')`, optionally
/// wrapped as `{{ get_where_subquery(...) }}`; anything else is `None`.
fn static_call(s: &str) -> Option<StaticCall> {
    let mut t = s.trim();
    if let Some(inner) = t.strip_prefix("{{").and_then(|x| x.strip_suffix("}}")) {
        t = inner.trim();
        t = t
            .strip_prefix("get_where_subquery(")?
            .strip_suffix(')')?
            .trim();
    }
    let (func, rest) = t.split_once('(')?;
    let args = rest.strip_suffix(')')?;
    let mut parts = Vec::new();
    let mut version = None;
    for a in args.split(',') {
        let a = a.trim();
        if let Some(v) = a.strip_prefix("version=").or_else(|| a.strip_prefix("v=")) {
            version = Some(crate::node::Version::from_literal(v)?);
            continue;
        }
        let q = a.chars().next()?;
        if !(q == '\'' || q == '"') || a.len() < 2 || !a.ends_with(q) {
            return None;
        }
        let inner = &a[1..a.len() - 1];
        if inner.contains(['\'', '"', '\\']) {
            return None;
        }
        parts.push(inner.to_owned());
    }
    match (func.trim(), parts.as_slice()) {
        ("ref", [name]) => Some(StaticCall::Ref(RefCall {
            name: name.clone(),
            package: None,
            version,
        })),
        ("ref", [pkg, name]) => Some(StaticCall::Ref(RefCall {
            name: name.clone(),
            package: Some(pkg.clone()),
            version,
        })),
        ("source", [src, tbl]) if version.is_none() => {
            Some(StaticCall::Source([src.clone(), tbl.clone()]))
        }
        _ => None,
    }
}

/// Two nodes that would build the same relation overwrite each other: dbt
/// refuses this, and so does xform. Sources build nothing: one may name a
/// seed's or a model's relation (dbt allows it).
fn relation_collisions(project: &Project) -> Vec<Diag> {
    let mut diags = Vec::new();
    let mut seen: HashMap<&str, &Node, FastState> =
        HashMap::with_capacity_and_hasher(project.nodes.len(), FastState::default());
    for n in project.nodes.values() {
        if n.resource_type == ResourceType::Source {
            continue;
        }
        let Some(rel) = n.relation_name.as_deref() else {
            continue;
        };
        if let Some(prev) = seen.insert(rel, n) {
            let src = project.source_text(&n.abs_path);
            let mut d = Diag::error(
                "XF0406",
                format!(
                    "{} `{}` and {} `{}` would both build {rel}",
                    prev.resource_type, prev.name, n.resource_type, n.name
                ),
            )
            .with_help("give one of them another `alias` or `schema`");
            if let Some(s) = &n.span {
                d = d.with_source(src).with_label(
                    s.offset,
                    s.len.clamp(1, 1),
                    format!("defined in `{}`", n.original_file_path),
                );
            }
            diags.push(d);
        }
    }
    diags
}

fn foreign_keys_mut(node: &mut Node) -> impl Iterator<Item = &mut crate::node::Constraint> {
    node.constraints
        .iter_mut()
        .chain(
            node.columns
                .values_mut()
                .flat_map(|c| c.constraints.iter_mut()),
        )
        .filter(|c| c.kind == crate::node::ConstraintKind::ForeignKey && c.to.is_some())
}

/// A foreign key's `to: ref('x')` (or `source(...)`) makes `x` a parent of
/// the model, as in dbt: it is built first, and its relation is what the
/// constraint references.
fn add_constraint_parents(node: &mut Node) {
    use crate::project::constraints::{ToTarget, parse_to};
    let targets: Vec<ToTarget> = node
        .foreign_keys_to()
        .filter_map(|c| c.to.as_deref().and_then(parse_to))
        .collect();
    for t in targets {
        match t {
            ToTarget::Ref(call) => {
                if !node.refs.contains(&call) {
                    node.refs.push(call);
                }
            }
            ToTarget::Source(s, t) => {
                let pair = [s, t];
                if !node.sources.contains(&pair) {
                    node.sources.push(pair);
                }
            }
        }
    }
}

/// Fills in the relation each foreign key's `to:` names (refs that do not
/// resolve were reported with the model's other refs).
fn resolve_constraint_targets(project: &mut Project) {
    use crate::project::constraints::{ToTarget, parse_to};
    if !project
        .nodes
        .values()
        .any(|n| n.foreign_keys_to().next().is_some())
    {
        return;
    }
    let lookup = Lookup::new(project);
    let mut updates: Vec<(String, Vec<Option<String>>)> = Vec::new();
    for node in project.nodes.values() {
        let rels: Vec<Option<String>> = node
            .foreign_keys_to()
            .map(|c| {
                let uid = match parse_to(c.to.as_deref()?)? {
                    ToTarget::Ref(call) => lookup.find_ref(&node.package_name, &call)?,
                    ToTarget::Source(s, t) => lookup.find_source(&node.package_name, &s, &t)?,
                };
                project.nodes.get(uid)?.relation_name.clone()
            })
            .collect();
        if !rels.is_empty() {
            updates.push((node.unique_id.clone(), rels));
        }
    }
    for (uid, rels) in updates {
        if let Some(n) = project.nodes.get_mut(&uid) {
            for (c, rel) in foreign_keys_mut(n).zip(rels) {
                c.to_relation = rel;
            }
        }
    }
}

fn resolve_dependencies(project: &mut Project, lookup: &Lookup, diags: &mut Diags) {
    let resolved: Vec<(Vec<String>, Vec<Diag>)> = {
        let p: &Project = project;
        let nodes: Vec<&Node> = p.nodes.values().map(|n| &**n).collect();
        nodes
            .par_iter()
            .map(|node| {
                let mut deps: Vec<String> = Vec::new();
                let mut errors = Vec::new();
                // dbt resolves every node's sources before any refs
                // (`process_sources`, then `process_refs`), so sources come first.
                for [src, tbl] in &node.sources {
                    match lookup.find_source(&node.package_name, src, tbl) {
                        Some(uid) => {
                            if !deps.iter().any(|d| d == uid) {
                                deps.push(uid.to_owned());
                            }
                        }
                        None => errors.push(unresolved_source(p, node, src, tbl)),
                    }
                }
                for call in &node.refs {
                    match lookup.find_ref(&node.package_name, call) {
                        Some(uid) => {
                            if !deps.iter().any(|d| d == uid) {
                                deps.push(uid.to_owned());
                            }
                        }
                        None => errors.push(unresolved_ref(p, lookup, node, call)),
                    }
                }
                (deps, errors)
            })
            .collect()
    };
    // In the map's order, as resolved.
    for (node, (deps, errors)) in project.nodes.values_mut().zip(resolved) {
        node.depends_on_nodes = deps;
        for d in errors {
            diags.push(d);
        }
    }
}

/// The rows of a seed's CSV file as strings (empty fields too), for a unit
/// test input that gives no rows, as dbt reads them.
fn seed_rows(project: &Project, id: &str) -> Result<Vec<Map<String, serde_json::Value>>, String> {
    let seed = project
        .nodes
        .get(id)
        .filter(|n| n.resource_type == ResourceType::Seed)
        .ok_or(
            "has no rows, and only a seed's rows can be left out (they are read from its CSV file)",
        )?;
    let text = std::fs::read_to_string(&seed.abs_path)
        .map_err(|e| format!("has no rows, and seed `{}` cannot be read: {e}", seed.name))?;
    let mut rows: Vec<Map<String, serde_json::Value>> =
        crate::project::unit_tests::csv_records(&text)
            .map_err(|e| {
                format!(
                    "has no rows, and seed `{}` is not valid CSV: {e}",
                    seed.name
                )
            })?
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect()
            })
            .collect();
    crate::project::unit_tests::promote_complete_row(&mut rows);
    Ok(rows)
}

/// Unit tests: the tested model becomes the only dependency, and each
/// `given` input is resolved to the node it mocks. A unit test whose model
/// is disabled is disabled too; one that cannot be resolved is reported and
/// left out.
fn resolve_unit_tests(project: &mut Project, diags: &mut Diags) {
    // Per test: its model, and per input the node it mocks and the rows
    // read from a seed's file.
    type Inputs = Vec<(Option<String>, Option<UnitRows>)>;
    if !project.nodes.values().any(|n| n.unit.is_some()) {
        return;
    }
    let lookup = Lookup::new(project);
    let mut drop: Vec<(String, bool)> = Vec::new();
    let mut updates: Vec<(String, String, Inputs)> = Vec::new();
    for node in project.nodes.values() {
        let Some(unit) = node.unit.as_ref() else {
            continue;
        };
        let at = |span: &Option<crate::span::SourceSpan>, d: Diag| match span {
            Some(s) => d
                .with_source(project.source_text(&node.abs_path))
                .with_label(s.offset, s.len, "here"),
            None => d,
        };
        let call = RefCall {
            name: unit.model.clone(),
            package: None,
            version: None,
        };
        let model = lookup
            .find_ref(&node.package_name, &call)
            .filter(|id| id.starts_with("model."));
        let Some(model) = model else {
            let disabled = lookup.disabled.contains_key(&unit.model);
            if !disabled {
                let names = lookup.by_name.keys().map(String::as_str);
                let mut d = Diag::error(
                    "XF0188",
                    format!(
                        "unit test `{}` tests model `{}`, which does not exist",
                        node.name, unit.model
                    ),
                );
                if let Some(c) = closest(&unit.model, names) {
                    d = d.with_help(format!("did you mean `{c}`?"));
                }
                diags.push(at(&unit.model_span, d));
            }
            drop.push((node.unique_id.clone(), disabled));
            continue;
        };
        // As dbt: a model that calls `is_incremental()` is tested for one
        // run or the other, and the incremental run reads a mock of `this`.
        let incremental = project.nodes.get(model).is_some_and(|m| {
            m.depends_on_macros
                .iter()
                .any(|u| u == "macro.dbt.is_incremental")
        });
        let override_ = unit
            .overrides
            .macros
            .get("is_incremental")
            .and_then(serde_json::Value::as_bool);
        let problem = match override_ {
            _ if !incremental => None,
            None => Some((
                format!(
                    "unit test `{}` tests model `{}`, which calls `is_incremental()`, so it must say which run it tests",
                    node.name, unit.model
                ),
                "add `overrides: {macros: {is_incremental: false}}` (first run) or `true` (with `- input: this`)",
            )),
            Some(true) if !unit.given.iter().any(|g| g.input == "this") => Some((
                format!(
                    "unit test `{}` tests an incremental run of model `{}`, so it must mock `this`, the table the run reads",
                    node.name, unit.model
                ),
                "add `- input: this` under `given:` with the rows the table holds before the run",
            )),
            Some(_) => None,
        };
        if let Some((message, help)) = problem {
            diags.push(at(&node.span, Diag::error("XF0188", message)).with_help(help));
            drop.push((node.unique_id.clone(), false));
            continue;
        }
        let mut targets = Vec::new();
        let mut ok = true;
        for g in &unit.given {
            let target = if g.input == "this" {
                Some(model.to_owned())
            } else {
                match static_call(&g.input) {
                    Some(StaticCall::Ref(r)) => {
                        lookup.find_ref(&node.package_name, &r).map(str::to_owned)
                    }
                    Some(StaticCall::Source([src, tbl])) => lookup
                        .find_source(&node.package_name, &src, &tbl)
                        .map(str::to_owned),
                    None => {
                        diags.push(at(
                            &g.span,
                            Diag::error(
                                "XF0189",
                                format!(
                                    "input `{}` of unit test `{}` must be `ref('...')`, `source('...', '...')` or `this`",
                                    g.input, node.name
                                ),
                            ),
                        ));
                        ok = false;
                        continue;
                    }
                }
            };
            if target.is_none() {
                diags.push(at(
                    &g.span,
                    Diag::error(
                        "XF0189",
                        format!(
                            "input `{}` of unit test `{}` is not a model, seed, snapshot or declared source",
                            g.input, node.name
                        ),
                    ),
                ));
                ok = false;
            }
            let mut rows = None;
            if let (UnitRows::FromSeed, Some(t)) = (&g.rows, &target) {
                match seed_rows(project, t) {
                    Ok(r) => rows = Some(UnitRows::Dicts(r)),
                    Err(m) => {
                        diags.push(at(
                            &g.span,
                            Diag::error(
                                "XF0189",
                                format!("input `{}` of unit test `{}` {m}", g.input, node.name),
                            )
                            .with_help("give its rows with `rows:` or a `fixture:` file"),
                        ));
                        ok = false;
                    }
                }
            }
            targets.push((target, rows));
        }
        if ok {
            updates.push((node.unique_id.clone(), model.to_owned(), targets));
        } else {
            drop.push((node.unique_id.clone(), false));
        }
    }
    for (id, model, targets) in updates {
        let (database, schema) = project
            .nodes
            .get(&model)
            .map(|m| (m.database.clone(), m.schema.clone()))
            .unwrap_or_default();
        if let Some(n) = project.nodes.get_mut(&id) {
            n.database = database;
            n.schema = schema;
            n.depends_on_nodes = vec![model];
            if let Some(u) = n.unit.as_mut() {
                for (g, (t, rows)) in u.given.iter_mut().zip(targets) {
                    g.target = t;
                    if let Some(r) = rows {
                        g.rows = r;
                    }
                }
            }
        }
    }
    expand_versioned_unit_tests(project, diags);
    for (id, disabled) in drop {
        if let Some(n) = project.nodes.shift_remove(&id)
            && disabled
        {
            project.disabled.entry(id).or_default().push(n);
        }
    }
}

/// Points at the `ref()` that names this version of a model (`v=2`), else
/// at the first ref to the model.
fn located_ref(
    project: &Project,
    node: &Node,
    d: Diag,
    name: &str,
    version: Option<&crate::node::Version>,
) -> Diag {
    if let Some(v) = version
        && let Some((off, len)) = find_call(project, node, "ref", &format!("{name}\0{v}"))
    {
        return d
            .with_source(project.source_text(&node.abs_path))
            .with_label(off, len, "referenced here");
    }
    located(project, node, d, "ref", name)
}

fn located(project: &Project, node: &Node, d: Diag, func: &str, name: &str) -> Diag {
    let src = project.source_text(&node.abs_path);
    if let Some((off, len)) = find_call(project, node, func, name) {
        return d.with_source(src).with_label(off, len, "referenced here");
    }
    // A foreign key's `to:` in properties YAML.
    let fk = node
        .all_constraints()
        .filter_map(|c| Some((c.to.as_deref()?, c.to_span.as_ref()?)))
        .find(|(to, _)| {
            matches!(crate::project::constraints::parse_to(to),
                Some(crate::project::constraints::ToTarget::Ref(r)) if func == "ref" && r.name == name)
                || matches!(crate::project::constraints::parse_to(to),
                    Some(crate::project::constraints::ToTarget::Source(_, t)) if func == "source" && t == name)
        });
    if let Some((_, span)) = fk {
        return d.with_source(project.source_text(&span.file)).with_label(
            span.offset,
            span.len,
            "the foreign key's parent",
        );
    }
    match &node.span {
        Some(s) => d
            .with_source(src)
            .with_label(s.offset, s.len.clamp(1, 80), "referenced here"),
        None => d,
    }
}

fn unresolved_ref(project: &Project, lookup: &Lookup, node: &Node, call: &RefCall) -> Diag {
    let shown = match &call.package {
        Some(p) => format!("{p}.{}", call.name),
        None => call.name.clone(),
    };
    if let Some(v) = &call.version
        && let Some(d) = missing_version(project, node, call, v)
    {
        return located_ref(project, node, d, &call.name, Some(v));
    }
    if let Some(uid) = lookup.disabled.get(&call.search_name()) {
        let path = project
            .disabled
            .get(uid)
            .and_then(|v| v.first())
            .map(|n| n.original_file_path.clone())
            .unwrap_or_default();
        let d = Diag::error(
            "XF0402",
            format!(
                "{} `{}` depends on `{shown}`, which is disabled",
                node.resource_type, node.name
            ),
        )
        .with_help(format!(
            "enable `{shown}` (in `{path}` or its config) or remove the ref"
        ));
        return located(project, node, d, "ref", &call.name);
    }
    if let Some(pkgs) = lookup.ambiguous(&node.package_name, call) {
        let d = Diag::error(
            "XF0405",
            format!(
                "`ref('{}')` in {} `{}` is ambiguous: packages {} each define `{}`",
                call.name,
                node.resource_type,
                node.name,
                pkgs.iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                call.name
            ),
        )
        .with_help(format!(
            "name the package: `ref('{}', '{}')`",
            pkgs.first().copied().unwrap_or_default(),
            call.name
        ));
        return located(project, node, d, "ref", &call.name);
    }
    let names: Vec<&str> = lookup.by_name.keys().map(String::as_str).collect();
    let mut d = Diag::error(
        "XF0401",
        format!(
            "{} `{}` refers to `{shown}`, which is not a model, seed or snapshot",
            node.resource_type, node.name
        ),
    );
    if let Some(c) = closest(&call.name, names) {
        d = d.with_help(format!("did you mean `{c}`?"));
    }
    located(project, node, d, "ref", &call.name)
}

/// dbt's warnings about model versions: a model past its deprecation
/// date, a model reading a deprecated (or soon deprecated) model, and an
/// unpinned ref that resolves to the latest version while a newer
/// (prerelease) version exists.
fn warn_model_versions(project: &Project, diags: &mut Diags) {
    let now = chrono::Utc::now();
    let shown = |n: &Node| match &n.version {
        Some(v) => format!("{}.v{v}", n.name),
        None => n.name.clone(),
    };
    for m in project.nodes.values() {
        let Some(date) = m.deprecation_date.as_deref() else {
            continue;
        };
        if m.resource_type != ResourceType::Model {
            continue;
        }
        let past = chrono::DateTime::parse_from_rfc3339(date).is_ok_and(|d| d < now);
        if past {
            diags.push(
                Diag::warning(
                    "XF0408",
                    format!(
                        "model `{}` has passed its deprecation date of {date}",
                        shown(m)
                    ),
                )
                .with_help("this model should be disabled or removed"),
            );
        }
        let newer = match (&m.version, &m.latest_version) {
            (Some(v), Some(l)) if v.text() != l.text() => Some(format!(
                "a new version of `{}` is available: {{{{ ref('{}', '{}', v='{l}') }}}}",
                m.name, m.package_name, m.name
            )),
            _ => None,
        };
        for child in project.nodes.values().filter(|c| {
            c.resource_type == ResourceType::Model && c.depends_on_nodes.contains(&m.unique_id)
        }) {
            let message = if past {
                format!(
                    "model `{}` refers to `{}`, which was deprecated on {date}",
                    child.name,
                    shown(m)
                )
            } else {
                format!(
                    "model `{}` refers to `{}`, which is slated for deprecation on {date}",
                    child.name,
                    shown(m)
                )
            };
            let mut d = Diag::warning("XF0408", message);
            if let Some(h) = &newer {
                d = d.with_help(h.clone());
            }
            diags.push(located_ref(project, child, d, &m.name, m.version.as_ref()));
        }
    }
    // The greatest version of each versioned model, by (package, name).
    let mut greatest: HashMap<(&str, &str), &crate::node::Version> = HashMap::new();
    for n in project.nodes.values() {
        if let (ResourceType::Model, Some(v)) = (n.resource_type, &n.version) {
            let e = greatest
                .entry((n.package_name.as_str(), n.name.as_str()))
                .or_insert(v);
            if v.cmp_dbt(e) == std::cmp::Ordering::Greater {
                *e = v;
            }
        }
    }
    if greatest.is_empty() {
        return;
    }
    let lookup = Lookup::new(project);
    for n in project.nodes.values() {
        if !matches!(
            n.resource_type,
            ResourceType::Model | ResourceType::Snapshot | ResourceType::Analysis
        ) {
            continue;
        }
        let mut seen = Vec::new();
        for call in n.refs.iter().filter(|r| r.version.is_none()) {
            let Some(target) = lookup
                .find_ref(&n.package_name, call)
                .and_then(|u| project.nodes.get(u))
            else {
                continue;
            };
            let (Some(latest), Some(max)) = (
                target.latest_version.as_ref(),
                greatest.get(&(target.package_name.as_str(), target.name.as_str())),
            ) else {
                continue;
            };
            if max.cmp_dbt(latest) != std::cmp::Ordering::Greater
                || seen.contains(&target.unique_id)
            {
                continue;
            }
            seen.push(target.unique_id.clone());
            let (pkg, name) = (&target.package_name, &target.name);
            let d = Diag::warning(
                "XF0409",
                format!(
                    "`ref('{name}')` in {} `{}` resolves to the latest version, `{name}.v{latest}`, but a prerelease version `{max}` exists",
                    n.resource_type, n.name
                ),
            )
            .with_help(format!(
                "when `{name}` marks it latest, this ref will resolve to `{name}.v{max}`: try it with {{{{ ref('{pkg}', '{name}', v='{max}') }}}}, or pin {{{{ ref('{pkg}', '{name}', v='{latest}') }}}}"
            ));
            diags.push(located(project, n, d, "ref", name));
        }
    }
}

/// A unit test of a versioned model becomes one unit test per version
/// (`versions: {include: [...]}` or `{exclude: [...]}` narrows them), with
/// the unique id `unit_test.<package>.<model>.<name>_v<version>`, as dbt
/// makes them; its `this` is that version.
fn expand_versioned_unit_tests(project: &mut Project, diags: &mut Diags) {
    let mut plans: Vec<(String, Result<Vec<String>, Diag>)> = Vec::new();
    // The versions of each versioned model, in manifest order.
    let mut by_model: HashMap<(&str, &str), Vec<&Node>> = HashMap::new();
    for m in project.nodes.values() {
        if m.resource_type == ResourceType::Model && m.version.is_some() {
            by_model
                .entry((m.package_name.as_str(), m.name.as_str()))
                .or_default()
                .push(m);
        }
    }
    for node in project.nodes.values() {
        let Some(unit) = node.unit.as_ref() else {
            continue;
        };
        let Some(model) = node
            .depends_on_nodes
            .first()
            .and_then(|m| project.nodes.get(m))
        else {
            continue;
        };
        let filter = unit
            .raw
            .get("versions")
            .and_then(serde_json::Value::as_object);
        let list = |key: &str| -> Vec<crate::node::Version> {
            filter
                .and_then(|f| f.get(key))
                .and_then(serde_json::Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(crate::node::Version::from_json)
                        .collect()
                })
                .unwrap_or_default()
        };
        let (include, exclude) = (list("include"), list("exclude"));
        let at = |d: Diag| match &unit.model_span {
            Some(s) => d
                .with_source(project.source_text(&node.abs_path))
                .with_label(s.offset, s.len, "here"),
            None => d,
        };
        if model.version.is_none() {
            if !include.is_empty() || !exclude.is_empty() {
                plans.push((
                    node.unique_id.clone(),
                    Err(at(Diag::error(
                        "XF0188",
                        format!(
                            "unit test `{}` chooses versions of model `{}`, which is not versioned",
                            node.name, model.name
                        ),
                    ))
                    .with_help("remove `versions:` from the unit test")),
                ));
            }
            continue;
        }
        let versions: &[&Node] = by_model
            .get(&(model.package_name.as_str(), model.name.as_str()))
            .map_or(&[], Vec::as_slice);
        let chosen: Vec<String> = versions
            .iter()
            .filter(|m| {
                let v = m.version.as_ref();
                let listed =
                    |l: &[crate::node::Version]| l.iter().any(|x| v.is_some_and(|v| v.same(x)));
                if !exclude.is_empty() {
                    !listed(&exclude)
                } else if !include.is_empty() {
                    listed(&include)
                } else {
                    true
                }
            })
            .map(|m| m.unique_id.clone())
            .collect();
        if chosen.is_empty() {
            let all: Vec<String> = versions
                .iter()
                .filter_map(|m| m.version.as_ref().map(|v| format!("`{v}`")))
                .collect();
            plans.push((
                node.unique_id.clone(),
                Err(at(Diag::error(
                    "XF0188",
                    format!(
                        "unit test `{}` chooses no version of model `{}`",
                        node.name, model.name
                    ),
                ))
                .with_help(format!(
                    "the versions of `{}` are {} (a version written `1` and one written `\"1\"` differ)",
                    model.name,
                    all.join(", ")
                ))),
            ));
            continue;
        }
        plans.push((node.unique_id.clone(), Ok(chosen)));
    }
    for (id, plan) in plans {
        let Some(test) = project.nodes.shift_remove(&id) else {
            continue;
        };
        let chosen = match plan {
            Ok(c) => c,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let model_name = test
            .unit
            .as_ref()
            .map(|u| u.model.clone())
            .unwrap_or_default();
        for uid in chosen {
            let Some(model) = project.nodes.get(&uid) else {
                continue;
            };
            let mut t = test.clone();
            t.version.clone_from(&model.version);
            let v = model
                .version
                .as_ref()
                .map(crate::node::Version::text)
                .unwrap_or_default();
            t.unique_id = format!("unit_test.{}.{model_name}.{}_v{v}", t.package_name, t.name);
            t.database.clone_from(&model.database);
            t.schema.clone_from(&model.schema);
            t.depends_on_nodes = vec![uid.clone()];
            if let Some(u) = t.unit.as_mut() {
                for g in u.given.iter_mut().filter(|g| g.input == "this") {
                    g.target = Some(uid.clone());
                }
            }
            project.nodes.insert(t.unique_id.clone(), t);
        }
    }
}

/// A ref to a version of a model that does not have it (or has no
/// versions at all): the versions there are, and the latest.
fn missing_version(
    project: &Project,
    node: &Node,
    call: &RefCall,
    v: &crate::node::Version,
) -> Option<Diag> {
    let models: Vec<&Node> = project
        .nodes
        .values()
        .chain(project.disabled.values().flatten())
        .map(|n| &**n)
        .filter(|n| {
            n.resource_type == ResourceType::Model
                && n.name == call.name
                && call.package.as_ref().is_none_or(|p| *p == n.package_name)
        })
        .collect();
    if models.is_empty() {
        return None;
    }
    let mut versions: Vec<&crate::node::Version> =
        models.iter().filter_map(|n| n.version.as_ref()).collect();
    let d = Diag::error(
        "XF0407",
        format!(
            "{} `{}` refers to version `{v}` of model `{}`, which does not exist",
            node.resource_type, node.name, call.name
        ),
    );
    if versions.is_empty() {
        return Some(d.with_help(format!(
            "`{}` has no versions: write `ref('{}')`",
            call.name, call.name
        )));
    }
    versions.sort_by(|a, b| a.cmp_dbt(b));
    versions.dedup_by(|a, b| a.text() == b.text());
    let latest = models
        .iter()
        .find(|n| n.is_latest_version())
        .and_then(|n| n.version.as_ref())
        .map(|l| format!(" (latest: {l})"))
        .unwrap_or_default();
    Some(d.with_help(format!(
        "the versions of `{}` are {}{latest}",
        call.name,
        versions
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

fn unresolved_source(project: &Project, node: &Node, src: &str, tbl: &str) -> Diag {
    let known: Vec<String> = project
        .nodes
        .values()
        .filter_map(|n| {
            n.source
                .as_ref()
                .map(|s| format!("{}.{}", s.source_name, n.name))
        })
        .collect();
    let wanted = format!("{src}.{tbl}");
    let mut d = Diag::error(
        "XF0403",
        format!(
            "{} `{}` refers to source `{wanted}`, which is not declared",
            node.resource_type, node.name
        ),
    );
    d = match closest(&wanted, known.iter().map(String::as_str)) {
        Some(c) => d.with_help(format!("did you mean `{c}`?")),
        None => d.with_help("declare it under `sources:` in a properties file"),
    };
    located(project, node, d, "source", tbl)
}

fn cycle_diag(project: &Project, cycle: &[String]) -> Diag {
    let names: Vec<String> = cycle
        .iter()
        .map(|id| {
            project
                .nodes
                .get(id)
                .map_or_else(|| id.clone(), |n| n.name.clone())
        })
        .collect();
    let mut path = names.join(" -> ");
    if let Some(first) = names.first() {
        path.push_str(" -> ");
        path.push_str(first);
    }
    let mut d = Diag::error("XF0404", format!("dependency cycle: {path}")).with_help(
        "a model cannot depend on itself, directly or through others; remove one of these refs",
    );
    // Each member refers to the next: point at every offending ref.
    for (i, id) in cycle.iter().enumerate() {
        let next = &cycle[(i + 1) % cycle.len()];
        let (Some(node), Some(next_node)) = (project.nodes.get(next), project.nodes.get(id)) else {
            continue;
        };
        let frame = located(
            project,
            node,
            Diag::error(
                "XF0404",
                format!("`{}` refers to `{}`", node.name, next_node.name),
            ),
            "ref",
            &next_node.name,
        );
        if i == 0 && frame.source.is_some() {
            d.source.clone_from(&frame.source);
            let lbl = frame.labels.first().cloned();
            d = match (d.source.clone(), lbl) {
                (Some(s), Some(l)) => d.with_source(s).with_label(
                    l.offset,
                    l.len,
                    format!("`{}` refers to `{}`", node.name, next_node.name),
                ),
                _ => d,
            };
        } else {
            d = d.with_related(frame);
        }
    }
    d
}

/// Resolves refs to relations while compiling.
struct CompileResolver {
    lookup: Lookup,
    relations: HashMap<String, (Relation, bool), FastState>,
    /// `event_time` configs by unique id.
    event_times: HashMap<String, String, FastState>,
    /// `--empty`: refs and sources read zero rows.
    empty: bool,
    /// The warehouse needs subqueries aliased.
    alias: bool,
}

/// `--empty`: a relation as a subquery with no rows, named as dbt names it.
fn emptied(r: Relation, empty: bool, alias: bool) -> Relation {
    if !empty || r.cte_name.is_some() {
        return r;
    }
    let ident = r.identifier.clone().unwrap_or_default();
    let mut out = r.clone();
    let alias = if alias {
        format!(" _dbt_limit_subq_{ident}")
    } else {
        String::new()
    };
    out.cte_name = Some(format!(
        "(select * from {} where false limit 0){alias}",
        r.render()
    ));
    out
}

impl Resolver for CompileResolver {
    fn resolve_ref(&self, from_package: &str, call: &RefCall) -> Result<Resolved, String> {
        let uid = self
            .lookup
            .find_ref(from_package, call)
            .ok_or_else(|| format!("`{}` is not a model, seed or snapshot", call.name))?;
        let (rel, eph) = self
            .relations
            .get(uid)
            .ok_or_else(|| format!("`{}` has no relation", call.name))?;
        Ok(Resolved {
            event_time: self.event_times.get(uid).cloned(),
            unique_id: uid.to_owned(),
            relation: emptied(rel.clone(), self.empty, self.alias),
            ephemeral: *eph,
        })
    }

    fn resolve_source(&self, source: &str, table: &str) -> Result<Relation, String> {
        let uid = self
            .lookup
            .find_source(&self.lookup.root, source, table)
            .ok_or_else(|| format!("source `{source}.{table}` is not declared"))?;
        self.relations
            .get(uid)
            .map(|(r, _)| emptied(r.clone(), self.empty, self.alias))
            .ok_or_else(|| format!("source `{source}.{table}` has no relation"))
    }

    fn source_event_time(&self, source: &str, table: &str) -> Option<String> {
        let uid = self.lookup.find_source(&self.lookup.root, source, table)?;
        self.event_times.get(uid).cloned()
    }
}

/// How a unit test compiles its model: mocked inputs become CTEs.
pub struct UnitSetup {
    /// Fixture CTE relations, by the unique id of the node they mock
    /// (sources: `source:<source>.<table>`).
    pub fixtures: HashMap<String, Relation>,
    /// The mock of `this`, when the test gives one.
    pub this: Option<Relation>,
    pub overrides: Arc<crate::node::UnitOverrides>,
    /// Each fixture's CTE text (` name as (...)`), by the key of
    /// `fixtures` (`this` for the mock of `this`).
    pub ctes: HashMap<String, String>,
}

/// Resolves a unit test model's refs and sources to their mocks. Every input
/// must be mocked, seeds included (as dbt-core requires), so that a unit
/// test never depends on what the warehouse holds.
struct UnitResolver {
    inner: Arc<dyn Resolver>,
    fixtures: HashMap<String, Relation>,
    /// The keys of the fixtures the model read, in order of first use: the
    /// order of their CTEs.
    used: Arc<std::sync::Mutex<Vec<String>>>,
}

impl UnitResolver {
    fn mocked(&self, key: &str) -> Option<Relation> {
        let rel = self.fixtures.get(key)?;
        if let Ok(mut used) = self.used.lock()
            && !used.iter().any(|k| k == key)
        {
            used.push(key.to_owned());
        }
        Some(rel.clone())
    }
}

impl Resolver for UnitResolver {
    fn resolve_ref(&self, from_package: &str, call: &RefCall) -> Result<Resolved, String> {
        let r = self.inner.resolve_ref(from_package, call)?;
        if let Some(rel) = self.mocked(&r.unique_id) {
            return Ok(Resolved {
                unique_id: r.unique_id,
                relation: rel,
                ephemeral: false,
                event_time: None,
            });
        }
        Err(format!(
            "`{}` has no mock input: add `- input: ref('{}')` under `given:` (with `rows: []` for no rows)",
            call.name, call.name
        ))
    }

    fn resolve_source(&self, source: &str, table: &str) -> Result<Relation, String> {
        self.mocked(&format!("source:{source}.{table}"))
            .ok_or_else(|| {
                format!(
                    "source `{source}.{table}` has no mock input: add `- input: source('{source}', '{table}')` under `given:`"
                )
            })
    }
}

/// Compiles nodes one at a time, for the run phase: ephemeral models are
/// compiled once up front, each node is compiled (with a live warehouse when
/// running) just before it runs.
pub struct Compiler {
    resolver: Arc<dyn Resolver>,
    graph: Option<Value>,
    static_tests: StaticTests,
    /// Ephemeral models, compiled before any node.
    ephemerals: ephemeral::Precompiled,
    /// Refs sent to another environment's relations (`--defer`).
    deferred: HashMap<String, Relation>,
    /// The macros each node's last compile called from its own template,
    /// by node id, until [`Compiler::record_called_macros`] takes them.
    called: std::sync::Mutex<HashMap<String, Vec<String>>>,
    where_subquery: WhereSubquery,
}

/// How to compile beyond the project itself.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// `--empty`: refs and sources read zero rows.
    pub empty: bool,
    /// `--defer`: refs to these nodes resolve to these relations (of the
    /// state's environment) instead of their own.
    pub deferred: HashMap<String, Relation>,
    /// The warehouse nodes may query while compiling (`xform compile`, as
    /// dbt's compile does); none for commands that compile offline.
    pub introspect: Option<LiveSource>,
}

/// Makes one node's view of the warehouse.
pub type LiveFn = dyn Fn(&Node) -> Arc<dyn crate::jinja::live::Live> + Send + Sync;

/// Gives each node's render its view of the warehouse.
#[derive(Clone)]
pub struct LiveSource(pub Arc<LiveFn>);

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveSource")
    }
}

impl Compiler {
    /// Prepares to compile `ids`; returns the diagnostics of ephemeral
    /// models that fail to compile.
    pub fn new(project: &Project, renderer: &Renderer, ids: &[String]) -> (Self, Diags) {
        Self::with_options(project, renderer, ids, &CompileOptions::default())
    }

    /// The relation a ref to `node` reads: its own, or the state's when
    /// deferred.
    pub fn ref_relation(&self, project: &Project, node: &Node) -> Relation {
        self.deferred
            .get(&node.unique_id)
            .cloned()
            .unwrap_or_else(|| relation_for(project, node))
    }

    /// Gives a context that is no node's (`run-operation`) this compile's
    /// `ref`/`source` resolution and `graph`, as dbt's operations have them.
    pub fn attach(&self, ctx: &mut NodeCtx) {
        ctx.resolver = Some(Arc::clone(&self.resolver));
        ctx.graph.clone_from(&self.graph);
    }

    /// As `new`, with options (`--empty`, `--defer`).
    pub fn with_options(
        project: &Project,
        renderer: &Renderer,
        ids: &[String],
        opts: &CompileOptions,
    ) -> (Self, Diags) {
        let empty = opts.empty;
        // The relation of every node a ref or source can name, the ref
        // lookup and the `graph` value are independent: made side by side,
        // the relations in parallel (a large project has tens of
        // thousands).
        let ((relations, event_times), (lookup, graph)) = rayon::join(
            || {
                let rows: Vec<(&Node, (Relation, bool))> = project
                    .nodes
                    .values()
                    .map(|n| &**n)
                    .collect::<Vec<&Node>>()
                    .par_iter()
                    .filter_map(|&n| {
                        let rel = match n.resource_type {
                            ResourceType::Model if n.is_ephemeral() => {
                                (Relation::cte(&format!("__dbt__cte__{}", n.alias)), true)
                            }
                            ResourceType::Model
                            | ResourceType::Seed
                            | ResourceType::Snapshot
                            | ResourceType::Source => (relation_for(project, n), false),
                            _ => return None,
                        };
                        let rel = match opts.deferred.get(&n.unique_id) {
                            Some(there) if !rel.1 => (there.clone(), false),
                            _ => rel,
                        };
                        Some((n, rel))
                    })
                    .collect();
                let mut relations =
                    HashMap::with_capacity_and_hasher(rows.len(), FastState::default());
                let mut event_times = HashMap::default();
                for (n, rel) in rows {
                    relations.insert(n.unique_id.clone(), rel);
                    if let Some(et) = n
                        .config
                        .get("event_time")
                        .and_then(serde_json::Value::as_str)
                    {
                        event_times.insert(n.unique_id.clone(), et.to_owned());
                    }
                }
                (relations, event_times)
            },
            || rayon::join(|| Lookup::new(project), || graph_value(project, ids)),
        );
        let mut this = Self {
            resolver: Arc::new(CompileResolver {
                lookup,
                relations,
                event_times,
                empty,
                alias: crate::adapter::for_kind(&project.target.kind)
                    .is_none_or(|a| a.subquery_needs_alias()),
            }),
            graph,
            static_tests: StaticTests::new(project),
            ephemerals: HashMap::new(),
            deferred: opts.deferred.clone(),
            called: std::sync::Mutex::default(),
            where_subquery: WhereSubquery::new(project),
        };
        let mut diags = Diags::default();
        let results: Vec<(String, CompileResult)> = project
            .nodes
            .values()
            .filter(|n| n.is_ephemeral())
            .collect::<Vec<_>>()
            .par_iter()
            .map(|n| (n.unique_id.clone(), this.render(renderer, project, n, None)))
            .collect();
        for (id, r) in results {
            match r {
                Ok(v) => {
                    this.ephemerals.insert(id, v);
                }
                Err(d) => diags.push(d),
            }
        }
        (this, diags)
    }

    /// Renders a node's SQL before ephemeral CTEs are injected.
    pub fn render(
        &self,
        renderer: &Renderer,
        project: &Project,
        node: &Node,
        live: Option<Arc<dyn crate::jinja::live::Live>>,
    ) -> CompileResult {
        self.render_batch(renderer, project, node, live, None)
    }

    /// As `render`, for one microbatch window.
    pub fn render_batch(
        &self,
        renderer: &Renderer,
        project: &Project,
        node: &Node,
        live: Option<Arc<dyn crate::jinja::live::Live>>,
        batch: Option<(String, String)>,
    ) -> CompileResult {
        if batch.is_none()
            && let Some(done) = self.static_test(renderer, node)
        {
            return Ok(done);
        }
        compile_node(self, renderer, project, node, live, batch, None)
    }

    /// A node's final SQL with the ephemeral CTEs it uses, and their ids.
    pub fn finish(
        &self,
        project: &Project,
        id: &str,
        rendered: (String, Vec<String>),
        memo: &mut ephemeral::Memo,
    ) -> (String, Vec<(String, String)>) {
        if rendered.1.is_empty() {
            return (rendered.0, Vec::new());
        }
        let lookup = |k: &str| {
            if k == id {
                Some(&rendered)
            } else {
                self.ephemerals.get(k)
            }
        };
        let ctes = ephemeral::collect_ctes(id, &lookup, project, memo);
        (ephemeral::inject(&rendered.0, &ctes), ctes)
    }

    /// An ephemeral model's own SQL, with the CTEs of the ephemerals it
    /// reads: what dbt writes to `target/compiled` for an ephemeral model
    /// that a compiled node used.
    pub fn ephemeral_sql(&self, project: &Project, id: &str) -> Option<String> {
        let rendered = self.ephemerals.get(id)?.clone();
        let mut memo = ephemeral::Memo::new();
        Some(self.finish(project, id, rendered, &mut memo).0)
    }

    /// Compiles a unit test's model with its inputs mocked: the rendered SQL
    /// with the fixture CTEs put in front, as dbt injects the ephemeral
    /// nodes it makes of them: `this` first (dbt's unit test context names
    /// it before rendering), then the others in the order the model first
    /// reads them; an input the model never reads gets no CTE. Also returns
    /// the keys of the CTEs, in order.
    pub fn compile_unit(
        &self,
        renderer: &Renderer,
        project: &Project,
        model: &Node,
        live: Option<Arc<dyn crate::jinja::live::Live>>,
        setup: &UnitSetup,
    ) -> Result<(String, Vec<String>), Diag> {
        let used = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (sql, _) = compile_node(
            self,
            renderer,
            project,
            model,
            live,
            None,
            Some((setup, &used)),
        )?;
        let mut keys = Vec::new();
        if setup.this.is_some() {
            keys.push("this".to_owned());
        }
        keys.extend(used.lock().map(|u| u.clone()).unwrap_or_default());
        let ctes: Vec<(String, String)> = keys
            .iter()
            .filter_map(|k| setup.ctes.get(k).map(|c| (k.clone(), c.clone())))
            .collect();
        Ok((ephemeral::inject(&sql, &ctes), keys))
    }

    /// Compiles one node: rendered SQL with ephemeral CTEs injected.
    pub fn compile_one(
        &self,
        renderer: &Renderer,
        project: &Project,
        node: &Node,
        live: Option<Arc<dyn crate::jinja::live::Live>>,
        batch: Option<(String, String)>,
    ) -> Result<(String, Vec<(String, String)>), Diag> {
        let rendered = self.render_batch(renderer, project, node, live, batch)?;
        let mut memo = ephemeral::Memo::new();
        Ok(self.finish(project, &node.unique_id, rendered, &mut memo))
    }

    /// A built-in generic test's SQL when it compiles without a render
    /// (see [`StaticTests::compile`]), recording what the render records:
    /// the test macro its template calls.
    fn static_test(&self, renderer: &Renderer, node: &Node) -> Option<(String, Vec<String>)> {
        let (sql, ephemerals) =
            self.static_tests
                .compile(self.resolver.as_ref(), &renderer.shared, node)?;
        if let Ok(mut called) = self.called.lock()
            && let Some(meta) = node.test.as_ref().and_then(|t| t.metadata.as_ref())
        {
            called.insert(
                node.unique_id.clone(),
                vec![format!("macro.dbt.test_{}", meta.name)],
            );
        }
        Some((sql, ephemerals))
    }

    /// Adds to a compiled node's `depends_on.macros` what its compile
    /// called that parsing did not, as dbt records the macros a node's
    /// compile calls from its own template (`run_query` under `{% if
    /// execute %}`, a test's `get_where_subquery`), after the others.
    pub fn record_called_macros(&self, node: &mut Node) {
        for m in self.called_macros(node) {
            if !node.depends_on_macros.contains(&m) {
                node.depends_on_macros.push(m);
            }
        }
    }

    /// The macros [`Compiler::record_called_macros`] adds, taken from the
    /// compiler.
    fn called_macros(&self, node: &Node) -> Vec<String> {
        let called = self
            .called
            .lock()
            .map(|mut m| m.remove(&node.unique_id))
            .unwrap_or_default()
            .unwrap_or_default();
        called
            .into_iter()
            .chain(compile_time_test_macro(&self.where_subquery, node))
            .collect()
    }
}

/// Compiles the given nodes (and the ephemeral models they use), setting
/// `compiled_code` and `extra_ctes`. Returns the diagnostics of nodes that
/// failed; the others are still compiled.
pub fn compile(project: &mut Project, renderer: &Renderer, ids: &[String]) -> Diags {
    compile_with(project, renderer, ids, &CompileOptions::default())
}

/// As [`compile`], with options (`--defer`).
pub fn compile_with(
    project: &mut Project,
    renderer: &Renderer,
    ids: &[String],
    opts: &CompileOptions,
) -> Diags {
    compile_keeping_rendered_with(project, renderer, ids, opts, false).0
}

/// As [`compile`]; also returns every model's rendered SQL before ephemeral
/// CTEs are injected (ephemeral models included), by unique id, as `check`
/// analyses it, so that `docs generate` renders each model once.
pub fn compile_keeping_rendered(
    project: &mut Project,
    renderer: &Renderer,
    ids: &[String],
) -> (Diags, HashMap<String, String>) {
    compile_keeping_rendered_with(project, renderer, ids, &CompileOptions::default(), true)
}

fn compile_keeping_rendered_with(
    project: &mut Project,
    renderer: &Renderer,
    ids: &[String],
    opts: &CompileOptions,
    keep_rendered: bool,
) -> (Diags, HashMap<String, String>) {
    /// A compiled node: its index in the node map, its SQL (with the CTEs
    /// of the ephemerals it reads, once they are in), the macros its
    /// compile added, and the SQL as rendered, when kept.
    struct Done {
        index: usize,
        sql: String,
        ctes: Vec<(String, String)>,
        ephemerals: Vec<String>,
        called: Vec<String>,
        rendered: Option<String>,
    }
    let (compiler, mut diags) = Compiler::with_options(project, renderer, ids, opts);
    // Each node is finished by the worker that compiles it; only the CTEs
    // of ephemeral models share a memo, put in afterwards one by one.
    let results: Vec<Result<Done, Diag>> = {
        let p: &Project = project;
        ids.par_iter()
            .filter_map(|id| p.nodes.get_full(id.as_str()))
            .filter(|(_, _, n)| n.resource_type.is_compiled() && !n.is_ephemeral())
            .map(|(index, _, n)| {
                // A test compiled without a render needs no warehouse view.
                let (sql, ephemerals) = if let Some(done) = compiler.static_test(renderer, n) {
                    done
                } else {
                    let live = opts.introspect.as_ref().map(|s| (s.0)(n));
                    compile_node(&compiler, renderer, p, n, live, None, None)?
                };
                let called = compiler
                    .called_macros(n)
                    .into_iter()
                    .filter(|m| !n.depends_on_macros.contains(m))
                    .collect();
                let rendered =
                    (keep_rendered && n.resource_type == ResourceType::Model).then(|| sql.clone());
                Ok(Done {
                    index,
                    sql,
                    ctes: Vec::new(),
                    ephemerals,
                    called,
                    rendered,
                })
            })
            .collect()
    };
    let mut memo: ephemeral::Memo = HashMap::new();
    let mut done: Vec<Done> = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(mut d) => {
                if !d.ephemerals.is_empty() {
                    let id = project.nodes.get_index(d.index).map(|(id, _)| id.clone());
                    let rendered = (
                        std::mem::take(&mut d.sql),
                        std::mem::take(&mut d.ephemerals),
                    );
                    (d.sql, d.ctes) = compiler.finish(
                        project,
                        id.as_deref().unwrap_or_default(),
                        rendered,
                        &mut memo,
                    );
                }
                done.push(d);
            }
            Err(d) => diags.push(d),
        }
    }
    let mut rendered: HashMap<String, String> = HashMap::new();
    // Ephemeral models themselves, as dbt compiles them when selected or used.
    for (id, v) in &compiler.ephemerals {
        let Some(index) = project.nodes.get_index_of(id) else {
            continue;
        };
        if keep_rendered {
            rendered.insert(id.clone(), v.0.clone());
        }
        let (sql, ctes) = compiler.finish(project, id, v.clone(), &mut memo);
        let called = project
            .nodes
            .get_index(index)
            .map(|(_, n)| {
                compiler
                    .called_macros(n)
                    .into_iter()
                    .filter(|m| !n.depends_on_macros.contains(m))
                    .collect()
            })
            .unwrap_or_default();
        done.push(Done {
            index,
            sql,
            ctes,
            ephemerals: Vec::new(),
            called,
            rendered: None,
        });
    }
    for d in done {
        let Some((id, n)) = project.nodes.get_index_mut(d.index) else {
            continue;
        };
        n.compiled_code = Some(d.sql);
        n.extra_ctes = d.ctes;
        for m in d.called {
            if !n.depends_on_macros.contains(&m) {
                n.depends_on_macros.push(m);
            }
        }
        if let Some(r) = d.rendered {
            rendered.insert(id.clone(), r);
        }
    }
    (diags, rendered)
}

/// dbt's `test_not_null` and `test_unique` (its own, not overridden), which
/// its parser does not render (`render_test_update`).
fn is_fast_parsed_test(test_macro: &str) -> bool {
    matches!(
        test_macro,
        "macro.dbt.test_not_null" | "macro.dbt.test_unique"
    )
}

/// The macro that compiling a generic test parsed without rendering adds to
/// its `depends_on.macros`: dbt records the macros a node's compile calls at
/// the top level, and its arguments call `get_where_subquery` (the one the
/// test's package, the root project or dbt defines, in that order), which
/// xform's compile of these tests skips when it would change nothing.
fn compile_time_test_macro(where_subquery: &WhereSubquery, node: &Node) -> Option<String> {
    if node.resource_type != ResourceType::Test
        || !node
            .depends_on_macros
            .first()
            .is_some_and(|m| is_fast_parsed_test(m))
    {
        return None;
    }
    Some(where_subquery.for_package(&node.package_name).to_owned())
}

/// The `get_where_subquery` macro a test in each package calls: its
/// package's, else the root project's, else dbt's.
struct WhereSubquery {
    by_package: HashMap<String, String>,
    fallback: String,
}

impl WhereSubquery {
    fn new(project: &Project) -> Self {
        let by_package: HashMap<String, String> = project
            .macros
            .values()
            .filter(|m| m.name == "get_where_subquery")
            .map(|m| (m.package_name.clone(), m.unique_id.clone()))
            .collect();
        let fallback = by_package
            .get(&project.root)
            .cloned()
            .unwrap_or_else(|| "macro.dbt.get_where_subquery".to_owned());
        Self {
            by_package,
            fallback,
        }
    }

    fn for_package(&self, package: &str) -> &str {
        self.by_package.get(package).unwrap_or(&self.fallback)
    }
}

/// dbt's `graph` variable: every node, source and exposure as the manifest
/// shows them. Building it costs time on large projects, so it is only
/// built when a macro or a compiled node mentions `graph`.
fn graph_value(project: &Project, ids: &[String]) -> Option<Value> {
    let mentions = |s: &str| s.contains("graph.") || s.contains("graph[") || s.contains("graph)");
    let used = project
        .macros
        .values()
        .any(|m| !m.builtin && mentions(&m.macro_sql))
        || ids
            .iter()
            .filter_map(|id| project.nodes.get(id))
            .any(|n| mentions(&n.raw_code));
    if !used {
        return None;
    }
    let mut nodes = Map::new();
    let mut sources = Map::new();
    let mut exposures = Map::new();
    let mut unit_tests = Map::new();
    for n in project.nodes.values() {
        let v = crate::artifacts::manifest::node_json(n);
        match n.resource_type {
            ResourceType::Source => sources.insert(n.unique_id.clone(), v),
            ResourceType::Exposure => exposures.insert(n.unique_id.clone(), v),
            ResourceType::UnitTest => unit_tests.insert(n.unique_id.clone(), v),
            _ => nodes.insert(n.unique_id.clone(), v),
        };
    }
    let (groups, _) = crate::artifacts::manifest::groups(project);
    Some(Value::from_serialize(serde_json::json!({
        "nodes": nodes, "sources": sources, "exposures": exposures,
        "metrics": {}, "groups": groups, "semantic_models": {}, "saved_queries": {},
        "unit_tests": unit_tests,
    })))
}

/// A node's SQL before ephemeral CTEs are injected, and the ephemeral
/// models it uses.
pub type CompileResult = Result<(String, Vec<String>), Diag>;

fn compile_node(
    compiler: &Compiler,
    renderer: &Renderer,
    project: &Project,
    node: &Node,
    live: Option<Arc<dyn crate::jinja::live::Live>>,
    batch: Option<(String, String)>,
    unit: Option<(&UnitSetup, &Arc<std::sync::Mutex<Vec<String>>>)>,
) -> CompileResult {
    let mut ctx = NodeCtx::new(
        Arc::clone(&renderer.shared),
        Phase::Compile,
        &node.package_name,
    );
    if matches!(
        node.resource_type,
        ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
    ) {
        ctx.this = Some(relation_for(project, node));
    }
    let direct = compiler.static_tests.recorded(node).is_some()
        && node
            .config
            .get("where")
            .is_none_or(serde_json::Value::is_null);
    // A template without Jinja statements is evaluated without a render
    // (a failed call is rendered, for its error); it never reads `model`,
    // and neither does a built-in generic test rendered directly, which
    // reads its model through its `model` argument: no copy of the node.
    let plain = static_template(renderer, node);
    if !direct && plain.is_none() {
        ctx.model = model_value(node);
    }
    ctx.config.clone_from(&node.config);
    ctx.resolver = Some(Arc::clone(&compiler.resolver));
    ctx.graph.clone_from(&compiler.graph);
    ctx.live = live;
    ctx.batch = batch;
    if let Some((u, used)) = unit {
        ctx.resolver = Some(Arc::new(UnitResolver {
            inner: Arc::clone(&compiler.resolver),
            fixtures: u.fixtures.clone(),
            used: Arc::clone(used),
        }));
        if let Some(t) = &u.this {
            ctx.this = Some(t.clone());
        }
        ctx.overrides = Some(Arc::clone(&u.overrides));
    }
    let ctx = Arc::new(ctx);
    let sql = match plain.map(|t| t.render(&ctx)) {
        Some(Ok(sql)) => sql,
        Some(Err(_)) => {
            // The render fails at the same call, with the error's place in
            // the file; what the attempt recorded is dropped first.
            let _ = ctx.take_recorded();
            render_node(renderer, project, node, &ctx, direct)?
        }
        None => render_node(renderer, project, node, &ctx, direct)?,
    };
    let recorded = ctx.take_recorded();
    if unit.is_none()
        && let Ok(mut called) = compiler.called.lock()
    {
        called.insert(node.unique_id.clone(), recorded.macros);
    }
    Ok((sql, recorded.ephemerals))
}
