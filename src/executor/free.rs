//! Ansible's `free` strategy: each host of a batch walks its own task list (facts, tasks,
//! handlers) without waiting for the others at each task. Task banners are printed when a
//! host shows something (a result, a streamed line) for a task other than the last one shown,
//! so lines interleave per host (output/free.rs); `throttle` and `forks` still bound how many
//! hosts run a task at once.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{PlayCtx, Runner};
use crate::output::TaskBanner;
use crate::playbook::Task;

/// What the hosts of one `free` batch share while they run apart.
#[derive(Default)]
pub(super) struct FreeShared {
    /// `meta: end_play` / `end_batch` ran on some host: the others stop at their next task.
    ended: bool,
    /// One semaphore per throttled task, shared by the hosts.
    throttles: HashMap<String, Arc<Semaphore>>,
    /// Warnings already printed (Ansible prints each once).
    warned: Vec<String>,
}

const RUN_ONCE_WARNING: &str = "Using run_once with the free strategy is not currently \
     supported. This task will still be executed for every host in the inventory list.";
const MAX_FAIL_WARNING: &str = "Using max_fail_percentage with the free strategy is not \
     supported, as tasks are executed independently on each host";
const FATAL_WARNING: &str = "Using any_errors_fatal with the free strategy is not supported, \
     as tasks are executed independently on each host";

impl Runner {
    /// One `serial` batch under the `free` strategy: every host runs the batch on its own.
    pub(super) async fn run_free_batch(&self, ctx: &mut PlayCtx<'_>) -> Result<()> {
        // Ansible prints each warning once a run, whatever the batch.
        let warned = std::mem::take(&mut self.free.borrow_mut().warned);
        *self.free.borrow_mut() = FreeShared {
            warned,
            ..FreeShared::default()
        };
        if ctx.play.max_fail_percentage.is_some() {
            self.warn_once(MAX_FAIL_WARNING);
        }
        let slots = Arc::new(Semaphore::new(self.opts.forks.max(1)));
        let mut ctxs: Vec<PlayCtx<'_>> = ctx
            .hosts
            .iter()
            .map(|h| {
                let mut one = ctx.clone();
                one.hosts = vec![h.clone()];
                one.free = Some(slots.clone());
                one
            })
            .collect();
        let results =
            futures::future::join_all(ctxs.iter_mut().map(|one| self.run_batch(one))).await;
        for (one, result) in ctxs.iter().zip(results) {
            result?;
            ctx.abort |= one.abort;
            ctx.ended.extend(one.ended.iter().cloned());
        }
        Ok(())
    }

    /// Starts a task's banner: printed now in a linear play; in a free one when the host has
    /// a result or (with `-v`) a line of output for it, and another task's banner was last.
    pub(super) fn task_banner(
        &self,
        ctx: &mut PlayCtx<'_>,
        name: &str,
        origin: Option<&str>,
        handler: bool,
        hosts: &[String],
    ) {
        if ctx.free.is_none() {
            self.reporter.task_start(name, origin, handler, hosts);
            return;
        }
        ctx.banner = Some(TaskBanner {
            name: name.to_string(),
            origin: origin.map(str::to_string),
            handler,
            hosts: hosts.to_vec(),
            started: std::time::Instant::now(),
        });
    }

    /// A result of a free play's task is reported next: its banner first, unless it was the
    /// last one shown; the task's `--timing` span grows to now.
    pub(super) fn show_banner(&self, ctx: &PlayCtx<'_>) {
        if let Some(b) = &ctx.banner {
            self.reporter.free_result(b);
        }
    }

    /// Notes a free play's `meta: end_play` for the other hosts; true when one already ran.
    pub(super) fn free_end(&self, ctx: &PlayCtx<'_>, end_now: bool) -> bool {
        if ctx.free.is_none() {
            return false;
        }
        let mut shared = self.free.borrow_mut();
        shared.ended |= end_now;
        shared.ended
    }

    /// The warnings Ansible prints for keywords the free strategy does not honour.
    pub(super) fn free_warnings(&self, ctx: &PlayCtx<'_>, task: &Task) {
        if ctx.free.is_none() {
            return;
        }
        let mut wanted = Vec::new();
        if task.run_once {
            wanted.push(RUN_ONCE_WARNING);
        }
        if task.any_errors_fatal || ctx.play.any_errors_fatal {
            wanted.push(FATAL_WARNING);
        }
        for text in wanted {
            self.warn_once(text);
        }
    }

    fn warn_once(&self, text: &str) {
        let mut shared = self.free.borrow_mut();
        if !shared.warned.iter().any(|w| w == text) {
            shared.warned.push(text.to_string());
            drop(shared);
            self.reporter.warning(text);
        }
    }

    /// In a free play, waits for a fork slot and for the task's `throttle`; the permits are
    /// held while the host runs the task, which starts then for `--timing` (the wait was for
    /// other tasks). Nothing to wait for in a linear play.
    pub(super) async fn free_slot(
        &self,
        ctx: &mut PlayCtx<'_>,
        throttle: Option<Arc<Semaphore>>,
    ) -> Option<(OwnedSemaphorePermit, Option<OwnedSemaphorePermit>)> {
        let slots = ctx.free.as_ref()?;
        // Let the other hosts take their turn first, so that no host runs a list of quick
        // tasks to its end before the others have started.
        tokio::task::yield_now().await;
        // The semaphores are never closed, so acquiring cannot fail.
        let slot = slots.clone().acquire_owned().await.ok()?;
        let limit = match throttle {
            Some(t) => t.acquire_owned().await.ok(),
            None => None,
        };
        if let Some(banner) = ctx.banner.as_mut() {
            banner.started = std::time::Instant::now();
        }
        Some((slot, limit))
    }

    /// The semaphore shared by a free play's hosts for a task with `throttle`.
    pub(super) fn free_throttle(&self, ctx: &PlayCtx<'_>, task: &Task) -> Option<Arc<Semaphore>> {
        ctx.free.as_ref()?;
        let limit = [task.throttle, ctx.play.throttle]
            .into_iter()
            .filter(|t| *t > 0)
            .min()?;
        let key = format!("{} {}", task.origin, task.display_name());
        let mut shared = self.free.borrow_mut();
        let sem = shared
            .throttles
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(limit)));
        Some(sem.clone())
    }
}
