//! Reading playbook files: YAML with errors that show the file, line and column, plays and
//! their sections, and the line each task starts on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use serde_yaml::{Mapping, Value as Yaml};

use super::roles::load_role;
use super::task::{parse_tasks, TaskParser};
use super::{Origin, Play, Playbook, Prompt, Role};
use crate::vars::{as_bool, from_yaml, Vars};

/// Reads a YAML file; a syntax error names the file, line and column and shows the line
/// with a caret under the column.
pub fn read_yaml_file(path: &Path) -> Result<Yaml> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_yaml(path, &text)
}

pub(super) fn parse_yaml(path: &Path, text: &str) -> Result<Yaml> {
    serde_yaml::from_str(text).map_err(|e| yaml_error(path, text, &e))
}

fn yaml_error(path: &Path, text: &str, err: &serde_yaml::Error) -> anyhow::Error {
    let reason = err.to_string();
    // serde_yaml appends " at line L column C"; the location is shown our own way.
    let reason = reason
        .split(" at line ")
        .next()
        .unwrap_or(&reason)
        .to_string();
    match err.location() {
        Some(loc) => {
            let line = text.lines().nth(loc.line().saturating_sub(1)).unwrap_or("");
            let caret = " ".repeat(loc.column().saturating_sub(1));
            let hint = super::preflight::yaml_hint(text, loc.line(), loc.column(), &reason)
                .map(|h| format!("\n  hint: {h}"))
                .unwrap_or_default();
            anyhow!(
                "{}:{}:{}: YAML syntax error: {}\n    {}\n    {}^{hint}",
                path.display(),
                loc.line(),
                loc.column(),
                reason,
                line,
                caret
            )
        }
        None => anyhow!("{}: YAML error: {}", path.display(), reason),
    }
}

/// Finds the line a construct starts on by scanning forward through the file's text, since
/// YAML values do not keep their positions.
pub(super) struct Locator {
    lines: Vec<String>,
    cursor: usize,
}

impl Locator {
    pub fn new(text: &str) -> Self {
        Locator {
            lines: text.lines().map(str::to_string).collect(),
            cursor: 0,
        }
    }

    pub fn for_file(path: &Path) -> Self {
        Locator::new(&std::fs::read_to_string(path).unwrap_or_default())
    }

    /// Moves to the next line, from the cursor on, that opens a list item with `key`
    /// (`- key:`), and returns its 1-based number; 0 when not found.
    pub fn next_item(&mut self, key: &str) -> usize {
        let start = self.cursor;
        for (i, line) in self.lines.iter().enumerate().skip(start) {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix("- ") {
                // A flow mapping item (`- {name: x, ...}`) opens with its first key too.
                let rest = rest.trim_start().trim_start_matches('{').trim_start();
                if rest.starts_with(&format!("{key}:")) || rest == key {
                    self.cursor = i + 1;
                    return i + 1;
                }
            }
        }
        0
    }

    /// Where `key:` is written, from line `from_line` on: its 1-based line and column. The
    /// key must open a line, a list item or a flow mapping entry.
    pub fn key_position(&self, from_line: usize, key: &str) -> Option<(usize, usize)> {
        let wanted = format!("{key}:");
        let start = from_line.saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate().skip(start) {
            for (at, _) in line.match_indices(&wanted) {
                let before = line[..at].trim_end();
                if before.is_empty() || before.ends_with(['-', '{', ',']) {
                    return Some((i + 1, line[..at].chars().count() + 1));
                }
            }
        }
        None
    }

    /// Moves to the next line that is `key:` (a section such as `tasks:`).
    pub fn seek_key(&mut self, from_line: usize, key: &str) {
        let start = from_line.saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate().skip(start) {
            let t = line.trim_start().trim_start_matches("- ");
            if t.starts_with(&format!("{key}:")) {
                self.cursor = i + 1;
                return;
            }
        }
        self.cursor = start;
    }
}

/// Reads a playbook and everything it pulls in: `import_playbook`, roles, `import_tasks`.
pub fn load_playbook(path: &Path, roles_path: &[PathBuf]) -> Result<Playbook> {
    let mut plays = Vec::new();
    load_plays(path, roles_path, &mut plays, 0)?;
    Ok(Playbook {
        path: path.to_path_buf(),
        plays,
    })
}

