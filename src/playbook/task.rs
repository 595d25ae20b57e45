//! Tasks: a YAML mapping of keywords plus exactly one module, in dict or `k=v` form, and the
//! static expansion of `import_tasks` and blocks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use serde_yaml::{Mapping, Value as Yaml};

use super::load::{list_of_str, read_yaml_file, str_of, vars_of, yaml_scalar, Locator};
use super::roles::{load_role, role_file};
use super::{Action, IncludeKind, Origin, Role, Task};
use crate::modules;
use crate::vars::{as_bool, as_text, from_yaml, Value, Vars};

const TASK_KEYS: &[&str] = &[
    "name",
    "register",
    "when",
    "loop",
    "with_items",
    "with_list",
    "with_dict",
    "with_fileglob",
    "loop_control",
    "notify",
    "changed_when",
    "failed_when",
    "ignore_errors",
    "become",
    "become_user",
    "become_method",
    "tags",
    "run_once",
    "delegate_to",
    "delegate_facts",
    "vars",
    "no_log",
    "check_mode",
    "diff",
    "until",
    "retries",
    "delay",
    "listen",
    "args",
    "environment",
    "block",
    "rescue",
    "always",
    "any_errors_fatal",
    "throttle",
    "timeout",
    "collections",
    "ignore_unreachable",
    "action",
    "local_action",
];

/// Parses task lists of one file, tracking lines, and the files they import.
pub(super) struct TaskParser {
    pub file: PathBuf,
    pub locator: Locator,
    play_dir: PathBuf,
    roles_path: Vec<PathBuf>,
    depth: u32,
    /// Handlers of roles brought in by `import_role`, for the play.
    pub handlers: Vec<Task>,
}

impl TaskParser {
    pub fn new(file: PathBuf, play_dir: PathBuf, roles_path: Vec<PathBuf>) -> Self {
        let locator = Locator::for_file(&file);
        TaskParser {
            file,
            locator,
            play_dir,
            roles_path,
            depth: 0,
            handlers: Vec::new(),
        }
    }

    /// Tasks and handlers of a role, each remembering the role.
    pub fn role_tasks(&mut self, role: &Arc<Role>) -> Result<(Vec<Task>, Vec<Task>)> {
        let mut load = |sub: &str, chosen: Option<&str>| -> Result<Vec<Task>> {
            let Some(path) = role_file(&role.path.join(sub), chosen) else {
                if let Some(name) = chosen {
                    bail!("role '{}' has no {sub} file '{name}'", role.name);
                }
                return Ok(Vec::new());
            };
            let mut parser = self.child(path.clone());
            let tasks = match read_yaml_file(&path)? {
                Yaml::Null => Vec::new(),
                Yaml::Sequence(list) => parse_tasks(&list, &mut parser, Some(role))?,
                _ => bail!("{}: a task file must hold a list of tasks", path.display()),
            };
            self.handlers.append(&mut parser.handlers);
            Ok(tasks)
        };
        let tasks = load("tasks", role.tasks_from.as_deref())?;
        let handlers = load("handlers", role.handlers_from.as_deref())?;
        Ok((tasks, handlers))
    }

    /// A parser for another file, one level deeper.
    fn child(&self, file: PathBuf) -> TaskParser {
        let mut parser = TaskParser::new(file, self.play_dir.clone(), self.roles_path.clone());
        parser.depth = self.depth + 1;
        parser
    }
}

