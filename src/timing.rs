//! Phase timings for `XFORM_LOG=xform=debug`: wall time, the CPU time the
//! whole process spent meanwhile (all threads, user and kernel), so a log
//! shows which phases keep both cores busy and which leave one idle, and the
//! page faults taken meanwhile (each first touch of fresh memory costs the
//! kernel a few microseconds: a phase's new memory shows there).
//!
//! Invariant: starting a stopwatch costs one read of each clock and of the
//! fault counter (phases only, never per node); nothing is formatted unless
//! the debug event is enabled.

use std::time::{Duration, Instant};

/// Started at the beginning of a phase; `{}` prints `<wall> (cpu <cpu>)`.
pub struct Stopwatch {
    wall: Instant,
    cpu: Option<Duration>,
    faults: Option<i64>,
}

/// Minor page faults of the whole process so far.
fn process_faults() -> Option<i64> {
    #[cfg(unix)]
    {
        use nix::sys::resource::{UsageWho, getrusage};
        getrusage(UsageWho::RUSAGE_SELF)
            .ok()
            .map(|u| u.minor_page_faults())
    }
    #[cfg(not(unix))]
    {
        None
    }
}

fn process_cpu() -> Option<Duration> {
    #[cfg(unix)]
    {
        use nix::time::{ClockId, clock_gettime};
        let t = clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID).ok()?;
        let secs = u64::try_from(t.tv_sec()).ok()?;
        let nanos = u32::try_from(t.tv_nsec()).ok()?;
        Some(Duration::new(secs, nanos))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

impl Stopwatch {
    pub fn start() -> Self {
        Self {
            wall: Instant::now(),
            cpu: process_cpu(),
            faults: process_faults(),
        }
    }
}

impl std::fmt::Display for Stopwatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(f, "{:.1} ms", ms(self.wall.elapsed()))?;
        if let (Some(start), Some(now)) = (self.cpu, process_cpu()) {
            write!(f, " (cpu {:.1} ms", ms(now.saturating_sub(start)))?;
            if let (Some(start), Some(now)) = (self.faults, process_faults()) {
                write!(f, ", {} faults", now - start)?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }
}