fn load_plays(path: &Path, roles_path: &[PathBuf], out: &mut Vec<Play>, depth: u32) -> Result<()> {
    if depth > 16 {
        bail!("{}: import_playbook nested too deeply", path.display());
    }
    let doc = read_yaml_file(path)?;
    let Yaml::Sequence(items) = doc else {
        bail!("{}: a playbook must be a list of plays", path.display());
    };
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut locator = Locator::for_file(path);
    for item in items {
        let Yaml::Mapping(map) = item else {
            bail!("{}: each play must be a mapping", path.display());
        };
        if let Some(target) = map.get("import_playbook").and_then(Yaml::as_str) {
            let line = locator.next_item("import_playbook");
            let imported = dir.join(target);
            if !imported.is_file() {
                let at = Origin {
                    file: path.to_path_buf(),
                    line,
                };
                bail!(
                    "{at}: import_playbook: the playbook {} could not be found",
                    imported.display()
                );
            }
            load_plays(&imported, roles_path, out, depth + 1)?;
            continue;
        }
        let first_key = map.keys().next().and_then(Yaml::as_str).unwrap_or("hosts");
        let line = locator.next_item(first_key);
        let origin = Origin {
            file: path.to_path_buf(),
            line,
        };
        out.push(parse_play(map, origin, &dir, roles_path)?);
    }
    Ok(())
}

const PLAY_KEYS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "become",
    "become_user",
    "become_method",
    "gather_facts",
    "tasks",
    "pre_tasks",
    "post_tasks",
    "handlers",
    "roles",
    "remote_user",
    "connection",
    "tags",
    "any_errors_fatal",
    "ignore_unreachable",
    "serial",
    "strategy",
    "environment",
    "no_log",
    "check_mode",
    "diff",
    "collections",
    "module_defaults",
    "ignore_errors",
    "max_fail_percentage",
    "order",
    "throttle",
    "vars_prompt",
    "force_handlers",
    "gather_subset",
];

