//! `xform docs generate` and `docs serve`: catalog.json as dbt's readers
//! load it and as dbt-core writes it, and the page in a real browser
//! (headless Chromium over the `DevTools` protocol): the graph's nodes and
//! edges, a click that highlights exactly a node's lineage, a column's
//! upstream columns, a hostile description shown as text, and a screenshot.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::browser::{Browser, chromium, decode_png};
use crate::support::{copy_project, dbt, repo};

/// A description that would run code if the page ever treated data as
/// markup.
const HOSTILE: &str = r#"<img src=x onerror="window.__pwned=1"></script><script>window.__pwned=2</script> & <b>bold</b> \u2028"#;

/// The example project in a temp folder, with a hostile description on
/// `silver_customers`, its `DuckDB` file inside the folder.
fn example() -> tempfile::TempDir {
    let dir = copy_project(&repo().join("example_project"));
    let yml = dir.path().join("models/silver/_silver.yml");
    let text = std::fs::read_to_string(&yml).expect("yml");
    let hostile = serde_json::to_string(HOSTILE).expect("json");
    let text = text.replace(
        "description: Customers with normalised email and country codes.",
        &format!("description: {hostile}"),
    );
    assert!(
        text.contains("onerror"),
        "the fixture changed: {}",
        yml.display()
    );
    std::fs::write(&yml, text).expect("write yml");
    dir
}

fn run(dir: &Path, args: &[&str]) -> crate::support::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xform"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("XFORM_EXAMPLE_DB", dir.join("shop.duckdb"))
        .env_remove("DBT_PROFILES_DIR")
        .env("HOME", dir)
        .output()
        .expect("run xform");
    let out = crate::support::Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(out.code, 0, "xform {args:?}:\n{}{}", out.stdout, out.stderr);
    out
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

/// Loads a catalog in dbt-artifacts-parser and dbt-core's own reader.
fn check_catalog_loads(path: &Path) {
    let Some(dbt) = dbt() else { return };
    let python = dbt.with_file_name("python");
    let script = r"
import json, sys
from dbt_artifacts_parser.parser import parse_catalog
from dbt.artifacts.schemas.catalog import CatalogArtifact
path = sys.argv[1]
c = parse_catalog(json.load(open(path)))
a = CatalogArtifact.read_and_check_versions(path)
print(type(c).__name__, len(a.nodes), len(a.sources))
";
    let res = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .expect("python");
    assert!(
        res.status.success(),
        "catalog rejected:\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(
        String::from_utf8_lossy(&res.stdout).starts_with("CatalogV1"),
        "{}",
        String::from_utf8_lossy(&res.stdout)
    );
}

/// The parts of a catalog that do not depend on the run: per relation,
/// its metadata and columns.
fn catalog_shape(c: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for section in ["nodes", "sources"] {
        let mut m = serde_json::Map::new();
        for (id, t) in c[section].as_object().expect("section") {
            m.insert(
                id.clone(),
                serde_json::json!({"metadata": t["metadata"], "columns": t["columns"], "stats": t["stats"], "unique_id": t["unique_id"]}),
            );
        }
        out.insert(section.to_owned(), Value::Object(m));
    }
    Value::Object(out)
}

#[test]
fn docs_catalog_matches_dbt_and_loads_in_dbt_readers() {
    let dir = example();
    let d = dir.path();
    run(d, &["build"]);
    let out = run(d, &["docs", "generate"]);
    assert!(out.stderr.contains("from the warehouse"), "{}", out.stderr);
    let ours = read_json(&d.join("target/catalog.json"));
    assert_eq!(
        ours["metadata"]["dbt_schema_version"],
        "https://schemas.getdbt.com/dbt/catalog/v1.json"
    );
    let keys: Vec<&String> = ours.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["metadata", "nodes", "sources", "errors"]);
    let clv = &ours["nodes"]["model.shop.customer_lifetime_value"];
    assert_eq!(clv["metadata"]["type"], "BASE TABLE");
    assert_eq!(clv["columns"]["lifetime_value"]["type"], "DECIMAL(38,2)");
    assert_eq!(clv["columns"]["customer_id"]["index"], 1);
    assert_eq!(
        ours["nodes"]["model.shop.silver_customers"]["metadata"]["type"],
        "VIEW"
    );
    assert!(
        ours["nodes"].get("model.shop.stg_sales_deduped").is_none(),
        "an ephemeral model has no relation"
    );
    check_catalog_loads(&d.join("target/catalog.json"));

    // dbt-core's own catalog of the same warehouse is the same.
    let Some(dbt) = dbt() else { return };
    let theirs_dir = tempfile::tempdir().expect("tmp");
    let res = std::process::Command::new(&dbt)
        .args(["docs", "generate", "--no-compile", "--profiles-dir", "."])
        .arg("--target-path")
        .arg(theirs_dir.path())
        .current_dir(d)
        .env("XFORM_EXAMPLE_DB", d.join("shop.duckdb"))
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .output()
        .expect("dbt");
    assert!(
        res.status.success(),
        "dbt docs generate failed:\n{}",
        String::from_utf8_lossy(&res.stdout)
    );
    let theirs = read_json(&theirs_dir.path().join("catalog.json"));
    assert_eq!(catalog_shape(&ours), catalog_shape(&theirs));
}

