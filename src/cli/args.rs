//! Command-line arguments, named as dbt names them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "xform",
    version,
    about = "A SQL-first transformation compiler that runs dbt projects",
    long_about = "xform reads dbt projects as they are (dbt_project.yml, profiles.yml, models, seeds, \
snapshots, macros, tests, packages), builds the dependency graph, and compiles every model to plain SQL.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// The project folder (the one with `dbt_project.yml`); default: current folder
    #[arg(long, global = true, value_name = "DIR")]
    pub project_dir: Option<PathBuf>,
    /// Folder with profiles.yml; default: the project folder, then ~/.dbt
    #[arg(long, global = true, env = "DBT_PROFILES_DIR", value_name = "DIR")]
    pub profiles_dir: Option<PathBuf>,
    /// Which output of the profile to use
    #[arg(short = 't', long, global = true)]
    pub target: Option<String>,
    /// Variables as YAML or JSON, e.g. '{"start": "2024-01-01"}'
    #[arg(long, global = true)]
    pub vars: Option<String>,
    /// Number of parallel workers for the warehouse
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Print only errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print debug logs (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log format on stderr
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Disable colours (also `NO_COLOR=1`)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// The artifacts of an earlier run (its target/ folder: `manifest.json`, `run_results.json`)
    /// for `state:` and `result:` selection, --defer and clone (also `XFORM_STATE` or `DBT_STATE`)
    #[arg(long, global = true, env = "XFORM_STATE", value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// The state to defer to, when it is not --state (also `DBT_DEFER_STATE`)
    #[arg(long, global = true, env = "DBT_DEFER_STATE", value_name = "DIR")]
    pub defer_state: Option<PathBuf>,
    /// Refs to nodes that are not selected and not built in this target read the state's relations
    /// (also `DBT_DEFER`)
    #[arg(long, global = true, env = "DBT_DEFER", overrides_with = "no_defer")]
    pub defer: bool,
    /// Do not defer (overrides `DBT_DEFER`)
    #[arg(long, global = true, overrides_with = "defer")]
    pub no_defer: bool,
    /// With --defer: refs to unselected nodes read the state's relations even where this target
    /// has them (also `DBT_FAVOR_STATE`)
    #[arg(
        long,
        global = true,
        env = "DBT_FAVOR_STATE",
        overrides_with = "no_favor_state"
    )]
    pub favor_state: bool,
    /// Do not favor the state (overrides `DBT_FAVOR_STATE`)
    #[arg(long, global = true, overrides_with = "favor_state")]
    pub no_favor_state: bool,
    /// Render every model with Jinja, also those that hold nothing but literal `ref`, `source`,
    /// `config` and `var` calls, which are otherwise read without a render (also
    /// `DBT_STATIC_PARSER=false`)
    #[arg(long, global = true, overrides_with = "static_parser")]
    pub no_static_parser: bool,
    /// Read models that hold nothing but literal `ref`, `source`, `config` and `var` calls
    /// without a render: the default (overrides `DBT_STATIC_PARSER`)
    #[arg(long, global = true, overrides_with = "no_static_parser")]
    pub static_parser: bool,
}