fn parse_play(map: Mapping, origin: Origin, dir: &Path, roles_path: &[PathBuf]) -> Result<Play> {
    let at = |what: &str| format!("{origin}: {what}");
    for key in map.keys() {
        let key = key.as_str().unwrap_or("");
        if !PLAY_KEYS.contains(&key) {
            let hint = crate::suggest::did_you_mean(key, PLAY_KEYS)
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            bail!("{}", at(&format!("unknown play keyword '{key}'{hint}")));
        }
    }
    let hosts = match map.get("hosts") {
        Some(Yaml::String(s)) => s.clone(),
        Some(Yaml::Sequence(list)) => list
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
            .join(":"),
        _ => bail!("{}", at("a play needs 'hosts'")),
    };
    let name = str_of(&map, "name").unwrap_or_else(|| hosts.clone());
    let vars = vars_of(&map, "vars").map_err(|e| anyhow!("{}", at(&e.to_string())))?;
    let vars_files = list_of_str(&map, "vars_files");
    let flag = |key: &str| {
        map.get(key)
            .map(|v| as_bool(&yaml_scalar(v)).unwrap_or(false))
    };

    let mut parser = TaskParser::new(origin.file.clone(), dir.to_path_buf(), roles_path.to_vec());
    parser.locator.seek_key(origin.line, "hosts");
    let section = |key: &str, parser: &mut TaskParser| -> Result<Vec<_>> {
        match map.get(key) {
            None | Some(Yaml::Null) => Ok(Vec::new()),
            Some(Yaml::Sequence(list)) => {
                parser.locator.seek_key(origin.line, key);
                parse_tasks(list, parser, None)
            }
            Some(_) => bail!("{}", at(&format!("'{key}' must be a list of tasks"))),
        }
    };

    let pre = section("pre_tasks", &mut parser)?;
    let main = section("tasks", &mut parser)?;
    let post = section("post_tasks", &mut parser)?;
    let mut handlers = section("handlers", &mut parser)?;

    // Roles run after pre_tasks and before tasks; their handlers join the play's.
    let mut role_tasks = Vec::new();
    let mut roles: Vec<Arc<Role>> = Vec::new();
    if let Some(Yaml::Sequence(list)) = map.get("roles") {
        for entry in list {
            let loaded = load_role(entry, dir, roles_path, &origin)?;
            for role in loaded {
                let (tasks, role_handlers) = parser.role_tasks(&role)?;
                role_tasks.extend(tasks);
                handlers.extend(role_handlers);
                roles.push(role);
            }
        }
    }

    handlers.append(&mut parser.handlers);

    let mut tasks = pre;
    tasks.extend(role_tasks);
    tasks.extend(main);
    tasks.extend(post);
    let number = |key: &str| -> Result<Option<f64>> {
        match map.get(key) {
            None | Some(Yaml::Null) => Ok(None),
            Some(v) => crate::vars::as_text(&yaml_scalar(v))
                .trim_end_matches('%')
                .parse()
                .map(Some)
                .map_err(|_| anyhow!("{}", at(&format!("'{key}' must be a number")))),
        }
    };
    let serial = match map.get("serial") {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::Sequence(list)) => list.iter().map(yaml_scalar).collect(),
        Some(v) => vec![yaml_scalar(v)],
    };
    for size in &serial {
        if serial_size(size, 100).is_none() {
            bail!(
                "{}",
                at(&format!(
                    "serial: '{}' is not a number or a percentage",
                    crate::vars::as_text(size)
                ))
            );
        }
    }
    let max_fail_percentage = number("max_fail_percentage")?;
    let throttle = number("throttle")?.unwrap_or(0.0) as usize;
    let vars_prompt = prompts(&map).map_err(|e| anyhow!("{}", at(&e.to_string())))?;
    let environment =
        vars_of(&map, "environment").map_err(|e| anyhow!("{}", at(&e.to_string())))?;
    let strategy = str_of(&map, "strategy").unwrap_or_else(|| "linear".into());
    let strategy = strategy.trim_start_matches("ansible.builtin.").to_string();
    if !matches!(strategy.as_str(), "linear" | "free") {
        bail!(
            "{}",
            at(&format!(
                "strategy '{strategy}' is not supported yet (only 'linear' and 'free')"
            ))
        );
    }
    check_notify(&tasks, &handlers)?;
    Ok(Play {
        name,
        hosts,
        origin,
        vars,
        vars_files,
        escalate: flag("become"),
        become_user: str_of(&map, "become_user"),
        gather_facts: flag("gather_facts"),
        gather_subset: list_of_str(&map, "gather_subset"),
        remote_user: str_of(&map, "remote_user"),
        connection: str_of(&map, "connection"),
        tags: list_of_str(&map, "tags"),
        any_errors_fatal: flag("any_errors_fatal").unwrap_or(false),
        ignore_unreachable: flag("ignore_unreachable").unwrap_or(false),
        serial,
        strategy,
        max_fail_percentage,
        throttle,
        force_handlers: flag("force_handlers").unwrap_or(false),
        vars_prompt,
        environment,
        tasks,
        handlers,
        roles,
    })
}

/// A batch size of `serial` for a play of `total` hosts: a number, or a percentage of the
/// hosts (rounded down, at least one). `None` when it is neither.
pub fn serial_size(size: &crate::vars::Value, total: usize) -> Option<usize> {
    let text = crate::vars::as_text(size);
    let text = text.trim();
    let n = match text.strip_suffix('%') {
        Some(pct) => {
            let pct: f64 = pct.trim().parse().ok()?;
            (total as f64 * pct / 100.0).floor() as usize
        }
        None => text.parse::<usize>().ok()?,
    };
    Some(n.max(1))
}

/// `vars_prompt`: a list of `{name, prompt, default, private}`.
fn prompts(map: &Mapping) -> Result<Vec<Prompt>> {
    let Some(Yaml::Sequence(list)) = map.get("vars_prompt") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in list {
        let Yaml::Mapping(m) = entry else {
            bail!("each vars_prompt entry must be a mapping");
        };
        let name = str_of(m, "name").ok_or_else(|| anyhow!("a vars_prompt entry needs 'name'"))?;
        for key in m.keys().filter_map(Yaml::as_str) {
            if !["name", "prompt", "default", "private"].contains(&key) {
                bail!("vars_prompt '{name}': '{key}' is not supported");
            }
        }
        out.push(Prompt {
            prompt: str_of(m, "prompt").unwrap_or_else(|| name.clone()),
            default: m.get("default").map(yaml_scalar),
            private: m
                .get("private")
                .map(|v| as_bool(&yaml_scalar(v)).unwrap_or(true))
                .unwrap_or(true),
            name,
        });
    }
    Ok(out)
}

