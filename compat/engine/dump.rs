//! What a database holds after a step, as comparable text: its schemas, and
//! every table and view outside the system schemas with its kind, columns
//! (names and types as the warehouse spells them) and rows (sorted; each row
//! one line of cells).
//!
//! Cells are normalised so that equal data reads equal:
//!
//! - strings are quoted (`"a"`), NULL is bare;
//! - floats are rounded to 12 significant digits, so that sums added up in
//!   a different order compare equal;
//! - a `TIMESTAMP`/`TIMESTAMPTZ` value inside a step's wall-clock window
//!   (from starting the command to the end of the dump that follows it;
//!   else the nearest window within 2 s) came from `now()` (snapshot `dbt_valid_from`/`dbt_valid_to`/
//!   `dbt_updated_at` with the check strategy or for hard deletes): it
//!   becomes `<now@step N>`. So xform must take "now" in the same step as
//!   dbt, but not at the same microsecond;
//! - a timestamp with a fraction of a second that is a whole number of hours
//!   (up to 72) from a step's window came from `now()` moved by that much:
//!   it becomes `<now-23h@step N>`;
//! - on Postgres, each tool's own database name becomes `{database}`;
//! - in compiled SQL too, a timestamp with a fraction of a second inside a
//!   step's window becomes `<now@step N>` (a macro read it back from a
//!   column filled with `now()`: [`normalise_now_in_text`]);
//! - a `DATE`/`TIMESTAMP`/`TIMESTAMPTZ` value within 60 days of the day the
//!   run started (UTC) becomes `today-3` or `today-3 00:00:00`: the inverse
//!   of the date placeholders of fixtures (a run across midnight UTC sees two
//!   "todays" and can fail once);
//! - a `*scd_id` in a row whose `*valid_from` came from `now()` is an md5
//!   of that time: it becomes `<md5 of now@step N>` (`<md5 of now@today>`
//!   when `*valid_from` is a date, today). With the timestamp strategy and
//!   data-provided `updated_at` it is deterministic and kept.
//!
//! Nothing else is filtered out: dbt-duckdb and dbt-postgres leave no
//! internal relations behind (`__dbt_backup`/`__dbt_tmp` are dropped), so a
//! leftover on either side is a difference.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use chrono::{NaiveDate, NaiveDateTime, TimeDelta};

use super::artifacts::DATABASE;
use super::pg::Database;

/// Every schema and relation of a database after one step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dump {
    pub schemas: Vec<String>,
    /// Sorted by schema, then name.
    pub relations: Vec<Relation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub schema: String,
    pub name: String,
    /// `table`, `view` or `materialized view`.
    pub kind: String,
    /// `(name, type)` in order.
    pub columns: Vec<(String, String)>,
    /// Rows as `v1 | v2 | ...`, sorted; or why they could not be read (a
    /// view over a dropped table).
    pub rows: Result<Vec<String>, String>,
}

impl Relation {
    /// `schema.name`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The relation as the dumps print it: `--- schema.name (kind)`, a line
    /// per column, then `  | row` lines.
    pub fn render(&self) -> String {
        let mut out = format!("--- {}.{} ({})\n", self.schema, self.name, self.kind);
        for (name, ty) in &self.columns {
            let _ = writeln!(out, "    {name} {ty}");
        }
        match &self.rows {
            Ok(rows) => {
                for row in rows {
                    let _ = writeln!(out, "  | {row}");
                }
            }
            Err(e) => {
                let _ = writeln!(out, "  ! {e}");
            }
        }
        out
    }
}

impl Dump {
    pub fn get(&self, schema: &str, name: &str) -> Option<&Relation> {
        self.relations
            .iter()
            .find(|r| r.schema == schema && r.name == name)
    }

    /// The schema line as the dumps print it.
    pub fn render_schemas(&self) -> String {
        format!("schemas: {}\n", self.schemas.join(", "))
    }
}

/// The wall-clock window of one step, in UTC.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