#[test]
fn docs_offline_catalog_is_inferred_from_the_sql_and_loads_in_dbt_readers() {
    let dir = example();
    let d = dir.path();
    let out = run(d, &["docs", "generate", "--offline"]);
    assert!(out.stderr.contains("inferred"), "{}", out.stderr);
    assert!(
        !d.join("shop.duckdb").exists(),
        "--offline must not open the warehouse"
    );
    let c = read_json(&d.join("target/catalog.json"));
    let clv = &c["nodes"]["model.shop.customer_lifetime_value"];
    let cols: Vec<&str> = clv["columns"]
        .as_object()
        .expect("columns")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        cols,
        [
            "customer_id",
            "customer_name",
            "country",
            "n_sales",
            "lifetime_value"
        ]
    );
    assert_eq!(clv["metadata"]["type"], "BASE TABLE");
    assert_eq!(
        c["nodes"]["model.shop.silver_customers"]["metadata"]["type"],
        "VIEW"
    );
    // Seeds are typed as the seed would load them.
    assert_eq!(
        c["nodes"]["seed.shop.raw_customers"]["columns"]["customer_id"]["type"],
        "integer"
    );
    check_catalog_loads(&d.join("target/catalog.json"));
    // The page is there and names its catalog's origin.
    let page = std::fs::read_to_string(d.join("target/index.html")).expect("page");
    assert!(page.contains(r#""catalog":"inferred""#));
}

#[test]
fn docs_page_escapes_data_and_has_a_content_security_policy() {
    let dir = example();
    let d = dir.path();
    run(d, &["docs", "generate", "--offline"]);
    let page = std::fs::read_to_string(d.join("target/index.html")).expect("page");
    // Descriptions are inside compressed, base64-encoded JSON.
    assert!(
        !page.contains("onerror"),
        "markup from a description in the page"
    );
    assert_eq!(
        page.matches("</script>").count(),
        3,
        "only the page's own script elements"
    );
    assert!(page.contains("script-src 'sha256-"));
    assert!(
        !page.contains("<script src") && !page.contains("<link"),
        "the page loads nothing from elsewhere"
    );
}

/// The page of a project generated offline, in a browser.
fn open(dir: &Path, hash: &str, width: u32, height: u32) -> Option<Browser> {
    let chromium = chromium()?;
    let mut b = Browser::launch(&chromium, width, height);
    let url = format!("file://{}#{hash}", dir.join("target/index.html").display());
    b.navigate(&url);
    b.wait_for("window.xformDocs && document.readyState === 'complete'");
    Some(b)
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("string").to_owned())
        .collect()
}

/// Nodes and edges of the graph as the manifest has them (tests aside).
fn manifest_graph(dir: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let m = read_json(&dir.join("target/manifest.json"));
    let mut nodes = BTreeSet::new();
    let mut edges = BTreeSet::new();
    for section in ["nodes", "sources", "exposures"] {
        for (id, n) in m[section].as_object().expect("section") {
            if n["resource_type"] == "test" {
                continue;
            }
            nodes.insert(id.clone());
            for p in n["depends_on"]["nodes"].as_array().into_iter().flatten() {
                edges.insert(format!("{} -> {id}", p.as_str().expect("id")));
            }
        }
    }
    (nodes, edges)
}

