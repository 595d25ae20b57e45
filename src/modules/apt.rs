//! `apt` and `package`: install, upgrade or remove Debian packages with `dpkg-query` to read
//! the host and `apt-get` to change it. The package cache is refreshed only when there is
//! something to install or upgrade (and the cache is older than `cache_valid_time`, when
//! given), so a host that already has its packages converges without any network.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool, text_opt};
use super::{ModuleCtx, ModuleOutput};
use crate::connection::quote;
use crate::vars::{as_text, Value};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AptArgs {
    #[serde(default, alias = "pkg", alias = "package")]
    name: Option<Value>,
    #[serde(default, deserialize_with = "text_opt")]
    state: Option<String>,
    #[serde(default, deserialize_with = "loose_bool")]
    purge: bool,
    #[serde(default, alias = "update-cache", deserialize_with = "loose_bool")]
    update_cache: bool,
    #[serde(default)]
    cache_valid_time: Option<u64>,
    #[serde(default, deserialize_with = "loose_bool")]
    autoremove: bool,
    #[serde(
        default = "yes",
        alias = "install-recommends",
        deserialize_with = "loose_bool"
    )]
    install_recommends: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PackageArgs {
    name: Value,
    #[serde(default, deserialize_with = "text_opt")]
    state: Option<String>,
    #[serde(default, deserialize_with = "text_opt", rename = "use")]
    use_: Option<String>,
}

/// The wanted state of the named packages.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Want {
    Present,
    Latest,
    Absent,
}

/// What one probe found on the host.
#[derive(Debug, Default, PartialEq)]
pub struct Probe {
    pub has_apt: bool,
    pub now: u64,
    /// Newest mtime of the package lists or cache; 0 when never updated.
    pub cache_time: u64,
    /// Package name, dpkg status (`install ok installed`), version.
    pub packages: Vec<(String, String, String)>,
    /// Package name, candidate version (from `apt-cache policy`, for `latest`).
    pub candidates: Vec<(String, String)>,
}

/// What the module will do.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub update_cache: bool,
    pub install: Vec<String>,
    pub remove: Vec<String>,
}

/// Package names from a string (comma-separated) or a list.
pub fn names(value: &Value) -> Vec<String> {
    let items: Vec<String> = match value {
        Value::Array(items) => items.iter().map(as_text).collect(),
        Value::Null => vec![],
        other => vec![as_text(other)],
    };
    items
        .iter()
        .flat_map(|s| s.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `name=version` and `name:arch` reduced to the name dpkg reports.
fn base_name(spec: &str) -> &str {
    let name = spec.split_once('=').map_or(spec, |(n, _)| n);
    name.split_once(':').map_or(name, |(n, _)| n)
}

/// The probe: apt's presence, the clock, the cache age, each package's dpkg status and,
/// for `latest`, the candidate versions.
pub fn probe_command(packages: &[String], latest: bool) -> String {
    let quoted: Vec<String> = packages.iter().map(|p| quote(base_name(p))).collect();
    let list = quoted.join(" ");
    let mut s = String::from(
        "command -v apt-get >/dev/null 2>&1 || { echo apt=0; exit 0; }; echo apt=1; \
         echo now=$(date +%s); \
         echo cache=$(stat -c %Y /var/lib/apt/lists /var/cache/apt/pkgcache.bin 2>/dev/null \
         | sort -n | tail -n 1)",
    );
    if !packages.is_empty() {
        s.push_str(&format!(
            "; dpkg-query -W -f='pkg ${{Package}} ${{Status}} ${{Version}}\\n' {list} \
             2>/dev/null"
        ));
        if latest {
            s.push_str(&format!("; LC_ALL=C apt-cache policy {list} 2>/dev/null"));
        }
    }
    s.push_str("; true");
    s
}

/// Reads the probe's output.
pub fn parse_probe(text: &str) -> Probe {
    let mut probe = Probe::default();
    let mut policy_pkg: Option<String> = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["apt=1"] => probe.has_apt = true,
            [w] if w.starts_with("now=") => probe.now = w[4..].parse().unwrap_or(0),
            [w] if w.starts_with("cache=") => probe.cache_time = w[6..].parse().unwrap_or(0),
            ["pkg", name, a, b, c, rest @ ..] => {
                probe
                    .packages
                    .push((name.to_string(), format!("{a} {b} {c}"), rest.join(" ")))
            }
            [name] if !line.starts_with(' ') && name.ends_with(':') => {
                policy_pkg = Some(name.trim_end_matches(':').to_string());
            }
            ["Candidate:", version] => {
                if let Some(pkg) = &policy_pkg {
                    probe.candidates.push((pkg.clone(), version.to_string()));
                }
            }
            _ => {}
        }
    }
    probe
}

