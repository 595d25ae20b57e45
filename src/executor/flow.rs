//! The play's flow around its tasks: `serial` batches, `vars_prompt`, `--step`, `meta`
//! (`flush_handlers`, `end_play`, `end_batch`, `end_host`, `clear_facts`, `noop`), and what
//! a failure stops (`any_errors_fatal`, `max_fail_percentage`).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{anyhow, bail, Result};

use super::{scope, Options, PlayCtx, Runner};
use crate::playbook::{serial_size, Action, Play, Task};
use crate::vars::{as_text, Scope, Value, Vars};

/// Splits the play's hosts into `serial` batches: each size in turn, the last one repeated
/// until every host has had its batch. Without `serial`, one batch of all.
pub fn batches(serial: &[Value], hosts: &[String]) -> Vec<Vec<String>> {
    if serial.is_empty() {
        return vec![hosts.to_vec()];
    }
    let mut out = Vec::new();
    let mut rest = hosts;
    let mut sizes = serial.iter();
    let mut size = 0;
    while !rest.is_empty() {
        if let Some(next) = sizes.next() {
            // Sizes were checked when the play was read.
            size = serial_size(next, hosts.len()).unwrap_or(1);
        }
        let take = size.min(rest.len());
        out.push(rest[..take].to_vec());
        rest = &rest[take..];
    }
    out
}

/// `vars_prompt`: asks on the terminal for each variable not given with `-e`; without a
/// terminal on stdin the default is used, and a prompt without one is an error.
pub fn prompt_vars(play: &Play, vars: &mut Vars, opts: &Options) -> Result<()> {
    let interactive = std::io::stdin().is_terminal();
    for p in &play.vars_prompt {
        if opts.extra_vars.contains_key(&p.name) {
            continue;
        }
        let default = p.default.as_ref().map(as_text);
        let answer = if !interactive {
            default.ok_or_else(|| {
                anyhow!(
                    "{}: vars_prompt '{}' needs an answer, and stdin is not a terminal \
                     (give it with -e {}=...)",
                    play.origin,
                    p.name,
                    p.name
                )
            })?
        } else {
            let question = match &default {
                Some(d) => format!("{} [{d}]: ", p.prompt),
                None => format!("{}: ", p.prompt),
            };
            let typed = if p.private {
                rpassword::prompt_password(question)?
            } else {
                eprint!("{question}");
                std::io::stderr().flush()?;
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_string()
            };
            match (typed.is_empty(), default) {
                (true, Some(d)) => d,
                _ => typed,
            }
        };
        vars.insert(p.name.clone(), Value::String(answer));
    }
    Ok(())
}

