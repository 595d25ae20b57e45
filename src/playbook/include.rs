//! Dynamic includes: the task files of `include_tasks` and the roles of `include_role`,
//! read while the play runs, once the file or role name has been rendered for a host.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use serde_yaml::{Mapping, Value as Yaml};

use super::load::read_yaml_file;
use super::roles::load_role;
use super::task::{parse_tasks, task_file_path, TaskParser};
use super::{Origin, Role, Task};
use crate::vars::{Value, Vars};

/// The tasks of `file`, named by a task at `from` (a role's task when `role` is set), with
/// the handlers of the roles they import.
pub fn load_task_file(
    file: &str,
    from: &Origin,
    role: Option<&Arc<Role>>,
    play_dir: &Path,
    roles_path: &[PathBuf],
) -> Result<(PathBuf, Vec<Task>, Vec<Task>)> {
    let path = task_file_path(file, &from.file, role);
    let mut parser = TaskParser::new(path.clone(), play_dir.to_path_buf(), roles_path.to_vec());
    let tasks = match read_yaml_file(&path)? {
        Yaml::Sequence(list) => parse_tasks(&list, &mut parser, role)?,
        Yaml::Null => Vec::new(),
        _ => bail!("{}: a task file must hold a list of tasks", path.display()),
    };
    Ok((path, tasks, std::mem::take(&mut parser.handlers)))
}

/// An `include_role` whose arguments were rendered: the role (after its dependencies), the
/// tasks of all of them in order, and their handlers.
pub fn load_included_role(
    args: &Vars,
    from: &Origin,
    play_dir: &Path,
    roles_path: &[PathBuf],
) -> Result<(Vec<Task>, Vec<Task>)> {
    let mut entry = Mapping::new();
    for (k, v) in args {
        let yaml = match v {
            Value::String(s) => Yaml::String(s.clone()),
            other => serde_yaml::to_value(other)?,
        };
        entry.insert(Yaml::String(k.clone()), yaml);
    }
    if !args.contains_key("name") {
        bail!("{from}: include_role needs 'name'");
    }
    let roles = load_role(&Yaml::Mapping(entry), play_dir, roles_path, from)?;
    let mut parser = TaskParser::new(
        from.file.clone(),
        play_dir.to_path_buf(),
        roles_path.to_vec(),
    );
    let mut tasks = Vec::new();
    let mut handlers = Vec::new();
    for role in roles {
        let (t, h) = parser.role_tasks(&role)?;
        tasks.extend(t);
        handlers.extend(h);
    }
    handlers.append(&mut parser.handlers);
    Ok((tasks, handlers))
}
