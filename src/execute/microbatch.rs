//! Microbatch windows: truncating, rounding up and stepping timestamps by
//! hour, day, month or year, as dbt's `MicrobatchBuilder` does (all in UTC).

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, TimeDelta, Timelike};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchSize {
    Hour,
    Day,
    Month,
    Year,
}

impl BatchSize {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            "month" => Some(Self::Month),
            "year" => Some(Self::Year),
            _ => None,
        }
    }

    /// The start of the batch `t` falls in.
    pub fn truncate(self, t: NaiveDateTime) -> NaiveDateTime {
        let d = t.date();
        let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or(t);
        match self {
            Self::Hour => d.and_hms_opt(t.hour(), 0, 0).unwrap_or(t),
            Self::Day => midnight(d),
            Self::Month => midnight(d.with_day(1).unwrap_or(d)),
            Self::Year => midnight(NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d)),
        }
    }

    /// `t` truncated, then moved by `n` batches.
    pub fn offset(self, t: NaiveDateTime, n: i64) -> NaiveDateTime {
        let t = self.truncate(t);
        let months = |m: i64| {
            let abs = Months::new(u32::try_from(m.unsigned_abs()).unwrap_or(u32::MAX));
            if m >= 0 {
                t.checked_add_months(abs)
            } else {
                t.checked_sub_months(abs)
            }
            .unwrap_or(t)
        };
        match self {
            Self::Hour => t + TimeDelta::hours(n),
            Self::Day => t + TimeDelta::days(n),
            Self::Month => months(n),
            Self::Year => months(n * 12),
        }
    }

    /// The first batch boundary at or after `t`.
    pub fn ceil(self, t: NaiveDateTime) -> NaiveDateTime {
        if self.truncate(t) == t {
            t
        } else {
            self.offset(t, 1)
        }
    }
}

/// The batches covering `[start, end)`; the last one ends exactly at `end`.
pub fn windows(
    size: BatchSize,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> Vec<(NaiveDateTime, NaiveDateTime)> {
    let mut out = Vec::new();
    let mut cur = start;
    loop {
        let next = size.offset(cur, 1);
        out.push((cur, next));
        if next >= end || out.len() > 1_000_000 {
            break;
        }
        cur = next;
    }
    if let Some(last) = out.last_mut() {
        last.1 = end;
    }
    out
}

/// A date or timestamp from the command line or `begin`.
pub fn parse_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0);
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) =
            NaiveDateTime::parse_from_str(s.trim_end_matches('Z').trim_end_matches("+00:00"), f)
        {
            return Some(t);
        }
    }
    None
}

/// A batch's start as dbt names the batch's compiled file
/// (`MicrobatchBuilder.format_batch_start`): `2024-09-17T16` for an hour,
/// `2024-09-17` for a day, `2024-09` for a month, `2024` for a year.
pub fn format_batch_start(t: NaiveDateTime, size: BatchSize) -> String {
    let f = match size {
        BatchSize::Hour => "%Y-%m-%dT%H",
        BatchSize::Day => "%Y-%m-%d",
        BatchSize::Month => "%Y-%m",
        BatchSize::Year => "%Y",
    };
    t.format(f).to_string()
}

/// A bound as dbt prints it into SQL.
pub fn format(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S+00:00").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        parse_time(s).unwrap()
    }

    #[test]
    fn windows_cover_the_range_by_batch_size() {
        let w = windows(
            BatchSize::Day,
            t("2024-01-30"),
            BatchSize::Day.ceil(t("2024-02-01 10:00:00")),
        );
        let shown: Vec<String> = w
            .iter()
            .map(|(a, b)| format!("{} {}", format(*a), format(*b)))
            .collect();
        assert_eq!(
            shown,
            [
                "2024-01-30 00:00:00+00:00 2024-01-31 00:00:00+00:00",
                "2024-01-31 00:00:00+00:00 2024-02-01 00:00:00+00:00",
                "2024-02-01 00:00:00+00:00 2024-02-02 00:00:00+00:00",
            ]
        );
        assert_eq!(
            BatchSize::Month.offset(t("2024-01-31 12:00:00"), 1),
            t("2024-02-01")
        );
        assert_eq!(
            BatchSize::Year.truncate(t("2024-07-04 01:02:03")),
            t("2024-01-01")
        );
        assert_eq!(
            BatchSize::Hour.ceil(t("2024-07-04 01:02:03")),
            t("2024-07-04 02:00:00")
        );
    }
}
