//! The real binary for the table tests that need the playbook path (YAML parsing, loops,
//! pre-flight checks): a scratch folder, a run with colour off, and a loopback port that
//! records whether anything connected to it.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch folder for one test, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("mestral-mtc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// Writes `text` at `name`, with every `$D` replaced by the folder's path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text.replace("$D", &self.0.to_string_lossy())).unwrap();
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap()
    }

    /// Runs mestral in the folder with `args`, colour and live view off.
    pub fn mestral(&self, args: &[&str]) -> Output {
        mestral(&self.0, args)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn mestral(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(dir)
        .args(["--color", "never"])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("mestral runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A loopback port that nothing serves: it accepts connections into its backlog, so a test
/// can tell afterwards whether the run tried to reach the host.
pub struct Probe(TcpListener);

impl Probe {
    pub fn new() -> Probe {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Probe(listener)
    }

    pub fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    /// Whether some connection arrived.
    pub fn contacted(&self) -> bool {
        self.0.accept().is_ok()
    }

    /// An inventory line for a host `far` behind this port.
    pub fn inventory(&self) -> String {
        format!("far ansible_host=127.0.0.1 ansible_port={}\n", self.port())
    }
}