#[test]
fn docs_page_graph_shows_every_node_and_edge_and_a_click_highlights_its_lineage() {
    let dir = example();
    let d = dir.path();
    run(d, &["docs", "generate", "--offline"]);
    let Some(mut b) = open(d, "graph", 1400, 900) else {
        return;
    };
    b.wait_for("document.querySelector('svg g.node')");
    let nodes = strings(
        &b.eval("Array.from(document.querySelectorAll('svg g.node')).map(e => e.dataset.id)"),
    );
    let edges = strings(&b.eval(
        "Array.from(document.querySelectorAll('svg path.edge')).map(e => e.dataset.from + ' -> ' + e.dataset.to)",
    ));
    let (want_nodes, want_edges) = manifest_graph(d);
    assert_eq!(nodes, want_nodes);
    assert_eq!(edges, want_edges);
    assert_eq!(nodes.len(), 11, "{nodes:?}");
    assert!(edges.contains("seed.shop.raw_customers -> model.shop.silver_customers"));

    b.click("svg g.node[data-id='model.shop.silver_customers']");
    b.wait_for("document.querySelector('g.node.sel')");
    let classes = |b: &mut Browser, cls: &str| {
        strings(&b.eval(&format!(
            "Array.from(document.querySelectorAll('svg g.node.{cls}')).map(e => e.dataset.id)"
        )))
    };
    let set = |ids: &[&str]| ids.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
    assert_eq!(
        classes(&mut b, "sel"),
        set(&["model.shop.silver_customers"])
    );
    assert_eq!(classes(&mut b, "up"), set(&["seed.shop.raw_customers"]));
    assert_eq!(
        classes(&mut b, "down"),
        set(&[
            "model.shop.customer_lifetime_value",
            "snapshot.shop.customers_snapshot",
            "analysis.shop.top_customers"
        ])
    );
    let dimmed = classes(&mut b, "dim");
    assert_eq!(dimmed.len(), 11 - 5, "{dimmed:?}");
    assert!(dimmed.contains("model.shop.daily_revenue"));
    let lit = strings(&b.eval(
        "Array.from(document.querySelectorAll('svg path.edge.hl')).map(e => e.dataset.from + ' -> ' + e.dataset.to)",
    ));
    assert_eq!(
        lit,
        set(&[
            "seed.shop.raw_customers -> model.shop.silver_customers",
            "model.shop.silver_customers -> model.shop.customer_lifetime_value",
            "model.shop.silver_customers -> snapshot.shop.customers_snapshot",
            "model.shop.customer_lifetime_value -> analysis.shop.top_customers",
        ])
    );
    // The selector filter draws just the selection.
    b.eval("location.hash = 'graph&select=' + encodeURIComponent('+silver_sales tag:gold')");
    b.wait_for("document.querySelectorAll('svg g.node').length === 5");
    let filtered = strings(
        &b.eval("Array.from(document.querySelectorAll('svg g.node')).map(e => e.dataset.id)"),
    );
    assert_eq!(
        filtered,
        set(&[
            "seed.shop.raw_sales",
            "model.shop.stg_sales_deduped",
            "model.shop.silver_sales",
            "model.shop.customer_lifetime_value",
            "model.shop.daily_revenue"
        ])
    );
}

