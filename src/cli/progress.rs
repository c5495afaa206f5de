//! The progress bar of `run`, `build` & co. on a terminal: one status line
//! kept under the result lines, redrawn as nodes start and finish.
//!
//! Invariant: when the bar is off (not a terminal, `CI` set, `--quiet`,
//! `--log-format json`), nothing but the plain result lines is written.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Instant;

pub struct Progress {
    on: bool,
    width: usize,
    total: usize,
    done: usize,
    /// Names of the nodes running now, in start order.
    running: Vec<String>,
    started: Instant,
    drawn: bool,
}

impl Progress {
    /// A bar when stderr is a terminal and nothing asks for plain output.
    pub fn new(enabled: bool, width: usize, total: usize) -> Self {
        use std::io::IsTerminal as _;
        let on = enabled
            && std::io::stderr().is_terminal()
            && std::env::var_os("CI").is_none_or(|v| v.is_empty() || v == "false");
        Self {
            on,
            width: width.max(40),
            total,
            done: 0,
            running: Vec::new(),
            started: Instant::now(),
            drawn: false,
        }
    }

    pub fn planned(&mut self, total: usize) {
        self.total = total;
    }

    pub fn started(&mut self, name: &str) {
        self.running.push(name.to_owned());
        self.draw();
    }

    /// Prints a finished node's line above the bar.
    pub fn finished(&mut self, name: &str, line: &str, done: usize, total: usize) {
        self.done = done;
        self.total = total;
        if let Some(i) = self.running.iter().position(|n| n == name) {
            self.running.remove(i);
        }
        self.clear();
        super::err_line(line);
        self.draw();
    }

    pub fn tick(&mut self) {
        self.draw();
    }

    /// Removes the bar (before the summary).
    pub fn clear(&mut self) {
        if self.on && self.drawn {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
            self.drawn = false;
        }
    }

    fn draw(&mut self) {
        if !self.on {
            return;
        }
        let text = self.text();
        let _ = write!(std::io::stderr().lock(), "\r\x1b[2K{text}");
        self.drawn = true;
    }

    fn text(&self) -> String {
        const BAR: usize = 24;
        let filled = (self.done * BAR).checked_div(self.total).unwrap_or(0);
        let secs = self.started.elapsed().as_secs();
        let mut s = format!(
            "[{}{}] {}/{} {:02}:{:02}",
            "#".repeat(filled),
            "-".repeat(BAR - filled.min(BAR)),
            self.done,
            self.total,
            secs / 60,
            secs % 60
        );
        if !self.running.is_empty() {
            s.push_str(" running ");
            for (i, n) in self.running.iter().enumerate() {
                let more = self.running.len() - i - 1;
                let extra = if more > 0 {
                    format!(" (+{more})")
                } else {
                    String::new()
                };
                let sep = if i == 0 { "" } else { ", " };
                if s.chars().count() + sep.len() + n.chars().count() + extra.len() > self.width {
                    let _ = write!(s, "{sep}(+{})", self.running.len() - i);
                    break;
                }
                s.push_str(sep);
                s.push_str(n);
            }
        }
        s.chars().take(self.width.saturating_sub(1)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(total: usize, done: usize, running: &[&str], width: usize) -> String {
        let mut p = Progress::new(false, width, total);
        p.done = done;
        p.running = running.iter().map(|s| (*s).to_owned()).collect();
        p.text()
    }

    #[test]
    fn shows_counts_and_running_nodes_within_the_width() {
        let t = bar(10, 5, &["orders", "customers"], 100);
        assert!(
            t.starts_with("[############------------] 5/10 00:00"),
            "{t}"
        );
        assert!(t.ends_with("running orders, customers"), "{t}");
        let t = bar(
            10,
            0,
            &["a_very_long_model_name", "another_long_name", "x"],
            60,
        );
        assert!(t.chars().count() < 60, "{t}");
        assert!(t.contains("(+"), "{t}");
    }
}