/// What time-dependent values are normalised against: the day the run
/// started and the windows of the steps so far.
pub struct Clock<'a> {
    pub today: NaiveDate,
    pub windows: &'a [Window],
    /// The last window is still open: it reaches the moment a value is
    /// looked at. While a step's database is dumped, a view that reads
    /// `now()` is computed then, after the command exited.
    pub open: bool,
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Every schema, table and view of the `DuckDB` file at `path`.
pub fn dump_duckdb(path: &Path, clock: &Clock) -> Result<Dump> {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
    let conn = duckdb::Connection::open_with_flags(path, config)
        .with_context(|| format!("open {}", path.display()))?;
    conn.execute_batch("SET TimeZone = 'UTC'")?;
    let strings = |sql: &str, params: &[&dyn duckdb::ToSql]| -> Result<Vec<Vec<String>>> {
        let mut stmt = conn.prepare(sql).with_context(|| sql.to_owned())?;
        let mut rows = stmt.query(params).with_context(|| sql.to_owned())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let n = row.as_ref().column_count();
            out.push(
                (0..n)
                    .map(|i| row.get::<_, String>(i))
                    .collect::<Result<_, _>>()?,
            );
        }
        Ok(out)
    };
    let schemas: Vec<String> = strings(
        "select schema_name from duckdb_schemas() \
         where database_name = current_database() \
           and schema_name not in ('information_schema', 'pg_catalog') \
         order by schema_name",
        &[],
    )?
    .into_iter()
    .map(|mut r| r.remove(0))
    .collect();
    let listed = strings(
        "select schema_name, table_name, 'table' from duckdb_tables() \
         where database_name = current_database() \
         union all \
         select schema_name, view_name, 'view' from duckdb_views() \
         where database_name = current_database() and not internal \
           and schema_name not in ('information_schema', 'pg_catalog') \
         order by 1, 2",
        &[],
    )?;
    let mut relations = Vec::with_capacity(listed.len());
    for rel in listed {
        let (schema, name, kind) = (&rel[0], &rel[1], &rel[2]);
        let columns: Vec<(String, String)> = strings(
            "select column_name, data_type from duckdb_columns() \
             where database_name = current_database() and schema_name = ? and table_name = ? \
             order by column_index",
            &[schema, name],
        )?
        .into_iter()
        .map(|mut c| (c.remove(0), c.remove(0)))
        .collect();
        let select: Vec<String> = columns
            .iter()
            .map(|(c, _)| format!("cast({} as varchar)", ident(c)))
            .collect();
        let sql = format!(
            "select {} from {}.{}",
            select.join(", "),
            ident(schema),
            ident(name)
        );
        let read = || -> Result<Vec<String>, duckdb::Error> {
            let mut stmt = conn.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            let mut lines = Vec::new();
            while let Some(row) = rows.next()? {
                let values: Vec<Option<String>> = (0..columns.len())
                    .map(|i| row.get::<_, Option<String>>(i))
                    .collect::<Result<_, _>>()?;
                lines.push(render_row(&columns, values, clock));
            }
            lines.sort();
            Ok(lines)
        };
        relations.push(Relation {
            schema: schema.clone(),
            name: name.clone(),
            kind: kind.clone(),
            rows: read().map_err(|e| e.to_string()),
            columns,
        });
    }
    Ok(Dump { schemas, relations })
}

