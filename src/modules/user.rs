//! `user`: a local account present or absent, with Ansible's arguments (`name`, `uid`,
//! `group`, `groups`/`append`, `system`, `shell`, `home`, `create_home`, `comment`,
//! `move_home`, `non_unique`; `remove`/`force` when absent) and return values. One remote
//! command creates a missing account and reads the existing one back (`getent`, `id -Gn`); an
//! account that exists but differs takes a second command, `usermod` with the differences.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, int_text_opt, loose_bool, loose_bool_opt, text_opt};
use super::{ModuleCtx, ModuleOutput};
use crate::connection::quote;
use crate::vars::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(alias = "user")]
    name: String,
    #[serde(default, deserialize_with = "text_opt")]
    state: Option<String>,
    #[serde(default, deserialize_with = "int_text_opt")]
    uid: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    group: Option<String>,
    #[serde(default)]
    groups: Option<Value>,
    #[serde(default, deserialize_with = "loose_bool")]
    append: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    system: bool,
    #[serde(default)]
    shell: Option<String>,
    #[serde(default)]
    home: Option<String>,
    #[serde(default, alias = "createhome", deserialize_with = "loose_bool_opt")]
    create_home: Option<bool>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default, deserialize_with = "loose_bool")]
    move_home: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    non_unique: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    remove: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    force: bool,
    /// A crypted hash (`password_hash`), as /etc/shadow holds it.
    #[serde(default, deserialize_with = "text_opt")]
    password: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    update_password: Option<String>,
}

/// What the task asks for, checked.
#[derive(Debug, Default, PartialEq)]
pub struct Want {
    pub name: String,
    pub present: bool,
    pub uid: Option<u32>,
    pub group: Option<String>,
    pub groups: Option<Vec<String>>,
    pub append: bool,
    pub system: bool,
    pub shell: Option<String>,
    pub home: Option<String>,
    pub create_home: bool,
    pub comment: Option<String>,
    pub move_home: bool,
    pub non_unique: bool,
    pub remove: bool,
    pub force: bool,
    pub password: Option<String>,
    /// `update_password: always` (the default): an existing account's hash is set too.
    pub update_password: bool,
}

fn bad(arg: &str, msg: String) -> String {
    format!("parameter '{arg}' for module 'user': {msg}")
}

fn want(p: Params) -> Result<Want, String> {
    let present = match p.state.as_deref().unwrap_or("present") {
        "present" => true,
        "absent" => false,
        other => {
            return Err(bad(
                "state",
                format!("'{other}' is not one of present, absent"),
            ))
        }
    };
    if p.name.is_empty() || p.name.contains([':', '\n', ',']) {
        return Err(bad(
            "name",
            format!("'{}' is not a valid user name", p.name),
        ));
    }
    let uid = match p.uid.as_deref() {
        None | Some("") => None,
        Some(u) => Some(
            u.parse::<u32>()
                .map_err(|_| bad("uid", format!("'{u}' is not a number")))?,
        ),
    };
    let groups = match p.groups {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            s.split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.trim().to_string(),
                    other => other.to_string(),
                })
                .filter(|g| !g.is_empty())
                .collect(),
        ),
        Some(other) => return Err(bad("groups", format!("{other} is not a list of groups"))),
    };
    let texts = [
        ("shell", &p.shell),
        ("home", &p.home),
        ("comment", &p.comment),
        ("group", &p.group),
    ];
    for (arg, text) in texts {
        if let Some(text) = text.as_ref().filter(|t| t.contains([':', '\n'])) {
            return Err(bad(arg, format!("'{text}' may not hold ':' or a newline")));
        }
    }
    let update_password = match p.update_password.as_deref().unwrap_or("always") {
        "always" => true,
        "on_create" => false,
        other => {
            return Err(bad(
                "update_password",
                format!("'{other}' is not one of always, on_create"),
            ))
        }
    };
    let password = p.password.filter(|h| !h.is_empty());
    if let Some(hash) = &password {
        // The hash is a secret: masked wherever it could be printed (commands at -vvv).
        crate::output::secrets::add(hash);
        if hash.contains([':', '\n']) {
            return Err(bad(
                "password",
                "the hash may not hold ':' or a newline".into(),
            ));
        }
    }
    Ok(Want {
        name: p.name,
        present,
        uid,
        group: p.group.filter(|g| !g.is_empty()),
        groups,
        append: p.append,
        system: p.system,
        shell: p.shell,
        home: p.home,
        create_home: p.create_home.unwrap_or(true),
        comment: p.comment,
        move_home: p.move_home,
        non_unique: p.non_unique,
        remove: p.remove,
        force: p.force,
        password,
        update_password,
    })
}

