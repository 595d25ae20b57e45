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
    let out = mestral(&s.0, &["second.yml"], &[("ANSIBLE_CACHE_PLUGIN_TIMEOUT", "1")]);
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
