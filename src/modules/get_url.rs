//! `get_url`: downloads a URL on the host (curl, else wget, else python3) into a temp file
//! beside `dest`, then renames it over `dest` only when the bytes differ. Without `force` an
//! existing `dest` is kept and nothing is downloaded, as in Ansible.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool, text_opt};
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
    #[serde(default, deserialize_with = "text_opt")]
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

/// `sha256:<hex>` -> the hex digest; other algorithms are refused.
pub fn parse_checksum(text: &str) -> Result<String, String> {
    match text.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(hex.to_ascii_lowercase())
        }
        Some(("sha256", _)) => Err(format!("checksum '{text}' is not a sha256 digest")),
        _ => Err(format!(
            "checksum '{text}': mestral supports only 'sha256:<hex>'"
        )),
    }
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

/// Downloads into a temp file beside `dest`; prints the temp path and its sha256.
pub fn download_script(url: &str, dest: &str, timeout: u64, insecure: bool) -> String {
    let (u, k) = (quote(url), if insecure { "-k " } else { "" });
    format!(
        "set -e\nd={d}\n\
         t=$(mktemp \"$(dirname -- \"$d\")/.$(basename -- \"$d\").mestral.XXXXXX\")\n\
         if command -v curl >/dev/null 2>&1; then \
         curl -fsSL {k}--max-time {timeout} -o \"$t\" {u} || {{ rm -f \"$t\"; exit 5; }}; \
         elif command -v wget >/dev/null 2>&1; then \
         wget -q -T {timeout} -O \"$t\" {u} || {{ rm -f \"$t\"; exit 5; }}; \
         else python3 -c 'import sys,urllib.request as r; \
         open(sys.argv[2],\"wb\").write(r.urlopen(sys.argv[1],timeout=float(sys.argv[3])).read())' \
         {u} \"$t\" {timeout} || {{ rm -f \"$t\"; exit 5; }}; fi\n\
         s=$(sha256sum < \"$t\"); printf '%s\\n%s\\n' \"$t\" \"${{s%% *}}\"\n",
        d = quote(dest)
    )
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    rf::finish(apply(args, ctx).await)
}

async fn apply(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = args::parse("get_url", args).or_else(fail)?;
    let want_sum = p
        .checksum
        .as_deref()
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
    let mut dest = p.dest.clone();
    let mut cur = rf::read(ctx, &dest, &read).await?;
    if cur.kind == Kind::Dir || dest.ends_with('/') {
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

    // an existing file is kept unless forced or its checksum is wrong
    let sum_ok = want_sum.is_none() || want_sum == cur.sha256;
    if cur.exists() && !p.force && sum_ok {
        let attrs = rf::attr_changes(&want, &cur);
        let out = base(!attrs.is_empty())
            .with_msg("file already exists")
            .with("checksum_dest", json!(cur.sha256));
        if !attrs.is_empty() && !ctx.check {
            let script = attrs.commands(&quote(&dest), false, false);
            rf::run_script(ctx, &format!("cannot set attributes of {dest}"), &script).await?;
        }
        return Ok(out);
    }
    if ctx.check {
        return Ok(base(true));
    }
    let got = ctx
        .exec(&download_script(&p.url, &dest, timeout, !p.validate_certs))
        .await?;
    if got.rc != 0 {
        return fail(format!(
            "Request failed for {}: {}",
            p.url,
            got.stderr_text().trim_end()
        ));
    }
    let text = got.stdout_text();
    let mut lines = text.lines();
    let (tmp, sum) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    let remove = format!("rm -f -- {}", quote(tmp));
    if let Some(w) = want_sum.as_deref().filter(|w| *w != sum) {
        rf::run_script(ctx, "cannot remove the download", &remove).await?;
        return fail(format!(
            "The checksum for {dest} did not match {w}; it was {sum}."
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
        let hex = "a".repeat(64);
        assert_eq!(parse_checksum(&format!("sha256:{hex}")), Ok(hex));
        assert_eq!(
            parse_checksum("md5:abc").unwrap_err(),
            "checksum 'md5:abc': mestral supports only 'sha256:<hex>'"
        );
    }
}
