//! What the reporter remembers over a run: which play and task are running, how long each
//! task and each host took, and what failed. From it come the failure summary shown above
//! the PLAY RECAP, the hosts' wall times, `--timing`'s slowest tasks and the retry file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::text::{banner_line, seconds};
use super::{Stats, Status};

/// The task being run.
pub struct TaskClock {
    pub name: String,
    pub origin: Option<String>,
    pub started: Instant,
    /// Its wall time goes to `--timing` when it ends; false under the free strategy, whose
    /// tasks are timed by their hosts' spans instead (`RunLog::free_span`).
    pub timed: bool,
}

/// One host's failure, kept for the summary.
#[derive(Debug, PartialEq)]
pub struct Failure {
    pub host: String,
    pub task: String,
    pub origin: Option<String>,
    pub unreachable: bool,
    pub msg: Option<String>,
    pub cmd: Option<String>,
    pub rc: Option<i64>,
    pub stderr: Option<String>,
}

/// The run so far.
pub struct RunLog {
    pub started: Instant,
    pub play: String,
    pub task: Option<TaskClock>,
    /// Finished tasks: name, origin, wall time.
    pub task_times: Vec<(String, Option<String>, Duration)>,
    /// Each host's time spent in tasks.
    pub host_times: BTreeMap<String, Duration>,
    pub failures: Vec<Failure>,
    /// The free strategy's state in the current batch (output/free.rs).
    pub free: FreeLog,
}

/// What the report of a free batch keeps: the banner printed last, and where each task's
/// span is in `task_times` with its first start and last end.
#[derive(Default)]
pub struct FreeLog {
    pub last_banner: Option<String>,
    pub spans: HashMap<String, (usize, Instant, Instant)>,
}

impl RunLog {
    pub fn new() -> Self {
        RunLog {
            started: Instant::now(),
            play: String::new(),
            task: None,
            task_times: Vec::new(),
            host_times: BTreeMap::new(),
            failures: Vec::new(),
            free: FreeLog::default(),
        }
    }

    /// Ends the running task, if any, and records its wall time.
    pub fn close_task(&mut self) {
        if let Some(t) = self.task.take().filter(|t| t.timed) {
            self.task_times
                .push((t.name, t.origin, t.started.elapsed()));
        }
    }

    /// A free task (`key`) ran on a host from `started` until now: its `--timing` entry spans
    /// from the first host's start to the last host's end, one entry per task and batch.
    pub fn free_span(&mut self, key: &str, name: &str, origin: Option<&str>, started: Instant) {
        let now = Instant::now();
        let times = &mut self.task_times;
        let span = self.free.spans.entry(key.to_string()).or_insert_with(|| {
            times.push((name.to_string(), origin.map(str::to_string), Duration::ZERO));
            (times.len() - 1, started, now)
        });
        span.1 = span.1.min(started);
        span.2 = span.2.max(now);
        times[span.0].2 = span.2 - span.1;
    }

    pub fn task_name(&self) -> &str {
        self.task.as_ref().map(|t| t.name.as_str()).unwrap_or("")
    }

    /// Keeps a failure from a host result's registered value.
    pub fn record_failure(&mut self, host: &str, status: Status, result: &Value) {
        // A loop's details are in its first failed item.
        let source = result["results"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["failed"] == Value::Bool(true)))
            .unwrap_or(result);
        let text = |v: &Value| match v {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Array(parts) => Some(
                parts
                    .iter()
                    .map(|p| shell_word(&crate::vars::as_text(p)))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            other => Some(other.to_string()),
        };
        let task = self.task.as_ref();
        self.failures.push(Failure {
            host: host.to_string(),
            task: task.map(|t| t.name.clone()).unwrap_or_default(),
            origin: task.and_then(|t| t.origin.clone()),
            unreachable: status == Status::Unreachable,
            msg: text(&source["msg"]).or_else(|| text(&result["msg"])),
            cmd: text(&source["cmd"]),
            rc: source["rc"].as_i64(),
            stderr: text(&source["stderr"]).filter(|s| !s.trim().is_empty()),
        });
    }
}

/// A command word as a shell would need it: bare when safe, else in single quotes.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// How many stderr lines the summary repeats.
const STDERR_TAIL: usize = 5;

