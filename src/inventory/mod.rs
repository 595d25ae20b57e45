//! The inventory: hosts, groups and their variables, read from Ansible's INI and YAML
//! formats, with `group_vars/` and `host_vars/` beside the inventory, and host patterns.
//!
//! Parsing lives in `ini.rs` and `yaml.rs`, host ranges and `host:port` in `range.rs`, the
//! variable folders in `vars_dir.rs` and patterns in `pattern.rs`; this file holds the model.

mod generator;
mod ini;
mod memo;
mod pattern;
mod range;
mod source;
#[cfg(test)]
mod testdir;
mod vars_dir;
mod yaml;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{bail, Result};

pub use crate::suggest::did_you_mean;
use crate::vars::{merge, Value, Vars};

/// Names that exist implicitly, with `ansible_connection=local`, when a pattern names them
/// and the inventory does not declare them.
pub const LOCALHOST_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// A host as the inventory declares it.
#[derive(Clone, Debug, Default)]
pub struct Host {
    pub name: String,
    /// The host's own variables (host line, YAML host entry, `host_vars/`).
    pub vars: Vars,
}

/// A group and what it contains.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub name: String,
    /// Hosts listed directly in the group, in file order.
    pub hosts: Vec<String>,
    pub children: Vec<String>,
    /// Variables written in the inventory source itself.
    pub vars: Vars,
    /// Variables from `group_vars/` beside an inventory source.
    pub dir_vars: Vars,
    /// Variables from `group_vars/` beside the playbook.
    pub playbook_vars: Vars,
}

/// All hosts and groups. `all` and `ungrouped` always exist.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    /// Hosts in the order they were first seen.
    pub hosts: Vec<Host>,
    pub groups: Vec<Group>,
    /// What was read with a doubt (a value typed with loss of text), each naming its place;
    /// printed as `[WARNING]:` lines when the inventory is loaded.
    pub warnings: Vec<String>,
    /// Host variables, group names and `groups`, worked out once (see `memo.rs`).
    memo: memo::Memo,
    /// Where each host and group sits in `hosts` and `groups`, and the groups that list each
    /// host directly: loading `node[0:9999]` or asking every host's groups stays linear
    /// (a scan per host made a 26,000-host range take 20 s, found by fuzzing).
    index: Index,
}

#[derive(Clone, Debug, Default)]
struct Index {
    host_at: HashMap<String, usize>,
    group_at: HashMap<String, usize>,
    direct: HashMap<String, Vec<usize>>,
    /// Host entries read so far (a host listed in a group; a range counts each host).
    entries: usize,
}

/// The most host entries all sources together may make: a million hosts listed in groups
/// is beyond any real inventory, and a few short lines of ranges repeated under many
/// groups would otherwise fill the memory.
const MAX_ENTRIES: usize = 1_000_000;

impl Inventory {
    /// Reads and merges several sources (files; a directory reads every file in it), each
    /// with its `group_vars/` and `host_vars/` beside it. An empty list gives an inventory
    /// with only implicit `localhost`. A source that is not a path but holds a comma
    /// (`web1,web2,`) is a list of hosts, as Ansible's `-i` accepts.
    pub fn load(sources: &[&Path]) -> Result<Inventory> {
        let mut inv = Inventory::empty();
        let mut var_dirs = Vec::new();
        for src in sources {
            if let Some(dir) = source::read(&mut inv, src)? {
                if !var_dirs.contains(&dir) {
                    var_dirs.push(dir);
                }
            }
        }
        inv.reconcile();

        // Variable folders come after every source, so that all inline vars rank below them.
        for dir in &var_dirs {
            vars_dir::load(&mut inv, dir, vars_dir::Layer::Inventory)?;
        }
        for w in &inv.warnings {
            warn(w);
        }
        Ok(inv)
    }

    /// Loads `group_vars/` and `host_vars/` from another folder (the playbook's), with
    /// precedence above the inventory's own.
    pub fn load_vars_dir(&mut self, dir: &Path) -> Result<()> {
        self.memo.clear();
        vars_dir::load(self, dir, vars_dir::Layer::Playbook)
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.index.host_at.get(name).map(|&at| &self.hosts[at])
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.index.group_at.get(name).map(|&at| &self.groups[at])
    }

