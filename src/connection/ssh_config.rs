//! The subset of OpenSSH's client configuration (`~/.ssh/config`) that mestral honours:
//! `Host` blocks with `*`, `?` and `!` patterns, first value wins, and the keywords HostName,
//! User, Port, IdentityFile, StrictHostKeyChecking, UserKnownHostsFile and ProxyJump. `Match`
//! blocks are skipped (only `Match all` applies) and `Include` reads further files.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The settings that apply to one host, raw as written (no `~` or `%` expansion yet).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct HostConfig {
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// Every IdentityFile that applies, in file order (OpenSSH accumulates them).
    pub identity_files: Vec<String>,
    pub strict_host_key_checking: Option<String>,
    pub user_known_hosts_files: Vec<String>,
    /// `ProxyJump`: `[user@]host[:port]`, comma-separated hops, or `none`.
    pub proxy_jump: Option<String>,
}

/// Reads `path` (missing is fine: nothing applies) and returns the settings for `host`.
pub(crate) fn load(path: &Path, host: &str) -> Result<HostConfig> {
    let mut config = HostConfig::default();
    if path.exists() {
        let base = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        read_into(path, &base, host, &mut config, 0)?;
    }
    Ok(config)
}

fn read_into(
    path: &Path,
    base: &Path,
    host: &str,
    config: &mut HostConfig,
    depth: u32,
) -> Result<()> {
    if depth > 8 {
        bail!("{}: Include nested too deeply", path.display());
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read ssh config {}", path.display()))?;
    for include in apply(&text, host, config).with_context(|| path.display().to_string())? {
        for file in expand_include(&include, base) {
            read_into(&file, base, host, config, depth + 1)?;
        }
    }
    Ok(())
}

/// Applies the text of one config file to `config` for `host`; returns the `Include`
/// arguments met in blocks that apply (read by the caller, after this file).
pub(crate) fn apply(text: &str, host: &str, config: &mut HostConfig) -> Result<Vec<String>> {
    let host = host.to_ascii_lowercase();
    let mut active = true;
    let mut includes = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let Some((keyword, args)) = split_line(raw) else {
            continue;
        };
        match keyword.as_str() {
            "host" => active = host_matches(&args, &host),
            "match" => active = args.len() == 1 && args[0].eq_ignore_ascii_case("all"),
            _ if !active => {}
            "include" => includes.extend(args),
            "hostname" => set_first(&mut config.hostname, &args),
            "user" => set_first(&mut config.user, &args),
            "port" if config.port.is_none() => {
                let value = args.first().map(String::as_str).unwrap_or("");
                let port = value
                    .parse()
                    .map_err(|_| anyhow::anyhow!("line {line_no}: bad Port '{value}'"))?;
                config.port = Some(port);
            }
            "identityfile" => config.identity_files.extend(args.into_iter().take(1)),
            "stricthostkeychecking" => set_first(&mut config.strict_host_key_checking, &args),
            "proxyjump" => set_first(&mut config.proxy_jump, &args),
            "userknownhostsfile" if config.user_known_hosts_files.is_empty() => {
                config.user_known_hosts_files = args;
            }
            _ => {}
        }
    }
    Ok(includes)
}

fn set_first(slot: &mut Option<String>, args: &[String]) {
    if slot.is_none() {
        *slot = args.first().cloned();
    }
}

/// Splits `Keyword value...` or `Keyword=value`, dropping comments and blank lines. The
/// keyword comes back lowercased; arguments may be double-quoted.
fn split_line(raw: &str) -> Option<(String, Vec<String>)> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = line[..end].to_ascii_lowercase();
    let rest = line[end..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();

    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            break;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                word.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        args.push(word);
    }
    Some((keyword, args))
}

/// A `Host` line applies when one positive pattern matches and no negated one does.
fn host_matches(patterns: &[String], host: &str) -> bool {
    let mut matched = false;
    for pattern in patterns {
        let pattern = pattern.to_ascii_lowercase();
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob(negated, host) {
                return false;
            }
        } else if glob(&pattern, host) {
            matched = true;
        }
    }
    matched
}

