//! Seed CSV files: column types inferred from the text exactly as dbt infers
//! them (agate's type tester with dbt's settings), so a seed lands with the
//! same column types under xform as under dbt.

use std::path::Path;

use crate::adapter::SeedType;

/// A seed file's header, inferred column kinds and row count.
#[derive(Debug)]
pub struct SeedFile {
    pub columns: Vec<(String, SeedType)>,
    pub rows: usize,
}

/// What a column's values have allowed so far.
#[derive(Clone, Copy)]
struct Candidates {
    number: bool,
    decimals: bool,
    date: bool,
    datetime: bool,
    iso: bool,
    boolean: bool,
}

impl Candidates {
    const ALL: Self = Self {
        number: true,
        decimals: false,
        date: true,
        datetime: true,
        iso: true,
        boolean: true,
    };

    fn kind(self) -> SeedType {
        if self.number {
            if self.decimals {
                SeedType::Float
            } else {
                SeedType::Integer
            }
        } else if self.date {
            SeedType::Date
        } else if self.datetime || self.iso {
            SeedType::Timestamp
        } else if self.boolean {
            SeedType::Boolean
        } else {
            SeedType::Text
        }
    }
}

/// agate's null values, as dbt configures them: empty and `null`, after
/// trimming, in any case.
pub fn is_null(v: &str) -> bool {
    let t = v.trim();
    t.is_empty() || t.eq_ignore_ascii_case("null")
}

/// A decimal number as Python's `Decimal` reads it (after agate drops
/// grouping commas); returns whether it has digits after the point.
fn number(v: &str) -> Option<bool> {
    let t = v.trim().replace(',', "");
    let t = t.strip_prefix(['-', '+']).unwrap_or(&t);
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int)
        || !frac.is_none_or(digits)
        || (int.is_empty() && frac.is_none_or(str::is_empty))
    {
        return None;
    }
    let exp: i64 = match exp {
        Some(e) => {
            let e2 = e.strip_prefix(['-', '+']).unwrap_or(e);
            if e2.is_empty() || !digits(e2) {
                return None;
            }
            e.parse().ok()?
        }
        None => 0,
    };
    let frac_len = i64::try_from(frac.map_or(0, str::len)).unwrap_or(i64::MAX);
    Some(frac_len - exp > 0)
}

fn date(v: &str) -> bool {
    chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").is_ok()
}

fn datetime(v: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(v.trim(), "%Y-%m-%d %H:%M:%S").is_ok()
}

/// ISO 8601 date and time with a `T` (what `isodate.parse_datetime` takes).
fn iso(v: &str) -> bool {
    let t = v.trim();
    let Some((d, time)) = t.split_once('T') else {
        return false;
    };
    if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
        return false;
    }
    let time = time.trim_end_matches('Z');
    let time = match time.rfind(['+', '-']) {
        Some(i) if i > 0 => &time[..i],
        _ => time,
    };
    ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M"]
        .iter()
        .any(|f| chrono::NaiveTime::parse_from_str(time, f).is_ok())
}

fn boolean(v: &str) -> bool {
    let t = v.trim();
    t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false")
}

/// Reads a seed file and infers its column types.
pub fn infer(path: &Path, delimiter: u8) -> Result<SeedFile, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_path(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| format!("cannot read the header of `{}`: {e}", path.display()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_owned())
        .collect();
    if headers.is_empty() || headers.iter().all(String::is_empty) {
        return Err(format!("`{}` has no header row", path.display()));
    }
    let mut cands = vec![Candidates::ALL; headers.len()];
    let mut rows = 0usize;
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                let detail = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => {
                        format!("it has {len} fields, the header has {expected_len}")
                    }
                    _ => e.to_string(),
                };
                return Err(format!("`{}` line {line}: {detail}", path.display()));
            }
        }
        rows += 1;
        for (c, v) in cands.iter_mut().zip(record.iter()) {
            if is_null(v) {
                continue;
            }
            if c.number {
                match number(v) {
                    Some(dec) => c.decimals |= dec,
                    None => c.number = false,
                }
            }
            if !c.number {
                c.date = c.date && date(v);
                c.datetime = c.datetime && datetime(v);
                c.iso = c.iso && iso(v);
                c.boolean = c.boolean && boolean(v);
            }
        }
    }
    Ok(SeedFile {
        columns: headers
            .into_iter()
            .zip(cands.into_iter().map(Candidates::kind))
            .collect(),
        rows,
    })
}