/// Like [`dump_duckdb`], for a Postgres database: every schema but the
/// system ones, every table, view and materialized view with its columns
/// (types as `format_type` spells them) and rows as Postgres prints them in
/// UTC.
pub fn dump_postgres(db: &Database, clock: &Clock) -> Result<Dump> {
    let text = |r: &[Option<String>], i: usize| r[i].clone().unwrap_or_default();
    let schemas: Vec<String> = db
        .rows(
            "select nspname from pg_catalog.pg_namespace \
             where nspname not like 'pg\\_%' and nspname <> 'information_schema' order by 1",
        )?
        .iter()
        .map(|r| text(r, 0))
        .collect();
    let listed = db.rows(
        "select n.nspname, c.relname, \
           case c.relkind when 'v' then 'view' when 'm' then 'materialized view' else 'table' end \
         from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
         where c.relkind in ('r', 'p', 'v', 'm') \
           and n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema' \
         order by 1, 2",
    )?;
    let mut relations = Vec::with_capacity(listed.len());
    for rel in listed {
        let (schema, name, kind) = (text(&rel, 0), text(&rel, 1), text(&rel, 2));
        let qualified = format!("{}.{}", ident(&schema), ident(&name));
        let columns: Vec<(String, String)> = db
            .rows(&format!(
                "select attname, pg_catalog.format_type(atttypid, atttypmod) \
                 from pg_catalog.pg_attribute \
                 where attrelid = '{}'::regclass and attnum > 0 and not attisdropped \
                 order by attnum",
                qualified.replace('\'', "''")
            ))?
            .iter()
            .map(|r| (text(r, 0), text(r, 1)))
            .collect();
        let select: Vec<String> = columns.iter().map(|(c, _)| ident(c)).collect();
        let rows = db
            .rows(&format!(
                "set timezone = 'UTC'; select {} from {qualified}",
                select.join(", ")
            ))
            .map(|rows| {
                // A relation's name written into the data (union_relations'
                // `_dbt_source_relation`) names the tool's own database.
                let mut lines: Vec<String> = rows
                    .into_iter()
                    .map(|values| render_row(&columns, values, clock).replace(&db.name, DATABASE))
                    .collect();
                lines.sort();
                lines
            })
            .map_err(|e| format!("{e:#}").replace('\n', " "));
        relations.push(Relation {
            schema,
            name,
            kind,
            columns,
            rows,
        });
    }
    Ok(Dump { schemas, relations })
}

/// A column type as the normalisation knows it: Postgres names of text,
/// float, date and time types become `DuckDB`'s.
fn canonical_type(ty: &str) -> &str {
    match ty {
        "text" | "character varying" => "VARCHAR",
        "timestamp without time zone" => "TIMESTAMP",
        "timestamp with time zone" => "TIMESTAMP WITH TIME ZONE",
        "date" => "DATE",
        "double precision" => "DOUBLE",
        "real" | "REAL" => "FLOAT",
        t if t.starts_with("character varying(") || t.starts_with("character(") => "VARCHAR",
        t => t,
    }
}

/// One row as `v1 | v2 | ...`, normalised (see the module docs).
pub fn render_row(
    columns: &[(String, String)],
    values: Vec<Option<String>>,
    clock: &Clock,
) -> String {
    let mut cells: Vec<String> = Vec::with_capacity(values.len());
    // When `*valid_from` came from `now()`: the step, or `today` for a date.
    let mut now: Option<String> = None;
    for ((name, ty), v) in columns.iter().zip(values) {
        let ty = canonical_type(ty);
        let Some(v) = v else {
            cells.push("NULL".to_owned());
            continue;
        };
        let cell = match ty {
            "VARCHAR" => format!("{v:?}"),
            "DOUBLE" | "FLOAT" => canonical_float(&v),
            "TIMESTAMP" | "TIMESTAMP WITH TIME ZONE" | "DATE" => {
                let (cell, step) = normalise_time(&v, ty, clock);
                if name.ends_with("valid_from") {
                    if let Some(step) = step {
                        now = Some(format!("step {step}"));
                    } else if ty == "DATE" && on_a_step_day(&v, clock) {
                        // `now()` cast to a date column.
                        now = Some("today".to_owned());
                    }
                }
                cell
            }
            _ => v,
        };
        cells.push(cell);
    }
    if let Some(now) = now
        && let Some(i) = columns.iter().position(|c| c.0.ends_with("scd_id"))
        && cells[i] != "NULL"
    {
        cells[i] = format!("<md5 of now@{now}>");
    }
    cells.join(" | ")
}

