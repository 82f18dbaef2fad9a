//! Guest log lines, kept for the report and optionally echoed.

use std::time::Duration;

/// proxy-wasm log levels.
pub const LEVEL_NAMES: [&str; 6] = ["trace", "debug", "info", "warn", "error", "critical"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub at: Duration,
    pub worker: Option<u32>,
    pub plugin: String,
    pub level: u32,
    pub message: String,
}

impl std::fmt::Display for LogLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let worker = self
            .worker
            .map_or("main".to_string(), |w| format!("worker_{w}"));
        write!(
            f,
            "[{:>10.3}s][{}][{}][{}] {}",
            self.at.as_secs_f64(),
            worker,
            LEVEL_NAMES.get(self.level as usize).unwrap_or(&"?"),
            self.plugin,
            self.message
        )
    }
}

/// Log lines of a run: the first `cap` are kept, the rest only counted.
#[derive(Debug)]
pub struct LogSink {
    pub lines: Vec<LogLine>,
    pub dropped: u64,
    /// Lines at or above this level are kept (and echoed if `echo`).
    pub level: u32,
    pub echo: bool,
    cap: usize,
    /// Lines per level, kept or not.
    pub counts: [u64; 6],
}

impl LogSink {
    pub fn new(level: u32, echo: bool, cap: usize) -> Self {
        LogSink {
            lines: Vec::new(),
            dropped: 0,
            level,
            echo,
            cap,
            counts: [0; 6],
        }
    }

    pub fn push(&mut self, line: LogLine) {
        if let Some(c) = self.counts.get_mut(line.level as usize) {
            *c += 1;
        }
        if line.level < self.level {
            return;
        }
        if self.echo {
            eprintln!("{line}");
        }
        if self.lines.len() < self.cap {
            self.lines.push(line);
        } else {
            self.dropped += 1;
        }
    }
}
