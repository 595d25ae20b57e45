//! `get_url`: downloads a URL on the host (curl, else wget, else python3) into a temp file
//! beside `dest`, then renames it over `dest` only when the bytes differ. Without `force` an
//! existing `dest` is kept and nothing is downloaded, as in Ansible, unless its `checksum`
//! (md5, sha1, sha224, sha256, sha384 or sha512, given or read from a checksum file at a URL)
//! is wrong; into a folder `dest` the file is always downloaded and replaced only if it differs.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, int_text_opt, loose_bool, text_opt};
use super::mode::{mode_any, Mode};
use super::remote_file::{self as rf, fail, Attrs, Kind, ReadOpts};
use super::{ModuleCtx, ModuleOutput};
use crate::connection::quote;
use crate::vars::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    url: String,
    dest: String,
    #[serde(default, deserialize_with = "loose_bool")]
    force: bool,
    #[serde(default)]
    checksum: Option<String>,
    #[serde(default, deserialize_with = "int_text_opt")]
    timeout: Option<String>,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    validate_certs: bool,
    #[serde(default, deserialize_with = "text_opt")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    group: Option<String>,
    #[serde(default, deserialize_with = "mode_any")]
    mode: Option<Mode>,
}

fn yes() -> bool {
    true
}

/// Digest algorithms `checksum` takes, each computed on the host by `<algorithm>sum`.
pub const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

/// What `checksum: <algorithm>:<digest or url>` asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Checksum {
    pub algorithm: String,
    pub want: Wanted,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Wanted {
    /// The digest in lower-case hex.
    Digest(String),
    /// A checksum file (`sha256sum` or BSD style, or a lone digest) at this URL.
    Url(String),
}

/// Parses `checksum` as ansible-core does: everything but letters, digits and `_` is dropped
/// from the digest (a stray space or zero-width character), which must then be hex.
pub fn parse_checksum(text: &str) -> Result<Checksum, String> {
    let Some((algorithm, rest)) = text.split_once(':') else {
        return Err("The checksum parameter has to be in format <algorithm>:<checksum>".into());
    };
    if !ALGORITHMS.contains(&algorithm) {
        return Err(format!(
            "checksum '{text}': unknown algorithm '{algorithm}' (mestral has {})",
            ALGORITHMS.join(", ")
        ));
    }
    let scheme = rest.split_once("://").map(|(s, _)| s);
    let want = if matches!(scheme, Some("http" | "https" | "ftp" | "file")) {
        Wanted::Url(rest.to_string())
    } else {
        Wanted::Digest(clean_digest(rest)?)
    };
    Ok(Checksum {
        algorithm: algorithm.to_string(),
        want,
    })
}

/// A digest without non-word characters, lower case, refused unless hex.
fn clean_digest(text: &str) -> Result<String, String> {
    let hex: String = text
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_lowercase();
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("The checksum format is invalid".into());
    }
    Ok(hex)
}

/// The digest a checksum file gives for `file`: a file holding one word is that digest;
/// otherwise the first `DIGEST  name` (GNU, `*` or `./` before the name allowed) or
/// `ALG (name) = DIGEST` (BSD) line naming `file`.
pub fn digest_for(file: &str, text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    if let [only] = lines.as_slice() {
        if only.split_whitespace().count() == 1 {
            return Some(only.to_string());
        }
    }
    // Both patterns are constant and valid.
    let bsd = regex::Regex::new(r"^\w+ ?\((?P<path>.+)\) ?= (?P<digest>[\w.]+)$").ok()?;
    let gnu = regex::Regex::new(r"^(?P<digest>[\w.]+)\s+(\*|\./|\.)?(?P<path>.+)$").ok()?;
    lines.iter().find_map(|line| {
        let (digest, path) = match bsd.captures(line) {
            Some(c) => (c["digest"].to_string(), c["path"].to_string()),
            None => {
                let c = gnu.captures(line)?;
                let path = c["path"].trim_start_matches(['.', '/']).to_string();
                (c["digest"].to_string(), path)
            }
        };
        (path == file).then_some(digest)
    })
}

/// The file name a URL gives when `dest` is a folder.
pub fn url_file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let after_host = path.splitn(4, '/').nth(3).unwrap_or("");
    match after_host.rsplit('/').next() {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => "index.html".to_string(),
    }
}

/// Shell text that fetches `url` into the file named by the shell word `out` (curl, else
/// wget, else python3), removing it and exiting 5 on failure.
fn fetch_into(url: &str, out: &str, timeout: u64, insecure: bool) -> String {
    let (u, k) = (quote(url), if insecure { "-k " } else { "" });
    format!(
        "if command -v curl >/dev/null 2>&1; then \
         curl -fsSL {k}--max-time {timeout} -o {out} {u} || {{ rm -f {out}; exit 5; }}; \
         elif command -v wget >/dev/null 2>&1; then \
         wget -q -T {timeout} -O {out} {u} || {{ rm -f {out}; exit 5; }}; \
         else python3 -c 'import sys,urllib.request as r; \
         open(sys.argv[2],\"wb\").write(r.urlopen(sys.argv[1],timeout=float(sys.argv[3])).read())' \
         {u} {out} {timeout} || {{ rm -f {out}; exit 5; }}; fi\n"
    )
}

