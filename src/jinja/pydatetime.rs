//! Python's `datetime` and `pytz` as dbt templates see them
//! (`modules.datetime`, `modules.pytz`, `run_started_at`): dates and
//! datetimes, naive or aware, that print as Python prints them, with
//! `strftime`, `isoformat`, `astimezone`, `replace`, and comparisons.
//!
//! minijinja has no operator overloading: `datetime - timedelta` and the
//! like are calls that `arith` puts in place of the operators.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use chrono::{
    DateTime, Datelike, FixedOffset, Local, NaiveDate, NaiveDateTime, NaiveTime, Offset as _,
    TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use minijinja::value::{DynObject, Kwargs, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Python's `strftime` codes in chrono's spelling: `%f` is microseconds.
fn chrono_format(fmt: &str, aware: bool) -> String {
    let mut out = String::with_capacity(fmt.len());
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => out.push_str("%6f"),
            Some('z' | 'Z') if !aware => {}
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

fn format_with(items: impl fmt::Display, python_fmt: &str) -> Result<String, Error> {
    let mut s = String::new();
    write!(s, "{items}").map_err(|_| err(format!("bad strftime format `{python_fmt}`")))?;
    Ok(s)
}

/// A time zone: pytz's `timezone('Europe/Paris')` or `utc`.
#[derive(Debug, Clone, Copy)]
pub struct PyTz(pub Tz);

impl Object for PyTz {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "zone" => Some(Value::from(self.0.name())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            // pytz attaches a zone to a naive datetime of its local time.
            "localize" => {
                let dt = args
                    .first()
                    .and_then(|v| v.downcast_object_ref::<PyDateTime>())
                    .ok_or_else(|| err("localize() needs a datetime"))?;
                let local = self
                    .0
                    .from_local_datetime(&dt.naive)
                    .earliest()
                    .ok_or_else(|| err("that local time does not exist in this time zone"))?;
                Ok(PyDateTime::aware(local).into_value())
            }
            "utcoffset" | "dst" | "tzname" => Ok(Value::from(())),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("timezone has no method `{method}`"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

/// The offset a pytz zone has when it is given as `tzinfo=` rather than
/// through `localize()`: pytz's zone object stands for the zone's first
/// period (for most zones the local mean time, `-07:53` in Los Angeles),
/// with the offset rounded to the minute as pytz rounds it.
fn pytz_first_offset(tz: Tz) -> FixedOffset {
    let first = tz
        .offset_from_utc_datetime(&NaiveDateTime::new(NaiveDate::MIN, NaiveTime::MIN))
        .fix();
    let secs = first.local_minus_utc();
    FixedOffset::east_opt((secs + 30).div_euclid(60) * 60).unwrap_or(first)
}

/// A `datetime.datetime`: the wall-clock time, and its zone when aware.
#[derive(Debug, Clone)]
pub struct PyDateTime {
    pub naive: NaiveDateTime,
    /// The zone and the offset in effect, for an aware datetime.
    pub tz: Option<(Tz, FixedOffset)>,
}

impl PyDateTime {
    pub fn aware(dt: DateTime<Tz>) -> Self {
        Self {
            naive: dt.naive_local(),
            tz: Some((dt.timezone(), dt.offset().fix())),
        }
    }

    pub fn naive(naive: NaiveDateTime) -> Self {
        Self { naive, tz: None }
    }

    pub fn into_value(self) -> Value {
        Value::from_object(self)
    }

    /// `self - other` for two datetimes: wall-clock times when both are
    /// naive, instants when both are aware, as Python subtracts them.
    pub fn minus(&self, other: &Self) -> Result<chrono::TimeDelta, Error> {
        match (self.instant(), other.instant()) {
            (Some(a), Some(b)) => Ok(a.signed_duration_since(b)),
            (None, None) if self.tz.is_none() && other.tz.is_none() => {
                Ok(self.naive.signed_duration_since(other.naive))
            }
            _ => Err(err(
                "can't subtract offset-naive and offset-aware datetimes",
            )),
        }
    }

    /// The instant, for an aware datetime.
    fn instant(&self) -> Option<DateTime<Utc>> {
        let (_, off) = self.tz?;
        off.from_local_datetime(&self.naive)
            .single()
            .map(|d| d.with_timezone(&Utc))
    }

    fn offset_text(&self, colon: bool) -> String {
        let Some((_, off)) = self.tz else {
            return String::new();
        };
        let secs = off.local_minus_utc();
        let sign = if secs < 0 { '-' } else { '+' };
        let (h, m) = (secs.abs() / 3600, secs.abs() % 3600 / 60);
        if colon {
            format!("{sign}{h:02}:{m:02}")
        } else {
            format!("{sign}{h:02}{m:02}")
        }
    }

    /// `str(dt)` or `dt.isoformat()`: microseconds only when non-zero.
    fn text(&self, sep: char) -> String {
        let micros = self.naive.nanosecond() / 1000;
        let mut s = self
            .naive
            .format(&format!("%Y-%m-%d{sep}%H:%M:%S"))
            .to_string();
        if micros != 0 {
            let _ = write!(s, ".{micros:06}");
        }
        s.push_str(&self.offset_text(true));
        s
    }

    fn strftime(&self, python_fmt: &str) -> Result<String, Error> {
        let fmt = chrono_format(python_fmt, self.tz.is_some());
        match self.tz {
            Some((tz, off)) => {
                let dt = tz
                    .from_local_datetime(&self.naive)
                    .earliest()
                    .ok_or_else(|| err("the datetime does not exist in its time zone"))?;
                if dt.offset().fix() == off {
                    format_with(dt.format(&fmt), python_fmt)
                } else {
                    // A zone attached with `tzinfo=` keeps pytz's first offset.
                    let fixed = off
                        .from_local_datetime(&self.naive)
                        .single()
                        .ok_or_else(|| err("the datetime does not exist in its time zone"))?;
                    format_with(fixed.format(&fmt), python_fmt)
                }
            }
            None => format_with(self.naive.format(&fmt), python_fmt),
        }
    }
}

/// Reads `replace(year=..., ...)`-style keyword arguments.
fn kw_i64(kwargs: Option<&Kwargs>, key: &str) -> Result<Option<i64>, Error> {
    match kwargs {
        Some(k) => k.get::<Option<i64>>(key),
        None => Ok(None),
    }
}

fn to_u32(v: i64, what: &str) -> Result<u32, Error> {
    u32::try_from(v).map_err(|_| err(format!("{what} is out of range")))
}

fn to_i32(v: i64, what: &str) -> Result<i32, Error> {
    i32::try_from(v).map_err(|_| err(format!("{what} is out of range")))
}

impl Object for PyDateTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let d = &self.naive;
        Some(match key.as_str()? {
            "year" => Value::from(d.year()),
            "month" => Value::from(d.month()),
            "day" => Value::from(d.day()),
            "hour" => Value::from(d.hour()),
            "minute" => Value::from(d.minute()),
            "second" => Value::from(d.second()),
            "microsecond" => Value::from(d.nanosecond() / 1000),
            "tzinfo" => self
                .tz
                .map_or(Value::from(()), |(tz, _)| Value::from_object(PyTz(tz))),
            _ => return None,
        })
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let other = other.downcast_ref::<PyDateTime>()?;
        match (self.instant(), other.instant()) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => Some(self.naive.cmp(&other.naive)),
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let kwargs = args.last().and_then(super::kwargs_of);
        match method {
            "strftime" => {
                let f = args
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or("%Y-%m-%d %H:%M:%S");
                self.strftime(f).map(Value::from)
            }
            "isoformat" => Ok(Value::from(self.text('T'))),
            "timestamp" => {
                let instant = self.instant().unwrap_or_else(|| {
                    Local
                        .from_local_datetime(&self.naive)
                        .earliest()
                        .map_or_else(|| self.naive.and_utc(), |d| d.with_timezone(&Utc))
                });
                #[allow(clippy::cast_precision_loss)] // seconds since 1970 fit in f64
                let secs = instant.timestamp_micros() as f64 / 1e6;
                Ok(Value::from(secs))
            }
            "date" => Ok(Value::from_object(PyDate(self.naive.date()))),
            "time" => Ok(Value::from(
                self.naive.time().format("%H:%M:%S").to_string(),
            )),
            "weekday" => Ok(Value::from(self.naive.weekday().num_days_from_monday())),
            "isoweekday" => Ok(Value::from(self.naive.weekday().number_from_monday())),
            "astimezone" => {
                let tz = args
                    .first()
                    .and_then(|v| v.downcast_object_ref::<PyTz>())
                    .map_or(Tz::UTC, |t| t.0);
                // A naive datetime is taken as local time, as Python does.
                let instant = self.instant().unwrap_or_else(|| {
                    Local
                        .from_local_datetime(&self.naive)
                        .earliest()
                        .map_or_else(|| self.naive.and_utc(), |d| d.with_timezone(&Utc))
                });
                Ok(PyDateTime::aware(instant.with_timezone(&tz)).into_value())
            }
            "replace" => {
                let mut out = (**self).clone();
                let d = out.naive;
                let date = NaiveDate::from_ymd_opt(
                    to_i32(
                        kw_i64(kwargs.as_ref(), "year")?.unwrap_or(d.year().into()),
                        "year",
                    )?,
                    to_u32(
                        kw_i64(kwargs.as_ref(), "month")?.unwrap_or(d.month().into()),
                        "month",
                    )?,
                    to_u32(
                        kw_i64(kwargs.as_ref(), "day")?.unwrap_or(d.day().into()),
                        "day",
                    )?,
                )
                .ok_or_else(|| err("day is out of range for month"))?;
                let time = NaiveTime::from_hms_micro_opt(
                    to_u32(
                        kw_i64(kwargs.as_ref(), "hour")?.unwrap_or(d.hour().into()),
                        "hour",
                    )?,
                    to_u32(
                        kw_i64(kwargs.as_ref(), "minute")?.unwrap_or(d.minute().into()),
                        "minute",
                    )?,
                    to_u32(
                        kw_i64(kwargs.as_ref(), "second")?.unwrap_or(d.second().into()),
                        "second",
                    )?,
                    to_u32(
                        kw_i64(kwargs.as_ref(), "microsecond")?
                            .unwrap_or((d.nanosecond() / 1000).into()),
                        "microsecond",
                    )?,
                )
                .ok_or_else(|| err("time is out of range"))?;
                out.naive = NaiveDateTime::new(date, time);
                if let Some(k) = &kwargs
                    && let Ok(tzinfo) = k.get::<Value>("tzinfo")
                {
                    out.tz = tzinfo
                        .downcast_object_ref::<PyTz>()
                        .map(|t| (t.0, pytz_first_offset(t.0)));
                }
                Ok(out.into_value())
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("datetime has no method `{method}`"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text(' '))
    }
}

/// A `datetime.date`.
#[derive(Debug, Clone, Copy)]
pub struct PyDate(pub NaiveDate);

impl Object for PyDate {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "year" => Value::from(self.0.year()),
            "month" => Value::from(self.0.month()),
            "day" => Value::from(self.0.day()),
            _ => return None,
        })
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        Some(self.0.cmp(&other.downcast_ref::<PyDate>()?.0))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let kwargs = args.last().and_then(super::kwargs_of);
        match method {
            "strftime" => {
                let f = args.first().and_then(Value::as_str).unwrap_or("%Y-%m-%d");
                format_with(self.0.format(&chrono_format(f, false)), f).map(Value::from)
            }
            "isoformat" => Ok(Value::from(self.0.format("%Y-%m-%d").to_string())),
            "weekday" => Ok(Value::from(self.0.weekday().num_days_from_monday())),
            "isoweekday" => Ok(Value::from(self.0.weekday().number_from_monday())),
            "replace" => {
                let d = self.0;
                NaiveDate::from_ymd_opt(
                    to_i32(
                        kw_i64(kwargs.as_ref(), "year")?.unwrap_or(d.year().into()),
                        "year",
                    )?,
                    to_u32(
                        kw_i64(kwargs.as_ref(), "month")?.unwrap_or(d.month().into()),
                        "month",
                    )?,
                    to_u32(
                        kw_i64(kwargs.as_ref(), "day")?.unwrap_or(d.day().into()),
                        "day",
                    )?,
                )
                .map(|d| Value::from_object(PyDate(d)))
                .ok_or_else(|| err("day is out of range for month"))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("date has no method `{method}`"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// A `datetime.timedelta`, for its fields.
#[derive(Debug, Clone, Copy)]
pub struct PyTimedelta(pub chrono::TimeDelta);

impl Object for PyTimedelta {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let total = self.0.num_seconds();
        Some(match key.as_str()? {
            "days" => Value::from(total.div_euclid(86_400)),
            "seconds" => Value::from(total.rem_euclid(86_400)),
            "microseconds" => Value::from(self.0.subsec_nanos() / 1000),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            #[allow(clippy::cast_precision_loss)] // microseconds of a timedelta fit in f64
            "total_seconds" => Ok(Value::from(
                self.0.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6,
            )),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("timedelta has no method `{method}`"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.num_seconds();
        let (days, rest) = (total.div_euclid(86_400), total.rem_euclid(86_400));
        if days != 0 {
            write!(f, "{days} day{}, ", if days.abs() == 1 { "" } else { "s" })?;
        }
        write!(
            f,
            "{}:{:02}:{:02}",
            rest / 3600,
            rest % 3600 / 60,
            rest % 60
        )
    }
}

/// `modules.datetime`, `modules.datetime.datetime`, `.date`, `.timedelta`
/// and `modules.pytz`.
#[derive(Debug, Clone, Copy)]
pub enum Module {
    Datetime,
    DatetimeClass,
    DateClass,
    TimedeltaClass,
    Pytz,
}

/// Positional-or-keyword integer argument `i`/`name`.
fn int_arg(
    args: &[Value],
    kwargs: Option<&Kwargs>,
    i: usize,
    name: &str,
) -> Result<Option<i64>, Error> {
    let npos = if kwargs.is_some() {
        args.len() - 1
    } else {
        args.len()
    };
    if i < npos {
        return args[i]
            .as_i64()
            .map(Some)
            .ok_or_else(|| err(format!("`{name}` must be an integer")));
    }
    kw_i64(kwargs, name)
}

fn tz_arg(kwargs: Option<&Kwargs>, args: &[Value], pos: usize) -> Option<Tz> {
    kwargs
        .and_then(|k| {
            k.get::<Value>("tzinfo")
                .ok()
                .or_else(|| k.get::<Value>("tz").ok())
        })
        .or_else(|| args.get(pos).cloned())
        .and_then(|v| v.downcast_object_ref::<PyTz>().map(|t| t.0))
}

impl Object for Module {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let k = key.as_str()?;
        match (**self, k) {
            (Module::Datetime, "datetime") => Some(Value::from_object(Module::DatetimeClass)),
            (Module::Datetime, "date") => Some(Value::from_object(Module::DateClass)),
            (Module::Datetime, "timedelta") => Some(Value::from_object(Module::TimedeltaClass)),
            (Module::Datetime, "timezone") => Some(Value::from_object(Module::Pytz)),
            (Module::Pytz, "utc" | "UTC") => Some(Value::from_object(PyTz(Tz::UTC))),
            _ => None,
        }
    }

    /// `datetime.datetime(...)`, `datetime.date(...)`, `timedelta(...)`.
    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let kwargs = args.last().and_then(super::kwargs_of);
        let kw = kwargs.as_ref();
        let need = |i: usize, name: &str| -> Result<i64, Error> {
            int_arg(args, kw, i, name)?.ok_or_else(|| err(format!("missing argument `{name}`")))
        };
        let opt = |i: usize, name: &str| -> Result<i64, Error> {
            Ok(int_arg(args, kw, i, name)?.unwrap_or(0))
        };
        match **self {
            Module::DateClass => NaiveDate::from_ymd_opt(
                to_i32(need(0, "year")?, "year")?,
                to_u32(need(1, "month")?, "month")?,
                to_u32(need(2, "day")?, "day")?,
            )
            .map(|d| Value::from_object(PyDate(d)))
            .ok_or_else(|| err("day is out of range for month")),
            Module::DatetimeClass => {
                let date = NaiveDate::from_ymd_opt(
                    to_i32(need(0, "year")?, "year")?,
                    to_u32(need(1, "month")?, "month")?,
                    to_u32(need(2, "day")?, "day")?,
                )
                .ok_or_else(|| err("day is out of range for month"))?;
                let time = NaiveTime::from_hms_micro_opt(
                    to_u32(opt(3, "hour")?, "hour")?,
                    to_u32(opt(4, "minute")?, "minute")?,
                    to_u32(opt(5, "second")?, "second")?,
                    to_u32(opt(6, "microsecond")?, "microsecond")?,
                )
                .ok_or_else(|| err("time is out of range"))?;
                let naive = NaiveDateTime::new(date, time);
                Ok(PyDateTime {
                    naive,
                    tz: tz_arg(kw, args, 7).map(|tz| (tz, pytz_first_offset(tz))),
                }
                .into_value())
            }
            Module::TimedeltaClass => {
                let f = |name: &str, i: usize| -> Result<f64, Error> {
                    let npos = if kw.is_some() {
                        args.len() - 1
                    } else {
                        args.len()
                    };
                    let v = if i < npos {
                        Some(args[i].clone())
                    } else {
                        kw.and_then(|k| k.get::<Option<Value>>(name).ok().flatten())
                    };
                    Ok(v.and_then(|v| f64::try_from(v).ok()).unwrap_or(0.0))
                };
                let secs = f("days", 0)? * 86_400.0
                    + f("seconds", 1)?
                    + f("microseconds", 2)? / 1e6
                    + f("milliseconds", 3)? / 1e3
                    + f("minutes", 4)? * 60.0
                    + f("hours", 5)? * 3600.0
                    + f("weeks", 6)? * 604_800.0;
                #[allow(clippy::cast_possible_truncation)] // whole microseconds, as Python keeps
                let micros = (secs * 1e6).round() as i64;
                Ok(Value::from_object(PyTimedelta(
                    chrono::TimeDelta::microseconds(micros),
                )))
            }
            _ => Err(err("this module is not callable")),
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let kwargs = args.last().and_then(super::kwargs_of);
        let text = |i: usize| {
            args.get(i)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        match (**self, method) {
            (Module::DatetimeClass, "now") => Ok(match tz_arg(kwargs.as_ref(), args, 0) {
                Some(tz) => PyDateTime::aware(Utc::now().with_timezone(&tz)),
                None => PyDateTime::naive(Local::now().naive_local()),
            }
            .into_value()),
            (Module::DatetimeClass, "today") => {
                Ok(PyDateTime::naive(Local::now().naive_local()).into_value())
            }
            (Module::DatetimeClass, "utcnow") => {
                Ok(PyDateTime::naive(Utc::now().naive_utc()).into_value())
            }
            (Module::DatetimeClass, "strptime") => {
                let (s, f) = (text(0), text(1));
                let fmt = chrono_format(&f, false);
                NaiveDateTime::parse_from_str(&s, &fmt)
                    .or_else(|_| {
                        NaiveDate::parse_from_str(&s, &fmt).map(|d| d.and_time(NaiveTime::MIN))
                    })
                    .map(|d| PyDateTime::naive(d).into_value())
                    .map_err(|e| err(format!("time data '{s}' does not match format '{f}': {e}")))
            }
            (Module::DatetimeClass, "fromisoformat") => {
                let s = text(0);
                if let Ok(dt) = DateTime::parse_from_rfc3339(&s) {
                    let off = *dt.offset();
                    return Ok(PyDateTime {
                        naive: dt.naive_local(),
                        tz: Some((Tz::UTC, off)),
                    }
                    .into_value());
                }
                [
                    "%Y-%m-%dT%H:%M:%S%.f",
                    "%Y-%m-%d %H:%M:%S%.f",
                    "%Y-%m-%dT%H:%M",
                    "%Y-%m-%d %H:%M",
                ]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(&s, f).ok())
                .or_else(|| {
                    NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                        .ok()
                        .map(|d| d.and_time(NaiveTime::MIN))
                })
                .map(|d| PyDateTime::naive(d).into_value())
                .ok_or_else(|| err(format!("Invalid isoformat string: '{s}'")))
            }
            (Module::DateClass, "today") => {
                Ok(Value::from_object(PyDate(Local::now().date_naive())))
            }
            (Module::DateClass, "fromisoformat") => {
                let s = text(0);
                NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                    .map(|d| Value::from_object(PyDate(d)))
                    .map_err(|_| err(format!("Invalid isoformat string: '{s}'")))
            }
            (Module::Pytz, "timezone") => {
                let name = text(0);
                name.parse::<Tz>()
                    .map(|tz| Value::from_object(PyTz(tz)))
                    .map_err(|_| err(format!("unknown time zone '{name}'")))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("`{method}` is not available in xform's datetime"),
            )),
        }
    }
}

/// A date or timestamp cell of a query result as the Python value dbt's
/// agate table holds (`None` when the text is not one, such as Postgres's
/// `infinity`): `2024-01-02 03:04:05.5+00` is an aware datetime.
pub fn cell_value(kind: crate::adapter::CellKind, text: &str) -> Option<Value> {
    use crate::adapter::CellKind;
    let naive = |t: &str| {
        NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f"))
            .ok()
    };
    match kind {
        CellKind::Plain => None,
        CellKind::Date => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .map(|d| Value::from_object(PyDate(d))),
        CellKind::Timestamp => naive(text).map(|n| PyDateTime::naive(n).into_value()),
        CellKind::TimestampTz => {
            // The offset, when written, follows the time: `+00`, `-05:30`.
            let split = text
                .char_indices()
                .skip(11)
                .find(|(_, c)| *c == '+' || *c == '-')
                .map_or(text.len(), |(i, _)| i);
            let (when, off) = text.split_at(split);
            let secs = if off.is_empty() {
                0
            } else {
                let sign = if off.starts_with('-') { -1 } else { 1 };
                let mut parts = off[1..].split(':').map(str::parse::<i32>);
                let h = parts.next()?.ok()?;
                let m = parts.next().transpose().ok()?.unwrap_or(0);
                let s = parts.next().transpose().ok()?.unwrap_or(0);
                sign * (h * 3600 + m * 60 + s)
            };
            let naive = naive(when)?;
            Some(
                PyDateTime {
                    naive,
                    tz: Some((Tz::UTC, FixedOffset::east_opt(secs)?)),
                }
                .into_value(),
            )
        }
    }
}

/// `run_started_at`: an aware UTC datetime.
pub fn utc_value(dt: DateTime<Utc>) -> Value {
    PyDateTime::aware(dt.with_timezone(&Tz::UTC)).into_value()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str) -> String {
        let mut env = minijinja::Environment::new();
        env.add_global("datetime", Value::from_object(Module::Datetime));
        env.add_global("pytz", Value::from_object(Module::Pytz));
        env.add_global(
            "started",
            utc_value(
                Utc.with_ymd_and_hms(2024, 7, 1, 12, 30, 0)
                    .single()
                    .expect("valid"),
            ),
        );
        env.render_str(src, ()).expect("renders")
    }

    #[test]
    fn prints_as_python_does() {
        assert_eq!(
            render("{{ datetime.date(2024, 2, 29) }} {{ datetime.datetime(2024, 2, 29, 8, 5) }}"),
            "2024-02-29 2024-02-29 08:05:00"
        );
        assert_eq!(render("{{ started }}"), "2024-07-01 12:30:00+00:00");
        assert_eq!(
            render("{{ datetime.date(2024, 2, 29).strftime('%d/%m/%Y') }}"),
            "29/02/2024"
        );
    }

    #[test]
    fn converts_between_time_zones() {
        assert_eq!(
            render("{{ started.astimezone(pytz.timezone('America/New_York')) }}"),
            "2024-07-01 08:30:00-04:00"
        );
        assert_eq!(
            render(
                "{{ pytz.timezone('Europe/Paris').localize(datetime.datetime(2024, 1, 15, 9)).isoformat() }}"
            ),
            "2024-01-15T09:00:00+01:00"
        );
        // pytz's zone given as `tzinfo=` is the zone's first period, not the
        // offset in effect then: only `localize()` finds that.
        assert_eq!(
            render(
                "{{ datetime.datetime(1997, 9, 29, 6, 14, tzinfo=pytz.timezone('America/Los_Angeles')) }}"
            ),
            "1997-09-29 06:14:00-07:53"
        );
        assert_eq!(
            render(
                "{{ datetime.datetime(2020, 1, 1).replace(tzinfo=pytz.timezone('Asia/Kolkata')).strftime('%H:%M %z') }}"
            ),
            "00:00 +0553"
        );
        assert_eq!(
            render("{{ datetime.datetime(2020, 1, 1, tzinfo=pytz.utc) }}"),
            "2020-01-01 00:00:00+00:00"
        );
    }

    #[test]
    fn query_cells_read_as_python_values() {
        use crate::adapter::CellKind;
        let show = |k, t| cell_value(k, t).map(|v| v.to_string());
        assert_eq!(
            show(CellKind::TimestampTz, "2024-01-02 03:04:05.5+00").as_deref(),
            Some("2024-01-02 03:04:05.500000+00:00")
        );
        assert_eq!(
            show(CellKind::TimestampTz, "2024-01-02 03:04:05-05:30").as_deref(),
            Some("2024-01-02 03:04:05-05:30")
        );
        assert_eq!(
            show(CellKind::Timestamp, "2024-01-02 03:04:05.500").as_deref(),
            Some("2024-01-02 03:04:05.500000")
        );
        assert_eq!(
            show(CellKind::Date, "2024-01-02").as_deref(),
            Some("2024-01-02")
        );
        assert_eq!(show(CellKind::TimestampTz, "infinity"), None);
        assert_eq!(
            render("{{ datetime.date(2024, 1, 2) < datetime.date(2024, 1, 10) }}"),
            "True"
        );
    }
}