#[test]
fn docs_page_column_lineage_lists_the_upstream_columns_through_expressions() {
    let dir = example();
    let d = dir.path();
    run(d, &["docs", "generate", "--offline"]);
    let Some(mut b) = open(d, "node=model.shop.customer_lifetime_value", 1400, 900) else {
        return;
    };
    b.wait_for("document.querySelector(\"tr.col-row[data-col='customer_name']\")");
    b.click("tr.col-row[data-col='customer_name'] td");
    b.wait_for("document.querySelector('#upstream-columns')");
    let up = strings(&b.eval(
        "Array.from(document.querySelectorAll('#upstream-columns li[data-col]')).map(e => e.dataset.col)",
    ));
    let want: BTreeSet<String> = [
        "silver_customers.first_name",
        "silver_customers.last_name",
        "raw_customers.first_name",
        "raw_customers.last_name",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(up, want);
    // Downstream of a seed column, through a rename-free copy and an
    // expression.
    b.eval("location.hash = 'lineage=seed.shop.raw_customers&col=first_name'");
    b.wait_for("document.querySelector('#downstream-columns li[data-col]')");
    let down = strings(&b.eval(
        "Array.from(document.querySelectorAll('#downstream-columns li[data-col]')).map(e => e.dataset.col)",
    ));
    assert!(down.contains("silver_customers.first_name"), "{down:?}");
    assert!(
        down.contains("customer_lifetime_value.customer_name"),
        "{down:?}"
    );
}

#[test]
fn docs_page_shows_a_hostile_description_as_text() {
    let dir = example();
    let d = dir.path();
    run(d, &["docs", "generate", "--offline"]);
    let Some(mut b) = open(d, "node=model.shop.silver_customers", 1400, 900) else {
        return;
    };
    b.wait_for("document.querySelector('#node-desc')");
    let shown = b.eval("document.querySelector('#node-desc').textContent");
    assert_eq!(shown, Value::from(HOSTILE.to_owned()));
    assert_eq!(
        b.eval("document.querySelectorAll('img, b, #main script').length"),
        0
    );
    assert_eq!(b.eval("document.querySelectorAll('script').length"), 3);
    assert_eq!(b.eval("typeof window.__pwned"), "undefined");
    // The graph's info card shows it as text too.
    b.eval("location.hash = 'graph'");
    b.wait_for("document.querySelector(\"svg g.node[data-id='model.shop.silver_customers']\")");
    b.click("svg g.node[data-id='model.shop.silver_customers']");
    b.wait_for("!document.querySelector('.info').hidden");
    assert_eq!(
        b.eval("document.querySelector('.info .desc').textContent"),
        Value::from(HOSTILE.to_owned())
    );
    assert_eq!(b.eval("document.querySelectorAll('img').length"), 0);
    assert_eq!(b.eval("typeof window.__pwned"), "undefined");
}

#[test]
fn docs_screenshot_of_the_column_lineage_page_is_a_real_image() {
    let dir = copy_project(&repo().join("example_project"));
    let d = dir.path();
    run(d, &["docs", "generate", "--offline"]);
    let (w, h) = (1400, 860);
    let Some(mut b) = open(
        d,
        "lineage=model.shop.customer_lifetime_value&col=customer_name",
        w,
        h,
    ) else {
        return;
    };
    b.wait_for("document.querySelector('svg g.cnode')");
    let png = b.screenshot();
    let img = decode_png(&png);
    assert_eq!((img.width, img.height), (w, h));
    let mut counts = std::collections::HashMap::new();
    for p in &img.pixels {
        *counts.entry(*p).or_insert(0usize) += 1;
    }
    let most = counts.values().copied().max().unwrap_or(0);
    assert!(
        counts.len() > 50,
        "only {} colours: a blank page?",
        counts.len()
    );
    assert!(
        most * 100 < img.pixels.len() * 90,
        "one colour covers {most} of {} pixels: a blank page?",
        img.pixels.len()
    );
    if std::env::var_os("XFORM_UPDATE_SCREENSHOT").is_some() {
        std::fs::write(repo().join("docs/img/lineage.png"), &png).expect("write screenshot");
    }
    // The committed screenshot is a PNG of the same size.
    let committed =
        std::fs::read(repo().join("docs/img/lineage.png")).expect("docs/img/lineage.png");
    let committed = decode_png(&committed);
    assert_eq!((committed.width, committed.height), (w, h));
}

/// Stops the server however the test ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn docs_serve_serves_the_target_files_on_localhost_only() {
    use std::io::{BufRead, Read, Write};
    let dir = example();
    let d = dir.path();
    run(d, &["docs", "generate", "--offline"]);
    let mut child = Server(
        std::process::Command::new(env!("CARGO_BIN_EXE_xform"))
            .args(["docs", "serve", "--port", "0"])
            .current_dir(d)
            .env("NO_COLOR", "1")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("serve"),
    );
    let mut err = std::io::BufReader::new(child.0.stderr.take().expect("stderr"));
    let mut line = String::new();
    err.read_line(&mut line).expect("line");
    let port: u16 = line
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let get = |path: &str| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("send");
        let mut out = Vec::new();
        s.read_to_end(&mut out).expect("read");
        String::from_utf8_lossy(&out).into_owned()
    };
    let index = get("/");
    assert!(
        index.starts_with("HTTP/1.1 200 OK"),
        "{}",
        &index[..100.min(index.len())]
    );
    assert!(index.contains("Content-Type: text/html; charset=utf-8"));
    assert!(index.contains("xf-data"));
    let catalog = get("/catalog.json");
    assert!(
        catalog.starts_with("HTTP/1.1 200 OK")
            && catalog.contains("Content-Type: application/json")
    );
    let manifest = get("/manifest.json");
    assert!(manifest.contains("\"dbt_schema_version\""));
    for bad in [
        "/../dbt_project.yml",
        "/..%2fdbt_project.yml",
        "/compiled",
        "/%2e%2e/profiles.yml",
    ] {
        let r = get(bad);
        assert!(
            r.starts_with("HTTP/1.1 404"),
            "{bad}: {}",
            &r[..60.min(r.len())]
        );
    }
    // It listens on the loopback address only (the kernel's table of
    // listening sockets: state 0A, address 0100007F is 127.0.0.1).
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let listening: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (addr, p) = f.get(1)?.split_once(':')?;
            (u16::from_str_radix(p, 16).ok()? == port && f.get(3) == Some(&"0A")).then_some(addr)
        })
        .collect();
    assert_eq!(listening, ["0100007F"]);
}