/// `useradd`'s arguments for a new account, before the name.
fn useradd_args(w: &Want) -> String {
    let mut a = String::new();
    if let Some(uid) = w.uid {
        a.push_str(&format!(" -u {uid}"));
        if w.non_unique {
            a.push_str(" -o");
        }
    }
    if let Some(g) = &w.group {
        a.push_str(&format!(" -g {}", quote(g)));
    }
    if let Some(gs) = w.groups.as_ref().filter(|gs| !gs.is_empty()) {
        a.push_str(&format!(" -G {}", quote(&gs.join(","))));
    }
    if let Some(c) = &w.comment {
        a.push_str(&format!(" -c {}", quote(c)));
    }
    if let Some(h) = &w.home {
        a.push_str(&format!(" -d {}", quote(h)));
    }
    if let Some(s) = &w.shell {
        a.push_str(&format!(" -s {}", quote(s)));
    }
    if w.system {
        a.push_str(" -r");
    }
    if let Some(hash) = &w.password {
        a.push_str(&format!(" -p {}", quote(hash)));
    }
    a.push_str(if w.create_home { " -m" } else { " -M" });
    a
}

/// The first remote command. Present: creates a missing account (failing as Ansible does when
/// the primary group is missing; `-N` when a group named like the user exists and no group is
/// given), then prints `changed:<0|1>` and the `getent passwd` line. For an account that
/// already existed it then prints what `usermod_args` compares, and only that: the primary
/// group's name (when `group` names one, or `groups` is given), `id -Gn` (when `groups` is
/// given) and the stored hash (when `password` is given); lines not needed are empty. The
/// passwd line is read once into a variable and cut with parameter expansion (no `cut`).
/// Absent: deletes an existing account and prints `changed:<0|1>`. In check mode the change
/// commands are replaced by `:`.
pub fn script(w: &Want, check: bool) -> String {
    let n = quote(&w.name);
    let act = |cmd: String| {
        if check {
            ":".to_string()
        } else {
            format!("{cmd} >&2 || exit $?")
        }
    };
    if !w.present {
        let mut del = String::from("userdel");
        if w.force {
            del.push_str(" -f");
        }
        if w.remove {
            del.push_str(" -r");
        }
        return format!(
            "c=0; if getent passwd {n} >/dev/null; then {} ; c=1; fi; echo changed:$c",
            act(format!("{del} {n}"))
        );
    }
    let guard = match &w.group {
        Some(g) => format!(
            "if ! getent group {q} >/dev/null; then echo 'Group {g} does not exist' >&2; \
             exit 6; fi; N=;",
            q = quote(g),
            g = g.replace('\'', "")
        ),
        None => format!("N=; if getent group {n} >/dev/null; then N=-N; fi;"),
    };
    let reread = if check {
        String::new()
    } else {
        format!(" p=$(getent passwd {n});")
    };
    // The primary group's name: `id -Gn` starts with it (and fails when the gid has no
    // group, whose name then stays empty); else from the gid, field 4 of the passwd line.
    let names = match (&w.groups, &w.group) {
        (Some(_), _) => format!(" if i=$(id -Gn {n}); then q=${{i%% *}}; fi;"),
        (None, Some(g)) if g.parse::<u32>().is_err() => " r=${p#*:*:*:}; \
             if q=$(getent group \"${r%%:*}\"); then q=${q%%:*}; fi;"
            .to_string(),
        (None, _) => String::new(),
    };
    // The stored hash only when the task sets one: it is compared, never shown.
    let shadow = match w.password {
        Some(_) => format!(
            " if s=$(getent shadow {n}); then s=${{s#*:}}; printf '%s\\n' \"${{s%%:*}}\"; fi;"
        ),
        None => String::new(),
    };
    format!(
        "c=0; if ! p=$(getent passwd {n}); then {guard} {} ; c=1;{reread} fi; \
         echo changed:$c; [ -n \"$p\" ] || exit 0; printf '%s\\n' \"$p\"; \
         [ $c = 0 ] || exit 0; q=; i=;{names} printf '%s\\n' \"$q\" \"$i\";{shadow} exit 0",
        act(format!("useradd{} $N {n}", useradd_args(w)))
    )
}

