//! The configuration file: `mestral.toml`, or ansible.cfg's `[defaults]` keys that mean
//! something here (inventory, forks, remote_user, private_key_file, host_key_checking,
//! roles_path, fact_caching, fact_caching_connection, fact_caching_timeout, gathering). The first found of ./mestral.toml, ./ansible.cfg, ~/.mestral.toml and
//! ~/.ansible.cfg is read; flags given on the command line win over it.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use crate::cli::Args;

/// The settings a configuration file can give; relative paths are from the file's folder.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, deserialize_with = "one_or_many")]
    pub inventory: Vec<PathBuf>,
    pub forks: Option<usize>,
    pub remote_user: Option<String>,
    pub private_key_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "checking")]
    pub host_key_checking: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub roles_path: Vec<PathBuf>,
    /// The fact cache: `memory` (none kept between runs) or `jsonfile`.
    pub fact_caching: Option<String>,
    /// The jsonfile cache's folder.
    pub fact_caching_connection: Option<PathBuf>,
    /// Seconds a cached host's facts stay valid; 0 keeps them forever.
    pub fact_caching_timeout: Option<u64>,
    /// When plays gather facts: `implicit`, `explicit` or `smart`.
    pub gathering: Option<String>,
}

/// Ansible's `gathering`: `implicit` unless `gather_facts: false`, `explicit` only with
/// `gather_facts: true`, `smart` as implicit but not for hosts whose facts are known.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Gathering {
    #[default]
    Implicit,
    Explicit,
    Smart,
}

/// Where facts are kept between runs (Ansible's jsonfile cache: one JSON file per host).
#[derive(Clone, Debug, PartialEq)]
pub struct FactCache {
    pub dir: PathBuf,
    pub timeout: u64,
}

/// Ansible's default `fact_caching_timeout`, one day.
const FACT_CACHE_TIMEOUT: u64 = 86_400;

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Paths {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match Paths::deserialize(d)? {
        Paths::One(p) => vec![p],
        Paths::Many(ps) => ps,
    })
}

fn checking<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Choice {
        Flag(bool),
        Word(String),
    }
    let word = match Choice::deserialize(d)? {
        Choice::Flag(on) => checking_word(if on { "true" } else { "false" }),
        Choice::Word(w) => checking_word(&w),
    };
    word.map(Some).map_err(serde::de::Error::custom)
}

/// `host_key_checking` as mestral's flag takes it; Ansible's booleans mean strict or off.
fn checking_word(value: &str) -> Result<String> {
    Ok(match value.trim().to_ascii_lowercase().as_str() {
        "accept-new" => "accept-new".into(),
        "strict" | "true" | "yes" | "on" | "1" => "strict".into(),
        "off" | "false" | "no" | "0" => "off".into(),
        other => bail!("host_key_checking: '{other}' is not accept-new, strict or off"),
    })
}

