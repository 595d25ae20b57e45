//! The reporter: PLAY and TASK headers, a line per host result, diffs and the PLAY RECAP,
//! in ansible-playbook's layout so that people and their scripts read it the same way; or
//! the same run as JSON Lines (`--output json`). On a terminal it also redraws each host's
//! state in place while a task runs, and it keeps what the summary and the recap need.
//! With `-v` a command's output is streamed as it comes, prefixed with its host.

mod echo;
mod free;
pub mod json;
mod live;
pub(crate) mod pyrepr;
pub mod secrets;
mod summary;
mod text;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use console::{style, Style};
use serde_json::Value;

use crate::modules::FileDiff;
pub use free::TaskBanner;
pub use pyrepr::{py_repr, py_str};
use summary::{RunLog, TaskClock};
pub use text::{banner_line, bytes, one_line, pretty, seconds};

/// The counts shown for one host in the recap.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

/// How one host's task (or loop item) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    Changed,
    Skipped,
    Failed,
    Unreachable,
}

impl Status {
    /// The word of the text report.
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Skipped => "skipping",
            Status::Failed => "failed",
            Status::Unreachable => "unreachable",
        }
    }

    /// The word of the JSON report.
    pub fn json_word(self) -> &'static str {
        match self {
            Status::Skipped => "skipped",
            other => other.word(),
        }
    }

    fn style(self) -> Style {
        match self {
            Status::Ok => Style::new().green(),
            Status::Changed => Style::new().yellow(),
            Status::Skipped => Style::new().cyan(),
            Status::Failed | Status::Unreachable => Style::new().red(),
        }
    }
}

/// What the report is written as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// ansible-playbook's text.
    #[default]
    Text,
    /// JSON Lines, docs/json-output.md.
    Json,
    /// The `ansible` command's lines for ad-hoc runs: `host | CHANGED | rc=0 >>` and the
    /// output, no banners and no recap.
    Adhoc,
}

/// How the reporter writes.
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    pub verbosity: u8,
    pub color: bool,
    pub format: Format,
    /// Redraw the running task's host states in place (a terminal, without --no-progress);
    /// the recap then also shows wall times.
    pub live: bool,
    /// `--timing`: wall times in the recap and the slowest tasks after it.
    pub timing: bool,
    /// `--retry-file`: where the failed hosts are written at the recap.
    pub retry_file: Option<PathBuf>,
    /// JSON events go here instead of stdout, for commands that read the run themselves.
    pub sink: Option<Arc<Mutex<Vec<Value>>>>,
}

/// One result line of a host: a loop item, or the task itself.
pub struct ResultLine<'a> {
    pub status: Status,
    pub item: Option<&'a str>,
    /// The JSON shown after `=>` (failures, debug, `-v`).
    pub detail: Option<Value>,
    pub diffs: &'a [FileDiff],
}

/// How one task ended on one host, with everything any report format shows.
pub struct HostReport<'a> {
    pub host: &'a str,
    pub delegated: Option<&'a str>,
    pub status: Status,
    /// Failed, with `ignore_errors`.
    pub ignored: bool,
    pub lines: Vec<ResultLine<'a>>,
    /// Shown after the item lines of a loop that failed.
    pub summary: Option<&'a Value>,
    /// The registered result (already censored for `no_log`).
    pub result: &'a Value,
    pub duration: Duration,
}

impl<'a> HostReport<'a> {
    /// A result of one line without items or diffs (facts gathering, connection errors).
    pub fn single(host: &'a str, status: Status, result: &'a Value, detail: Option<Value>) -> Self {
        HostReport {
            host,
            delegated: None,
            status,
            ignored: false,
            lines: vec![ResultLine {
                status,
                item: None,
                detail,
                diffs: &[],
            }],
            summary: None,
            result,
            duration: Duration::ZERO,
        }
    }
}

