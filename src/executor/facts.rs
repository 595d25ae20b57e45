//! Fact gathering: one shell script, one round trip per host, giving the facts playbooks use
//! most, under `ansible_facts` and the `ansible_*` names.

use anyhow::Result;
use serde_json::json;

use crate::connection::Session;
use crate::vars::{Value, Vars};

/// Prints `key=value` lines; every probe tolerates a missing tool.
const SCRIPT: &str = r#"
echo "hostname=$(hostname 2>/dev/null || uname -n)"
echo "fqdn=$(hostname -f 2>/dev/null || hostname)"
echo "system=$(uname -s)"
echo "kernel=$(uname -r)"
echo "machine=$(uname -m)"
echo "nproc=$(nproc 2>/dev/null || echo 1)"
echo "memtotal_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)"
echo "user_id=$(id -un 2>/dev/null)"
echo "user_uid=$(id -u 2>/dev/null)"
if [ -r /etc/os-release ]; then
  . /etc/os-release
  echo "os_id=$ID"; echo "os_like=$ID_LIKE"; echo "os_version=$VERSION_ID"
  echo "os_codename=$VERSION_CODENAME"; echo "os_name=$NAME"
fi
route=$(ip -4 route show default 2>/dev/null | head -n1)
dev=$(echo "$route" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
gw=$(echo "$route" | sed -n 's/.* via \([^ ]*\).*/\1/p')
echo "default_dev=$dev"
echo "default_gw=$gw"
if [ -n "$dev" ]; then
  echo "default_addr=$(ip -4 -o addr show dev "$dev" 2>/dev/null | awk '{print $4; exit}')"
fi
echo "all_ipv4=$(ip -4 -o addr show 2>/dev/null | awk '$2 != "lo" {sub(/\/.*/, "", $4); printf "%s ", $4}')"
if [ -d /run/systemd/system ]; then echo "service_mgr=systemd"; else echo "service_mgr=sysvinit"; fi
if command -v docker >/dev/null 2>&1; then echo "docker=yes"; else echo "docker=no"; fi
"#;

/// Runs the fact script and returns `ansible_facts`.
pub async fn gather(session: &Session) -> Result<Vars> {
    let out = session.exec(SCRIPT, None, None).await?;
    Ok(parse(&out.stdout_text()))
}

/// The facts of each subset `gather_subset` can name; `min` is always given unless excluded.
const SUBSETS: &[(&str, &[&str])] = &[
    (
        "min",
        &[
            "hostname",
            "nodename",
            "fqdn",
            "system",
            "kernel",
            "architecture",
            "machine",
            "user_id",
            "user_uid",
            "distribution",
            "distribution_version",
            "distribution_major_version",
            "distribution_release",
            "os_family",
            "service_mgr",
            "docker_present",
        ],
    ),
    (
        "hardware",
        &["processor_vcpus", "processor_count", "memtotal_mb"],
    ),
    ("network", &["default_ipv4", "all_ipv4_addresses"]),
];

/// Keeps the facts of the subsets asked for (`all`, `min`, `hardware`, `network`, each
/// excludable with `!`), as Ansible's `gather_subset` does.
pub fn select(facts: Vars, subsets: &[String]) -> anyhow::Result<Vars> {
    let mut wanted: Vec<&str> = vec!["min"];
    let mut excluded: Vec<&str> = Vec::new();
    for s in subsets {
        let (negated, name) = match s.trim().strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, s.trim()),
        };
        let names: Vec<&str> = match name {
            "all" => SUBSETS
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| *n != "min")
                .collect(),
            known if SUBSETS.iter().any(|(n, _)| *n == known) => vec![known],
            other => anyhow::bail!(
                "gather_subset: '{other}' is not a subset (all, min, hardware, network)"
            ),
        };
        if negated {
            excluded.extend(names);
        } else {
            wanted.extend(names);
        }
    }
    let keep: Vec<&str> = SUBSETS
        .iter()
        .filter(|(n, _)| wanted.contains(n) && !excluded.contains(n))
        .flat_map(|(_, facts)| facts.iter().copied())
        .collect();
    Ok(facts
        .into_iter()
        .filter(|(k, _)| keep.contains(&k.as_str()))
        .collect())
}

/// The `setup` module: gathers, keeps `gather_subset` (default all) and the names matching
/// `filter` (`ansible_*` patterns), and returns them as facts.
pub async fn setup(session: &Session, args: &Value) -> Result<crate::modules::ModuleOutput> {
    let list = |key: &str| -> Vec<String> {
        match args.get(key) {
            Some(Value::Array(items)) => items.iter().map(crate::vars::as_text).collect(),
            Some(v) => crate::vars::as_text(v)
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            None => Vec::new(),
        }
    };
    let mut subsets = list("gather_subset");
    if subsets.is_empty() {
        subsets.push("all".into());
    }
    let mut facts = select(gather(session).await?, &subsets)?;
    let filters = list("filter");
    if !filters.is_empty() {
        facts.retain(|k, _| {
            filters
                .iter()
                .any(|f| super::glob::matches(f, &format!("ansible_{k}")))
        });
    }
    let shown: Vars = facts
        .iter()
        .map(|(k, v)| (format!("ansible_{k}"), v.clone()))
        .collect();
    let mut out = crate::modules::ModuleOutput::ok();
    out.values
        .insert("ansible_facts".into(), Value::Object(shown));
    out.facts = Some(facts);
    Ok(out)
}

