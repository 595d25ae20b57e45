//! The report of a play under the free strategy, where hosts run tasks apart. A task's banner
//! is printed when a host has something to show for it (a result, or with `-v` a line of a
//! running command) and the last banner printed is another task's, as ansible-playbook's free
//! strategy does for results. `--timing` gives such a task the span from the first host
//! reaching it to the last host's result, one entry per task and batch.

use std::sync::Arc;
use std::time::Instant;

use super::summary::{RunLog, TaskClock};
use super::{lock, Reporter};

/// A task as one host of a free play starts it: what its banner shows, and when.
#[derive(Clone, Debug)]
pub struct TaskBanner {
    pub name: String,
    /// `file:line`, none for facts gathering.
    pub origin: Option<String>,
    pub handler: bool,
    /// The hosts named in the JSON event and the live view.
    pub hosts: Vec<String>,
    /// When the host reached the task (before waiting for a fork slot, as in a linear play).
    pub started: Instant,
}

impl TaskBanner {
    /// What tells two tasks apart for the banner and the timing.
    fn key(&self) -> String {
        let origin = self.origin.as_deref().unwrap_or_default();
        format!("{} {origin} {}", self.handler, self.name)
    }
}

impl Reporter {
    /// A handle on the same report whose streamed output (`echo`) belongs to `banner`'s task;
    /// a plain handle when there is none (a linear play).
    pub fn streaming_for(&self, banner: Option<&TaskBanner>) -> Reporter {
        Reporter {
            free_banner: banner.map(|b| Arc::new(b.clone())),
            ..self.clone()
        }
    }

    /// A host of a free play has a result for `banner`'s task, reported next: the banner
    /// first if needed, and the task's span in `--timing` grows to now.
    pub fn free_result(&self, banner: &TaskBanner) {
        let mut log = lock(&self.log);
        let key = banner.key();
        let origin = banner.origin.as_deref();
        log.free_span(&key, &banner.name, origin, banner.started);
        self.free_banner(&mut log, banner, key);
    }

    /// Lines streamed from a running command, below the handle's free banner if it has one.
    pub(super) fn streamed(&self, text: &str) {
        match &self.free_banner {
            Some(banner) => {
                // The log stays held while writing: no other task's banner comes between.
                let mut log = lock(&self.log);
                self.free_banner(&mut log, banner, banner.key());
                self.out_during_task(text);
            }
            None => self.out_during_task(text),
        }
    }

    /// Prints `banner` unless it is the last one printed in this batch.
    fn free_banner(&self, log: &mut RunLog, banner: &TaskBanner, key: String) {
        if log.free.last_banner.as_deref() == Some(key.as_str()) {
            return;
        }
        log.free.last_banner = Some(key);
        let clock = TaskClock {
            name: banner.name.clone(),
            origin: banner.origin.clone(),
            started: banner.started,
            timed: false,
        };
        self.open_task(log, clock, banner.handler, &banner.hosts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn banner(name: &str, origin: &str, handler: bool) -> TaskBanner {
        TaskBanner {
            name: name.into(),
            origin: Some(origin.into()),
            handler,
            hosts: vec!["h".into()],
            started: Instant::now(),
        }
    }

    #[test]
    fn keys_tell_tasks_apart() {
        let first = ("a", "pb.yml:3", false);
        let cases = [
            (first, true),
            (("a", "pb.yml:5", false), false),
            (("b", "pb.yml:3", false), false),
            (("a", "pb.yml:3", true), false),
        ];
        for ((name, origin, handler), same) in cases {
            let one = banner(first.0, first.1, first.2);
            let other = banner(name, origin, handler);
            assert_eq!(one.key() == other.key(), same, "{other:?}");
        }
    }

    /// Two hosts' spans of one task make one entry from the earliest start to the latest end;
    /// another task gets its own.
    #[test]
    fn spans_of_one_task_merge() {
        let mut log = RunLog::new();
        let now = Instant::now();
        log.free_span("k", "a", Some("pb.yml:3"), now - Duration::from_secs(3));
        log.free_span("k", "a", Some("pb.yml:3"), now - Duration::from_secs(1));
        log.free_span("j", "b", None, now - Duration::from_secs(2));
        let names: Vec<(&str, Option<&str>, u64)> = log
            .task_times
            .iter()
            .map(|(n, o, d)| (n.as_str(), o.as_deref(), d.as_secs()))
            .collect();
        assert_eq!(names, [("a", Some("pb.yml:3"), 3), ("b", None, 2)]);
    }
}
