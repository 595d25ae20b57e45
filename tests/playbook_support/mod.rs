//! Helpers shared by the playbook tests: a scratch folder, the binary run in it with an
//! inventory of local-connection hosts, and the exact banner and recap lines it prints.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A scratch folder for one test, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("mestral-pbs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(std::fs::canonicalize(&dir).unwrap())
    }

    pub fn write(&self, name: &str, text: &str) {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `mestral -i inv.ini ARGS` in `dir`, without a terminal and without colour.
pub fn mestral(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(dir)
        .args(["--color", "never", "-i", "inv.ini"])
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_ROLES_PATH")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("mestral runs")
}

pub fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn errors(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Local-connection hosts named in `names`, all in group `web`.
pub fn inventory(names: &[&str]) -> String {
    let mut out = String::from("[web]\n");
    for n in names {
        out.push_str(&format!("{n} ansible_connection=local\n"));
    }
    out
}

pub fn banner(title: &str) -> String {
    format!("\n{title} {}\n", "*".repeat(79 - title.len()))
}

/// `TASK [name]` banner.
pub fn task(name: &str) -> String {
    banner(&format!("TASK [{name}]"))
}

pub fn debug(host: &str, msg: &str) -> String {
    format!("ok: [{host}] => {{\n    \"msg\": \"{msg}\"\n}}\n")
}

/// A recap line for `host` with counts ok, changed, failed, skipped (others zero).
pub fn stat(host: &str, ok: u32, changed: u32, failed: u32, skipped: u32) -> String {
    format!(
        "{host:<27}: ok={ok:<4} changed={changed:<4} unreachable=0    failed={failed:<4} \
         skipped={skipped:<4} rescued=0    ignored=0   "
    )
}

pub fn recap(lines: &[String]) -> String {
    let mut out = banner("PLAY RECAP");
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out.push('\n');
    out
}