/// An existing account as the first command read it.
#[derive(Debug, Default, PartialEq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
    pub comment: String,
    pub home: String,
    pub shell: String,
    pub group_name: String,
    /// Supplementary groups (the primary group left out).
    pub groups: Vec<String>,
    /// The stored hash, read only when the task gives a password.
    pub password: Option<String>,
}

/// Parses the lines after `changed:` (none when the account does not exist, in check mode).
pub fn parse_account(lines: &[&str]) -> Option<Account> {
    let f: Vec<&str> = lines.first()?.split(':').collect();
    if f.len() < 7 {
        return None;
    }
    let group_name = lines.get(1).unwrap_or(&"").trim().to_string();
    let groups = lines
        .get(2)
        .unwrap_or(&"")
        .split_whitespace()
        .filter(|g| *g != group_name)
        .map(str::to_string)
        .collect();
    Some(Account {
        uid: f[2].parse().ok()?,
        gid: f[3].parse().ok()?,
        comment: f[4].to_string(),
        home: f[5].to_string(),
        shell: f[6].to_string(),
        group_name,
        groups,
        password: lines.get(3).map(|h| h.trim().to_string()),
    })
}

/// `usermod`'s arguments that bring `have` to what `w` asks for; empty when nothing differs.
pub fn usermod_args(w: &Want, have: &Account) -> String {
    let mut a = String::new();
    if let Some(uid) = w.uid.filter(|u| *u != have.uid) {
        a.push_str(&format!(" -u {uid}"));
        if w.non_unique {
            a.push_str(" -o");
        }
    }
    if let Some(g) = &w.group {
        let same = match g.parse::<u32>() {
            Ok(gid) => gid == have.gid,
            Err(_) => *g == have.group_name,
        };
        if !same {
            a.push_str(&format!(" -g {}", quote(g)));
        }
    }
    if let Some(gs) = &w.groups {
        let missing = gs.iter().any(|g| !have.groups.contains(g));
        let extra = !w.append && have.groups.iter().any(|g| !gs.contains(g));
        if missing || extra {
            if w.append {
                a.push_str(" -a");
            }
            a.push_str(&format!(" -G {}", quote(&gs.join(","))));
        }
    }
    if let Some(c) = w.comment.as_ref().filter(|c| **c != have.comment) {
        a.push_str(&format!(" -c {}", quote(c)));
    }
    if let Some(h) = w.home.as_ref().filter(|h| **h != have.home) {
        a.push_str(&format!(" -d {}", quote(h)));
        if w.move_home {
            a.push_str(" -m");
        }
    }
    if let Some(s) = w.shell.as_ref().filter(|s| **s != have.shell) {
        a.push_str(&format!(" -s {}", quote(s)));
    }
    let stored = have.password.as_ref();
    if let Some(hash) = w
        .password
        .as_ref()
        .filter(|h| w.update_password && stored != Some(*h))
    {
        a.push_str(&format!(" -p {}", quote(hash)));
    }
    a
}

fn failure(w: &Want, rc: i32, stdout: &str, stderr: &str) -> ModuleOutput {
    let why = stderr.trim();
    let why = if why.is_empty() { stdout.trim() } else { why };
    ModuleOutput::failed(format!("user {}: rc {rc}: {why}", w.name))
}