impl GlobalArgs {
    /// `--state`, else `XFORM_STATE` (through clap), else `DBT_STATE`.
    pub fn state_dir(&self) -> Option<PathBuf> {
        self.state.clone().or_else(|| {
            std::env::var_os("DBT_STATE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
    }

    pub fn defer_enabled(&self) -> bool {
        self.defer && !self.no_defer
    }

    pub fn favor_state_enabled(&self) -> bool {
        self.favor_state && !self.no_favor_state
    }

    /// `--static-parser`/`--no-static-parser`, else `DBT_STATIC_PARSER`, else on.
    pub fn static_parser_enabled(&self) -> bool {
        if self.no_static_parser || self.static_parser {
            return self.static_parser;
        }
        std::env::var("DBT_STATIC_PARSER").map_or(true, |v| {
            !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "0" | "false" | "no" | "off"
            )
        })
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Load and validate the whole project and write target/manifest.json
    Parse,
    /// Render selected nodes to SQL under target/compiled/
    Compile(CompileArgs),
    /// List resources of the project
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show the linked `DuckDB` version and xform's version
    Debug,
    /// Load seed CSV files into the warehouse
    Seed(RunArgs),
    /// Build the selected models in the warehouse
    Run(RunArgs),
    /// Run data tests against built models
    Test(RunArgs),
    /// Seed, run, snapshot and test the selection in DAG order
    Build(RunArgs),
    /// Take snapshots (slowly changing dimensions)
    Snapshot(RunArgs),
    /// Preview the rows of a model or of an inline query
    Show(ShowArgs),
    /// Delete the folders listed in `clean-targets` (default: the `target-path`, target/)
    Clean,
    /// Install the packages of packages.yml (or dependencies.yml) into `dbt_packages/`
    #[command(
        long_about = "Install the packages of packages.yml (or dependencies.yml) into dbt_packages/ \
(or `packages-install-path`), as dbt deps does.

Without package-lock.yml, or when packages.yml changed since it was written, the packages are \
resolved (hub version ranges to the newest matching version, git revisions to commits, packages \
of packages too) and package-lock.yml is written. Otherwise the locked versions are installed \
as they are; packages already installed at their locked version are left alone, so a second run \
fetches nothing. Hub packages come from DBT_PACKAGE_HUB_URL when set, else hub.getdbt.com; git \
packages are cloned with the `git` command; local packages are symlinked."
    )]
    Deps(DepsArgs),
    /// Re-run the nodes that failed or were skipped in the last run
    Retry(RunArgs),
    /// Create the selected models, seeds and snapshots of the --state environment in this target
    /// (a zero-copy clone where the warehouse has one, a view on the state's relation otherwise)
    Clone(CloneArgs),
    /// Call a macro against the warehouse, e.g. `run-operation grant_select --args '{role: bi}'`
    RunOperation(RunOperationArgs),
    /// Validate the selected models without a warehouse: compile, parse the SQL, check columns
    Check(CheckArgs),
    /// Print the lineage of a model or of one of its columns
    Lineage(LineageArgs),
    /// Write the documentation site (target/index.html, catalog.json) or serve it
    #[command(subcommand)]
    Docs(DocsCommand),
}

/// Where `deps --add-package` takes the package from.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepsSource {
    Hub,
    Git,
    Local,
}

#[derive(Args, Debug)]
pub struct DepsArgs {
    /// Resolve again to the newest versions the ranges allow and rewrite package-lock.yml
    #[arg(long)]
    pub upgrade: bool,
    /// Only write package-lock.yml, install nothing
    #[arg(long)]
    pub lock: bool,
    /// Add a package to packages.yml first, as name@version (e.g. dbt-labs/dbt_utils@1.3.0; a
    /// range as "dbt-labs/dbt_utils@>=1.0.0,<2.0.0")
    #[arg(long, value_name = "NAME@VERSION")]
    pub add_package: Option<String>,
    /// Where --add-package takes the package from: the hub, a git URL, or a local path
    #[arg(long, value_enum, default_value_t = DepsSource::Hub)]
    pub source: DepsSource,
    /// Also install hub versions whose `require_dbt_version` excludes dbt 1.11
    #[arg(long)]
    pub no_version_check: bool,
}

#[derive(Subcommand, Debug)]
pub enum DocsCommand {
    /// Write target/catalog.json and a one-file documentation site, target/index.html
    Generate(DocsGenerateArgs),
    /// Serve the target folder (index.html, manifest.json, catalog.json) on 127.0.0.1
    Serve(DocsServeArgs),
}

#[derive(Args, Debug)]
pub struct DocsGenerateArgs {
    /// Do not compile the project first (the pages then show no compiled SQL)
    #[arg(long)]
    pub no_compile: bool,
    /// Do not connect to the warehouse: columns and types are inferred from the project's SQL
    #[arg(long)]
    pub offline: bool,
}

