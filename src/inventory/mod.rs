//! The inventory: hosts, groups and their variables, read from Ansible's INI and YAML
//! formats, with `group_vars/` and `host_vars/` beside the inventory, and host patterns.
//!
//! OWNER: inventory helper. The types and signatures below are the contract the executor and
//! the command line rely on.

use std::path::Path;

use anyhow::Result;

use crate::vars::Vars;

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
    pub vars: Vars,
}

/// All hosts and groups. `all` and `ungrouped` always exist.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    /// Hosts in the order they were first seen.
    pub hosts: Vec<Host>,
    pub groups: Vec<Group>,
}

impl Inventory {
    /// Reads and merges several sources (files; a directory reads every file in it), each
    /// with its `group_vars/` and `host_vars/` beside it. An empty list gives an inventory
    /// with only implicit `localhost`.
    pub fn load(sources: &[&Path]) -> Result<Inventory> {
        let _ = sources;
        Ok(Inventory::default())
    }

    /// Loads `group_vars/` and `host_vars/` from another folder (the playbook's), with
    /// precedence above the inventory's own.
    pub fn load_vars_dir(&mut self, dir: &Path) -> Result<()> {
        let _ = dir;
        Ok(())
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Every group a host belongs to, directly or through children, `all` excluded, sorted
    /// by name (Ansible's `group_names`).
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let _ = host;
        Vec::new()
    }

    /// Group name to its hosts (recursively, deduplicated, inventory order), for `groups`.
    /// Includes `all` and `ungrouped`.
    pub fn groups_map(&self) -> Vars {
        Vars::new()
    }

    /// A host's variables with Ansible's precedence: `all` group vars, then parent groups
    /// before child groups (by depth, then by name), then the host's own. Includes
    /// `inventory_hostname`, `inventory_hostname_short`, `group_names`.
    pub fn host_vars(&self, host: &str) -> Vars {
        let _ = host;
        Vars::new()
    }

    /// Hosts matching an Ansible pattern (`all`, `*`, a group, a host, globs,
    /// `a:b`, `a:&b`, `a:!b`, `a,b`), in inventory order. A name matching nothing is an
    /// error naming it, with the closest group or host suggested.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>> {
        let _ = pattern;
        Ok(Vec::new())
    }
}
