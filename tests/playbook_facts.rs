//! The fact cache through the binary: with `fact_caching = jsonfile` a first run keeps the
//! gathered facts and `set_fact: cacheable` values on disk, and a second run without
//! gathering sees them in `hostvars` and as the host's variables; the timeout, `clear_facts`
//! and the environment's `ANSIBLE_CACHE_PLUGIN` act on it.

mod playbook_support;

use playbook_support::*;

const FIRST: &str = "- hosts: alpha\n  gather_subset: ['!all']\n  tasks:\n\
    \x20   - set_fact: {kept: 1, cacheable: yes}\n\
    \x20   - set_fact: {fleeting: 2}\n";

const SECOND: &str = "- hosts: web\n  gather_facts: false\n  tasks:\n\
    \x20   - debug: msg=\"{{ hostvars['alpha'].kept | default('none') }} \
    {{ kept | default('none') }} {{ fleeting | default('none') }} \
    {{ ansible_facts.system | default('none') }} {{ ansible_system | default('none') }}\"\n";

#[test]
fn jsonfile_fact_cache() {
    let s = Scratch::new("factcache");
    s.write("inv.ini", &inventory(&["alpha", "beta"]));
    s.write(
        "ansible.cfg",
        "[defaults]\nfact_caching = jsonfile\nfact_caching_connection = cache\n",
    );
    s.write("first.yml", FIRST);
    s.write("second.yml", SECOND);
    let first = mestral(&s.0, &["first.yml"], &[]);
    assert_eq!(first.status.code(), Some(0));
    let cached: serde_json::Value = serde_json::from_str(&s.read("cache/alpha")).unwrap();
    assert_eq!(cached["kept"], 1);
    assert_eq!(cached["ansible_system"], "Linux");
    assert_eq!(cached.get("fleeting"), None);
    assert!(!s.0.join("cache/beta").exists());

    let second = |msg_alpha: &str, msg_beta: &str| {
        let mut want = banner("PLAY [web]");
        want += &(task("debug") + &debug("alpha", msg_alpha) + &debug("beta", msg_beta));
        want + &recap(&[stat("alpha", 1, 0, 0, 0), stat("beta", 1, 0, 0, 0)])
    };
    let out = mestral(&s.0, &["second.yml"], &[]);
    assert_eq!(
        text(&out),
        second("1 1 none Linux Linux", "1 none none none none")
    );

    // The memory cache keeps nothing between runs.
    let out = mestral(&s.0, &["second.yml"], &[("ANSIBLE_CACHE_PLUGIN", "memory")]);
    let nothing = second("none none none none none", "none none none none none");
    assert_eq!(text(&out), nothing);

    // A cache older than the timeout is not used.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = mestral(
        &s.0,
        &["second.yml"],
        &[("ANSIBLE_CACHE_PLUGIN_TIMEOUT", "1")],
    );
    assert_eq!(text(&out), nothing);

    // clear_facts empties the host's cache.
    s.write(
        "clear.yml",
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - meta: clear_facts\n",
    );
    mestral(&s.0, &["clear.yml"], &[]);
    assert_eq!(s.read("cache/alpha"), "{}");
    let out = mestral(&s.0, &["second.yml"], &[]);
    assert_eq!(text(&out), nothing);

    // A cache plugin mestral does not have is refused by name.
    let out = mestral(&s.0, &["second.yml"], &[("ANSIBLE_CACHE_PLUGIN", "redis")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        errors(&out),
        "ERROR! fact_caching: 'redis' is not supported (only jsonfile and memory)\n"
    );
}