/// Whether a date is the day of one of the steps.
fn on_a_step_day(v: &str, clock: &Clock) -> bool {
    NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok_and(|d| {
        clock
            .windows
            .iter()
            .any(|w| w.start.date() <= d && d <= w.end.date())
    })
}

/// A float rounded to 12 significant digits, printed the shortest way that
/// reads back as that value (exponent notation outside 1e-5..1e15); text
/// that is not a finite number (`NaN`, `inf`) as it was.
pub fn canonical_float(v: &str) -> String {
    let Ok(x) = v.parse::<f64>() else {
        return v.to_owned();
    };
    if !x.is_finite() {
        return v.to_owned();
    }
    let rounded: f64 = format!("{x:.11e}").parse().unwrap_or(x);
    let abs = rounded.abs();
    if abs == 0.0 || (1e-5..1e15).contains(&abs) {
        format!("{rounded}")
    } else {
        format!("{rounded:e}")
    }
}

/// A time value as compared: `<now@step N>` when it falls in a step's
/// window, relative to today when it is within 60 days of it, else as is.
/// Returns the step as well when it was a `now()` value.
pub fn normalise_time(v: &str, ty: &str, clock: &Clock) -> (String, Option<usize>) {
    if ty == "DATE" {
        return match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) => (
                relative_day(d, clock.today).unwrap_or_else(|| v.to_owned()),
                None,
            ),
            Err(_) => (v.to_owned(), None),
        };
    }
    // TIMESTAMPTZ renders as `... +00` with `TimeZone = 'UTC'`.
    let bare = v.strip_suffix("+00").unwrap_or(v);
    let Ok(t) = NaiveDateTime::parse_from_str(bare, "%Y-%m-%d %H:%M:%S%.f") else {
        return (v.to_owned(), None);
    };
    if let Some(step) = step_at(t, clock) {
        return (format!("<now@step {step}>"), Some(step));
    }
    // `now()` moved by whole hours (`dateadd('hour', -23, current_timestamp)`).
    // Only a value with a fraction of a second: data placeholders are whole
    // seconds, and one could otherwise sit a whole number of hours before a
    // step by chance.
    if t.and_utc().timestamp_subsec_nanos() != 0 {
        for hours in (-72..=72_i64).filter(|h| *h != 0) {
            if let Some(step) = step_at(t - TimeDelta::hours(hours), clock) {
                return (format!("<now{hours:+}h@step {step}>"), None);
            }
        }
    }
    match relative_day(t.date(), clock.today) {
        Some(day) => (
            format!(
                "{day} {}{}",
                t.time().format("%H:%M:%S%.f"),
                &v[bare.len()..]
            ),
            None,
        ),
        None => (v.to_owned(), None),
    }
}

/// `text` (compiled SQL) with every timestamp that came from `now()` during
/// a step as `<now@step N>`: a macro can read such a value back from the
/// warehouse into the SQL it writes (`select max(created_at) ...` over a
/// column filled with `current_timestamp`). Only timestamps with a fraction
/// of a second, as `now()` has and date placeholders do not.
pub fn normalise_now_in_text(text: &str, clock: &Clock) -> String {
    static TIMESTAMP: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}\.\d{1,9}")
            .expect("valid pattern")
    });
    TIMESTAMP
        .replace_all(text, |c: &regex::Captures| {
            let v = c[0].replacen('T', " ", 1);
            match NaiveDateTime::parse_from_str(&v, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .and_then(|t| step_at(t, clock))
            {
                Some(step) => format!("<now@step {step}>"),
                None => c[0].to_owned(),
            }
        })
        .into_owned()
}