/// Turns the script's output into Ansible-shaped facts.
pub fn parse(text: &str) -> Vars {
    let mut raw = std::collections::HashMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            raw.insert(k.to_string(), v.trim().to_string());
        }
    }
    let get = |k: &str| raw.get(k).cloned().unwrap_or_default();
    let os_id = get("os_id");
    let like = get("os_like");
    let family = os_family(&os_id, &like);
    let (addr, prefix) = match get("default_addr").split_once('/') {
        Some((a, p)) => (a.to_string(), p.to_string()),
        None => (String::new(), String::new()),
    };
    let hostname = get("hostname");
    let version = get("os_version");
    let major = version.split('.').next().unwrap_or("").to_string();
    let mut distribution = raw.get("os_name").cloned().unwrap_or_default();
    if let Some(first) = distribution.split_whitespace().next() {
        distribution = first.to_string();
    }
    let mem_mb = get("memtotal_kb")
        .parse::<u64>()
        .map(|kb| kb / 1024)
        .unwrap_or(0);
    let all: Vec<String> = get("all_ipv4")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let default_ipv4 = if addr.is_empty() {
        json!({})
    } else {
        json!({"address": addr, "interface": get("default_dev"), "gateway": get("default_gw"),
               "prefix": prefix})
    };
    let facts = json!({
        "hostname": hostname.split('.').next().unwrap_or(""),
        "nodename": hostname,
        "fqdn": get("fqdn"),
        "system": get("system"),
        "kernel": get("kernel"),
        "architecture": get("machine"),
        "machine": get("machine"),
        "processor_vcpus": get("nproc").parse::<u64>().unwrap_or(1),
        "processor_count": get("nproc").parse::<u64>().unwrap_or(1),
        "memtotal_mb": mem_mb,
        "user_id": get("user_id"),
        "user_uid": get("user_uid").parse::<u64>().unwrap_or(0),
        "distribution": distribution,
        "distribution_version": version,
        "distribution_major_version": major,
        "distribution_release": get("os_codename"),
        "os_family": family,
        "default_ipv4": default_ipv4,
        "all_ipv4_addresses": all,
        "service_mgr": get("service_mgr"),
        "docker_present": get("docker") == "yes",
    });
    match facts {
        Value::Object(m) => m,
        _ => Vars::new(),
    }
}

fn os_family(id: &str, like: &str) -> &'static str {
    let words: Vec<&str> = std::iter::once(id).chain(like.split_whitespace()).collect();
    let has = |names: &[&str]| words.iter().any(|w| names.contains(w));
    if has(&["debian", "ubuntu"]) {
        "Debian"
    } else if has(&["rhel", "fedora", "centos", "rocky", "almalinux"]) {
        "RedHat"
    } else if has(&["alpine"]) {
        "Alpine"
    } else if has(&["arch"]) {
        "Archlinux"
    } else if has(&["suse", "opensuse"]) {
        "Suse"
    } else {
        "Unknown"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_debian_host() {
        let text = "hostname=calxitu\nfqdn=calxitu\nsystem=Linux\nkernel=6.1.0\nmachine=x86_64\n\
            nproc=2\nmemtotal_kb=2048000\nuser_id=root\nuser_uid=0\nos_id=debian\nos_like=\n\
            os_version=12\nos_codename=bookworm\nos_name=Debian GNU/Linux\ndefault_dev=eth0\n\
            default_gw=172.30.8.254\ndefault_addr=172.30.8.250/24\n\
            all_ipv4=172.30.8.250 \nservice_mgr=sysvinit\ndocker=yes\n";
        let f = parse(text);
        assert_eq!(f["os_family"], "Debian");
        assert_eq!(f["distribution"], "Debian");
        assert_eq!(f["distribution_release"], "bookworm");
        assert_eq!(f["default_ipv4"]["address"], "172.30.8.250");
        assert_eq!(f["default_ipv4"]["interface"], "eth0");
        assert_eq!(f["memtotal_mb"], 2000);
        assert_eq!(f["all_ipv4_addresses"], json!(["172.30.8.250"]));
        assert_eq!(f["service_mgr"], "sysvinit");
        assert_eq!(f["docker_present"], true);
    }

    #[test]
    fn subsets() {
        let facts = || parse("hostname=h\nnproc=2\nmemtotal_kb=1024\ndefault_addr=10.0.0.1/8\n");
        let keys = |subsets: &[&str]| -> Vec<String> {
            let s: Vec<String> = subsets.iter().map(|s| s.to_string()).collect();
            let mut k: Vec<String> = select(facts(), &s).unwrap().keys().cloned().collect();
            k.retain(|k| ["hostname", "memtotal_mb", "default_ipv4"].contains(&k.as_str()));
            k
        };
        assert_eq!(keys(&["all"]), ["hostname", "memtotal_mb", "default_ipv4"]);
        assert_eq!(keys(&["!all"]), ["hostname"]);
        assert_eq!(keys(&["network"]), ["hostname", "default_ipv4"]);
        assert_eq!(keys(&["all", "!hardware"]), ["hostname", "default_ipv4"]);
        assert_eq!(keys(&["!all", "!min"]), Vec::<String>::new());
        assert_eq!(
            select(facts(), &["disks".into()]).unwrap_err().to_string(),
            "gather_subset: 'disks' is not a subset (all, min, hardware, network)"
        );
    }
}