/// The failures, one block per host and task, for just above the PLAY RECAP.
pub fn failure_summary(failures: &[Failure]) -> String {
    if failures.is_empty() {
        return String::new();
    }
    let mut text = format!("\n{}\n", banner_line("FAILURES"));
    for f in failures {
        let what = if f.unreachable {
            "UNREACHABLE"
        } else {
            "FAILED"
        };
        let at = f
            .origin
            .as_ref()
            .map(|o| format!(" ({o})"))
            .unwrap_or_default();
        text.push_str(&format!("{what}: [{}] TASK [{}]{at}\n", f.host, f.task));
        if let Some(cmd) = &f.cmd {
            text.push_str(&format!("    cmd: {cmd}\n"));
        }
        if let Some(rc) = f.rc {
            text.push_str(&format!("    rc: {rc}\n"));
        }
        if let Some(msg) = &f.msg {
            text.push_str(&format!("    msg: {msg}\n"));
        }
        if let Some(stderr) = &f.stderr {
            let lines: Vec<&str> = stderr.trim_end().lines().collect();
            let tail = &lines[lines.len().saturating_sub(STDERR_TAIL)..];
            text.push_str("    stderr:\n");
            for l in tail {
                text.push_str(&format!("      {l}\n"));
            }
        }
    }
    text
}

/// How many tasks `--timing` lists.
const SLOWEST: usize = 10;

/// `--timing`: the slowest tasks, slowest first.
pub fn timing_text(tasks: &[(String, Option<String>, Duration)]) -> String {
    let mut sorted: Vec<&(String, Option<String>, Duration)> = tasks.iter().collect();
    sorted.sort_by_key(|t| std::cmp::Reverse(t.2));
    let mut text = format!("{}\n", banner_line("SLOWEST TASKS"));
    for (name, origin, took) in sorted.into_iter().take(SLOWEST) {
        let at = origin
            .as_ref()
            .map(|o| format!(" ({o})"))
            .unwrap_or_default();
        text.push_str(&format!("{:>8}  {name}{at}\n", seconds(*took)));
    }
    text.push('\n');
    text
}

/// Writes the hosts that failed or were unreachable, one per line, as Ansible's retry files
/// do, so that `--limit @PATH` runs them again. An empty file means none failed.
pub fn write_retry_file(path: &Path, hosts: &[(String, Stats)]) -> std::io::Result<()> {
    let text: String = hosts
        .iter()
        .filter(|(_, s)| s.failed > 0 || s.unreachable > 0)
        .map(|(h, _)| format!("{h}\n"))
        .collect();
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log_in_task() -> RunLog {
        let mut log = RunLog::new();
        log.task = Some(TaskClock {
            name: "build".into(),
            origin: Some("pb.yml:7".into()),
            started: Instant::now(),
            timed: true,
        });
        log
    }

    #[test]
    fn failures_keep_command_rc_and_stderr_tail() {
        console::set_colors_enabled(false);
        let mut log = log_in_task();
        let stderr = "l1\nl2\nl3\nl4\nl5\nl6\n";
        let result =
            json!({"cmd": ["make", "all", "it's"], "rc": 2, "stderr": stderr, "msg": "non-zero"});
        log.record_failure("web1", Status::Failed, &result);
        log.record_failure("web2", Status::Unreachable, &json!({"msg": "no route"}));
        let want = format!(
            "\n{}\nFAILED: [web1] TASK [build] (pb.yml:7)\n    cmd: make all 'it'\\''s'\n    rc: 2\n\
             \x20   msg: non-zero\n    stderr:\n      l2\n      l3\n      l4\n      l5\n      l6\n\
             UNREACHABLE: [web2] TASK [build] (pb.yml:7)\n    msg: no route\n",
            banner_line("FAILURES")
        );
        assert_eq!(failure_summary(&log.failures), want);
        assert_eq!(failure_summary(&[]), "");
    }

    #[test]
    fn loop_failure_reads_the_failed_item() {
        let mut log = log_in_task();
        let result = json!({"msg": "One or more items failed", "results": [
            {"rc": 0, "failed": false}, {"rc": 3, "failed": true, "msg": "item broke"}]});
        log.record_failure("h", Status::Failed, &result);
        assert_eq!(log.failures[0].rc, Some(3));
        assert_eq!(log.failures[0].msg.as_deref(), Some("item broke"));
    }

    #[test]
    fn timing_lists_slowest_first() {
        let tasks = vec![
            ("a".to_string(), None, Duration::from_millis(100)),
            (
                "b".to_string(),
                Some("x.yml:3".to_string()),
                Duration::from_secs(3),
            ),
        ];
        let want = format!(
            "{}\n   3.00s  b (x.yml:3)\n   0.10s  a\n\n",
            banner_line("SLOWEST TASKS")
        );
        assert_eq!(timing_text(&tasks), want);
    }

    #[test]
    fn retry_file_names_failed_and_unreachable_hosts() {
        let dir = std::env::temp_dir().join(format!("mestral-retry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pb.retry");
        let failed = Stats {
            failed: 1,
            ..Stats::default()
        };
        let gone = Stats {
            unreachable: 1,
            ..Stats::default()
        };
        let hosts = vec![
            ("a".to_string(), Stats::default()),
            ("b".to_string(), failed),
            ("c".to_string(), gone),
        ];
        write_retry_file(&path, &hosts).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b\nc\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