/// The step (1-based) whose window holds `t`, else the nearest one within
/// 2 s (steps can be milliseconds apart, so containment comes first).
fn step_at(t: NaiveDateTime, clock: &Clock) -> Option<usize> {
    let last = clock.windows.len().saturating_sub(1);
    let distance = |i: usize, w: &Window| {
        let end = if clock.open && i == last {
            w.end.max(chrono::Utc::now().naive_utc())
        } else {
            w.end
        };
        if t < w.start {
            w.start - t
        } else if t > end {
            t - end
        } else {
            TimeDelta::zero()
        }
    };
    clock
        .windows
        .iter()
        .enumerate()
        .map(|(i, w)| (i, distance(i, w)))
        .filter(|(_, d)| *d <= TimeDelta::seconds(2))
        .min_by_key(|(_, d)| *d)
        .map(|(i, _)| i + 1)
}

fn relative_day(d: NaiveDate, today: NaiveDate) -> Option<String> {
    let days = (d - today).num_days();
    match days {
        0 => Some("today".to_owned()),
        -60..=60 => Some(format!("today{days:+}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_and_recent_days_are_normalised() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("time");
        let windows = [
            Window {
                start: t("2030-05-10 10:00:00"),
                end: t("2030-05-10 10:00:05"),
            },
            Window {
                start: t("2030-05-10 10:00:06"),
                end: t("2030-05-10 10:00:09"),
            },
        ];
        let clock = Clock {
            today: NaiveDate::from_ymd_opt(2030, 5, 10).expect("date"),
            windows: &windows,
            open: false,
        };
        let n = |v: &str, ty: &str| normalise_time(v, ty, &clock).0;
        assert_eq!(n("2030-05-10 10:00:07.123456", "TIMESTAMP"), "<now@step 2>");
        assert_eq!(
            n("2030-05-10 10:00:01+00", "TIMESTAMP WITH TIME ZONE"),
            "<now@step 1>"
        );
        assert_eq!(n("2030-05-08 00:00:00", "TIMESTAMP"), "today-2 00:00:00");
        assert_eq!(n("2030-05-11", "DATE"), "today+1");
        assert_eq!(n("2024-01-01 12:00:00", "TIMESTAMP"), "2024-01-01 12:00:00");
        assert_eq!(n("2030-05-09 11:00:07.5", "TIMESTAMP"), "<now-23h@step 2>");
        // A whole second a whole number of hours away is data, not now().
        assert_eq!(n("2030-05-09 11:00:07", "TIMESTAMP"), "today-1 11:00:07");
        let columns = vec![
            ("dbt_scd_id".to_owned(), "VARCHAR".to_owned()),
            ("dbt_valid_from".to_owned(), "TIMESTAMP".to_owned()),
        ];
        let row = render_row(
            &columns,
            vec![
                Some("abc".to_owned()),
                Some("2030-05-10 10:00:02".to_owned()),
            ],
            &clock,
        );
        assert_eq!(row, "<md5 of now@step 1> | <now@step 1>");
        let sql = "where t >= '2030-05-10 10:00:07.5+00:00' and t < '2030-05-10 10:00:08' \
                   and u = '2024-01-01 12:00:00.25'";
        assert_eq!(
            normalise_now_in_text(sql, &clock),
            "where t >= '<now@step 2>+00:00' and t < '2030-05-10 10:00:08' \
             and u = '2024-01-01 12:00:00.25'"
        );
    }

    #[test]
    fn floats_compare_at_twelve_significant_digits() {
        assert_eq!(canonical_float("0.30000000000000004"), "0.3");
        assert_eq!(canonical_float("0.3"), "0.3");
        assert_eq!(canonical_float("10.0"), "10");
        assert_eq!(canonical_float("9.999999999999998"), "10");
        assert_eq!(canonical_float("-0.75"), "-0.75");
        assert_eq!(canonical_float("1e+20"), "1e20");
        assert_eq!(canonical_float("1.0000000000000001e-07"), "1e-7");
        assert_eq!(canonical_float("NaN"), "NaN");
        assert_eq!(canonical_float("-inf"), "-inf");
        assert_ne!(
            canonical_float("1.00000000001"),
            canonical_float("1.00000000002")
        );
    }
}
