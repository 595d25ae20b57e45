//! The live view on a terminal: while a task runs, one line per host (waiting, running with
//! its elapsed time and any transfer's bytes and rate, then its result) redrawn in place
//! under the TASK banner. Any report text first erases the view, so what stays on the
//! screen and in the scrollback is exactly the plain report.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use console::Term;

use super::text::{bytes, seconds};
use super::{lock, Status};

/// How often the view is redrawn while a task runs.
const TICK: Duration = Duration::from_millis(200);
/// At most this many host lines; the rest are counted on one more line.
const MAX_LINES: usize = 30;

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Waiting,
    Running(Instant),
    Done(Status, Duration),
}

struct HostLine {
    name: String,
    state: State,
    /// Bytes moved and bytes per second of a running transfer.
    transfer: Option<(u64, u64)>,
}

struct View {
    term: Term,
    active: bool,
    hosts: Vec<HostLine>,
    /// Lines currently on the screen, to erase before the next draw.
    drawn: usize,
}

/// A handle on the live view; clones share it.
#[derive(Clone)]
pub struct Live {
    view: Arc<Mutex<View>>,
}

impl Live {
    /// Starts the view and the thread that redraws it.
    pub fn start() -> Live {
        let live = Live {
            view: Arc::new(Mutex::new(View {
                term: Term::stdout(),
                active: false,
                hosts: Vec::new(),
                drawn: 0,
            })),
        };
        let view = Arc::clone(&live.view);
        std::thread::spawn(move || loop {
            std::thread::sleep(TICK);
            let mut v = lock(&view);
            if v.active {
                v.draw();
            }
        });
        live
    }

    /// Erases the view, writes `text`, and leaves the view off until the next task.
    pub fn write_above(&self, text: &str) {
        let mut v = lock(&self.view);
        v.erase();
        v.active = false;
        let _ = v.term.write_str(&super::secrets::redact(text));
        let _ = v.term.flush();
    }

    /// Writes `text` above the view, which is redrawn under it while the task runs.
    pub fn print_above(&self, text: &str) {
        let mut v = lock(&self.view);
        v.erase();
        let _ = v.term.write_str(text);
        if v.active {
            v.draw();
        }
        let _ = v.term.flush();
    }

    pub fn begin_task(&self, hosts: &[String]) {
        let mut v = lock(&self.view);
        v.erase();
        v.hosts = hosts
            .iter()
            .map(|h| HostLine {
                name: h.clone(),
                state: State::Waiting,
                transfer: None,
            })
            .collect();
        v.active = true;
        v.draw();
    }

    pub fn host_running(&self, host: &str) {
        self.update(host, |line| line.state = State::Running(Instant::now()));
    }

    pub fn host_finished(&self, host: &str, status: Status) {
        self.update(host, |line| {
            let took = match line.state {
                State::Running(since) => since.elapsed(),
                _ => Duration::ZERO,
            };
            line.state = State::Done(status, took);
        });
    }

    pub fn transfer(&self, host: &str, moved: u64, rate: u64) {
        self.update(host, |line| line.transfer = Some((moved, rate)));
    }

    fn update(&self, host: &str, change: impl FnOnce(&mut HostLine)) {
        let mut v = lock(&self.view);
        if let Some(line) = v.hosts.iter_mut().find(|l| l.name == host) {
            change(line);
            if v.active {
                v.draw();
            }
        }
    }
}

impl View {
    fn erase(&mut self) {
        if self.drawn > 0 {
            let _ = self.term.clear_last_lines(self.drawn);
            self.drawn = 0;
        }
    }

    fn draw(&mut self) {
        let width = self.term.size().1 as usize;
        let mut lines: Vec<String> = self
            .hosts
            .iter()
            .take(MAX_LINES)
            .map(|h| console::truncate_str(&host_line(h), width.saturating_sub(1), "…").into())
            .collect();
        if self.hosts.len() > MAX_LINES {
            lines.push(format!(
                "  ... and {} more hosts",
                self.hosts.len() - MAX_LINES
            ));
        }
        self.erase();
        let mut text = String::new();
        for l in &lines {
            text.push_str(l);
            text.push('\n');
        }
        let _ = self.term.write_str(&text);
        let _ = self.term.flush();
        self.drawn = lines.len();
    }
}

/// One host's line of the view, for example `  calxitu2   running 12.0s  1.2 GiB at 80.0 MiB/s`.
fn host_line(h: &HostLine) -> String {
    let state = match h.state {
        State::Waiting => console::style("waiting".to_string()).dim().to_string(),
        State::Running(since) => console::style(format!("running {}", seconds(since.elapsed())))
            .bold()
            .to_string(),
        State::Done(status, took) => status
            .style()
            .apply_to(format!("{} {}", status.word(), seconds(took)))
            .to_string(),
    };
    let transfer = match h.transfer {
        Some((moved, rate)) => format!("  {} at {}/s", bytes(moved), bytes(rate)),
        None => String::new(),
    };
    format!("  {:<26} {state}{transfer}", h.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_lines_show_state_and_transfer() {
        console::set_colors_enabled(false);
        let cases = [
            (State::Waiting, None, "  web1                       waiting"),
            (
                State::Done(Status::Changed, Duration::from_millis(1500)),
                Some((3 * 1024 * 1024, 1024 * 1024)),
                "  web1                       changed 1.50s  3.0 MiB at 1.0 MiB/s",
            ),
            (
                State::Done(Status::Failed, Duration::ZERO),
                None,
                "  web1                       failed 0.00s",
            ),
        ];
        for (state, transfer, want) in cases {
            let line = HostLine {
                name: "web1".into(),
                state,
                transfer,
            };
            assert_eq!(host_line(&line), want);
        }
    }
}