/// `*` matches any run of characters, `?` exactly one.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, from)) = backtrack {
            pi = star + 1;
            ti = from + 1;
            backtrack = Some((star, from + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn expand_include(pattern: &str, base: &Path) -> Vec<PathBuf> {
    let home = dirs::home_dir().unwrap_or_default();
    let path = PathBuf::from(expand_tilde(pattern, &home));
    let path = if path.is_absolute() {
        path
    } else {
        base.join(path)
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    match (name, path.parent()) {
        (Some(name), Some(dir)) if name.contains(['*', '?']) => {
            let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| glob(&name, &e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect();
            found.sort();
            found
        }
        _ if path.exists() => vec![path],
        _ => Vec::new(),
    }
}

/// Replaces a leading `~` or `~/` with the home directory.
pub(crate) fn expand_tilde(value: &str, home: &Path) -> String {
    if value == "~" {
        return home.display().to_string();
    }
    match value.strip_prefix("~/") {
        Some(rest) => home.join(rest).display().to_string(),
        None => value.to_string(),
    }
}

/// Expands `~` and the tokens `%d` (home), `%u` (local user), `%h` (host), `%r` (remote user),
/// `%p` (port) and `%%` in an IdentityFile or UserKnownHostsFile value.
pub(crate) fn expand_path(value: &str, tokens: &Tokens) -> PathBuf {
    let value = expand_tilde(value, &tokens.home);
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(&tokens.home.display().to_string()),
            Some('u') => out.push_str(&tokens.local_user),
            Some('h') => out.push_str(&tokens.host),
            Some('r') => out.push_str(&tokens.remote_user),
            Some('p') => out.push_str(&tokens.port.to_string()),
            Some(other) => out.push(other),
            None => out.push('%'),
        }
    }
    PathBuf::from(out)
}

/// Values substituted for `%` tokens.
pub(crate) struct Tokens {
    pub home: PathBuf,
    pub local_user: String,
    pub host: String,
    pub remote_user: String,
    pub port: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
# global
IdentityFile ~/.ssh/global_key

Host web? !web9 db-*.example.org
    HostName %h.internal
    User deploy
    Port 2222
    IdentityFile \"~/keys/my key\"
    ProxyJump admin@bastion:2222

Host *
    User fallback
    Port=2200
    StrictHostKeyChecking accept-new
    UserKnownHostsFile ~/.ssh/kh1 ~/.ssh/kh2
    IdentityFile ~/.ssh/last

Match host foo
    User matched
";

    fn config_for(host: &str) -> HostConfig {
        let mut config = HostConfig::default();
        let includes = apply(CONFIG, host, &mut config).unwrap();
        assert_eq!(includes, Vec::<String>::new());
        config
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn first_value_wins_and_identity_files_accumulate() {
        let web1 = config_for("web1");
        assert_eq!(
            web1,
            HostConfig {
                hostname: Some("%h.internal".into()),
                user: Some("deploy".into()),
                port: Some(2222),
                identity_files: strings(&["~/.ssh/global_key", "~/keys/my key", "~/.ssh/last"]),
                strict_host_key_checking: Some("accept-new".into()),
                user_known_hosts_files: strings(&["~/.ssh/kh1", "~/.ssh/kh2"]),
                proxy_jump: Some("admin@bastion:2222".into()),
            }
        );
    }

    #[test]
    fn negated_and_unmatched_patterns_fall_through_to_star() {
        for host in ["web9", "web10", "other", "foo"] {
            let config = config_for(host);
            assert_eq!(config.hostname, None, "{host}");
            assert_eq!(config.user.as_deref(), Some("fallback"), "{host}");
            assert_eq!(config.port, Some(2200), "{host}");
            assert_eq!(
                config.identity_files,
                strings(&["~/.ssh/global_key", "~/.ssh/last"])
            );
        }
        assert_eq!(
            config_for("DB-1.example.org").user.as_deref(),
            Some("deploy")
        );
    }

    #[test]
    fn glob_table() {
        let cases = [
            ("*", "", true),
            ("*", "abc", true),
            ("a*c", "abbbc", true),
            ("a*c", "abcd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*.example.org", "x.example.org", true),
            ("*.example.org", "example.org", false),
            ("172.30.8.*", "172.30.8.250", true),
            ("**a", "bba", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(glob(pattern, text), expected, "{pattern} vs {text}");
        }
    }

    #[test]
    fn bad_port_names_the_line() {
        let mut config = HostConfig::default();
        let err = apply("Host *\n  Port abc\n", "x", &mut config).unwrap_err();
        assert_eq!(err.to_string(), "line 2: bad Port 'abc'");
    }

    #[test]
    fn include_is_returned_only_from_applying_blocks() {
        let mut config = HostConfig::default();
        let text = "Include a.conf\nHost other\nInclude b.conf\nHost x\nInclude c/*.conf\n";
        let includes = apply(text, "x", &mut config).unwrap();
        assert_eq!(includes, strings(&["a.conf", "c/*.conf"]));
    }

    #[test]
    fn path_tokens_expand() {
        let tokens = Tokens {
            home: PathBuf::from("/home/me"),
            local_user: "me".into(),
            host: "h1".into(),
            remote_user: "root".into(),
            port: 22,
        };
        let cases = [
            ("~/.ssh/id_%h", "/home/me/.ssh/id_h1"),
            ("%d/k_%r@%h:%p", "/home/me/k_root@h1:22"),
            ("/abs/%u/100%%", "/abs/me/100%"),
            ("~", "/home/me"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                expand_path(input, &tokens),
                PathBuf::from(expected),
                "{input}"
            );
        }
    }
}
