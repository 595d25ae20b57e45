//! Facts around the tasks: gathering at the start of a batch (not again for a host whose
//! facts are known, with `gathering = smart`), the fact cache read before the run and
//! written whenever a host's entry changes, and a host's failure outside any task.

use super::{factcache, facts, PlayCtx, Runner};
use crate::output::{HostReport, Status};
use crate::vars::Vars;

impl Runner {
    pub(super) async fn gather_facts(&self, ctx: &mut PlayCtx<'_>) {
        let mut hosts = self.active(ctx);
        if self.opts.gathering == crate::config::Gathering::Smart {
            let states = self.hosts.borrow();
            hosts.retain(|h| !states.get(h).is_some_and(|s| s.gathered));
        }
        if hosts.is_empty() {
            return;
        }
        self.task_banner(ctx, "Gathering Facts", None, false, &hosts);
        let ctx = &*ctx;
        let pool = &self.pool;
        let reporter = &self.reporter;
        let results = futures::future::join_all(hosts.iter().map(|h| async move {
            reporter.host_running(h);
            let subsets = &ctx.play.gather_subset;
            let gathered = async {
                let all = facts::gather(&pool.get(h).await?).await?;
                if subsets.is_empty() {
                    Ok(all)
                } else {
                    facts::select(all, subsets)
                }
            }
            .await;
            let status = if gathered.is_ok() {
                Status::Ok
            } else {
                Status::Failed
            };
            reporter.host_finished(h, status);
            gathered
        }))
        .await;
        self.show_banner(ctx);
        for (host, result) in hosts.iter().zip(results) {
            let mut states = self.hosts.borrow_mut();
            let state = states.entry(host.clone()).or_default();
            match result {
                Ok(facts) => {
                    state.gathered = true;
                    if self.opts.fact_cache.is_some() {
                        let cache = state.cache.get_or_insert_with(Vars::new);
                        cache.extend(factcache::prefixed(&facts));
                        cache.insert(factcache::GATHERED.into(), serde_json::json!(true));
                    }
                    state.facts.extend(facts);
                    state.stats.ok += 1;
                    drop(states);
                    self.save_fact_cache(host);
                    let result = serde_json::json!({"changed": false});
                    self.reporter
                        .host_result(&HostReport::single(host, Status::Ok, &result, None));
                }
                Err(e) => {
                    drop(states);
                    self.mark_error(host, &e);
                }
            }
        }
    }

    /// Reads the fact cache for every inventory host: cached facts and values are there from
    /// the first play on, as with Ansible's jsonfile cache.
    pub(super) fn load_fact_cache(&self) {
        let Some(cache) = &self.opts.fact_cache else {
            return;
        };
        let mut states = self.hosts.borrow_mut();
        for host in &self.inventory.hosts {
            if let Some(entry) = factcache::load(cache, &host.name) {
                let (facts, values) = factcache::split(&entry);
                let state = states.entry(host.name.clone()).or_default();
                state.facts.extend(facts);
                state.registered.extend(values);
                state.gathered = entry.get(factcache::GATHERED) == Some(&serde_json::json!(true));
                state.cache = Some(entry);
            }
        }
    }

    /// Writes what the cache holds for `host`, if there is a cache and an entry for it.
    pub(super) fn save_fact_cache(&self, host: &str) {
        let Some(cache) = &self.opts.fact_cache else {
            return;
        };
        let states = self.hosts.borrow();
        let Some(entry) = states.get(host).and_then(|s| s.cache.as_ref()) else {
            return;
        };
        let saved = factcache::save(cache, host, entry);
        drop(states);
        if let Err(e) = saved {
            self.reporter.warning(&format!("{e:#}"));
        }
    }

    /// Records a host that failed outside a task (connecting, gathering facts).
    pub(super) fn mark_error(&self, host: &str, err: &anyhow::Error) {
        let unreachable = err
            .downcast_ref::<crate::connection::Unreachable>()
            .is_some();
        let mut states = self.hosts.borrow_mut();
        let state = states.entry(host.to_string()).or_default();
        let detail = serde_json::json!({"changed": false, "msg": format!("{err:#}"),
            "unreachable": unreachable});
        let status = if unreachable {
            state.unreachable = true;
            state.stats.unreachable += 1;
            Status::Unreachable
        } else {
            state.failed = true;
            state.stats.failed += 1;
            Status::Failed
        };
        self.reporter.host_result(&HostReport::single(
            host,
            status,
            &detail,
            Some(detail.clone()),
        ));
    }
}