/// A seed file re-encoded for a streamed load (Postgres `COPY ... FROM
/// STDIN (format csv, null '')`): comma-separated, no header, a field that
/// agate reads as null (`is_null`) written as nothing, every other field
/// quoted when it must be, so an unquoted empty field always means NULL.
/// Read in batches of records, so a large file is never held in memory.
pub struct CopyStream {
    reader: csv::Reader<std::fs::File>,
    record: csv::ByteRecord,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
    path: std::path::PathBuf,
}

impl CopyStream {
    pub fn open(path: &Path, delimiter: u8) -> Result<Self, String> {
        let reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(true)
            .flexible(false)
            .from_path(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        Ok(Self {
            reader,
            record: csv::ByteRecord::new(),
            buf: Vec::with_capacity(1 << 16),
            pos: 0,
            done: false,
            path: path.to_owned(),
        })
    }

    fn refill(&mut self) -> std::io::Result<()> {
        self.buf.clear();
        self.pos = 0;
        while self.buf.len() < 1 << 16 {
            let more = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| std::io::Error::other(format!("`{}`: {e}", self.path.display())))?;
            if !more {
                self.done = true;
                break;
            }
            for (i, field) in self.record.iter().enumerate() {
                if i > 0 {
                    self.buf.push(b',');
                }
                let text = String::from_utf8_lossy(field);
                if is_null(&text) {
                    continue;
                }
                let needs_quotes = field.first() == Some(&b'\\')
                    || field
                        .iter()
                        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
                if needs_quotes {
                    self.buf.push(b'"');
                    for &b in field {
                        if b == b'"' {
                            self.buf.push(b'"');
                        }
                        self.buf.push(b);
                    }
                    self.buf.push(b'"');
                } else {
                    self.buf.extend_from_slice(field);
                }
            }
            self.buf.push(b'\n');
        }
        Ok(())
    }
}

impl std::io::Read for CopyStream {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(csv: &str) -> Vec<SeedType> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        std::fs::write(&p, csv).unwrap();
        infer(&p, b',')
            .unwrap()
            .columns
            .into_iter()
            .map(|(_, k)| k)
            .collect()
    }

    #[test]
    fn infers_types_as_dbt_does() {
        use SeedType::*;
        assert_eq!(
            kinds(
                "a,b,c,d,e,f,g\n1,1.5,2024-01-02,2024-01-02 10:00:00,true,x,\n2,2,,2024-01-02T10:00:00,False,1,\n"
            ),
            vec![Integer, Float, Date, Text, Boolean, Text, Integer]
        );
        assert_eq!(kinds("a,b\n1e3,null\n-4,NULL\n"), vec![Integer, Integer]);
        assert_eq!(
            kinds("a\n2024-01-02T10:00:00\n2024-01-03T11:00:00.5\n"),
            vec![Timestamp]
        );
    }

    #[test]
    fn reports_ragged_rows_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        std::fs::write(&p, "a,b\n1,2\n3\n").unwrap();
        let e = infer(&p, b',').unwrap_err();
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn copy_stream_writes_nulls_bare_and_quotes_the_rest() {
        use std::io::Read as _;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.csv");
        std::fs::write(&path, "a;b;c\n1;;x,y\nNULL;\"\";\"q\"\"\"\n2; null ;\\.\n").expect("write");
        let mut out = String::new();
        CopyStream::open(&path, b';')
            .expect("open")
            .read_to_string(&mut out)
            .expect("read");
        assert_eq!(out, "1,,\"x,y\"\n,,\"q\"\"\"\n2,,\"\\.\"\n");
    }
}