#[derive(Args, Debug)]
pub struct DocsServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFormat {
    /// Diagnostics with code frames
    Human,
    /// GitHub Actions workflow annotations on stdout
    Github,
    /// One JSON object on stdout
    Json,
    /// A `JUnit` XML report on stdout, one test case per model
    Junit,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
    /// A `catalog.json` from a previous run, for the columns of sources, seeds and snapshots
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Also warn about `select *` in marts, unused CTEs, models without description or tests
    #[arg(long)]
    pub warn: bool,
    /// Parse SQL as this adapter type does instead of the target's (e.g. without a profiles.yml)
    #[arg(long, value_name = "TYPE", value_parser = clap::builder::PossibleValuesParser::new(crate::adapter::KNOWN_KINDS))]
    pub dialect: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineageFormat {
    Text,
    Json,
    Dot,
}

#[derive(Args, Debug)]
pub struct LineageArgs {
    /// A model, seed, snapshot or source (`source_name.table`), optionally with `.column`
    #[arg(value_name = "NODE[.COLUMN]")]
    pub node: String,
    /// Only what it derives from
    #[arg(long, conflicts_with = "downstream")]
    pub upstream: bool,
    /// Only what derives from it
    #[arg(long)]
    pub downstream: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = LineageFormat::Text)]
    pub format: LineageFormat,
    /// A `catalog.json` from a previous run, for the columns of sources, seeds and snapshots
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ShowArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// A query to run instead of a node, e.g. "select * from {{ ref('orders') }}"
    #[arg(long)]
    pub inline: Option<String>,
    /// How many rows to show
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
}

#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Rebuild incremental models and seeds from scratch
    #[arg(long, short = 'f')]
    pub full_refresh: bool,
    /// Stop at the first failure
    #[arg(long, short = 'x')]
    pub fail_fast: bool,
    /// Keep the failing rows of data tests in audit tables
    #[arg(long)]
    pub store_failures: bool,
    /// Build every relation with zero rows (checks schemas only)
    #[arg(long)]
    pub empty: bool,
    /// Microbatch: first event time to process (inclusive)
    #[arg(long)]
    pub event_time_start: Option<String>,
    /// Microbatch: event time to stop at (exclusive)
    #[arg(long)]
    pub event_time_end: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CloneArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Replace relations that already exist in this target
    #[arg(long, short = 'f')]
    pub full_refresh: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct SelectArgs {
    /// Nodes to include (dbt selection syntax); repeatable
    #[arg(short = 's', long = "select", alias = "models", short_alias = 'm', num_args = 1.., value_name = "SELECTOR")]
    pub select: Vec<String>,
    /// Nodes to leave out (dbt selection syntax)
    #[arg(long, num_args = 1.., value_name = "SELECTOR")]
    pub exclude: Vec<String>,
    /// A named selector from selectors.yml
    #[arg(long)]
    pub selector: Option<String>,
    /// Only these resource types (model, seed, snapshot, test, analysis, source, exposure)
    #[arg(long = "resource-type", alias = "resource-types", num_args = 1..)]
    pub resource_type: Vec<String>,
    /// How tests attached to selected nodes are selected
    #[arg(long, value_parser = ["eager", "cautious", "buildable", "empty"])]
    pub indirect_selection: Option<String>,
}

#[derive(Args, Debug)]
pub struct CompileArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Compile one query and print it instead of the project's nodes
    #[arg(long)]
    pub inline: Option<String>,
    /// Never query the warehouse: macros that introspect (`run_query`,
    /// `statement`, `adapter.get_columns_in_relation`) see nothing, as
    /// while parsing
    #[arg(long)]
    pub no_introspect: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LsOutput {
    Name,
    Path,
    Json,
    Selector,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Output format
    #[arg(long, short = 'o', value_enum, default_value_t = LsOutput::Selector)]
    pub output: LsOutput,
    /// With --output json: only these keys
    #[arg(long, num_args = 1..)]
    pub output_keys: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct RunOperationArgs {
    /// The macro to call (`name` or `package.name`)
    pub macro_name: String,
    /// Keyword arguments as YAML or JSON, e.g. '{table: orders}'
    #[arg(long)]
    pub args: Option<String>,
}