/// `main.yml`, `main.yaml` or `main` in a role's sub-folder.
pub(super) fn main_file(dir: &std::path::Path) -> Option<PathBuf> {
    ["main.yml", "main.yaml", "main"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

pub(super) fn parse_tasks(
    list: &[Yaml],
    parser: &mut TaskParser,
    role: Option<&Arc<Role>>,
) -> Result<Vec<Task>> {
    let mut out = Vec::new();
    for item in list {
        let Yaml::Mapping(map) = item else {
            bail!(
                "{}: each task must be a mapping, found {:?}",
                parser.file.display(),
                item
            );
        };
        let first = map.keys().next().and_then(Yaml::as_str).unwrap_or("name");
        let line = parser.locator.next_item(first);
        let origin = Origin {
            file: parser.file.clone(),
            line,
        };
        out.extend(parse_task(map, origin, parser, role)?);
    }
    Ok(out)
}

/// The task keyword a key that names no module is most likely a typo of (`whenn`).
fn misspelt_keyword(key: &str) -> Option<String> {
    let short = modules::short_name(key);
    let module = modules::KNOWN.contains(&short)
        || matches!(
            short,
            "import_tasks" | "import_role" | "include_tasks" | "include_role"
        );
    if module {
        return None;
    }
    crate::suggest::did_you_mean(key, TASK_KEYS)
}

/// One task mapping; `import_tasks` gives the imported tasks instead.
fn parse_task(
    map: &Mapping,
    origin: Origin,
    parser: &mut TaskParser,
    role: Option<&Arc<Role>>,
) -> Result<Vec<Task>> {
    let at = |msg: String| anyhow!("{origin}: {msg}");

    // Find the module: the one key that is not a task keyword.
    let mut module: Option<(String, Yaml)> = None;
    for (k, v) in map {
        let key = k
            .as_str()
            .ok_or_else(|| at("task keys must be strings".into()))?;
        if TASK_KEYS.contains(&key) {
            continue;
        }
        if let Some(keyword) = misspelt_keyword(key) {
            let place = match parser.locator.key_position(origin.line.max(1), key) {
                Some((line, col)) => format!("{}:{line}:{col}", origin.file.display()),
                None => origin.to_string(),
            };
            bail!("{place}: unknown task keyword '{key}'; did you mean '{keyword}'?");
        }
        if let Some((first, _)) = &module {
            bail!("{origin}: task has two modules, '{first}' and '{key}'");
        }
        module = Some((key.to_string(), v.clone()));
    }
    if let Some(Yaml::String(action)) = map.get("action").or_else(|| map.get("local_action")) {
        let (name, rest) = action
            .split_once(char::is_whitespace)
            .unwrap_or((action, ""));
        module = Some((name.to_string(), Yaml::String(rest.trim().to_string())));
    }

    let mut task = base_task(map, origin.clone(), role).map_err(|e| at(e.to_string()))?;
    if map.contains_key("local_action") {
        task.delegate_to = Some("localhost".into());
    }

    if let Some(Yaml::Sequence(block)) = map.get("block") {
        if module.is_some() {
            bail!("{origin}: a block cannot also call a module");
        }
        let sub = |key: &str, parser: &mut TaskParser| -> Result<Vec<Task>> {
            match map.get(key) {
                Some(Yaml::Sequence(list)) => parse_tasks(list, parser, role),
                _ => Ok(Vec::new()),
            }
        };
        let block = parse_tasks(block, parser, role)?;
        let rescue = sub("rescue", parser)?;
        let always = sub("always", parser)?;
        task.action = Action::Block {
            block,
            rescue,
            always,
        };
        return Ok(vec![task]);
    }

    let Some((name, raw_args)) = module else {
        bail!(
            "{origin}: task has no module (expected one of {})",
            "command, copy, ..."
        );
    };
    let short = modules::short_name(&name).to_string();
    match short.as_str() {
        "import_tasks" => return import_tasks(&raw_args, &task, parser, role),
        "import_role" => return import_role(&raw_args, &task, parser),
        "include_tasks" | "include_role" => {
            let kind = if short == "include_tasks" {
                IncludeKind::Tasks
            } else {
                IncludeKind::Role
            };
            let apply = match &raw_args {
                Yaml::Mapping(m) => apply_keywords(m, &short, &origin, role)?,
                _ => None,
            };
            let mut args = match &raw_args {
                Yaml::String(s) if kind == IncludeKind::Tasks && !s.contains('=') => {
                    serde_json::json!({ "file": s })
                }
                other => module_args(&short, other).map_err(|e| at(e.to_string()))?,
            };
            if let Some(map) = args.as_object_mut() {
                map.remove("apply");
            }
            if kind == IncludeKind::Tasks {
                if let Some(key) = args.as_object().and_then(|m| {
                    m.keys()
                        .find(|k| !["file", "_raw_params"].contains(&k.as_str()))
                }) {
                    bail!("{origin}: include_tasks option '{key}' is not supported yet");
                }
            }
            task.action = Action::Include { kind, args, apply };
            return Ok(vec![task]);
        }
        _ => {}
    }
    if !modules::KNOWN.contains(&short.as_str()) {
        let hint = crate::suggest::did_you_mean(&short, modules::KNOWN)
            .map(|s| format!("; did you mean '{s}'?"))
            .unwrap_or_default();
        bail!("{origin}: unknown module '{name}'{hint}");
    }
    let mut args = module_args(&short, &raw_args).map_err(|e| at(e.to_string()))?;
    // `args:` adds to (and does not override) what the module line gave.
    if let Some(Yaml::Mapping(extra)) = map.get("args") {
        if let (Value::Object(a), Value::Object(e)) =
            (&mut args, from_yaml(Yaml::Mapping(extra.clone()))?)
        {
            for (k, v) in e {
                a.entry(k).or_insert(v);
            }
        }
    }
    super::preflight::file_modes(&short, &mut args, &task.origin)?;
    super::preflight::parameters(&short, &args, &task.origin)?;
    task.action = Action::Module { name: short, args };
    Ok(vec![task])
}

/// The keywords an include's `apply` may give the tasks it brings in: those of a block.
const APPLY_KEYS: &[&str] = &[
    "when",
    "tags",
    "become",
    "become_user",
    "vars",
    "environment",
    "ignore_errors",
    "no_log",
    "check_mode",
    "diff",
    "any_errors_fatal",
    "delegate_to",
    "run_once",
    "throttle",
];

/// An include's `apply:` as a block-like task whose keywords the included tasks inherit.
fn apply_keywords(
    args: &Mapping,
    module: &str,
    origin: &Origin,
    role: Option<&Arc<Role>>,
) -> Result<Option<Box<Task>>> {
    let Some(apply) = args.get("apply") else {
        return Ok(None);
    };
    let Yaml::Mapping(map) = apply else {
        bail!("{origin}: {module}: 'apply' must be a mapping of task keywords");
    };
    for key in map.keys() {
        let key = key.as_str().unwrap_or_default();
        if !APPLY_KEYS.contains(&key) {
            bail!(
                "{origin}: {module}: apply: '{key}' cannot be applied to included tasks \
                 (one of {})",
                APPLY_KEYS.join(", ")
            );
        }
    }
    let parent = base_task(map, origin.clone(), role).map_err(|e| anyhow!("{origin}: {e}"))?;
    Ok(Some(Box::new(parent)))
}

/// Statically inlines another task file; its tasks inherit the importer's conditions, tags
/// and variables.
fn import_tasks(
    raw: &Yaml,
    importer: &Task,
    parser: &mut TaskParser,
    role: Option<&Arc<Role>>,
) -> Result<Vec<Task>> {
    let file = match raw {
        Yaml::String(s) => s.clone(),
        Yaml::Mapping(m) => str_of(m, "file").unwrap_or_default(),
        _ => String::new(),
    };
    if file.contains("{{") {
        bail!(
            "{}: import_tasks needs a literal file name, got '{file}'",
            importer.origin
        );
    }
    if parser.depth > 16 {
        bail!("{}: import_tasks nested too deeply", importer.origin);
    }
    let path = task_file_path(&file, &parser.file, role);
    let mut sub = parser.child(path.clone());
    let list = match read_yaml_file(&path)? {
        Yaml::Sequence(list) => list,
        Yaml::Null => Vec::new(),
        _ => bail!("{}: a task file must hold a list of tasks", path.display()),
    };
    let mut tasks = parse_tasks(&list, &mut sub, role)?;
    parser.handlers.append(&mut sub.handlers);
    for t in &mut tasks {
        inherit(t, importer);
    }
    Ok(tasks)
}

/// Where a task file named in `import_tasks`/`include_tasks` is: beside the file that names
/// it, else in the role's `tasks/`.
pub(super) fn task_file_path(file: &str, from: &Path, role: Option<&Arc<Role>>) -> PathBuf {
    let beside = from
        .parent()
        .map(|p| p.join(file))
        .unwrap_or_else(|| file.into());
    match role {
        Some(r) if !beside.is_file() => r.path.join("tasks").join(file),
        _ => beside,
    }
}

/// `import_role`: the role's tasks inlined here, its handlers added to the play's.
fn import_role(raw: &Yaml, importer: &Task, parser: &mut TaskParser) -> Result<Vec<Task>> {
    let Yaml::Mapping(_) = raw else {
        bail!("{}: import_role needs 'name'", importer.origin);
    };
    let roles = load_role(raw, &parser.play_dir, &parser.roles_path, &importer.origin)?;
    let mut out = Vec::new();
    for role in roles {
        let (mut tasks, mut handlers) = parser
            .role_tasks(&role)
            .map_err(|e| anyhow!("{}: {e:#}", importer.origin))?;
        for t in &mut tasks {
            inherit(t, importer);
        }
        out.append(&mut tasks);
        parser.handlers.append(&mut handlers);
    }
    Ok(out)
}

/// Gives a task what an enclosing import or block sets for all its tasks.
pub fn inherit(task: &mut Task, parent: &Task) {
    let mut when = parent.when.clone();
    when.append(&mut task.when);
    task.when = when;
    for tag in &parent.tags {
        if !task.tags.contains(tag) {
            task.tags.push(tag.clone());
        }
    }
    for (k, v) in &parent.vars {
        task.vars.entry(k.clone()).or_insert_with(|| v.clone());
    }
    task.escalate = task.escalate.or(parent.escalate);
    if task.become_user.is_none() {
        task.become_user = parent.become_user.clone();
    }
    if task.delegate_to.is_none() {
        task.delegate_to = parent.delegate_to.clone();
    }
    task.ignore_errors |= parent.ignore_errors;
    task.run_once |= parent.run_once;
    if task.throttle == 0 {
        task.throttle = parent.throttle;
    }
    task.any_errors_fatal |= parent.any_errors_fatal;
    task.no_log |= parent.no_log;
    task.check_mode = task.check_mode.or(parent.check_mode);
    task.diff = task.diff.or(parent.diff);
    for (k, v) in &parent.environment {
        task.environment
            .entry(k.clone())
            .or_insert_with(|| v.clone());
    }
}

fn base_task(map: &Mapping, origin: Origin, role: Option<&Arc<Role>>) -> Result<Task> {
    let flag = |key: &str| {
        map.get(key)
            .map(|v| as_bool(&yaml_scalar(v)).unwrap_or(false))
    };
    let loop_control = match map.get("loop_control") {
        Some(Yaml::Mapping(m)) => m.clone(),
        _ => Mapping::new(),
    };
    let loop_items = map
        .get("loop")
        .or_else(|| map.get("with_items"))
        .or_else(|| map.get("with_list"))
        .or_else(|| map.get("with_fileglob"))
        .map(yaml_scalar);
    let loop_items = match (loop_items, map.get("with_items")) {
        // with_items flattens one level, as Ansible does.
        (Some(Value::Array(items)), Some(_)) => Some(Value::Array(
            items
                .into_iter()
                .flat_map(|i| match i {
                    Value::Array(inner) => inner,
                    other => vec![other],
                })
                .collect(),
        )),
        (other, _) => other,
    };
    let loop_items = match map.get("with_dict") {
        Some(v) => Some(Value::String(format!(
            "{{{{ ({}) | dict2items }}}}",
            template_expr_of(&yaml_scalar(v))
        ))),
        None => loop_items,
    };
    let conditions = |key: &str| -> Vec<String> {
        match map.get(key) {
            None | Some(Yaml::Null) => Vec::new(),
            Some(Yaml::Sequence(list)) => list.iter().map(|v| as_text(&yaml_scalar(v))).collect(),
            Some(v) => vec![as_text(&yaml_scalar(v))],
        }
    };
    let number = |key: &str, default: u64| -> Result<u64> {
        match map.get(key) {
            None => Ok(default),
            Some(v) => as_text(&yaml_scalar(v))
                .parse()
                .map_err(|_| anyhow!("'{key}' must be a whole number")),
        }
    };
    Ok(Task {
        name: str_of(map, "name"),
        action: Action::Module {
            name: String::new(),
            args: Value::Null,
        },
        origin,
        role: role.cloned(),
        register: str_of(map, "register"),
        when: conditions("when"),
        loop_items,
        loop_var: str_of(&loop_control, "loop_var").unwrap_or_else(|| "item".into()),
        loop_label: str_of(&loop_control, "label"),
        index_var: str_of(&loop_control, "index_var"),
        loop_pause: match loop_control.get("pause") {
            None => 0.0,
            Some(v) => as_text(&yaml_scalar(v))
                .parse()
                .map_err(|_| anyhow!("'loop_control.pause' must be a number of seconds"))?,
        },
        loop_fileglob: map.contains_key("with_fileglob"),
        notify: list_of_str(map, "notify"),
        changed_when: map.get("changed_when").map(condition_value),
        failed_when: map.get("failed_when").map(condition_value),
        ignore_errors: flag("ignore_errors").unwrap_or(false),
        escalate: flag("become"),
        become_user: str_of(map, "become_user"),
        tags: list_of_str(map, "tags"),
        run_once: flag("run_once").unwrap_or(false),
        delegate_to: str_of(map, "delegate_to"),
        delegate_facts: flag("delegate_facts").unwrap_or(false),
        throttle: number("throttle", 0)? as usize,
        timeout: number("timeout", 0)?,
        any_errors_fatal: flag("any_errors_fatal").unwrap_or(false),
        vars: vars_of(map, "vars")?,
        no_log: flag("no_log").unwrap_or(false),
        check_mode: flag("check_mode"),
        diff: flag("diff"),
        until: str_of(map, "until"),
        retries: number("retries", 3)? as u32,
        delay: number("delay", 5)?,
        listen: list_of_str(map, "listen"),
        environment: vars_of(map, "environment")?,
    })
}

/// `changed_when`/`failed_when`: a boolean, an expression, or a list of expressions.
fn condition_value(v: &Yaml) -> Value {
    yaml_scalar(v)
}

/// The expression inside `{{ }}`, or the text itself when it is a bare expression.
fn template_expr_of(v: &Value) -> String {
    let text = as_text(v);
    let t = text.trim();
    match t.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) {
        Some(inner) => inner.trim().to_string(),
        None => t.to_string(),
    }
}

/// Module arguments from the dict form or the `k=v` free form.
pub(super) fn module_args(module: &str, raw: &Yaml) -> Result<Value> {
    match raw {
        Yaml::Null => Ok(Value::Object(Vars::new())),
        Yaml::Mapping(_) => from_yaml(raw.clone()),
        Yaml::String(s) => Ok(Value::Object(split_free_form(module, s)?)),
        other => Ok(Value::Object(split_free_form(
            module,
            &as_text(&yaml_scalar(other)),
        )?)),
    }
}

/// Modules whose free-form text is a command rather than `k=v` pairs.
const FREE_FORM: &[&str] = &["command", "shell", "raw", "meta", "include_vars"];

/// The `k=v` words Ansible takes out of a command line as parameters (ansible-core's
/// splitter): `warn=` among them, which the command module then refuses.
const COMMAND_KEYS: &[&str] = &[
    "chdir",
    "creates",
    "removes",
    "executable",
    "warn",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
];

/// Splits `a=1 b='two words' rest of command` into arguments. For command-like modules the
/// keys Ansible recognises there (`chdir`, `creates`, ...) are taken out and the rest stays
/// together as `_raw_params`.
pub fn split_free_form(module: &str, text: &str) -> Result<Vars> {
    let words = split_words(text)?;
    let mut out = Vars::new();
    let command_like = FREE_FORM.contains(&module);
    // Raw words keep the whitespace written before them (newlines included), as Ansible's
    // free form does: `shell: |` with two lines runs two commands, not one.
    let mut rest = String::new();
    let mut prev_end = 0;
    for (raw, word) in &words {
        let start = raw.as_ptr() as usize - text.as_ptr() as usize;
        let gap = &text[prev_end..start];
        prev_end = start + raw.len();
        match word.split_once('=') {
            Some((k, v))
                if !k.is_empty()
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && (!command_like || COMMAND_KEYS.contains(&k)) =>
            {
                out.insert(k.to_string(), Value::String(v.to_string()));
            }
            _ if command_like => {
                if !rest.is_empty() {
                    rest.push_str(gap);
                }
                rest.push_str(raw);
            }
            _ => bail!("'{word}' is not a key=value argument for module '{module}'"),
        }
    }
    if command_like && !rest.is_empty() {
        out.insert("_raw_params".into(), Value::String(rest));
    }
    Ok(out)
}

/// Splits on unquoted whitespace; each item is (raw text as written, unquoted text).
/// Jinja `{{ }}` spans are kept whole.
fn split_words(text: &str) -> Result<Vec<(&str, String)>> {
    let mut words = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        let mut word = String::new();
        let mut quote: Option<u8> = None;
        let mut jinja = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if jinja == 0 && quote.is_none() && c.is_ascii_whitespace() {
                break;
            }
            if text[i..].starts_with("{{") || text[i..].starts_with("{%") {
                jinja += 1;
                word.push_str(&text[i..i + 2]);
                i += 2;
                continue;
            }
            if jinja > 0 && (text[i..].starts_with("}}") || text[i..].starts_with("%}")) {
                jinja -= 1;
                word.push_str(&text[i..i + 2]);
                i += 2;
                continue;
            }
            match (quote, c) {
                (None, b'\'' | b'"') if jinja == 0 => quote = Some(c),
                (Some(q), _) if c == q => quote = None,
                // Inside double quotes Ansible decodes the usual escapes (`"a\n"`).
                (Some(b'"'), b'\\') if i + 1 < bytes.len() => {
                    let decoded = match bytes[i + 1] {
                        b'n' => Some('\n'),
                        b't' => Some('\t'),
                        b'r' => Some('\r'),
                        b'\\' => Some('\\'),
                        b'"' => Some('"'),
                        _ => None,
                    };
                    match decoded {
                        Some(ch) => {
                            word.push(ch);
                            i += 2;
                        }
                        None => {
                            word.push('\\');
                            i += 1;
                        }
                    }
                    continue;
                }
                _ => {
                    let ch = text[i..].chars().next().unwrap_or(' ');
                    word.push(ch);
                    i += ch.len_utf8();
                    continue;
                }
            }
            i += 1;
        }
        if quote.is_some() {
            bail!("unbalanced quote in '{text}'");
        }
        words.push((&text[start..i], word));
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn free_form_pairs() {
        let cases = [
            (
                "copy",
                "src=a dest='/x y' mode=0644",
                json!({"src": "a", "dest": "/x y", "mode": "0644"}),
            ),
            (
                "command",
                "docker swarm init chdir=/tmp",
                json!({"chdir": "/tmp", "_raw_params": "docker swarm init"}),
            ),
            (
                "shell",
                "echo 'a=b' | cat",
                json!({"_raw_params": "echo 'a=b' | cat"}),
            ),
            (
                "shell",
                "echo a\necho b chdir=/tmp\n  echo c\n",
                json!({"chdir": "/tmp", "_raw_params": "echo a\necho b\n  echo c"}),
            ),
            (
                "debug",
                "msg={{ a ~ ' b' }}",
                json!({"msg": "{{ a ~ ' b' }}"}),
            ),
            (
                "service",
                "name=docker state=started",
                json!({"name": "docker", "state": "started"}),
            ),
        ];
        for (module, text, want) in cases {
            let got = split_free_form(module, text).unwrap();
            assert_eq!(Value::Object(got), want, "{module} {text}");
        }
    }

    #[test]
    fn free_form_refuses_stray_words() {
        let err = split_free_form("copy", "src=a oops")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "'oops' is not a key=value argument for module 'copy'");
    }
}