/// The result Ansible reports for a present account.
fn present_values(
    w: &Want,
    out: ModuleOutput,
    acct: Option<&Account>,
    created: bool,
) -> ModuleOutput {
    let mut out = out
        .with("name", json!(w.name))
        .with("state", json!("present"));
    let pick = |want: &Option<String>, have: Option<&String>| {
        want.clone().or_else(|| have.cloned()).unwrap_or_default()
    };
    out = out
        .with("uid", json!(acct.map(|a| a.uid).or(w.uid)))
        .with("group", json!(acct.map(|a| a.gid)))
        .with("comment", json!(pick(&w.comment, acct.map(|a| &a.comment))))
        .with("home", json!(pick(&w.home, acct.map(|a| &a.home))))
        .with("shell", json!(pick(&w.shell, acct.map(|a| &a.shell))));
    if w.password.is_some() {
        out = out.with("password", json!("NOT_LOGGING_PASSWORD"));
    }
    if created {
        out.with("system", json!(w.system))
            .with("create_home", json!(w.create_home))
    } else {
        out.with("append", json!(w.append))
            .with("move_home", json!(w.move_home))
    }
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let w = match args::parse::<Params>("user", args).and_then(want) {
        Ok(w) => w,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    let first = ctx.exec(&script(&w, ctx.check)).await?;
    let stdout = first.stdout_text();
    let lines: Vec<&str> = stdout.lines().collect();
    let created = match (first.rc, lines.first()) {
        (0, Some(&"changed:1")) => true,
        (0, Some(&"changed:0")) => false,
        _ => return Ok(failure(&w, first.rc, &stdout, &first.stderr_text())),
    };
    if !w.present {
        return Ok(ModuleOutput::changed(created)
            .with("name", json!(w.name))
            .with("state", json!("absent"))
            .with("force", json!(w.force))
            .with("remove", json!(w.remove)));
    }
    let acct = parse_account(&lines[1..]);
    if created {
        return Ok(present_values(
            &w,
            ModuleOutput::changed(true),
            acct.as_ref(),
            true,
        ));
    }
    let Some(have) = acct else {
        return Ok(failure(
            &w,
            first.rc,
            &stdout,
            "the account could not be read back",
        ));
    };
    let mods = usermod_args(&w, &have);
    if mods.is_empty() {
        return Ok(present_values(&w, ModuleOutput::ok(), Some(&have), false));
    }
    if ctx.check {
        return Ok(present_values(
            &w,
            ModuleOutput::changed(true),
            Some(&have),
            false,
        ));
    }
    let n = quote(&w.name);
    let second = ctx
        .exec(&format!(
            "usermod{mods} {n} >&2 || exit $?; getent passwd {n}"
        ))
        .await?;
    if second.rc != 0 {
        return Ok(failure(
            &w,
            second.rc,
            &second.stdout_text(),
            &second.stderr_text(),
        ));
    }
    let after_text = second.stdout_text();
    let after = parse_account(&[after_text.trim_end(), &have.group_name]);
    Ok(present_values(
        &w,
        ModuleOutput::changed(true),
        after.as_ref().or(Some(&have)),
        false,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(args: Value) -> Result<Want, String> {
        args::parse::<Params>("user", &args).and_then(want)
    }

    #[test]
    fn scripts() {
        let calx = json!({"name": "calx", "group": "calx", "system": true,
                          "shell": "/usr/sbin/nologin", "create_home": false});
        let guard = "if ! getent group calx >/dev/null; then echo 'Group calx does not exist' \
                     >&2; exit 6; fi; N=;";
        let passwd = "echo changed:$c; [ -n \"$p\" ] || exit 0; printf '%s\\n' \"$p\"; \
                      [ $c = 0 ] || exit 0; q=; i=;";
        let by_gid = " r=${p#*:*:*:}; if q=$(getent group \"${r%%:*}\"); then q=${q%%:*}; fi;";
        let end = " printf '%s\\n' \"$q\" \"$i\"; exit 0";
        let cases = [
            (
                calx.clone(),
                false,
                format!(
                    "c=0; if ! p=$(getent passwd calx); then {guard} useradd -g calx \
                     -s /usr/sbin/nologin -r -M $N calx >&2 || exit $? ; c=1; \
                     p=$(getent passwd calx); fi; {passwd}{by_gid}{end}"
                ),
            ),
            (
                calx,
                true,
                format!(
                    "c=0; if ! p=$(getent passwd calx); then {guard} : ; c=1; fi; \
                     {passwd}{by_gid}{end}"
                ),
            ),
            (
                json!({"name": "calx", "uid": 1500, "groups": "adm, sudo", "comment": "C x"}),
                false,
                format!(
                    "c=0; if ! p=$(getent passwd calx); then N=; if getent group calx \
                     >/dev/null; then N=-N; fi; useradd -u 1500 -G adm,sudo -c 'C x' -m $N \
                     calx >&2 || exit $? ; c=1; p=$(getent passwd calx); fi; {passwd} \
                     if i=$(id -Gn calx); then q=${{i%% *}}; fi;{end}"
                ),
            ),
            (
                json!({"name": "calx", "group": "998", "password": "$6$x"}),
                false,
                format!(
                    "c=0; if ! p=$(getent passwd calx); then if ! getent group 998 >/dev/null; \
                     then echo 'Group 998 does not exist' >&2; exit 6; fi; N=; useradd -g 998 \
                     -p '$6$x' -m $N calx >&2 || exit $? ; c=1; p=$(getent passwd calx); fi; \
                     {passwd} printf '%s\\n' \"$q\" \"$i\"; if s=$(getent shadow calx); then \
                     s=${{s#*:}}; printf '%s\\n' \"${{s%%:*}}\"; fi; exit 0"
                ),
            ),
            (
                json!({"name": "calx", "state": "absent", "remove": true}),
                false,
                "c=0; if getent passwd calx >/dev/null; then userdel -r calx >&2 || exit $? ; \
                 c=1; fi; echo changed:$c"
                    .to_string(),
            ),
        ];
        for (args, check, expected) in cases {
            assert_eq!(script(&w(args.clone()).unwrap(), check), expected, "{args}");
        }
    }

    #[test]
    fn account_and_changes() {
        let lines = [
            "calx:x:999:998::/home/calx:/usr/sbin/nologin",
            "calx",
            "calx adm",
            "$6$old$hash",
        ];
        let have = parse_account(&lines).unwrap();
        assert_eq!(
            have,
            Account {
                uid: 999,
                gid: 998,
                comment: String::new(),
                home: "/home/calx".into(),
                shell: "/usr/sbin/nologin".into(),
                group_name: "calx".into(),
                groups: vec!["adm".into()],
                password: Some("$6$old$hash".into()),
            }
        );
        let cases = [
            (
                json!({"name": "calx", "group": "calx", "shell": "/usr/sbin/nologin"}),
                "",
            ),
            (json!({"name": "calx", "group": "998", "uid": 999}), ""),
            (json!({"name": "calx", "shell": "/bin/sh"}), " -s /bin/sh"),
            (
                json!({"name": "calx", "group": "users", "uid": 5}),
                " -u 5 -g users",
            ),
            (
                json!({"name": "calx", "groups": ["adm"], "append": true}),
                "",
            ),
            (
                json!({"name": "calx", "groups": ["sudo"], "append": true}),
                " -a -G sudo",
            ),
            (json!({"name": "calx", "groups": ["sudo"]}), " -G sudo"),
            (json!({"name": "calx", "groups": ""}), " -G ''"),
            (
                json!({"name": "calx", "home": "/srv/c", "move_home": true}),
                " -d /srv/c -m",
            ),
            (json!({"name": "calx", "password": "$6$old$hash"}), ""),
            (
                json!({"name": "calx", "password": "$6$new$hash"}),
                " -p '$6$new$hash'",
            ),
            (
                json!({"name": "calx", "password": "$6$new$hash", "update_password": "on_create"}),
                "",
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(
                usermod_args(&w(args.clone()).unwrap(), &have),
                expected,
                "{args}"
            );
        }
        assert_eq!(parse_account(&[]), None);
        assert_eq!(parse_account(&["garbage"]), None);
    }

    #[test]
    fn bad_arguments() {
        let cases = [
            (
                json!({"name": "x", "state": "off"}),
                "parameter 'state' for module 'user': 'off' is not one of present, absent",
            ),
            (
                json!({"name": "x", "uid": "u1"}),
                "parameter 'uid' for module 'user': 'u1' is not a valid integer",
            ),
            (
                json!({"name": "x", "groups": {"a": 1}}),
                "parameter 'groups' for module 'user': {\"a\":1} is not a list of groups",
            ),
            (
                json!({"name": "a:b"}),
                "parameter 'name' for module 'user': 'a:b' is not a valid user name",
            ),
        ];
        for (args, msg) in cases {
            assert_eq!(w(args).unwrap_err(), msg);
        }
    }
}
