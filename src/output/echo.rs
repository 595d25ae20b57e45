//! `-v` streaming: a command's stdout and stderr shown line by line while it runs, each line
//! prefixed with its host (`calxitu | text`, `calxitu stderr | text`). On a terminal the
//! lines go above the live view; otherwise they are plain appended lines.

use std::sync::Mutex;

use console::style;

use super::{lock, Reporter};
use crate::connection::Echo;

/// A line longer than this without a newline is shown in pieces of this size.
const MAX_LINE: usize = 4096;

/// One host's streamed output: what is left of each stream's last, unfinished line.
pub(super) struct HostEcho {
    reporter: Reporter,
    label: String,
    /// Unfinished stdout and stderr lines.
    pending: Mutex<[Vec<u8>; 2]>,
}

impl HostEcho {
    pub(super) fn new(reporter: Reporter, label: &str) -> HostEcho {
        HostEcho {
            reporter,
            label: label.to_string(),
            pending: Mutex::new([Vec::new(), Vec::new()]),
        }
    }

    fn show(&self, lines: &[(bool, String)]) {
        if lines.is_empty() {
            return;
        }
        let mut text = String::new();
        for (stderr, line) in lines {
            text.push_str(&prefixed(&self.label, *stderr, line));
        }
        self.reporter.streamed(&text);
    }
}

impl Echo for HostEcho {
    fn output(&self, stderr: bool, data: &[u8]) {
        let mut pending = lock(&self.pending);
        let buffer = &mut pending[usize::from(stderr)];
        buffer.extend_from_slice(data);
        let lines: Vec<(bool, String)> = take_lines(buffer)
            .into_iter()
            .map(|l| (stderr, l))
            .collect();
        drop(pending);
        self.show(&lines);
    }

    fn end(&self) {
        let mut pending = lock(&self.pending);
        let mut lines = Vec::new();
        for (index, buffer) in pending.iter_mut().enumerate() {
            if !buffer.is_empty() {
                lines.push((index == 1, shown(buffer)));
                buffer.clear();
            }
        }
        drop(pending);
        self.show(&lines);
    }
}

/// Removes the complete lines from the front of `buffer` (and pieces of `MAX_LINE` bytes of
/// a longer one) and returns them without their line ends.
fn take_lines(buffer: &mut Vec<u8>) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        match buffer.iter().position(|&b| b == b'\n') {
            Some(end) if end <= MAX_LINE => {
                lines.push(shown(&buffer[..end]));
                buffer.drain(..=end);
            }
            _ if buffer.len() > MAX_LINE => {
                lines.push(shown(&buffer[..MAX_LINE]));
                buffer.drain(..MAX_LINE);
            }
            _ => return lines,
        }
    }
}

/// A line as a terminal would leave it: what follows the last carriage return (a progress
/// bar's last state), invalid UTF-8 replaced.
fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    text.rsplit('\r').next().unwrap_or(text).to_string()
}

/// `calxitu | text` for stdout, `calxitu stderr | text` for stderr, with its newline.
fn prefixed(label: &str, stderr: bool, line: &str) -> String {
    if stderr {
        format!("{} {line}\n", style(format!("{label} stderr |")).red())
    } else {
        format!("{} {line}\n", style(format!("{label} |")).dim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_at_newlines_and_kept_until_complete() {
        let long = "x".repeat(MAX_LINE + 3);
        let cases: [(&[u8], &[&str], &[u8]); 6] = [
            (b"", &[], b""),
            (b"partial", &[], b"partial"),
            (b"a\nb\n", &["a", "b"], b""),
            (b"a\r\nb", &["a"], b"b"),
            (b"10%\r50%\r100%\n", &["100%"], b""),
            (long.as_bytes(), &[&long[..MAX_LINE]], b"xxx"),
        ];
        for (input, want, left) in cases {
            let mut buffer = input.to_vec();
            assert_eq!(take_lines(&mut buffer), want, "{input:?}");
            assert_eq!(buffer, left, "{input:?}");
        }
    }

    #[test]
    fn prefixes_name_the_host_and_stream() {
        console::set_colors_enabled(false);
        assert_eq!(prefixed("calxitu", false, "hello"), "calxitu | hello\n");
        assert_eq!(
            prefixed("web1 -> db1", true, "oops"),
            "web1 -> db1 stderr | oops\n"
        );
    }

    #[test]
    fn only_the_verbose_text_report_streams() {
        use super::super::{Format, ReportOptions};
        let cases = [
            (0, Format::Text, false),
            (1, Format::Text, true),
            (2, Format::Text, true),
            (1, Format::Json, false),
            (1, Format::Adhoc, false),
        ];
        for (verbosity, format, streams) in cases {
            let sink = std::sync::Arc::new(Mutex::new(Vec::new()));
            let reporter = Reporter::with_options(ReportOptions {
                verbosity,
                format,
                sink: Some(sink),
                ..ReportOptions::default()
            });
            assert_eq!(
                reporter.echo("h").is_some(),
                streams,
                "{verbosity} {format:?}"
            );
        }
    }
}
