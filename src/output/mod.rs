//! The reporter: PLAY and TASK headers, a line per host result, diffs and the PLAY RECAP,
//! in ansible-playbook's layout so that people and their scripts read it the same way.

use std::io::Write;

use console::{style, Style};
use serde_json::Value;

use crate::modules::FileDiff;

/// The counts shown for one host in the recap.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

/// How one host's task (or loop item) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    Changed,
    Skipped,
    Failed,
    Unreachable,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Skipped => "skipping",
            Status::Failed => "failed",
            Status::Unreachable => "unreachable",
        }
    }

    fn style(self) -> Style {
        match self {
            Status::Ok => Style::new().green(),
            Status::Changed => Style::new().yellow(),
            Status::Skipped => Style::new().cyan(),
            Status::Failed | Status::Unreachable => Style::new().red(),
        }
    }
}

/// Writes the report to stdout.
pub struct Reporter {
    pub verbosity: u8,
    pub color: bool,
}

impl Reporter {
    pub fn new(verbosity: u8, color: bool) -> Self {
        console::set_colors_enabled(color);
        Reporter { verbosity, color }
    }

    fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (a pipe into `head`) is not worth failing the run over.
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }

    /// `PLAY [name] ****...` padded with stars to Ansible's 80 columns.
    pub fn banner(&self, text: &str) {
        self.out(&format!("\n{}\n", banner_line(text)));
    }

    pub fn play(&self, name: &str) {
        self.banner(&format!("PLAY [{name}]"));
    }

    pub fn task(&self, name: &str) {
        self.banner(&format!("TASK [{name}]"));
    }

    pub fn handler(&self, name: &str) {
        self.banner(&format!("RUNNING HANDLER [{name}]"));
    }

    /// One host's result line, for example `changed: [calxitu2 -> calxitu] => (item=x)`.
    /// `detail` is the JSON shown after `=>` for failures, debug and `-v`.
    pub fn result(
        &self,
        status: Status,
        host: &str,
        delegated: Option<&str>,
        item: Option<&str>,
        detail: Option<&Value>,
    ) {
        let target = match delegated {
            Some(d) if d != host => format!("[{host} -> {d}]"),
            _ => format!("[{host}]"),
        };
        let mut line = match status {
            Status::Failed if item.is_none() => format!("fatal: {target}: FAILED!"),
            Status::Unreachable => format!("fatal: {target}: UNREACHABLE!"),
            _ => format!("{}: {target}", status.word()),
        };
        match (item, status) {
            // Ansible: `failed: [h] (item=x) => {...}` but `ok: [h] => (item=x)`.
            (Some(item), Status::Failed) => line.push_str(&format!(" (item={item})")),
            (Some(item), _) => line.push_str(&format!(" => (item={item})")),
            (None, _) => {}
        }
        if let Some(detail) = detail {
            let json = if matches!(status, Status::Failed | Status::Unreachable) {
                one_line(detail)
            } else {
                pretty(detail)
            };
            line.push_str(&format!(" => {json}"));
        }
        self.out(&format!("{}\n", status.style().apply_to(line)));
    }

    pub fn ignoring(&self) {
        self.out(&format!("{}\n", style("...ignoring").cyan()));
    }

    /// A unified diff of one file, three lines of context, as `--diff` shows it.
    pub fn diff(&self, diff: &FileDiff) {
        let text = similar::TextDiff::from_lines(&diff.before, &diff.after);
        let mut body = String::new();
        let before = format!("before: {}", diff.path);
        let after = format!("after: {}", diff.path);
        for line in text
            .unified_diff()
            .context_radius(3)
            .header(&before, &after)
            .to_string()
            .lines()
        {
            let styled = if line.starts_with('+') && !line.starts_with("+++") {
                style(line).green().to_string()
            } else if line.starts_with('-') && !line.starts_with("---") {
                style(line).red().to_string()
            } else if line.starts_with("@@") {
                style(line).cyan().to_string()
            } else {
                line.to_string()
            };
            body.push_str(&styled);
            body.push('\n');
        }
        self.out(&body);
    }

    pub fn warning(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{}", style(format!("[WARNING]: {text}")).magenta());
    }

    /// The PLAY RECAP block, one line per host in the order given.
    pub fn recap(&self, hosts: &[(String, Stats)]) {
        let mut text = format!("\n{}\n", banner_line("PLAY RECAP"));
        for (host, s) in hosts {
            let host_style = if s.failed > 0 || s.unreachable > 0 {
                Style::new().red()
            } else if s.changed > 0 {
                Style::new().yellow()
            } else {
                Style::new().green()
            };
            let field = |name: &str, n: u32, st: Style| {
                let cell = format!("{name}={n:<4}");
                if n > 0 {
                    st.apply_to(cell).to_string()
                } else {
                    cell
                }
            };
            text.push_str(&format!(
                "{} : {} {} {} {} {} {} {}\n",
                host_style.apply_to(format!("{host:<26}")),
                field("ok", s.ok, Style::new().green()),
                field("changed", s.changed, Style::new().yellow()),
                field("unreachable", s.unreachable, Style::new().red()),
                field("failed", s.failed, Style::new().red()),
                field("skipped", s.skipped, Style::new().cyan()),
                field("rescued", s.rescued, Style::new().magenta()),
                field("ignored", s.ignored, Style::new().magenta()),
            ));
        }
        text.push('\n');
        self.out(&text);
    }

    pub fn plain(&self, text: &str) {
        self.out(text);
    }
}

/// Ansible's banner: the text, a space, and stars up to column 80 (at least three).
pub fn banner_line(text: &str) -> String {
    let stars = 79usize.saturating_sub(text.chars().count()).max(3);
    format!("{text} {}", "*".repeat(stars))
}

/// JSON on one line as Python's `json.dumps` writes it (`{"a": 1, "b": [2, 3]}`), which is
/// how Ansible prints failures.
pub fn one_line(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), one_line(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(list) => {
            let items: Vec<String> = list.iter().map(one_line).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// JSON as Ansible's default callback prints results: indented by four spaces.
pub fn pretty(value: &Value) -> String {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    // Serializing a Value into memory cannot fail.
    serde::Serialize::serialize(value, &mut ser).expect("JSON value serializes");
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_is_eighty_columns() {
        let line = banner_line("TASK [Gathering Facts]");
        assert_eq!(
            line,
            "TASK [Gathering Facts] *********************************************************"
        );
        assert_eq!(line.len(), 80);
        assert!(banner_line(&"x".repeat(100)).ends_with(" ***"));
    }

    #[test]
    fn one_line_spaces_like_python() {
        let v = serde_json::json!({"changed": false, "msg": "a \"b\"", "rc": [1, 2]});
        assert_eq!(
            one_line(&v),
            r#"{"changed": false, "msg": "a \"b\"", "rc": [1, 2]}"#
        );
    }

    #[test]
    fn pretty_indents_four() {
        let v = serde_json::json!({"msg": "hi"});
        assert_eq!(pretty(&v), "{\n    \"msg\": \"hi\"\n}");
    }
}