#[test]
fn docs_postgres_catalog_matches_dbt_postgres() {
    let Some(url) = crate::support::pg_url() else {
        return;
    };
    let env = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set (.ci/postgres.sh sets it)"))
    };
    let db = crate::support::PgDatabase::create(&url, "docs_catalog");
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let write = |rel: &str, text: &str| {
        let p = d.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write("dbt_project.yml", "name: p\nversion: '1.0'\nprofile: p\n");
    write(
        "profiles.yml",
        &format!(
            "p:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      host: {}\n      port: {}\n      user: {}\n      password: '{}'\n      dbname: {}\n      schema: analytics\n      threads: 2\n",
            env("XFORM_TEST_PG_HOST"),
            env("XFORM_TEST_PG_PORT"),
            env("XFORM_TEST_PG_USER"),
            env("XFORM_TEST_PG_PASSWORD"),
            db.name
        ),
    );
    write(
        "seeds/people.csv",
        "id,name,born\n1,Ann,2001-02-03\n2,Bob,1999-12-31\n",
    );
    write(
        "models/adults.sql",
        "{{ config(materialized='table') }}\nselect id, upper(name) as name, cast(born as date) as born, 1.5::numeric(10,2) as score from {{ ref('people') }}",
    );
    write("models/names.sql", "select name from {{ ref('adults') }}");
    write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: adults\n    description: Grown-ups\n    config: {persist_docs: {relation: true}}\n",
    );
    run(d, &["build"]);
    let out = run(d, &["docs", "generate"]);
    assert!(out.stderr.contains("from the warehouse"), "{}", out.stderr);
    let ours = read_json(&d.join("target/catalog.json"));
    let adults = &ours["nodes"]["model.p.adults"];
    assert_eq!(adults["metadata"]["type"], "BASE TABLE");
    assert_eq!(adults["metadata"]["comment"], "Grown-ups");
    assert_eq!(
        adults["metadata"]["owner"],
        Value::from(env("XFORM_TEST_PG_USER"))
    );
    assert_eq!(adults["columns"]["score"]["type"], "numeric(10,2)");
    assert_eq!(ours["nodes"]["model.p.names"]["metadata"]["type"], "VIEW");
    assert_eq!(
        ours["nodes"]["seed.p.people"]["columns"]["born"]["type"],
        "date"
    );
    check_catalog_loads(&d.join("target/catalog.json"));
    let Some(dbt) = dbt() else { return };
    let theirs_dir = tempfile::tempdir().expect("tmp");
    let res = std::process::Command::new(&dbt)
        .args(["docs", "generate", "--no-compile", "--profiles-dir", "."])
        .arg("--target-path")
        .arg(theirs_dir.path())
        .current_dir(d)
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .output()
        .expect("dbt");
    assert!(
        res.status.success(),
        "dbt docs generate failed:\n{}",
        String::from_utf8_lossy(&res.stdout)
    );
    let theirs = read_json(&theirs_dir.path().join("catalog.json"));
    assert_eq!(catalog_shape(&ours), catalog_shape(&theirs));
}
