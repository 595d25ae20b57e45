//! `mestral init`: a starter inventory, playbook and mestral.toml in the current folder, for a
//! first run that works at once on the controller itself. Existing files are never touched.

use std::path::Path;

use anyhow::{bail, Context, Result};

#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// The folder to write into.
    #[arg(default_value = ".")]
    pub dir: std::path::PathBuf,
}

const INVENTORY: &str = "\
# Hosts and groups, in Ansible's INI format.
# A remote host: name, then how to reach it.
#   web1 ansible_host=192.0.2.10 ansible_user=admin
[local]
localhost ansible_connection=local

[web]
# web1 ansible_host=192.0.2.10
";

const PLAYBOOK: &str = "\
# Run with: mestral site.yml  (mestral.toml names the inventory)
- name: First play
  hosts: local
  gather_facts: false
  tasks:
    - name: Check the host answers
      ping:

    - name: Say hello
      debug:
        msg: \"hello from {{ inventory_hostname }}\"
";

const CONFIG: &str = "\
# mestral's settings; command-line flags win over these.
inventory = \"inventory.ini\"
forks = 10
# remote_user = \"admin\"
# private_key_file = \"~/.ssh/id_ed25519\"
# host_key_checking = \"accept-new\"
# roles_path = [\"roles\"]
";

/// The files `init` writes, with their contents.
pub const FILES: [(&str, &str); 3] = [
    ("inventory.ini", INVENTORY),
    ("site.yml", PLAYBOOK),
    ("mestral.toml", CONFIG),
];

pub fn run(a: &InitArgs) -> Result<u8> {
    write_starter(&a.dir)?;
    for (name, _) in FILES {
        println!("wrote {}", a.dir.join(name).display());
    }
    println!("next: cd {} && mestral site.yml", a.dir.display());
    Ok(crate::cli::exit::OK)
}

/// Writes the starter files, or nothing at all when one of them exists already.
fn write_starter(dir: &Path) -> Result<()> {
    for (name, _) in FILES {
        let path = dir.join(name);
        if path.exists() {
            bail!(
                "{} exists already; init writes nothing over it",
                path.display()
            );
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in FILES {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_once_then_refuses() {
        let dir = std::env::temp_dir().join(format!("mestral-init-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write_starter(&dir).unwrap();
        for (name, text) in FILES {
            assert_eq!(std::fs::read_to_string(dir.join(name)).unwrap(), text);
        }
        std::fs::write(dir.join("site.yml"), "mine\n").unwrap();
        let err = write_starter(&dir).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{} exists already; init writes nothing over it",
                dir.join("inventory.ini").display()
            )
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("site.yml")).unwrap(),
            "mine\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