/// Works out which packages to install or remove and whether to refresh the cache.
pub fn plan(
    packages: &[String],
    want: Want,
    purge: bool,
    update_cache: bool,
    cache_valid_time: Option<u64>,
    probe: &Probe,
) -> Plan {
    let status = |name: &str| probe.packages.iter().find(|(n, _, _)| n == name);
    let is_installed = |s: &str| s.ends_with(" installed") && !s.starts_with("deinstall");
    let mut plan = Plan::default();
    for spec in packages {
        let name = base_name(spec);
        let current = status(name);
        let installed = current.is_some_and(|(_, s, _)| is_installed(s));
        match want {
            Want::Present => {
                let version_ok = match spec.split_once('=') {
                    Some((_, v)) => current.is_some_and(|(_, _, have)| version_matches(v, have)),
                    None => true,
                };
                if !installed || !version_ok {
                    plan.install.push(spec.clone());
                }
            }
            Want::Latest => {
                let candidate = probe.candidates.iter().find(|(n, _)| n == name);
                let up_to_date = match (current, candidate) {
                    (Some((_, _, have)), Some((_, cand))) => cand == "(none)" || cand == have,
                    _ => true,
                };
                if !installed || !up_to_date {
                    plan.install.push(base_name(spec).to_string());
                }
            }
            Want::Absent => {
                let leftover = current.is_some_and(|(_, s, _)| s.ends_with(" config-files"));
                if installed || (purge && leftover) {
                    plan.remove.push(name.to_string());
                }
            }
        }
    }
    let stale = is_stale(cache_valid_time, probe);
    let has_work = !plan.install.is_empty();
    plan.update_cache = update_cache && stale && (has_work || packages.is_empty());
    plan
}

/// Whether the package cache is older than `cache_valid_time` (always, without one).
fn is_stale(cache_valid_time: Option<u64>, probe: &Probe) -> bool {
    match cache_valid_time {
        Some(valid) => probe.cache_time + valid < probe.now,
        None => true,
    }
}

/// `1.2*` matches any version starting with 1.2; otherwise versions must be equal.
fn version_matches(want: &str, have: &str) -> bool {
    match want.strip_suffix('*') {
        Some(prefix) => have.starts_with(prefix),
        None => want == have,
    }
}

/// The one command that applies the plan.
pub fn apply_command(plan: &Plan, purge: bool, autoremove: bool, recommends: bool) -> String {
    let mut steps = Vec::new();
    if plan.update_cache {
        steps.push("apt-get update -q".to_string());
    }
    let env = "DEBIAN_FRONTEND=noninteractive";
    if !plan.install.is_empty() {
        let pkgs: Vec<String> = plan.install.iter().map(|p| quote(p)).collect();
        steps.push(format!(
            "{env} apt-get install -y -q -o Dpkg::Options::=--force-confdef \
             -o Dpkg::Options::=--force-confold{} {}",
            if recommends {
                ""
            } else {
                " --no-install-recommends"
            },
            pkgs.join(" ")
        ));
    }
    if !plan.remove.is_empty() {
        let pkgs: Vec<String> = plan.remove.iter().map(|p| quote(p)).collect();
        steps.push(format!(
            "{env} apt-get remove -y -q{}{} {}",
            if purge { " --purge" } else { "" },
            if autoremove { " --autoremove" } else { "" },
            pkgs.join(" ")
        ));
    }
    steps.join(" && ")
}

fn parse_want(module: &str, state: Option<&str>) -> Result<Want, String> {
    match state.unwrap_or("present") {
        "present" | "installed" => Ok(Want::Present),
        "latest" => Ok(Want::Latest),
        "absent" | "removed" => Ok(Want::Absent),
        other => Err(format!(
            "{module}: state '{other}' is not one of present, installed, latest, absent"
        )),
    }
}