/// Writes the report to stdout. Cloning gives another handle on the same report.
#[derive(Clone)]
pub struct Reporter {
    pub verbosity: u8,
    pub color: bool,
    opts: ReportOptions,
    log: Arc<Mutex<RunLog>>,
    live: Option<live::Live>,
    /// Under the free strategy, the task this handle streams a host's output for: its banner
    /// comes before the first streamed line when the last banner shown is another task's.
    free_banner: Option<Arc<TaskBanner>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves data that is still fine to print.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Reporter {
    pub fn new(verbosity: u8, color: bool) -> Self {
        Reporter::with_options(ReportOptions {
            verbosity,
            color,
            ..ReportOptions::default()
        })
    }

    pub fn with_options(opts: ReportOptions) -> Self {
        console::set_colors_enabled(opts.color);
        let live = (opts.live && opts.format == Format::Text).then(live::Live::start);
        if let Some(view) = &live {
            // One live view per process: the first reporter with one owns the terminal.
            let _ = LIVE.set(view.clone());
        }
        Reporter {
            verbosity: opts.verbosity,
            color: opts.color,
            opts,
            log: Arc::new(Mutex::new(RunLog::new())),
            live,
            free_banner: None,
        }
    }

    fn is_json(&self) -> bool {
        self.opts.format == Format::Json
    }

    /// Report text; nothing in JSON mode, where stdout holds only events.
    fn out(&self, text: &str) {
        if self.is_json() {
            return;
        }
        match &self.live {
            Some(live) => live.write_above(text),
            None => write_stdout(text),
        }
    }

    /// Report text written while a task runs (streamed output): above the live view, which
    /// stays.
    fn out_during_task(&self, text: &str) {
        match &self.live {
            Some(live) => live.print_above(text),
            None => write_stdout(text),
        }
    }

    /// Where a command's output is streamed as it runs, with `-v` in the text report; `label`
    /// names the host (`calxitu`, or `calxitu2 -> calxitu` when delegated). None otherwise.
    pub fn echo(&self, label: &str) -> Option<Arc<dyn crate::connection::Echo>> {
        if self.opts.verbosity == 0 || self.opts.format != Format::Text {
            return None;
        }
        Some(Arc::new(echo::HostEcho::new(self.clone(), label)))
    }

    fn event(&self, event: Value) {
        match &self.opts.sink {
            Some(sink) => lock(sink).push(event),
            None => write_stdout(&format!("{event}\n")),
        }
    }

    /// `PLAY [name] ****...` padded with stars to Ansible's 80 columns.
    pub fn banner(&self, text: &str) {
        if self.opts.format == Format::Adhoc {
            return;
        }
        self.out(&format!("\n{}\n", banner_line(text)));
    }

    pub fn play(&self, name: &str) {
        let mut log = lock(&self.log);
        log.close_task();
        log.play = name.to_string();
        log.free = summary::FreeLog::default();
        if self.is_json() {
            self.event(json::play_start(name, log.started.elapsed()));
        }
        drop(log);
        self.banner(&format!("PLAY [{name}]"));
    }

    pub fn task(&self, name: &str) {
        self.task_start(name, None, false, &[]);
    }

    pub fn handler(&self, name: &str) {
        self.task_start(name, None, true, &[]);
    }

    /// A task (or handler) starts on `hosts`; `origin` is its `file:line`.
    pub fn task_start(&self, name: &str, origin: Option<&str>, handler: bool, hosts: &[String]) {
        let clock = TaskClock {
            name: name.to_string(),
            origin: origin.map(str::to_string),
            started: std::time::Instant::now(),
            timed: true,
        };
        self.open_task(&mut lock(&self.log), clock, handler, hosts);
    }

    /// Ends the task running in `log` and starts `clock`'s: the JSON event, the banner, the
    /// live view's hosts. The caller holds the log, so that nothing comes between.
    fn open_task(&self, log: &mut RunLog, clock: TaskClock, handler: bool, hosts: &[String]) {
        log.close_task();
        if self.is_json() {
            let elapsed = log.started.elapsed();
            let origin = clock.origin.as_deref();
            self.event(json::task_start(
                &log.play,
                &clock.name,
                origin,
                handler,
                hosts,
                elapsed,
            ));
        }
        let word = if handler { "RUNNING HANDLER" } else { "TASK" };
        self.banner(&format!("{word} [{}]", clock.name));
        log.task = Some(clock);
        if let Some(live) = &self.live {
            live.begin_task(hosts);
        }
    }

    /// A host starts working on the current task (the live view's "running").
    pub fn host_running(&self, host: &str) {
        if let Some(live) = &self.live {
            live.host_running(host);
        }
    }

    /// A host is done with the current task (the live view's final state for it).
    pub fn host_finished(&self, host: &str, status: Status) {
        if let Some(live) = &self.live {
            live.host_finished(host, status);
        }
    }

    /// One host's result line, for example `changed: [calxitu2 -> calxitu] => (item=x)`.
    /// `detail` is the JSON shown after `=>` for failures, debug and `-v`.
    pub fn result(
        &self,
        status: Status,
        host: &str,
        delegated: Option<&str>,
        item: Option<&str>,
        detail: Option<&Value>,
    ) {
        self.out(&text::result_line(status, host, delegated, item, detail));
    }

    /// How a task ended on one host: its lines (diffs first) in the text report, one event in
    /// JSON; the host's time and any failure are kept for the recap.
    pub fn host_result(&self, r: &HostReport) {
        let mut log = lock(&self.log);
        *log.host_times.entry(r.host.to_string()).or_default() += r.duration;
        let failed = matches!(r.status, Status::Failed | Status::Unreachable) && !r.ignored;
        if failed {
            log.record_failure(r.host, r.status, r.result);
        }
        if self.is_json() {
            let event = json::host_result(&log.play, log.task_name(), r, log.started.elapsed());
            self.event(event);
            return;
        }
        drop(log);
        if self.opts.format == Format::Adhoc {
            self.out(&text::adhoc_result(r));
            return;
        }
        let mut text = String::new();
        for line in &r.lines {
            for d in line.diffs {
                text.push_str(&text::diff_text(d));
            }
            text.push_str(&text::result_line(
                line.status,
                r.host,
                r.delegated,
                line.item,
                line.detail.as_ref(),
            ));
        }
        if let Some(summary) = r.summary {
            text.push_str(&text::result_line(
                r.status,
                r.host,
                r.delegated,
                None,
                Some(summary),
            ));
        }
        if r.ignored {
            text.push_str(&format!("{}\n", style("...ignoring").cyan()));
        }
        if r.status == Status::Changed {
            // A transfer's totals, once its live progress is gone.
            text.push_str(&text::transfer_totals(r.result).unwrap_or_default());
        }
        self.out(&text);
    }

    /// A `rescue:` handled the host's latest failure: it leaves the failure summary.
    pub fn rescued(&self, host: &str) {
        let mut log = lock(&self.log);
        if let Some(at) = log.failures.iter().rposition(|f| f.host == host) {
            log.failures.remove(at);
        }
    }

    pub fn ignoring(&self) {
        self.out(&format!("{}\n", style("...ignoring").cyan()));
    }

    /// A unified diff of one file, three lines of context, as `--diff` shows it.
    pub fn diff(&self, diff: &FileDiff) {
        self.out(&text::diff_text(diff));
    }

    pub fn warning(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let text = secrets::redact(text);
        let _ = writeln!(stderr, "{}", style(format!("[WARNING]: {text}")).magenta());
    }

    /// The failure summary (on stderr, so that stdout keeps ansible-playbook's exact report),
    /// then the PLAY RECAP block, one line per host in the order given, then `--timing`'s
    /// slowest tasks; the retry file is written here too.
    pub fn recap(&self, hosts: &[(String, Stats)]) {
        let mut log = lock(&self.log);
        log.close_task();
        let total = log.started.elapsed();
        if let Some(path) = &self.opts.retry_file {
            if let Err(e) = summary::write_retry_file(path, hosts) {
                self.warning(&format!(
                    "cannot write the retry file {}: {e}",
                    path.display()
                ));
            }
        }
        if self.is_json() {
            self.event(json::recap(hosts, &log.host_times, total));
            return;
        }
        if self.opts.format == Format::Adhoc {
            return;
        }
        let failures = summary::failure_summary(&log.failures);
        if !failures.is_empty() {
            // Flushed stdout first, so that on a shared terminal the summary comes above.
            let _ = std::io::stdout().flush();
            let mut stderr = std::io::stderr().lock();
            let failures = secrets::redact(&failures).into_owned();
            let _ = stderr.write_all(style(failures).red().to_string().as_bytes());
            let _ = stderr.flush();
        }
        let timed = self.opts.timing || self.opts.live;
        let times = text::RecapTimes {
            hosts: &log.host_times,
            total,
        };
        let mut report = text::recap_text(hosts, timed.then_some(&times));
        if self.opts.timing {
            report.push_str(&summary::timing_text(&log.task_times));
        }
        log.failures.clear();
        drop(log);
        self.out(&report);
    }

    pub fn plain(&self, text: &str) {
        self.out(text);
    }
}

/// The live view of the run, when there is one, for [`transfer_progress`].
static LIVE: std::sync::OnceLock<live::Live> = std::sync::OnceLock::new();

/// Bytes moved so far to `host` by a long transfer and the rate, shown in the live view next
/// to the host's state (nothing without one). Modules call this as the bytes go.
pub fn transfer_progress(host: &str, moved: u64, rate: u64) {
    if let Some(live) = LIVE.get() {
        live.transfer(host, moved, rate);
    }
}

fn write_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (a pipe into `head`) is not worth failing the run over.
    let _ = stdout.write_all(secrets::redact(text).as_bytes());
    let _ = stdout.flush();
}
