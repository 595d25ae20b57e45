//! apt and package against a local repository inside host A. The lab shares `/usr` with the
//! machine, so no real package is ever installed: the test builds tiny packages whose files
//! live only under `/opt/mestral-dummy/` and `/etc/mestral-dummy.conf` (each host's own
//! copy-on-write layers), and points the host's apt only at `file:/opt/repo`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{cat, oc, on, on_stdin, sh, Lab, A};

/// Builds `name_version_all.deb` in `dir`: a VERSION file (or extra.txt) and, for
/// mestral-dummy, the conffile /etc/mestral-dummy.conf.
fn build_deb(dir: &Path, name: &str, version: &str) -> PathBuf {
    let root = dir.join(format!("{name}-{version}"));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("DEBIAN")).expect("DEBIAN");
    std::fs::create_dir_all(root.join("opt/mestral-dummy")).expect("opt");
    if name == "mestral-dummy" {
        std::fs::create_dir_all(root.join("etc")).expect("etc");
        std::fs::write(
            root.join("opt/mestral-dummy/VERSION"),
            format!("{version}\n"),
        )
        .unwrap();
        std::fs::write(
            root.join("etc/mestral-dummy.conf"),
            format!("setting=packaged-{version}\n"),
        )
        .unwrap();
        std::fs::write(root.join("DEBIAN/conffiles"), "/etc/mestral-dummy.conf\n").unwrap();
    } else {
        std::fs::write(
            root.join("opt/mestral-dummy/extra.txt"),
            format!("extra {version}\n"),
        )
        .unwrap();
    }
    let control = format!(
        "Package: {name}\nVersion: {version}\nArchitecture: all\n\
         Maintainer: mestral tests <tests@invalid>\nDescription: dummy package for mestral tests\n"
    );
    std::fs::write(root.join("DEBIAN/control"), control).unwrap();
    let deb = dir.join(format!("{name}_{version}_all.deb"));
    let status = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-b"])
        .arg(&root)
        .arg(&deb)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("dpkg-deb runs");
    assert!(status.success(), "dpkg-deb -b {name} {version}");
    deb
}

/// Puts a package into A's repository and rewrites its index.
fn publish(deb: &Path) {
    let name = deb.file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(deb).expect("deb");
    assert_eq!(on_stdin(A, &format!("cat > /opt/repo/{name}"), &bytes).0, 0);
    sh(
        A,
        "cd /opt/repo && dpkg-scanpackages -m . /dev/null > Packages 2>/dev/null && \
         gzip -kf Packages",
    );
}

/// A's apt sees only /opt/repo; hooks that would reach other services are dropped (all of
/// this in A's own /etc and /var).
const APT_SETUP: &str = "set -e
cd /etc/apt/apt.conf.d && rm -f 99needrestart 20packagekit 50appstream
rm -f /etc/apt/sources.list.d/*
echo 'deb [trusted=yes] file:/opt/repo ./' > /etc/apt/sources.list
rm -rf /var/lib/apt/lists/* /opt/repo
mkdir -p /opt/repo
touch -d 2000-01-01 /var/lib/apt/lists";

/// `Package Status Version` of the two test packages, as dpkg records them in A.
fn dpkg_status() -> String {
    on(
        A,
        "dpkg-query -W -f='${Package} ${Status} ${Version}\\n' mestral-dummy mestral-extra \
         2>/dev/null",
    )
    .1
}

fn mtime(path: &str) -> u64 {
    sh(A, &format!("stat -c %Y {path}"))
        .parse()
        .expect("an mtime")
}

pub fn apt(lab: &Lab) {
    sh(A, APT_SETUP);
    let debs = lab.local("debs");
    std::fs::create_dir_all(&debs).expect("debs dir");
    publish(&build_deb(&debs, "mestral-dummy", "1.0"));
    publish(&build_deb(&debs, "mestral-extra", "1.0"));

    // install: the stale cache (2000-01-01) is refreshed first; the second run neither
    // installs nor refreshes (cache_valid_time)
    lab.twice("apt_install.yml", A, oc(1, 1), oc(1, 0));
    assert_eq!(dpkg_status(), "mestral-dummy install ok installed 1.0");
    assert_eq!(cat(A, "/opt/mestral-dummy/VERSION"), "1.0\n");
    assert_eq!(cat(A, "/etc/mestral-dummy.conf"), "setting=packaged-1.0\n");
    assert!(
        mtime("/var/lib/apt/lists") > 946_684_800,
        "the cache was refreshed"
    );

    // latest: v2 published, the conffile edited locally; the upgrade keeps the local edit
    sh(A, "echo setting=local > /etc/mestral-dummy.conf");
    publish(&build_deb(&debs, "mestral-dummy", "2.0"));
    lab.twice("apt_latest.yml", A, oc(1, 1), oc(1, 0));
    assert_eq!(dpkg_status(), "mestral-dummy install ok installed 2.0");
    assert_eq!(cat(A, "/opt/mestral-dummy/VERSION"), "2.0\n");
    assert_eq!(cat(A, "/etc/mestral-dummy.conf"), "setting=local\n");
    assert_eq!(
        cat(A, "/etc/mestral-dummy.conf.dpkg-dist"),
        "setting=packaged-2.0\n"
    );

    // absent keeps the conffile; purge removes what is left
    lab.twice("apt_absent.yml", A, oc(1, 1), oc(1, 0));
    assert_eq!(dpkg_status(), "mestral-dummy deinstall ok config-files 2.0");
    assert_eq!(on(A, "test -e /opt/mestral-dummy/VERSION").0, 1);
    assert_eq!(cat(A, "/etc/mestral-dummy.conf"), "setting=local\n");
    lab.twice("apt_purge.yml", A, oc(1, 1), oc(1, 0));
    assert_eq!(dpkg_status(), "");
    assert_eq!(on(A, "ls /etc/mestral-dummy.conf*").0, 2);

    // update_cache alone: changed when the cache was older than cache_valid_time
    sh(A, "touch -d 2000-01-01 /var/lib/apt/lists");
    lab.twice("apt_cache.yml", A, oc(1, 1), oc(1, 0));
    assert!(
        mtime("/var/lib/apt/lists") > 946_684_800,
        "the cache was refreshed"
    );
}

pub fn package(lab: &Lab) {
    if on(A, "test -d /opt/repo").0 != 0 {
        apt(lab);
    }
    sh(A, "dpkg --purge mestral-dummy mestral-extra >/dev/null");
    lab.twice("package.yml", A, oc(1, 1), oc(1, 0));
    assert_eq!(
        dpkg_status(),
        "mestral-dummy install ok installed 2.0\nmestral-extra install ok installed 1.0"
    );
    assert_eq!(cat(A, "/opt/mestral-dummy/extra.txt"), "extra 1.0\n");
}
