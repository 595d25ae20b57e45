//! Tasks that hold other tasks: a block with its `rescue` and `always`, and the handlers run
//! at the end of a batch or on `meta: flush_handlers`.

use std::collections::HashSet;

use anyhow::Result;

use super::{PlayCtx, Runner};
use crate::playbook::Task;

impl Runner {
    /// Runs the notified handlers, in the order they are defined, for the hosts that
    /// notified them, and forgets the notifications.
    pub(super) async fn run_handlers(&self, ctx: &mut PlayCtx<'_>) -> Result<()> {
        // A role imported and also included brings its handlers twice; each runs once.
        let mut seen = HashSet::new();
        let handlers: Vec<Task> = ctx
            .play
            .handlers
            .iter()
            .chain(ctx.handlers.iter())
            .filter(|h| seen.insert(h.display_name()))
            .cloned()
            .collect();
        for handler in &handlers {
            let names: Vec<&str> = std::iter::once(handler.name.as_deref().unwrap_or(""))
                .chain(handler.listen.iter().map(String::as_str))
                .collect();
            let wanted: Vec<String> = ctx
                .active_hosts(&self.hosts.borrow())
                .into_iter()
                .filter(|h| {
                    ctx.notified
                        .get(h)
                        .map(|n| names.iter().any(|x| n.contains(*x)))
                        .unwrap_or(false)
                })
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let saved = std::mem::replace(&mut ctx.hosts, wanted);
            self.run_task(ctx, handler, true).await?;
            ctx.hosts = saved;
        }
        ctx.notified.clear();
        Ok(())
    }

    /// A block: its tasks, then `rescue` for hosts that failed in it, then `always` for
    /// every host that ran the block, failed or not. A host that failed in the block and
    /// was not rescued is failed again after `always`.
    pub(super) async fn run_block(
        &self,
        ctx: &mut PlayCtx<'_>,
        parent: &Task,
        block: &[Task],
        rescue: &[Task],
        always: &[Task],
    ) -> Result<()> {
        let inherit = |t: &Task| {
            let mut t = t.clone();
            crate::playbook::inherit_from(&mut t, parent);
            t
        };
        let before: HashSet<String> = self
            .hosts
            .borrow()
            .iter()
            .filter(|(_, s)| s.failed || s.unreachable)
            .map(|(h, _)| h.clone())
            .collect();
        for t in block {
            if ctx.stop {
                return Ok(());
            }
            if self.active(ctx).is_empty() {
                break;
            }
            Box::pin(self.run_task(ctx, &inherit(t), false)).await?;
        }
        if !rescue.is_empty() {
            let failed_here = self.failed_since(ctx, &before);
            for h in &failed_here {
                let mut states = self.hosts.borrow_mut();
                let state = states.entry(h.clone()).or_default();
                state.failed = false;
                if !state.forced {
                    state.stats.failed = state.stats.failed.saturating_sub(1);
                    state.stats.rescued += 1;
                    // A rescued failure is handled: it leaves the failure summary.
                    self.reporter.rescued(h);
                }
                state.forced = false;
                if let Some((task, result)) = state.failed_with.take() {
                    state.registered.insert("ansible_failed_task".into(), task);
                    state
                        .registered
                        .insert("ansible_failed_result".into(), result);
                }
            }
            if !failed_here.is_empty() && !ctx.stop {
                let saved = std::mem::replace(&mut ctx.hosts, failed_here);
                for t in rescue {
                    if ctx.stop || self.active(ctx).is_empty() {
                        break;
                    }
                    Box::pin(self.run_task(ctx, &inherit(t), false)).await?;
                }
                ctx.hosts = saved;
            }
        }
        if always.is_empty() || ctx.stop {
            return Ok(());
        }

        // Hosts that failed in the block or its rescue run `always` too, then stay failed.
        let failed_here = self.failed_since(ctx, &before);
        let mut held = Vec::new();
        for h in &failed_here {
            if let Some(state) = self.hosts.borrow_mut().get_mut(h) {
                held.push((h.clone(), state.forced));
                state.failed = false;
                state.forced = false;
            }
        }
        for t in always {
            if ctx.stop || self.active(ctx).is_empty() {
                break;
            }
            Box::pin(self.run_task(ctx, &inherit(t), false)).await?;
        }
        for (h, forced) in held {
            if let Some(state) = self.hosts.borrow_mut().get_mut(&h) {
                if !state.failed && !state.unreachable {
                    state.failed = true;
                    state.forced = forced;
                }
            }
        }
        Ok(())
    }

    /// The hosts of the task list that failed since `before` was taken (not unreachable,
    /// not ended by `meta: end_host`).
    fn failed_since(&self, ctx: &PlayCtx<'_>, before: &HashSet<String>) -> Vec<String> {
        let states = self.hosts.borrow();
        ctx.hosts
            .iter()
            .filter(|h| !before.contains(*h) && !ctx.ended.contains(*h))
            .filter(|h| states.get(*h).is_some_and(|s| s.failed && !s.unreachable))
            .cloned()
            .collect()
    }
}
