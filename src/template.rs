//! Templating in Ansible's dialect of Jinja2, on minijinja: `{{ }}` in any string value,
//! bare expressions for `when`, lazy rendering of variables that hold templates, and the
//! filters playbooks commonly use.
//!
//! OWNER: template helper. The signatures below are the contract the executor and the
//! modules rely on.

use crate::vars::{Scope, Value};

/// A template or expression that could not be rendered: the text, what went wrong, and the
/// undefined variable's name where that was the cause.
#[derive(Debug)]
pub struct TemplateError {
    pub message: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TemplateError {}

/// The template engine, built once per run and shared by every host.
pub struct Templar {}

impl Templar {
    pub fn new() -> Self {
        Templar {}
    }

    /// Renders every string inside `value` (recursively through lists and maps, keys
    /// included). A string that is exactly one `{{ expression }}` yields the expression's
    /// native value (a list stays a list), as Ansible does.
    pub fn render_value(&self, value: &Value, scope: &Scope) -> Result<Value, TemplateError> {
        let _ = scope;
        Ok(value.clone())
    }

    /// Renders a string template to text.
    pub fn render_str(&self, template: &str, scope: &Scope) -> Result<String, TemplateError> {
        let _ = scope;
        Ok(template.to_string())
    }

    /// Evaluates a bare Jinja expression (`when`, `changed_when`, `failed_when`, `until`)
    /// and returns its native value.
    pub fn eval(&self, expr: &str, scope: &Scope) -> Result<Value, TemplateError> {
        let _ = (expr, scope);
        Ok(Value::Null)
    }

    /// Evaluates a condition with Ansible's truthiness.
    pub fn eval_bool(&self, expr: &str, scope: &Scope) -> Result<bool, TemplateError> {
        let _ = (expr, scope);
        Ok(true)
    }

    /// Renders a template file's text for the `template` module with Ansible's settings:
    /// trim_blocks on, lstrip_blocks off, the trailing newline kept. `name` is the file's
    /// path, used in error messages.
    pub fn render_file(
        &self,
        name: &str,
        source: &str,
        scope: &Scope,
    ) -> Result<String, TemplateError> {
        let _ = (name, scope);
        Ok(source.to_string())
    }
}

impl Default for Templar {
    fn default() -> Self {
        Self::new()
    }
}