    /// True for `localhost` (or `127.0.0.1`, `::1`) when the inventory does not declare it:
    /// it then exists implicitly, connects locally and belongs to no group, not even `all`.
    pub fn is_implicit_localhost(&self, name: &str) -> bool {
        LOCALHOST_NAMES.contains(&name) && self.host(name).is_none()
    }

    /// Every group a host belongs to, directly or through children, `all` excluded, sorted
    /// by name (Ansible's `group_names`; `ungrouped` is included for ungrouped hosts).
    pub fn group_names(&self, host: &str) -> Vec<String> {
        self.memo
            .group_names(self.shape(), host, || self.group_names_uncached(host))
    }

    /// (hosts, groups): a memo made for another shape is stale.
    fn shape(&self) -> (usize, usize) {
        (self.hosts.len(), self.groups.len())
    }

    fn group_names_uncached(&self, host: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .groups_of(host)
            .into_iter()
            .filter(|g| g.name != "all")
            .map(|g| g.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Group name to its hosts (recursively, deduplicated, inventory order), for `groups`.
    /// Includes `all` and `ungrouped`.
    pub fn groups_map(&self) -> Vars {
        self.memo
            .groups(self.shape(), || self.groups_map_uncached())
    }

    fn groups_map_uncached(&self) -> Vars {
        let mut out = Vars::new();
        for g in &self.groups {
            let hosts = self
                .hosts_of_group(&g.name)
                .into_iter()
                .map(Value::String)
                .collect();
            out.insert(g.name.clone(), Value::Array(hosts));
        }
        out
    }

    /// The hosts of a group and of its children, recursively, in inventory order.
    pub fn hosts_of_group(&self, name: &str) -> Vec<String> {
        if name == "all" {
            return self.hosts.iter().map(|h| h.name.clone()).collect();
        }
        let mut members = HashSet::new();
        let mut seen = HashSet::new();
        let mut todo = vec![name];
        while let Some(g) = todo.pop() {
            if !seen.insert(g) {
                continue;
            }
            if let Some(group) = self.group(g) {
                members.extend(group.hosts.iter().map(String::as_str));
                todo.extend(group.children.iter().map(String::as_str));
            }
        }
        self.hosts
            .iter()
            .filter(|h| members.contains(h.name.as_str()))
            .map(|h| h.name.clone())
            .collect()
    }

    /// A host's variables with Ansible's precedence (docs/variables.md), lowest first: the
    /// groups' inventory-source vars (`all`, then parents before children, by depth, then
    /// by name), `group_vars/all` beside the inventory, then beside the playbook, the other
    /// groups' `group_vars/` beside the inventory, then beside the playbook, and the host's
    /// own (source, `host_vars/` beside the inventory, beside the playbook). Includes
    /// `inventory_hostname`, `inventory_hostname_short`, `group_names`. The implicit
    /// `localhost` gets `all`'s vars and `ansible_connection: local`.
    pub fn host_vars(&self, host: &str) -> Vars {
        self.memo
            .host_vars(self.shape(), host, || self.host_vars_uncached(host))
    }

    fn host_vars_uncached(&self, host: &str) -> Vars {
        let mut out = self.group_layers(host);
        match self.host(host) {
            Some(h) => merge(&mut out, &h.vars),
            None if self.is_implicit_localhost(host) => {
                out.insert("ansible_connection".into(), Value::from("local"));
            }
            None => {}
        }

        out.insert("inventory_hostname".into(), Value::from(host));
        out.insert(
            "inventory_hostname_short".into(),
            Value::from(short_name(host)),
        );
        let names = self
            .group_names(host)
            .into_iter()
            .map(Value::String)
            .collect();
        out.insert("group_names".into(), Value::Array(names));
        out
    }

    /// The group variables `host` sees, merged in Ansible's order of the group layers.
    fn group_layers(&self, host: &str) -> Vars {
        let mut out = Vars::new();
        let depths = self.depths();
        let mut groups = self.groups_of(host);
        if self.host(host).is_none() {
            groups.extend(self.group("all"));
        }
        groups.sort_by(|a, b| {
            let da = depths.get(a.name.as_str()).copied().unwrap_or(1);
            let db = depths.get(b.name.as_str()).copied().unwrap_or(1);
            da.cmp(&db).then_with(|| a.name.cmp(&b.name))
        });
        for g in &groups {
            merge(&mut out, &g.vars);
        }
        let (all, others): (Vec<&Group>, Vec<&Group>) =
            groups.into_iter().partition(|g| g.name == "all");
        for g in &all {
            merge(&mut out, &g.dir_vars);
            merge(&mut out, &g.playbook_vars);
        }
        for g in &others {
            merge(&mut out, &g.dir_vars);
        }
        for g in &others {
            merge(&mut out, &g.playbook_vars);
        }
        out
    }

    /// Hosts matching an Ansible pattern (`all`, `*`, a group, a host, globs, `~regex`,
    /// `a:b`, `a:&b`, `a:!b`, `a,b`, subscripts `g[0]`, `g[1:]`, `@retry-file`). Unions
    /// come first, in the order written, then intersections, then exclusions, as in Ansible.
    /// A name matching nothing warns (naming the closest group or host) and adds no host;
    /// a bad regex, an out-of-range index or an unreadable file is an error.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>> {
        pattern::select(self, pattern)
    }

    /// The hosts of a `--limit` pattern (which may name retry files, `@site.retry`). Unlike
    /// a play's pattern, a limit that leaves no host at all is an error, as in Ansible.
    pub fn select_limit(&self, limit: &str) -> Result<Vec<String>> {
        let hosts = self.select(limit)?;
        if hosts.is_empty() {
            bail!("--limit '{limit}' matches no hosts of the inventory");
        }
        Ok(hosts)
    }

    /// An inventory holding only `all` (with `ungrouped` as its child) and `ungrouped`.
    fn empty() -> Inventory {
        let mut inv = Inventory::default();
        inv.ensure_group("all");
        inv.ensure_group("ungrouped");
        inv
    }

    fn group_mut(&mut self, name: &str) -> Option<&mut Group> {
        self.memo.clear();
        let at = *self.index.group_at.get(name)?;
        Some(&mut self.groups[at])
    }

    fn host_mut(&mut self, name: &str) -> Option<&mut Host> {
        self.memo.clear();
        let at = *self.index.host_at.get(name)?;
        Some(&mut self.hosts[at])
    }

    /// Where the group called `name` is, created empty if it does not exist yet.
    fn group_at(&mut self, name: &str) -> usize {
        self.memo.clear();
        if let Some(&at) = self.index.group_at.get(name) {
            return at;
        }
        self.groups.push(Group {
            name: name.to_string(),
            ..Group::default()
        });
        let at = self.groups.len() - 1;
        self.index.group_at.insert(name.to_string(), at);
        at
    }

    /// The group called `name`, created empty if it does not exist yet.
    fn ensure_group(&mut self, name: &str) -> &mut Group {
        let at = self.group_at(name);
        &mut self.groups[at]
    }

    /// Counts `n` more host entries, refusing more than [`MAX_ENTRIES`] in all.
    fn take_entries(&mut self, n: usize) -> Result<(), String> {
        self.index.entries = self.index.entries.saturating_add(n);
        if self.index.entries > MAX_ENTRIES {
            return Err(format!(
                "the inventory lists more than {MAX_ENTRIES} host entries (ranges count \
                 each host); split it or narrow the ranges"
            ));
        }
        Ok(())
    }

    /// Lists `host` directly in the group at `at` unless it is there already.
    fn list_in_group(&mut self, at: usize, host: &str) {
        let direct = self.index.direct.entry(host.to_string()).or_default();
        if !direct.contains(&at) {
            direct.push(at);
            self.groups[at].hosts.push(host.to_string());
        }
    }

    /// Declares `name` in `group` with `vars` merged over what the host had. A new host
    /// gets `inventory_file` and `inventory_dir` from `file`, as in Ansible.
    fn add_host(&mut self, name: &str, group: &str, vars: Vars, file: Option<&Path>) {
        if self.host(name).is_none() {
            let mut own = Vars::new();
            if let Some(file) = file {
                let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
                let dir = abs
                    .parent()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default();
                own.insert(
                    "inventory_file".into(),
                    Value::from(abs.display().to_string()),
                );
                own.insert("inventory_dir".into(), Value::from(dir));
            }
            self.hosts.push(Host {
                name: name.to_string(),
                vars: own,
            });
            self.index
                .host_at
                .insert(name.to_string(), self.hosts.len() - 1);
        }
        if let Some(host) = self.host_mut(name) {
            merge(&mut host.vars, &vars);
        }
        let at = self.group_at(group);
        self.list_in_group(at, name);
    }

    /// Makes `child` a child of `parent`, refusing a loop.
    fn add_child(&mut self, parent: &str, child: &str) -> Result<()> {
        if parent == child || self.is_descendant(child, parent) {
            bail!("adding group '{child}' as a child of '{parent}' makes a loop of groups");
        }
        self.ensure_group(child);
        let p = self.ensure_group(parent);
        if !p.children.iter().any(|c| c == child) {
            p.children.push(child.to_string());
        }
        Ok(())
    }

    /// True when `target` is `group` or among its descendants.
    fn is_descendant(&self, group: &str, target: &str) -> bool {
        let mut seen = HashSet::new();
        let mut todo = vec![group];
        while let Some(g) = todo.pop() {
            if g == target {
                return true;
            }
            if seen.insert(g) {
                if let Some(grp) = self.group(g) {
                    todo.extend(grp.children.iter().map(String::as_str));
                }
            }
        }
        false
    }

    /// Ansible's reconciliation once every source is read: groups without a parent become
    /// children of `all`; hosts in no group but `all` go to `ungrouped`, and hosts that are
    /// in another group leave it.
    fn reconcile(&mut self) {
        let with_parent: HashSet<String> = self
            .groups
            .iter()
            .flat_map(|g| g.children.iter().cloned())
            .collect();
        let orphans: Vec<String> = self
            .groups
            .iter()
            .filter(|g| g.name != "all" && !with_parent.contains(&g.name))
            .map(|g| g.name.clone())
            .collect();
        for name in orphans {
            let all = self.ensure_group("all");
            all.children.push(name);
        }

        let mut grouped = HashSet::new();
        for g in &self.groups {
            if g.name != "all" && g.name != "ungrouped" {
                grouped.extend(g.hosts.iter().cloned());
            }
        }
        let lone: Vec<String> = self
            .hosts
            .iter()
            .filter(|h| !grouped.contains(&h.name))
            .map(|h| h.name.clone())
            .collect();
        let at = self.group_at("ungrouped");
        self.groups[at].hosts.retain(|h| !grouped.contains(h));
        for h in &grouped {
            if let Some(direct) = self.index.direct.get_mut(h) {
                direct.retain(|&g| g != at);
            }
        }
        for h in lone {
            self.list_in_group(at, &h);
        }
    }

    /// Every group holding `host`, directly or through children, `all` included for a host
    /// the inventory declares.
    fn groups_of(&self, host: &str) -> Vec<&Group> {
        let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
        for g in &self.groups {
            for c in &g.children {
                parents.entry(c.as_str()).or_default().push(g.name.as_str());
            }
        }
        let mut todo: Vec<&str> = self
            .index
            .direct
            .get(host)
            .into_iter()
            .flatten()
            .map(|&at| self.groups[at].name.as_str())
            .collect();
        if self.host(host).is_some() {
            todo.push("all");
        }
        let mut found = HashSet::new();
        while let Some(g) = todo.pop() {
            if found.insert(g) {
                todo.extend(parents.get(g).into_iter().flatten());
            }
        }
        self.groups
            .iter()
            .filter(|g| found.contains(g.name.as_str()))
            .collect()
    }

    /// Each group's depth: `all` is 0, a child is one deeper than its deepest parent.
    fn depths(&self) -> HashMap<&str, usize> {
        let mut depth: HashMap<&str, usize> = HashMap::new();
        depth.insert("all", 0);
        // Longest paths in a loop-free graph settle after at most one pass per group.
        for _ in 0..=self.groups.len() {
            let mut changed = false;
            for g in &self.groups {
                let Some(&d) = depth.get(g.name.as_str()) else {
                    continue;
                };
                for c in &g.children {
                    let entry = depth.entry(c.as_str()).or_insert(0);
                    if *entry < d + 1 {
                        *entry = d + 1;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        depth
    }
}

/// Prints a warning on stderr as the reporter does, `[WARNING]: text` (coloured only when
/// stderr is a terminal and colour is allowed).
pub fn warn(text: &str) {
    let line = console::style(format!("[WARNING]: {text}"))
        .magenta()
        .for_stderr();
    eprintln!("{line}");
}

/// `inventory_hostname_short`: up to the first dot, except for IP addresses.
fn short_name(host: &str) -> &str {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host;
    }
    host.split('.').next().unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::testdir::{object, origin, TempDir};
    use super::*;
    use serde_json::json;

    #[test]
    fn lab_inventory() {
        let inv = Inventory::load(&[Path::new("inventory/lab.ini")]).unwrap();
        assert_eq!(
            Value::Object(inv.groups_map()),
            json!({
                "all": ["calxitu", "calxitu2"],
                "ungrouped": [],
                "managers": ["calxitu"],
                "workers": ["calxitu2"],
                "swarm": ["calxitu", "calxitu2"],
            })
        );
        let (file, dir) = origin(Path::new("inventory/lab.ini"));
        let want = json!({
            "ansible_user": "root",
            "ansible_ssh_private_key_file": "/var/lib/mestral-lab/id_ed25519",
            "swarm_publish_mode": "host",
            "inventory_file": file,
            "inventory_dir": dir,
            "ansible_host": "172.30.8.250",
            "inventory_hostname": "calxitu",
            "inventory_hostname_short": "calxitu",
            "group_names": ["managers", "swarm"],
        });
        assert_eq!(inv.host_vars("calxitu"), object(want));
        assert_eq!(inv.group_names("calxitu2"), vec!["swarm", "workers"]);
        // Group vars come first, then the host's own, then the magic variables.
        let vars = inv.host_vars("calxitu");
        let keys: Vec<&str> = vars.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            vec![
                "ansible_user",
                "ansible_ssh_private_key_file",
                "swarm_publish_mode",
                "inventory_file",
                "inventory_dir",
                "ansible_host",
                "inventory_hostname",
                "inventory_hostname_short",
                "group_names",
            ]
        );
    }

    #[test]
    fn real_cluster_inventory() {
        let inv = Inventory::load(&[Path::new("inventory/calxitu.ini")]).unwrap();
        assert_eq!(inv.select("swarm").unwrap(), vec!["calxitu", "calxitu2"]);
        let cases = [("calxitu", "192.168.8.250"), ("calxitu2", "192.168.8.249")];
        for (host, address) in cases {
            let vars = inv.host_vars(host);
            assert_eq!(vars["ansible_host"], json!(address), "{host}");
            assert_eq!(vars["ansible_user"], json!("marc"), "{host}");
            assert_eq!(
                vars["ansible_ssh_private_key_file"],
                json!("~/.ssh/id_ed25519")
            );
            assert_eq!(vars["ansible_become"], json!(true), "{host}");
        }
    }

    #[test]
    fn precedence() {
        let tmp = TempDir::new("precedence");
        tmp.write(
            "inv/hosts",
            "[a_top]\nh1 from_host=line\n[z_top]\nh1\n[child]\nh1\n[a_top:children]\nchild\n\
             [all:vars]\nlevel=all\nfrom_all=inline\n[a_top:vars]\nlevel=a_top\ntop=a\n\
             [z_top:vars]\nlevel=z_top\ntop=z\n[child:vars]\nlevel=child\nfrom_host=group\n",
        );
        tmp.write(
            "inv/group_vars/all.yml",
            "from_all: inventory_dir\nonly_all: 1\n",
        );
        tmp.write("inv/group_vars/child.yml", "from_dir: inventory\n");
        tmp.write("inv/host_vars/h1.yml", "from_host: inventory_dir\n");
        tmp.write("play/group_vars/child/main.yml", "from_dir: playbook\n");
        tmp.write("play/host_vars/h1", "from_host: playbook_dir\n");
        tmp.write("play/host_vars/localhost.yml", "ignored: true\n");

        let mut inv = Inventory::load(&[&tmp.0.join("inv")]).unwrap();
        let mut got = inv.host_vars("h1");
        got.remove("inventory_file");
        got.remove("inventory_dir");
        let want = json!({
            "level": "child",
            "from_all": "inventory_dir",
            "only_all": 1,
            "top": "z",
            "from_host": "inventory_dir",
            "from_dir": "inventory",
            "inventory_hostname": "h1",
            "inventory_hostname_short": "h1",
            "group_names": ["a_top", "child", "z_top"],
        });
        assert_eq!(Value::Object(got), want);

        inv.load_vars_dir(&tmp.0.join("play")).unwrap();
        let got = inv.host_vars("h1");
        assert_eq!(got["from_dir"], json!("playbook"));
        assert_eq!(got["from_host"], json!("playbook_dir"));

        // The implicit localhost takes `all`'s vars and connects locally.
        let want = json!({
            "level": "all",
            "from_all": "inventory_dir",
            "only_all": 1,
            "ansible_connection": "local",
            "inventory_hostname": "localhost",
            "inventory_hostname_short": "localhost",
            "group_names": [],
        });
        assert_eq!(Value::Object(inv.host_vars("localhost")), want);
    }

    #[test]
    fn directory_and_several_sources() {
        let tmp = TempDir::new("dir");
        tmp.write("inv/10-hosts.ini", "[web]\nw1\nw2\n");
        tmp.write(
            "inv/20-more.yml",
            "all:\n  children:\n    db:\n      hosts:\n        d1:\n",
        );
        tmp.write("inv/sub/30-extra", "[web]\nw3\n");
        tmp.write("inv/.hidden", "[web]\nhidden\n");
        tmp.write("inv/old.retry", "retry1\n");
        tmp.write("inv/hosts~", "backup1\n");
        tmp.write("inv/group_vars/web.yml", "role: web\n");
        tmp.write("inv/host_vars/d1.yml", "big: true\n");
        tmp.write("other.ini", "[db]\nd2\n[web]\nw1 extra=1\n");

        let inv = Inventory::load(&[&tmp.0.join("inv"), &tmp.0.join("other.ini")]).unwrap();
        assert_eq!(
            inv.select("all").unwrap(),
            vec!["w1", "w2", "d1", "w3", "d2"]
        );
        assert_eq!(inv.select("web").unwrap(), vec!["w1", "w2", "w3"]);
        assert_eq!(inv.host_vars("w3")["role"], json!("web"));
        assert_eq!(inv.host_vars("w1")["extra"], json!(1));
        assert_eq!(inv.host_vars("d1")["big"], json!(true));
        let (file, _) = origin(&tmp.0.join("inv/sub/30-extra"));
        assert_eq!(inv.host_vars("w3")["inventory_file"], json!(file));
    }

    #[test]
    fn empty_inventory() {
        let inv = Inventory::load(&[]).unwrap();
        assert_eq!(
            Value::Object(inv.groups_map()),
            json!({"all": [], "ungrouped": []})
        );
        assert_eq!(inv.select("all").unwrap(), Vec::<String>::new());
        assert_eq!(inv.select("localhost").unwrap(), vec!["localhost"]);
        assert!(inv.is_implicit_localhost("localhost"));
    }

    #[test]
    fn short_names() {
        let cases = [
            ("web1.example.com", "web1"),
            ("web1", "web1"),
            ("10.0.0.1", "10.0.0.1"),
        ];
        for (host, want) in cases {
            assert_eq!(short_name(host), want, "{host}");
        }
    }
}