/// The cache is written as facts are learned, not at the end: a run killed in its third
/// task has left the gathered facts and the `cacheable: "{{ template }}"` value that held
/// (and not the one that did not), with no temporary file beside them.
#[test]
fn fact_cache_written_as_learned() {
    let s = Scratch::new("factcache-live");
    s.write("inv.ini", &inventory(&["alpha"]));
    s.write(
        "ansible.cfg",
        "[defaults]\nfact_caching = jsonfile\nfact_caching_connection = cache\n",
    );
    s.write(
        "pb.yml",
        "- hosts: alpha\n  gather_subset: ['!all']\n  tasks:\n\
         \x20   - set_fact: {dropped: 2, cacheable: \"{{ keep }}\"}\n      vars: {keep: false}\n\
         \x20   - set_fact: {kept: 1, cacheable: \"{{ keep }}\"}\n      vars: {keep: true}\n\
         \x20   - command: sleep 30\n",
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(&s.0)
        .args(["--color", "never", "-i", "inv.ini", "pb.yml"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let file = s.0.join("cache/alpha");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let cached = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.contains("\"kept\"") {
            break serde_json::from_str::<serde_json::Value>(&text).unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no cache entry: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(still_running, "the run ended before the cache was read");
    assert_eq!(cached["kept"], 1);
    assert_eq!(cached.get("dropped"), None);
    assert_eq!(cached["ansible_system"], "Linux");
    assert_eq!(cached["_ansible_facts_gathered"], true);
    let names: Vec<String> = std::fs::read_dir(s.0.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["alpha".to_string()]);
}

/// `gathering = smart` gathers only for hosts whose facts are not known yet, from the cache
/// or an earlier play, even under `gather_facts: true`; `explicit` only under it.
#[test]
fn gathering_smart_and_explicit() {
    let s = Scratch::new("gathering");
    s.write("inv.ini", &inventory(&["alpha", "beta"]));
    s.write(
        "ansible.cfg",
        "[defaults]\nfact_caching = jsonfile\nfact_caching_connection = cache\n\
         gathering = smart\n",
    );
    s.write(
        "first.yml",
        "- hosts: alpha\n  gather_subset: ['!all']\n  tasks: []\n",
    );
    s.write(
        "pb.yml",
        "- hosts: web\n  gather_subset: ['!all']\n  tasks:\n\
         \x20   - debug: msg=\"{{ ansible_system }}\"\n\
         - hosts: web\n  gather_facts: true\n  tasks:\n    - debug: msg=again\n",
    );
    let first = mestral(&s.0, &["first.yml"], &[]);
    let mut want = banner("PLAY [alpha]") + &task("Gathering Facts") + "ok: [alpha]\n";
    want += &recap(&[stat("alpha", 1, 0, 0, 0)]);
    assert_eq!(text(&first), want);

    let plays = |gathering: &str| {
        let mut want = banner("PLAY [web]") + &task("Gathering Facts") + gathering;
        want += &(task("debug") + &debug("alpha", "Linux") + &debug("beta", "Linux"));
        want += &banner("PLAY [web]");
        want += &(task("debug") + &debug("alpha", "again") + &debug("beta", "again"));
        want
    };
    let out = mestral(&s.0, &["pb.yml"], &[]);
    let want =
        plays("ok: [beta]\n") + &recap(&[stat("alpha", 2, 0, 0, 0), stat("beta", 3, 0, 0, 0)]);
    assert_eq!(text(&out), want);

    // Both are in the cache now: no gathering at all.
    let out = mestral(&s.0, &["pb.yml"], &[]);
    let want = plays("").replace(&task("Gathering Facts"), "");
    let want = want + &recap(&[stat("alpha", 2, 0, 0, 0), stat("beta", 2, 0, 0, 0)]);
    assert_eq!(text(&out), want);

    // `implicit` (from the environment, which wins) gathers in every play.
    let out = mestral(&s.0, &["pb.yml"], &[("ANSIBLE_GATHERING", "implicit")]);
    assert_eq!(text(&out).matches("TASK [Gathering Facts]").count(), 2);

    // `explicit` gathers only in the play that asks for it.
    let out = mestral(&s.0, &["pb.yml"], &[("ANSIBLE_GATHERING", "explicit")]);
    let want = banner("PLAY [web]")
        + &task("debug")
        + &debug("alpha", "Linux")
        + &debug("beta", "Linux")
        + &banner("PLAY [web]")
        + &task("Gathering Facts")
        + "ok: [alpha]\nok: [beta]\n"
        + &task("debug")
        + &debug("alpha", "again")
        + &debug("beta", "again")
        + &recap(&[stat("alpha", 3, 0, 0, 0), stat("beta", 3, 0, 0, 0)]);
    assert_eq!(text(&out), want);

    let out = mestral(&s.0, &["pb.yml"], &[("ANSIBLE_GATHERING", "sometimes")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        errors(&out),
        "ERROR! gathering: 'sometimes' is not one of implicit, explicit, smart\n"
    );
}