/// Runs `apt`.
pub async fn run_apt(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    match args::parse::<AptArgs>("apt", args) {
        Ok(a) => apply(a, "apt", ctx).await,
        Err(e) => Ok(ModuleOutput::failed(e)),
    }
}

/// Runs `package`: apt on hosts that have apt-get.
pub async fn run_package(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: PackageArgs = match args::parse("package", args) {
        Ok(p) => p,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    if let Some(other) = p.use_.as_deref().filter(|u| *u != "auto" && *u != "apt") {
        return Ok(ModuleOutput::failed(format!(
            "package: use '{other}' is not supported; mestral drives apt only"
        )));
    }
    let a = AptArgs {
        name: Some(p.name),
        state: p.state,
        install_recommends: true,
        ..AptArgs::default()
    };
    apply(a, "package", ctx).await
}

async fn apply(a: AptArgs, module: &str, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let want = match parse_want(module, a.state.as_deref()) {
        Ok(w) => w,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    let packages = a.name.as_ref().map(names).unwrap_or_default();
    if packages.is_empty() && !a.update_cache {
        return Ok(ModuleOutput::failed(format!(
            "{module}: 'name' or 'update_cache' is required"
        )));
    }

    let latest = want == Want::Latest;
    let mut probe = parse_probe(
        &ctx.exec(&probe_command(&packages, latest))
            .await?
            .stdout_text(),
    );
    if !probe.has_apt {
        return Ok(ModuleOutput::failed(format!(
            "{module}: apt-get was not found on {}; only Debian-family hosts are supported",
            ctx.host
        )));
    }
    // `latest` needs a fresh cache to know the newest version: refresh it first when stale.
    let refreshed_first =
        latest && a.update_cache && !ctx.check && is_stale(a.cache_valid_time, &probe);
    if refreshed_first {
        let out = ctx.exec("apt-get update -q").await?;
        if out.rc != 0 {
            let msg = format!("{module}: apt-get update failed (rc {})", out.rc);
            return Ok(ModuleOutput::failed(msg).with_exec(&out));
        }
        probe = parse_probe(
            &ctx.exec(&probe_command(&packages, latest))
                .await?
                .stdout_text(),
        );
    }
    let plan = plan(
        &packages,
        want,
        a.purge,
        a.update_cache && !refreshed_first,
        a.cache_valid_time,
        &probe,
    );
    let changes = !plan.install.is_empty() || !plan.remove.is_empty();
    let cache_updated = refreshed_first || (plan.update_cache && !ctx.check);
    let summary = |o: ModuleOutput| {
        o.with("installed", json!(plan.install))
            .with("removed", json!(plan.remove))
            .with("cache_updated", json!(cache_updated))
    };
    // As in Ansible, a task that only refreshes the cache reports the refresh as its change.
    let changes = changes || (packages.is_empty() && plan.update_cache);
    if !changes && !plan.update_cache {
        return Ok(summary(ModuleOutput::ok()));
    }
    if ctx.check {
        return Ok(summary(ModuleOutput::changed(changes)));
    }

    let out = ctx
        .exec(&apply_command(
            &plan,
            a.purge,
            a.autoremove,
            a.install_recommends,
        ))
        .await?;
    if out.rc != 0 {
        let msg = format!(
            "{module}: apt-get failed (rc {}): {}",
            out.rc,
            out.stderr_text().trim()
        );
        // Nothing was installed or removed: apt-get changes all or nothing.
        return Ok(ModuleOutput::failed(msg)
            .with_exec(&out)
            .with("cache_updated", json!(cache_updated)));
    }
    Ok(summary(ModuleOutput::changed(changes).with_exec(&out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROBE: &str = "apt=1\nnow=1700003600\ncache=1700000000\n\
        pkg docker.io install ok installed 20.10.24+dfsg1-1+b3\n\
        pkg curl deinstall ok config-files 7.88.1-10\n";

    fn pkgs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_names() {
        assert_eq!(names(&json!("a, b,c")), pkgs(&["a", "b", "c"]));
        assert_eq!(
            names(&json!(["docker.io", "curl,jq"])),
            pkgs(&["docker.io", "curl", "jq"])
        );
        assert_eq!(names(&Value::Null), Vec::<String>::new());
    }

    #[test]
    fn parses_probe() {
        let p = parse_probe(&format!(
            "{PROBE}docker.io:\n  Installed: 20.10.24+dfsg1-1+b3\n  Candidate: 20.10.25\n"
        ));
        assert!(p.has_apt);
        assert_eq!((p.now, p.cache_time), (1700003600, 1700000000));
        assert_eq!(
            p.packages[0],
            (
                "docker.io".to_string(),
                "install ok installed".to_string(),
                "20.10.24+dfsg1-1+b3".to_string()
            )
        );
        assert_eq!(p.packages[1].1, "deinstall ok config-files");
        assert_eq!(
            p.candidates,
            vec![("docker.io".to_string(), "20.10.25".to_string())]
        );
        assert_eq!(parse_probe("apt=0\n"), Probe::default());
    }

    #[test]
    #[rustfmt::skip]
    #[allow(clippy::type_complexity)]
    fn plans() {
        let probe = parse_probe(PROBE);
        // (packages, want, purge, update_cache, valid, install, remove, update)
        let cases: &[(&[&str], Want, bool, bool, Option<u64>, &[&str], &[&str], bool)] = &[
            // Installed already: no apt-get update even when asked (the lab has no network).
            (&["docker.io"], Want::Present, false, true, None, &[], &[], false),
            (&["docker.io", "curl"], Want::Present, false, true, None, &["curl"], &[], true),
            (&["curl"], Want::Present, false, true, Some(7200), &["curl"], &[], false),
            (&["curl"], Want::Present, false, true, Some(60), &["curl"], &[], true),
            (&["curl"], Want::Present, false, false, None, &["curl"], &[], false),
            (&["docker.io=20.10.24+dfsg1-1+b3"], Want::Present, false, false, None, &[], &[],
                false),
            (&["docker.io=20.10.24*"], Want::Present, false, false, None, &[], &[], false),
            (&["docker.io=19.03"], Want::Present, false, false, None, &["docker.io=19.03"], &[],
                false),
            (&["docker.io", "curl"], Want::Absent, false, false, None, &[], &["docker.io"], false),
            (&["curl"], Want::Absent, true, false, None, &[], &["curl"], false),
            (&["jq"], Want::Absent, true, true, None, &[], &[], false),
            (&[], Want::Present, false, true, None, &[], &[], true),
            (&[], Want::Present, false, true, Some(7200), &[], &[], false),
            (&["docker.io"], Want::Latest, false, false, None, &[], &[], false),
        ];
        for (p, want, purge, update, valid, install, remove, refresh) in cases {
            let got = plan(&pkgs(p), *want, *purge, *update, *valid, &probe);
            let expected = Plan {
                update_cache: *refresh,
                install: pkgs(install),
                remove: pkgs(remove),
            };
            assert_eq!(got, expected, "case {p:?} {want:?} update {update} valid {valid:?}");
        }
        let newer = parse_probe(&format!("{PROBE}docker.io:\n  Candidate: 20.10.25\n"));
        let got = plan(&pkgs(&["docker.io"]), Want::Latest, false, true, None, &newer);
        assert_eq!(got.install, pkgs(&["docker.io"]));
        assert!(got.update_cache);
    }

    #[test]
    fn commands() {
        assert_eq!(
            probe_command(&pkgs(&["docker.io", "a=1"]), false),
            "command -v apt-get >/dev/null 2>&1 || { echo apt=0; exit 0; }; echo apt=1; \
             echo now=$(date +%s); \
             echo cache=$(stat -c %Y /var/lib/apt/lists /var/cache/apt/pkgcache.bin 2>/dev/null \
             | sort -n | tail -n 1); \
             dpkg-query -W -f='pkg ${Package} ${Status} ${Version}\\n' docker.io a \
             2>/dev/null; true"
        );
        let plan = Plan {
            update_cache: true,
            install: pkgs(&["docker.io"]),
            remove: vec![],
        };
        assert_eq!(
            apply_command(&plan, false, false, true),
            "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
             -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold docker.io"
        );
        let plan = Plan {
            update_cache: false,
            install: vec![],
            remove: pkgs(&["curl"]),
        };
        assert_eq!(
            apply_command(&plan, true, true, true),
            "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q --purge --autoremove curl"
        );
    }
}
