//! Bastions: the `ProxyJump` route to a host, from `ansible_ssh_common_args` /
//! `ansible_ssh_extra_args` (`-J hop` or `-o ProxyJump=hop`) or from `~/.ssh/config`, parsed
//! into hops; and the jump sessions themselves, opened once per hop and shared by every host
//! behind it. The second session runs over a `direct-tcpip` channel of the jump session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};
use russh::client::Handle;
use tokio::sync::OnceCell;

use super::ssh::Client;

/// One hop of a route: `[user@]host[:port]`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Hop {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl std::fmt::Display for Hop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// The ProxyJump value given in ssh command line arguments, if any; `place` names the
/// variable in errors.
pub(crate) fn from_args(args: &str, place: &str) -> Result<Option<String>> {
    let words = split_words(args).map_err(|e| anyhow::anyhow!("{place}: {e}"))?;
    let mut words = words.iter();
    while let Some(word) = words.next() {
        let value = if word == "-J" || word == "-o" {
            let Some(next) = words.next() else {
                bail!("{place}: {word} needs a value");
            };
            if word == "-J" {
                Some(next.clone())
            } else {
                option_value(next)
            }
        } else if let Some(rest) = word.strip_prefix("-J") {
            Some(rest.to_string())
        } else if let Some(rest) = word.strip_prefix("-o") {
            option_value(rest)
        } else {
            None
        };
        if value.is_some() {
            return Ok(value);
        }
    }
    Ok(None)
}

/// `ProxyJump=value` or `ProxyJump value` (keyword in any case).
fn option_value(option: &str) -> Option<String> {
    let end = option.find(|c: char| c == '=' || c.is_whitespace())?;
    if !option[..end].eq_ignore_ascii_case("proxyjump") {
        return None;
    }
    let value = option[end..].trim_start_matches(|c: char| c == '=' || c.is_whitespace());
    Some(value.to_string())
}

/// Splits like a POSIX shell would: blanks separate words, quotes and backslashes group.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err("unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => current.extend(chars.next()),
                        Some(c) => current.push(c),
                        None => return Err("unterminated \" quote".into()),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// Parses a ProxyJump value into hops, first hop first; `none` (or empty) means direct.
pub(crate) fn parse_route(value: &str) -> Result<Vec<Hop>> {
    let value = value.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    value.split(',').map(parse_hop).collect()
}

fn parse_hop(text: &str) -> Result<Hop> {
    let text = text.trim();
    let text = text.strip_prefix("ssh://").unwrap_or(text);
    let (user, rest) = match text.rsplit_once('@') {
        Some((user, rest)) => (Some(user.to_string()), rest),
        None => (None, text),
    };
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        match inner.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, port)) => (host, Some(port.trim_start_matches(':'))),
            None => bail!("ProxyJump hop '{text}': missing ']'"),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() || user.as_deref() == Some("") {
        bail!("ProxyJump hop '{text}' is not [user@]host[:port]");
    }
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| anyhow::anyhow!("ProxyJump hop '{text}': bad port '{p}'"))?,
        ),
        None => None,
    };
    Ok(Hop {
        user,
        host: host.to_string(),
        port,
    })
}

type Shared = Arc<OnceCell<Result<Arc<Handle<Client>>, String>>>;

/// Jump sessions of this process, by route and credentials: every host behind the same
/// bastion shares one session (and one failure, reported once per host).
static SESSIONS: Mutex<Option<HashMap<String, Shared>>> = Mutex::new(None);

/// The open session of the last hop of `route`, connecting on first use with `open`.
pub(crate) async fn session<F, Fut>(key: String, open: F) -> Result<Arc<Handle<Client>>, String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Arc<Handle<Client>>, String>>,
{
    let cell = {
        // A poisoned lock only means a connecting task panicked; the map is intact.
        let mut map = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
        map.get_or_insert_with(HashMap::new)
            .entry(key)
            .or_default()
            .clone()
    };
    cell.get_or_init(open).await.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(user: Option<&str>, host: &str, port: Option<u16>) -> Hop {
        Hop {
            user: user.map(String::from),
            host: host.into(),
            port,
        }
    }

    #[test]
    fn args_table() {
        let cases = [
            ("-o ProxyJump=root@jump", Some("root@jump")),
            ("-o 'ProxyJump=root@jump:2222'", Some("root@jump:2222")),
            ("-oProxyJump=jump", Some("jump")),
            ("-o \"ProxyJump jump\"", Some("jump")),
            ("-o proxyjump=jump", Some("jump")),
            ("-J root@172.30.8.215", Some("root@172.30.8.215")),
            ("-Ja,b", Some("a,b")),
            ("-o StrictHostKeyChecking=no -J j", Some("j")),
            ("-o StrictHostKeyChecking=no", None),
            ("", None),
        ];
        for (args, want) in cases {
            let got = from_args(args, "ansible_ssh_common_args").unwrap();
            assert_eq!(got.as_deref(), want, "{args}");
        }
        let errors = [
            ("-J", "ansible_ssh_common_args: -J needs a value"),
            (
                "-o 'ProxyJump=x",
                "ansible_ssh_common_args: unterminated ' quote",
            ),
        ];
        for (args, want) in errors {
            let err = from_args(args, "ansible_ssh_common_args").unwrap_err();
            assert_eq!(err.to_string(), want, "{args}");
        }
    }

    #[test]
    fn route_table() {
        let cases = [
            ("none", vec![]),
            ("jump", vec![hop(None, "jump", None)]),
            (
                "root@jump:2222",
                vec![hop(Some("root"), "jump", Some(2222))],
            ),
            ("ssh://u@j", vec![hop(Some("u"), "j", None)]),
            ("[::1]:22", vec![hop(None, "::1", Some(22))]),
            (
                "a@b,c:23",
                vec![hop(Some("a"), "b", None), hop(None, "c", Some(23))],
            ),
        ];
        for (value, want) in cases {
            assert_eq!(parse_route(value).unwrap(), want, "{value}");
        }
        assert_eq!(
            parse_route("root@jump:ssh").unwrap_err().to_string(),
            "ProxyJump hop 'root@jump:ssh': bad port 'ssh'"
        );
        assert_eq!(
            parse_route("@jump").unwrap_err().to_string(),
            "ProxyJump hop '@jump' is not [user@]host[:port]"
        );
        assert_eq!(hop(Some("r"), "j", Some(2)).to_string(), "r@j:2");
    }
}