/// Every `notify` must name a handler of the play (by name or `listen`), as Ansible
/// requires; a templated name is checked when it is rendered.
fn check_notify(tasks: &[super::Task], handlers: &[super::Task]) -> Result<()> {
    // Handlers an include brings in are known only when it runs.
    if has_include(tasks) || has_include(handlers) {
        return Ok(());
    }
    let known: Vec<&str> = handlers
        .iter()
        .flat_map(|h| {
            h.name
                .as_deref()
                .into_iter()
                .chain(h.listen.iter().map(String::as_str))
        })
        .collect();
    for task in tasks.iter().chain(handlers) {
        if let super::Action::Block {
            block,
            rescue,
            always,
        } = &task.action
        {
            for list in [block, rescue, always] {
                check_notify(list, handlers)?;
            }
        }
        for name in &task.notify {
            if name.contains("{{") || known.contains(&name.as_str()) {
                continue;
            }
            let hint = crate::suggest::did_you_mean(name, &known)
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            bail!(
                "{}: notify names the handler '{name}', which the play does not have{hint}",
                task.origin
            );
        }
    }
    Ok(())
}

fn has_include(tasks: &[super::Task]) -> bool {
    tasks.iter().any(|t| match &t.action {
        super::Action::Include { .. } => true,
        super::Action::Block {
            block,
            rescue,
            always,
        } => has_include(block) || has_include(rescue) || has_include(always),
        _ => false,
    })
}

pub(super) fn yaml_scalar(v: &Yaml) -> crate::vars::Value {
    from_yaml(v.clone()).unwrap_or_default()
}

pub(super) fn str_of(map: &Mapping, key: &str) -> Option<String> {
    match map.get(key)? {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Null => None,
        other => Some(crate::vars::as_text(&yaml_scalar(other))),
    }
}

/// A key whose value is one string or a list of strings.
pub(super) fn list_of_str(map: &Mapping, key: &str) -> Vec<String> {
    match map.get(key) {
        Some(Yaml::Sequence(list)) => list
            .iter()
            .map(|v| crate::vars::as_text(&yaml_scalar(v)))
            .collect(),
        Some(Yaml::String(s)) => s.split(',').map(|t| t.trim().to_string()).collect(),
        Some(Yaml::Null) | None => Vec::new(),
        Some(other) => vec![crate::vars::as_text(&yaml_scalar(other))],
    }
}

pub(super) fn vars_of(map: &Mapping, key: &str) -> Result<Vars> {
    match map.get(key) {
        None | Some(Yaml::Null) => Ok(Vars::new()),
        Some(v @ Yaml::Mapping(_)) => match from_yaml(v.clone())? {
            crate::vars::Value::Object(m) => Ok(m),
            _ => unreachable!("a YAML mapping converts to an object"),
        },
        Some(_) => bail!("'{key}' must be a mapping"),
    }
}

/// Reads a YAML file that must hold a mapping of variables (`vars_files`, role defaults).
pub fn read_vars_file(path: &Path) -> Result<Vars> {
    match read_yaml_file(path)? {
        Yaml::Null => Ok(Vars::new()),
        v @ Yaml::Mapping(_) => match from_yaml(v)? {
            crate::vars::Value::Object(m) => Ok(m),
            _ => unreachable!("a YAML mapping converts to an object"),
        },
        _ => bail!("{}: a variables file must hold a mapping", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_error_points_at_line_and_column() {
        let text = "- hosts: all\n  tasks:\n    - name: x\n      debug: msg=a\n     bad: [\n";
        let err = parse_yaml(Path::new("pb.yml"), text)
            .unwrap_err()
            .to_string();
        let first = err.lines().next().unwrap();
        assert!(first.starts_with("pb.yml:5:"), "{err}");
        assert!(err.lines().nth(2).unwrap().ends_with('^'), "{err}");
    }

    #[test]
    fn locator_finds_items_in_order() {
        let text = "- hosts: a\n  tasks:\n    - name: one\n      ping:\n    - ping:\n- hosts: b\n";
        let mut loc = Locator::new(text);
        assert_eq!(loc.next_item("hosts"), 1);
        assert_eq!(loc.next_item("name"), 3);
        assert_eq!(loc.next_item("ping"), 5);
        assert_eq!(loc.next_item("hosts"), 6);
        assert_eq!(loc.next_item("hosts"), 0);
    }
}