/// Downloads into a temp file beside `dest`; prints the temp path, its sha256 and its
/// digest by `algorithm` (`<algorithm>sum`).
pub fn download_script(
    url: &str,
    dest: &str,
    timeout: u64,
    insecure: bool,
    algorithm: &str,
) -> String {
    format!(
        "set -e\nd={d}\n\
         t=$(mktemp \"$(dirname -- \"$d\")/.$(basename -- \"$d\").mestral.XXXXXX\")\n\
         {fetch}\
         s=$(sha256sum < \"$t\"); a=$({algorithm}sum < \"$t\")\n\
         printf '%s\\n%s\\n%s\\n' \"$t\" \"${{s%% *}}\" \"${{a%% *}}\"\n",
        d = quote(dest),
        fetch = fetch_into(url, "\"$t\"", timeout, insecure),
    )
}

/// Prints the text at `url` (a checksum file), fetched on the host like the download.
pub fn checksum_file_script(url: &str, timeout: u64, insecure: bool) -> String {
    format!(
        "set -e\nt=$(mktemp)\n{}cat \"$t\"\nrm -f \"$t\"\n",
        fetch_into(url, "\"$t\"", timeout, insecure)
    )
}

/// The digest of `path` on the host by `algorithm`, when the file exists.
async fn host_digest(ctx: &ModuleCtx<'_>, path: &str, algorithm: &str) -> Result<String> {
    let out = ctx
        .exec(&format!("{algorithm}sum < {}", quote(path)))
        .await?;
    if out.rc != 0 {
        return fail(format!(
            "cannot compute the {algorithm} of {path}: {}",
            out.stderr_text().trim_end()
        ));
    }
    Ok(out
        .stdout_text()
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string())
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    rf::finish(apply(args, ctx).await)
}

