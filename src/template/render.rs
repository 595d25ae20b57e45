//! The rendering core shared by `Templar` and the lazy variable objects: detecting template
//! text, compiling through the environment's cache, rendering text, evaluating an expression
//! to its native value, and rendering whole JSON values.

use minijinja::value::Value as MjValue;
use minijinja::{Environment, Error};
use serde_json::Value as Json;

use super::convert::to_mj;

/// Prefix of every template name handed to the environment. The loader compiles the rest of
/// the name as the template's source, so the environment's template cache is keyed by text.
pub const SOURCE_PREFIX: &str = "\u{0}mestral-source\u{0}";

/// Name of the template-local variable an expression's value is captured in.
const RESULT_VAR: &str = "__mestral_result";

/// Whether `s` holds any Jinja syntax at all; strings without it are never compiled.
pub fn has_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// The inner expression when `s` is exactly one `{{ expression }}` (whitespace around it
/// allowed), whose native value the whole string then stands for.
pub fn single_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") || inner.contains("{#")
    {
        return None;
    }
    Some(inner.trim())
}

/// Renders template text to a string in the context `root`, with Ansible's trailing
/// newlines: Jinja drops the source's last newline, then the result is padded back up to as
/// many trailing newlines as the source had (never more), so `"{{ x }}\n"` with `x = "a\n"`
/// gives `"a\n"`, not `"a\n\n"`.
pub fn render_text(
    env: &Environment<'static>,
    source: &str,
    root: &MjValue,
) -> Result<String, Error> {
    let name = format!("{SOURCE_PREFIX}{source}");
    let mut out = env.get_template(&name)?.render(root)?;
    let trailing = |t: &str| t.len() - t.trim_end_matches('\n').len();
    let missing = trailing(source).saturating_sub(trailing(&out));
    out.push_str(&"\n".repeat(missing));
    Ok(out)
}

/// The template text that evaluates `expr` once, keeps the value, and prints it only when
/// it is undefined, which the formatter turns into an error naming the expression.
pub fn expression_source(expr: &str) -> String {
    format!(
        "{{% set {RESULT_VAR} = ({expr}) %}}{{% if {RESULT_VAR} is undefined %}}\
         {{{{ {RESULT_VAR} }}}}{{% endif %}}"
    )
}

/// Evaluates a bare expression to its native value in the context `root`.
pub fn eval_expr(env: &Environment<'static>, expr: &str, root: &MjValue) -> Result<MjValue, Error> {
    let name = format!("{SOURCE_PREFIX}{}", expression_source(expr));
    let captured = env.get_template(&name)?.render_captured(root)?;
    Ok(captured.state().lookup(RESULT_VAR).unwrap_or_default())
}

/// Renders one string value: a single expression gives its native value, other template
/// text gives a string, and plain text is returned without touching the engine.
pub fn render_string(
    env: &Environment<'static>,
    s: &str,
    root: &MjValue,
) -> Result<MjValue, Error> {
    if !has_template(s) {
        return Ok(MjValue::from(s));
    }
    match single_expression(s) {
        Some(expr) => eval_expr(env, expr, root),
        None => render_text(env, s, root).map(MjValue::from),
    }
}

/// Renders every string inside a JSON value (map keys as text) into a minijinja value.
pub fn render_json(
    env: &Environment<'static>,
    value: &Json,
    root: &MjValue,
) -> Result<MjValue, Error> {
    if !json_has_template(value) {
        return Ok(to_mj(value));
    }
    Ok(match value {
        Json::String(s) => render_string(env, s, root)?,
        Json::Array(items) => MjValue::from(
            items
                .iter()
                .map(|v| render_json(env, v, root))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Json::Object(map) => {
            let mut pairs = Vec::with_capacity(map.len());
            for (key, item) in map {
                let key = if has_template(key) {
                    render_text(env, key, root)?
                } else {
                    key.clone()
                };
                pairs.push((MjValue::from(key), render_json(env, item, root)?));
            }
            MjValue::from_pairs(pairs)
        }
        other => to_mj(other),
    })
}

/// Whether any string inside `value`, or any map key, holds Jinja syntax.
pub fn json_has_template(value: &Json) -> bool {
    match value {
        Json::String(s) => has_template(s),
        Json::Array(items) => items.iter().any(json_has_template),
        Json::Object(map) => map
            .iter()
            .any(|(k, v)| has_template(k) || json_has_template(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_template_text() {
        let cases = [
            ("plain text", false),
            ("a {{ b }}", true),
            ("{% if x %}y{% endif %}", true),
            ("{# note #}", true),
            ("braces { } alone", false),
        ];
        for (text, want) in cases {
            assert_eq!(has_template(text), want, "{text}");
        }
    }

    #[test]
    fn finds_single_expressions() {
        let cases = [
            ("{{ x }}", Some("x")),
            ("  {{ groups['all'] }} ", Some("groups['all']")),
            ("{{- x -}}", Some("x")),
            ("{{ a }}:{{ b }}", None),
            ("x {{ a }}", None),
            ("{{ a }}{% if b %}c{% endif %}", None),
        ];
        for (text, want) in cases {
            assert_eq!(single_expression(text), want, "{text}");
        }
    }
}