/// `--step`: asks whether to run the task; `c` stops asking for the rest of the run.
pub fn step_confirms(name: &str) -> Result<bool> {
    static CONTINUE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if CONTINUE.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(true);
    }
    eprint!("Perform task: TASK: {name} (N)o/(y)es/(c)ontinue: ");
    std::io::stderr().flush()?;
    // From a pipe, answers are read one a line, as Ansible does; the answer is not echoed,
    // so the prompt's line is ended here. Running out of answers is an error, not a "no".
    let mut line = String::new();
    let stdin = std::io::stdin();
    if stdin.lock().read_line(&mut line)? == 0 {
        eprintln!();
        bail!("--step: standard input ended before an answer for task '{name}'");
    }
    if !stdin.is_terminal() {
        eprintln!();
    }
    match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(true),
        "c" | "continue" => {
            CONTINUE.store(true, std::sync::atomic::Ordering::Relaxed);
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// `--list-tags`: for each play, the tags of its tasks (blocks included, play tags added),
/// sorted, in ansible-playbook's layout.
pub fn list_tags(pb: &crate::playbook::Playbook) -> String {
    fn collect(tasks: &[Task], into: &mut std::collections::BTreeSet<String>) {
        for t in tasks {
            into.extend(t.tags.iter().cloned());
            if let Action::Block {
                block,
                rescue,
                always,
            } = &t.action
            {
                collect(block, into);
                collect(rescue, into);
                collect(always, into);
            }
        }
    }
    let mut out = format!("\nplaybook: {}\n", pb.path.display());
    for (i, play) in pb.plays.iter().enumerate() {
        let mut tags = std::collections::BTreeSet::new();
        tags.extend(play.tags.iter().cloned());
        collect(&play.tasks, &mut tags);
        let tags: Vec<String> = tags.into_iter().collect();
        out.push_str(&format!(
            "\n  play #{} ({}): {}\tTAGS: [{}]\n      TASK TAGS: [{}]\n",
            i + 1,
            play.hosts,
            play.name,
            play.tags.join(","),
            tags.join(", ")
        ));
    }
    out
}

impl Runner {
    /// The variables a task sees on a host, with the play's and the batch's host lists.
    pub(super) fn task_vars(&self, ctx: &PlayCtx<'_>, host: &str, task: &Task) -> Vars {
        let mut vars = scope::vars_for(
            &self.inventory,
            host,
            self.hosts.borrow().get(host),
            &ctx.play_vars,
            Some(task),
            &self.opts,
            &ctx.play_hosts_value(&self.hosts.borrow()),
        );
        let batch = ctx.batch_value(&self.hosts.borrow());
        vars.insert("ansible_play_batch".into(), batch.clone());
        vars.insert("play_hosts".into(), batch);
        vars
    }

    /// After a task failed on some host: a share of failed hosts in the batch above
    /// `max_fail_percentage` stops the play at once. With `any_errors_fatal` every other
    /// host of the batch fails too, as Ansible's linear strategy has it: a host inside a
    /// block goes on to the block's `rescue` (or `always`), any other host stops there.
    pub(super) fn after_failure(&self, ctx: &mut PlayCtx<'_>, task: &Task) {
        // The free strategy runs hosts apart: neither limit applies, as in Ansible.
        if ctx.free.is_some() {
            return;
        }
        let fatal = task.any_errors_fatal || ctx.play.any_errors_fatal;
        let failed = ctx
            .batch
            .iter()
            .filter(|h| {
                self.hosts
                    .borrow()
                    .get(*h)
                    .is_some_and(|s| s.failed || s.unreachable)
            })
            .count();
        let too_many = match ctx.play.max_fail_percentage {
            Some(pct) => failed as f64 * 100.0 > pct * ctx.batch.len() as f64,
            None => false,
        };
        if too_many {
            ctx.stop = true;
            ctx.abort = true;
        } else if fatal {
            let mut states = self.hosts.borrow_mut();
            for host in ctx.batch.iter().filter(|h| !ctx.ended.contains(*h)) {
                let state = states.entry(host.clone()).or_default();
                if !state.failed && !state.unreachable {
                    state.failed = true;
                    state.forced = true;
                }
            }
        }
    }

    /// `meta` acts on the run itself; it prints nothing, as in Ansible.
    pub(super) async fn run_meta(&self, ctx: &mut PlayCtx<'_>, task: &Task) -> Result<()> {
        let Action::Module { args, .. } = &task.action else {
            return Ok(());
        };
        let what = args
            .get("_raw_params")
            .or_else(|| args.get("free_form"))
            .map(as_text)
            .unwrap_or_default();
        let hostvars = scope::hostvars_map(&self.inventory, &self.hosts.borrow(), &self.opts);
        let mut chosen = Vec::new();
        for host in self.active(ctx) {
            let scope = Scope::new(self.task_vars(ctx, &host, task), hostvars.clone());
            let mut all = true;
            for cond in &task.when {
                all &= self.templar.eval_bool(cond, &scope).map_err(|e| {
                    anyhow!(
                        "{}: the conditional check '{cond}' failed: {e}",
                        task.origin
                    )
                })?;
            }
            if all {
                chosen.push(host);
            }
        }
        match what.trim() {
            "flush_handlers" => Box::pin(self.run_handlers(ctx)).await?,
            "end_play" if !chosen.is_empty() => {
                self.free_end(ctx, true);
                ctx.stop = true;
                ctx.abort = true;
                ctx.quiet_stop = true;
            }
            "end_batch" if !chosen.is_empty() => {
                self.free_end(ctx, true);
                ctx.stop = true;
                ctx.quiet_stop = true;
            }
            "end_host" => ctx.ended.extend(chosen),
            "clear_facts" => {
                for host in chosen {
                    if let Some(state) = self.hosts.borrow_mut().get_mut(&host) {
                        state.facts.clear();
                        state.gathered = false;
                        // Ansible's clear_facts empties the host's fact cache too.
                        if self.opts.fact_cache.is_some() {
                            state.cache = Some(Vars::new());
                        }
                    }
                    self.save_fact_cache(&host);
                }
            }
            "end_play" | "end_batch" | "noop" | "refresh_inventory" | "clear_host_errors" => {}
            other => bail!("{}: meta: '{other}' is not supported", task.origin),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serial_batches() {
        let hosts: Vec<String> = (1..=5).map(|i| format!("h{i}")).collect();
        let cases = [
            (vec![], vec![5]),
            (vec![json!(2)], vec![2, 2, 1]),
            (vec![json!("40%")], vec![2, 2, 1]),
            (vec![json!("10%")], vec![1, 1, 1, 1, 1]),
            (vec![json!(1), json!(3)], vec![1, 3, 1]),
            (vec![json!(1), json!("100%")], vec![1, 4]),
            (vec![json!(9)], vec![5]),
        ];
        for (serial, want) in cases {
            let got: Vec<usize> = batches(&serial, &hosts).iter().map(Vec::len).collect();
            assert_eq!(got, want, "{serial:?}");
        }
        assert_eq!(batches(&[json!(2)], &hosts)[1], vec!["h3", "h4"]);
    }
}