async fn apply(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = args::parse("get_url", args).or_else(fail)?;
    let checksum = p
        .checksum
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(parse_checksum)
        .transpose()
        .or_else(fail)?;
    let timeout: u64 = match p.timeout.as_deref() {
        None => 10,
        Some(t) => t
            .trim()
            .parse()
            .or_else(|_| fail(format!("timeout '{t}' is not a number")))?,
    };
    let read = ReadOpts {
        sha256: true,
        follow: true,
        ..ReadOpts::default()
    };
    // A folder `dest` takes the URL's file name; the file is then always downloaded and
    // replaced only when its bytes differ (`force` and `checksum` do not keep it).
    let mut dest = p.dest.clone();
    let mut cur = rf::read(ctx, &dest, &read).await?;
    let into_folder = cur.kind == Kind::Dir || dest.ends_with('/');
    if into_folder {
        dest = format!("{}/{}", dest.trim_end_matches('/'), url_file_name(&p.url));
        cur = rf::read(ctx, &dest, &read).await?;
    }
    let want = Attrs {
        owner: p.owner.clone(),
        group: p.group.clone(),
        mode: p.mode.clone(),
    };
    let base = |changed: bool| {
        ModuleOutput::changed(changed)
            .with("dest", json!(dest))
            .with("url", json!(p.url))
    };

    // The wanted digest: given, or read from the checksum file the URL names.
    let want_sum = match checksum {
        None => None,
        Some(Checksum {
            algorithm,
            want: Wanted::Digest(hex),
        }) => Some((algorithm, hex)),
        Some(Checksum {
            algorithm,
            want: Wanted::Url(url),
        }) => {
            let out = ctx
                .exec(&checksum_file_script(&url, timeout, !p.validate_certs))
                .await?;
            if out.rc != 0 {
                let why = out.stderr_text();
                return fail(format!("Request failed for {url}: {}", why.trim_end()));
            }
            let name = url_file_name(&p.url);
            let Some(digest) = digest_for(&name, &out.stdout_text()) else {
                return fail(format!(
                    "Unable to find a checksum for file '{name}' in '{url}'"
                ));
            };
            Some((algorithm, clean_digest(&digest).or_else(fail)?))
        }
    };

    // an existing file is kept unless forced or its checksum is wrong
    if cur.exists() && !p.force && !into_folder {
        let sum_ok = match &want_sum {
            None => true,
            Some((algorithm, hex)) if algorithm == "sha256" => cur.sha256.as_ref() == Some(hex),
            Some((algorithm, hex)) => host_digest(ctx, &dest, algorithm).await? == *hex,
        };
        if sum_ok {
            let attrs = rf::attr_changes(&want, &cur);
            let msg = match attrs.is_empty() {
                true => "file already exists",
                false => "file already exists but file attributes changed",
            };
            let out = base(!attrs.is_empty())
                .with_msg(msg)
                .with("checksum_dest", json!(cur.sha256));
            if !attrs.is_empty() && !ctx.check {
                let script = attrs.commands(&quote(&dest), false, false);
                rf::run_script(ctx, &format!("cannot set attributes of {dest}"), &script).await?;
            }
            return Ok(out);
        }
    }
    if ctx.check {
        return Ok(base(true));
    }
    let algorithm = want_sum.as_ref().map_or("sha256", |(a, _)| a.as_str());
    let script = download_script(&p.url, &dest, timeout, !p.validate_certs, algorithm);
    let got = ctx.exec(&script).await?;
    if got.rc != 0 {
        return fail(format!(
            "Request failed for {}: {}",
            p.url,
            got.stderr_text().trim_end()
        ));
    }
    let text = got.stdout_text();
    let mut lines = text.lines();
    let tmp = lines.next().unwrap_or("");
    let sum = lines.next().unwrap_or("");
    let digest = lines.next().unwrap_or("");
    let remove = format!("rm -f -- {}", quote(tmp));
    if let Some((_, w)) = want_sum.as_ref().filter(|(_, w)| w != digest) {
        rf::run_script(ctx, "cannot remove the download", &remove).await?;
        return fail(format!(
            "The checksum for {dest} did not match {w}; it was {digest}."
        ));
    }
    if cur.sha256.as_deref() == Some(sum) {
        rf::run_script(ctx, "cannot remove the download", &remove).await?;
        let attrs = rf::attr_changes(&want, &cur);
        if !attrs.is_empty() {
            let script = attrs.commands(&quote(&dest), false, false);
            rf::run_script(ctx, &format!("cannot set attributes of {dest}"), &script).await?;
        }
        return Ok(base(!attrs.is_empty()).with("checksum_dest", json!(sum)));
    }
    // mode and owner of the replaced file, or the umask's for a new one, then the wanted ones
    let (t, d) = (quote(tmp), quote(&dest));
    let mut script = format!(
        "set -e\nif [ -e {d} ]; then chmod --reference={d} -- {t}; \
         chown --reference={d} -- {t} 2>/dev/null || true; \
         else chmod \"$(printf %o $((0666 & ~$(umask))))\" -- {t}; fi\n"
    );
    script.push_str(&want.commands(&t, false, false));
    script.push_str(&format!("mv -f -- {t} {d}\n"));
    rf::run_script(ctx, &format!("cannot write {dest}"), &script).await?;
    Ok(base(true)
        .with_msg("OK")
        .with("checksum_src", json!(sum))
        .with("checksum_dest", json!(sum)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_checksums() {
        assert_eq!(
            url_file_name("http://127.0.0.1:8000/a/b.tar.gz?x=1"),
            "b.tar.gz"
        );
        assert_eq!(url_file_name("http://h/"), "index.html");
        assert_eq!(url_file_name("http://h"), "index.html");
        let digest = |a: &str, h: &str| {
            Ok(Checksum {
                algorithm: a.into(),
                want: Wanted::Digest(h.into()),
            })
        };
        let cases = [
            ("md5:ABCdef01", digest("md5", "abcdef01")),
            ("sha512: ab\u{200b}cd ", digest("sha512", "abcd")),
            (
                "sha1:http://10.0.0.1/SHA1SUMS",
                Ok(Checksum {
                    algorithm: "sha1".into(),
                    want: Wanted::Url("http://10.0.0.1/SHA1SUMS".into()),
                }),
            ),
            (
                "sha256:xyz",
                Err("The checksum format is invalid".to_string()),
            ),
            (
                "abc",
                Err("The checksum parameter has to be in format <algorithm>:<checksum>".into()),
            ),
            (
                "blake2b:ab",
                Err(
                    "checksum 'blake2b:ab': unknown algorithm 'blake2b' (mestral has md5, \
                     sha1, sha224, sha256, sha384, sha512)"
                        .into(),
                ),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_checksum(text), want, "{text}");
        }
    }

    #[test]
    fn digests_in_checksum_files() {
        let gnu = "1111  other.tgz\n2222 *app.tgz\n3333  ./app.tgz\n";
        let bsd = "SHA256 (other.tgz) = 1111\nSHA256 (app.tgz) = 2222\n";
        let cases = [
            (gnu, Some("2222")),
            (bsd, Some("2222")),
            ("4444\n", Some("4444")),
            ("5555  ./sub/app.tgz\n", None),
            ("1111  other.tgz\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(digest_for("app.tgz", text).as_deref(), want, "{text}");
        }
    }
}