/// The configuration file in use, if any.
pub fn find() -> Option<PathBuf> {
    let mut candidates = vec![PathBuf::from("mestral.toml"), PathBuf::from("ansible.cfg")];
    if let Some(home) = dirs::home_dir() {
        candidates.push(home.join(".mestral.toml"));
        candidates.push(home.join(".ansible.cfg"));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// Reads a configuration file by its name: TOML, or ansible.cfg's INI.
pub fn load(path: &Path) -> Result<Config> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let is_toml = path.extension().is_some_and(|e| e == "toml");
    let mut config = if is_toml {
        toml::from_str(&text).map_err(|e| anyhow!("{}: {}", path.display(), e.message()))?
    } else {
        from_ansible_cfg(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let resolve = |p: &PathBuf| resolve_path(base, p);
    config.inventory = config.inventory.iter().map(resolve).collect();
    config.roles_path = config.roles_path.iter().map(resolve).collect();
    config.private_key_file = config.private_key_file.as_ref().map(resolve);
    config.fact_caching_connection = config.fact_caching_connection.as_ref().map(resolve);
    Ok(config)
}

/// `~` is the home folder; a relative path is from the configuration file's folder.
fn resolve_path(base: &Path, path: &Path) -> PathBuf {
    if let (Ok(rest), Some(home)) = (path.strip_prefix("~"), dirs::home_dir()) {
        return home.join(rest);
    }
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// The `[defaults]` section of an ansible.cfg; other sections and keys are left to Ansible.
fn from_ansible_cfg(text: &str) -> Result<Config> {
    let mut config = Config::default();
    let mut in_defaults = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            in_defaults = line == "[defaults]";
            continue;
        }
        if !in_defaults {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            bail!("line {}: expected key = value", n + 1);
        };
        let value = value.trim();
        let paths = |sep: char| value.split(sep).map(|p| PathBuf::from(p.trim())).collect();
        match key.trim() {
            "inventory" | "hostfile" => config.inventory = paths(','),
            "forks" => {
                let forks = value
                    .parse()
                    .map_err(|_| anyhow!("line {}: forks", n + 1))?;
                config.forks = Some(forks);
            }
            "remote_user" => config.remote_user = Some(value.into()),
            "private_key_file" => config.private_key_file = Some(value.into()),
            "host_key_checking" => config.host_key_checking = Some(checking_word(value)?),
            "roles_path" => config.roles_path = paths(':'),
            "fact_caching" => config.fact_caching = Some(value.into()),
            "fact_caching_connection" => config.fact_caching_connection = Some(value.into()),
            "gathering" => config.gathering = Some(value.into()),
            "fact_caching_timeout" => {
                let secs = value
                    .parse()
                    .map_err(|_| anyhow!("line {}: fact_caching_timeout", n + 1))?;
                config.fact_caching_timeout = Some(secs);
            }
            _ => {}
        }
    }
    Ok(config)
}

impl Config {
    /// Fills what the command line left unset. `forks_given` says whether `-f` was on it,
    /// since its default cannot be told apart otherwise.
    pub fn apply(&self, args: &mut Args, forks_given: bool) {
        if args.inventory.is_empty() {
            args.inventory = self.inventory.clone();
        }
        if let (false, Some(forks)) = (forks_given, self.forks) {
            args.forks = forks;
        }
        if args.user.is_none() {
            args.user = self.remote_user.clone();
        }
        if args.private_key.is_none() {
            args.private_key = self.private_key_file.clone();
        }
        if args.host_key_checking.is_none() {
            args.host_key_checking = self.host_key_checking.clone();
        }
        if args.roles_path.is_empty() {
            args.roles_path = self.roles_path.clone();
        }
    }
}

impl Config {
    /// The fact cache asked for by this file, or by `ANSIBLE_CACHE_PLUGIN`,
    /// `ANSIBLE_CACHE_PLUGIN_CONNECTION` and `ANSIBLE_CACHE_PLUGIN_TIMEOUT`, which win.
    pub fn fact_cache(&self, env: impl Fn(&str) -> Option<String>) -> Result<Option<FactCache>> {
        let plugin = env("ANSIBLE_CACHE_PLUGIN").or_else(|| self.fact_caching.clone());
        let Some(plugin) = plugin else {
            return Ok(None);
        };
        match plugin.trim().trim_start_matches("ansible.builtin.") {
            "memory" => return Ok(None),
            "jsonfile" => {}
            other => bail!("fact_caching: '{other}' is not supported (only jsonfile and memory)"),
        }
        let dir = env("ANSIBLE_CACHE_PLUGIN_CONNECTION")
            .map(PathBuf::from)
            .or_else(|| self.fact_caching_connection.clone())
            .ok_or_else(|| anyhow!("fact_caching = jsonfile needs fact_caching_connection"))?;
        let timeout = match env("ANSIBLE_CACHE_PLUGIN_TIMEOUT") {
            Some(t) => t
                .trim()
                .parse()
                .map_err(|_| anyhow!("ANSIBLE_CACHE_PLUGIN_TIMEOUT: '{t}' is not seconds"))?,
            None => self.fact_caching_timeout.unwrap_or(FACT_CACHE_TIMEOUT),
        };
        Ok(Some(FactCache { dir, timeout }))
    }
}

impl Config {
    /// The `gathering` policy of this file, or of `ANSIBLE_GATHERING`, which wins.
    pub fn gathering(&self, env: impl Fn(&str) -> Option<String>) -> Result<Gathering> {
        let Some(word) = env("ANSIBLE_GATHERING").or_else(|| self.gathering.clone()) else {
            return Ok(Gathering::Implicit);
        };
        match word.trim() {
            "implicit" => Ok(Gathering::Implicit),
            "explicit" => Ok(Gathering::Explicit),
            "smart" => Ok(Gathering::Smart),
            other => bail!("gathering: '{other}' is not one of implicit, explicit, smart"),
        }
    }
}

/// The `gathering` policy of the configuration file in use and the environment.
pub fn gathering() -> Result<Gathering> {
    let config = match find() {
        Some(path) => load(&path)?,
        None => Config::default(),
    };
    config.gathering(|name| std::env::var(name).ok())
}

/// The fact cache of the configuration file in use and the environment, if one is asked for.
pub fn fact_cache() -> Result<Option<FactCache>> {
    let config = match find() {
        Some(path) => load(&path)?,
        None => Config::default(),
    };
    config.fact_cache(|name| std::env::var(name).ok())
}

/// Finds, reads and applies the configuration file, if there is one.
pub fn apply_found(args: &mut Args, forks_given: bool) -> Result<()> {
    if let Some(path) = find() {
        tracing::debug!("configuration from {}", path.display());
        load(&path)?.apply(args, forks_given);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn toml_and_ansible_cfg_read_the_same() {
        let dir = std::env::temp_dir().join(format!("mestral-config-{}", std::process::id()));
        let toml = write(
            &dir,
            "mestral.toml",
            "inventory = \"inv.ini\"\nforks = 7\nremote_user = \"marc\"\n\
             private_key_file = \"/k/id\"\nhost_key_checking = false\nroles_path = [\"r1\", \"/r2\"]\n\
             fact_caching = \"jsonfile\"\nfact_caching_connection = \"cache\"\n\
             fact_caching_timeout = 60\ngathering = \"smart\"\n",
        );
        let cfg = write(
            &dir,
            "ansible.cfg",
            "[defaults]\ninventory = inv.ini\nforks=7\nremote_user = marc\n\
             private_key_file = /k/id\nhost_key_checking = False\nroles_path = r1:/r2\n\
             retry_files_enabled = False\nfact_caching = jsonfile\n\
             fact_caching_connection = cache\nfact_caching_timeout = 60\ngathering = smart\n\
             [ssh_connection]\npipelining = True\n",
        );
        let want = Config {
            inventory: vec![dir.join("inv.ini")],
            forks: Some(7),
            remote_user: Some("marc".into()),
            private_key_file: Some("/k/id".into()),
            host_key_checking: Some("off".into()),
            roles_path: vec![dir.join("r1"), PathBuf::from("/r2")],
            fact_caching: Some("jsonfile".into()),
            fact_caching_connection: Some(dir.join("cache")),
            fact_caching_timeout: Some(60),
            gathering: Some("smart".into()),
        };
        assert_eq!(load(&toml).unwrap(), want);
        assert_eq!(load(&cfg).unwrap(), want);

        let bad = write(&dir, "bad.toml", "forks = 2\nfrks = 3\n");
        let err = load(&bad).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: unknown field `frks`", bad.display())),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fact_cache_from_file_and_environment() {
        let config = Config {
            fact_caching: Some("jsonfile".into()),
            fact_caching_connection: Some("/c".into()),
            ..Config::default()
        };
        let none = |_: &str| None;
        type Case<'a> = (
            &'a Config,
            Vec<(&'a str, &'a str)>,
            Result<Option<FactCache>, &'a str>,
        );
        let cases: [Case; 6] = [
            (&Config::default(), vec![], Ok(None)),
            (
                &config,
                vec![],
                Ok(Some(FactCache {
                    dir: "/c".into(),
                    timeout: 86_400,
                })),
            ),
            (
                &config,
                vec![
                    ("ANSIBLE_CACHE_PLUGIN_CONNECTION", "/e"),
                    ("ANSIBLE_CACHE_PLUGIN_TIMEOUT", "0"),
                ],
                Ok(Some(FactCache {
                    dir: "/e".into(),
                    timeout: 0,
                })),
            ),
            (&config, vec![("ANSIBLE_CACHE_PLUGIN", "memory")], Ok(None)),
            (
                &config,
                vec![("ANSIBLE_CACHE_PLUGIN", "redis")],
                Err("fact_caching: 'redis' is not supported (only jsonfile and memory)"),
            ),
            (
                &Config::default(),
                vec![("ANSIBLE_CACHE_PLUGIN", "jsonfile")],
                Err("fact_caching = jsonfile needs fact_caching_connection"),
            ),
        ];
        for (config, env, want) in cases {
            let lookup = |name: &str| {
                env.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
                    .or_else(|| none(name))
            };
            let got = config.fact_cache(lookup).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_string), "{env:?}");
        }
    }

    #[test]
    fn flags_win() {
        let config = Config {
            inventory: vec!["from-config.ini".into()],
            forks: Some(7),
            remote_user: Some("cfg".into()),
            ..Config::default()
        };
        let mut args = crate::cli::Cli::parse_from(["mestral", "-u", "flag", "pb.yml"]).run;
        config.apply(&mut args, false);
        assert_eq!(args.inventory, vec![PathBuf::from("from-config.ini")]);
        assert_eq!((args.forks, args.user.as_deref()), (7, Some("flag")));

        let mut args = crate::cli::Cli::parse_from(["mestral", "-i", "x", "-f", "50", "pb"]).run;
        config.apply(&mut args, true);
        assert_eq!((args.inventory[0].to_str(), args.forks), (Some("x"), 50));
    }
}
