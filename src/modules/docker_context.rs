//! A build context on the controller: read a directory into memory, fingerprint it (the
//! `org.mestral.context` label that makes `docker_image` idempotent) and pack it as a tar
//! for `docker build -`. Entries are sorted and owners, times and umask never enter either
//! form, so the same tree gives the same hash and the same tar on any controller.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
}

/// One entry of the context, with its path relative to the context root (`/`-separated).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub path: String,
    pub kind: Kind,
    /// Permission bits (`0o7777` at most).
    pub mode: u32,
    /// File contents, or a symlink's target.
    pub data: Vec<u8>,
}

/// Reads every file, directory and symlink under `root`, sorted by path.
pub fn read(root: &Path) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    walk(root, "", &mut entries)?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> Result<()> {
    let listing = fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for item in listing {
        let item = item.with_context(|| format!("cannot read {}", dir.display()))?;
        let path = item.path();
        let Some(name) = item.file_name().to_str().map(str::to_string) else {
            bail!("{}: file names must be UTF-8", path.display());
        };
        let rel = format!("{prefix}{name}");
        let meta = fs::symlink_metadata(&path)
            .with_context(|| format!("cannot stat {}", path.display()))?;
        let mode = meta.permissions().mode() & 0o7777;
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = fs::read_link(&path)
                .with_context(|| format!("cannot read link {}", path.display()))?;
            let Some(target) = target.to_str() else {
                bail!("{}: link targets must be UTF-8", path.display());
            };
            out.push(Entry {
                path: rel,
                kind: Kind::Symlink,
                mode,
                data: target.into(),
            });
        } else if kind.is_dir() {
            out.push(Entry {
                path: rel.clone(),
                kind: Kind::Dir,
                mode,
                data: vec![],
            });
            walk(&path, &format!("{rel}/"), out)?;
        } else if kind.is_file() {
            let data =
                fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            out.push(Entry {
                path: rel,
                kind: Kind::File,
                mode,
                data,
            });
        } else {
            bail!(
                "{}: only files, directories and symlinks can be in a build context",
                path.display()
            );
        }
    }
    Ok(())
}

/// The context's fingerprint: sha256 over every entry (kind, path, mode, data), the
/// Dockerfile's name and the build arguments, each field length-prefixed.
pub fn fingerprint(entries: &[Entry], dockerfile: &str, build_args: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(b"mestral-context-1");
    for e in entries {
        let kind: &[u8] = match e.kind {
            Kind::File => b"f",
            Kind::Dir => b"d",
            Kind::Symlink => b"l",
        };
        field(kind);
        field(e.path.as_bytes());
        field(&e.mode.to_be_bytes());
        field(&e.data);
    }
    field(dockerfile.as_bytes());
    let mut args: Vec<&(String, String)> = build_args.iter().collect();
    args.sort();
    for (k, v) in args {
        field(k.as_bytes());
        field(v.as_bytes());
    }
    let digest = h.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Packs the entries as a POSIX tar (GNU long-name records for paths over 100 bytes), owned
/// by root and dated at the epoch.
pub fn tar(entries: &[Entry]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for e in entries {
        let (flag, size, link) = match e.kind {
            Kind::File => (b'0', e.data.len() as u64, ""),
            Kind::Dir => (b'5', 0, ""),
            // Targets were read as UTF-8 text above.
            Kind::Symlink => (b'2', 0, std::str::from_utf8(&e.data).unwrap_or("")),
        };
        let name = if e.kind == Kind::Dir {
            format!("{}/", e.path)
        } else {
            e.path.clone()
        };
        if name.len() > 100 {
            long_record(&mut out, b'L', &name)?;
        }
        if link.len() > 100 {
            long_record(&mut out, b'K', link)?;
        }
        out.extend_from_slice(&header(&name, e.mode, size, flag, link)?);
        if e.kind == Kind::File {
            out.extend_from_slice(&e.data);
            pad(&mut out);
        }
    }
    out.extend_from_slice(&[0u8; 1024]);
    Ok(out)
}

/// A GNU `././@LongLink` record carrying a name or link target too long for the header.
fn long_record(out: &mut Vec<u8>, flag: u8, text: &str) -> Result<()> {
    let mut data = text.as_bytes().to_vec();
    data.push(0);
    out.extend_from_slice(&header("././@LongLink", 0, data.len() as u64, flag, "")?);
    out.extend_from_slice(&data);
    pad(out);
    Ok(())
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % 512;
    if rem != 0 {
        out.resize(out.len() + 512 - rem, 0);
    }
}

/// One 512-byte header; names and targets longer than their fields are cut (the long
/// record before it carries them whole).
fn header(name: &str, mode: u32, size: u64, flag: u8, link: &str) -> Result<[u8; 512]> {
    if size >= 8 << 30 {
        bail!("{name}: files of 8 GiB or more cannot be packed");
    }
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], at: usize, len: usize, bytes: &[u8]| {
        let n = bytes.len().min(len);
        h[at..at + n].copy_from_slice(&bytes[..n]);
    };
    let octal = |h: &mut [u8; 512], at: usize, len: usize, value: u64| {
        let text = format!("{value:0width$o}", width = len - 1);
        h[at..at + len - 1].copy_from_slice(text.as_bytes());
    };
    put(&mut h, 0, 100, name.as_bytes());
    octal(&mut h, 100, 8, mode as u64);
    octal(&mut h, 108, 8, 0);
    octal(&mut h, 116, 8, 0);
    octal(&mut h, 124, 12, size);
    octal(&mut h, 136, 12, 0);
    h[156] = flag;
    put(&mut h, 157, 100, link.as_bytes());
    put(&mut h, 257, 8, b"ustar  \0");
    put(&mut h, 265, 32, b"root");
    put(&mut h, 297, 32, b"root");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, mode: u32, data: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::File,
            mode,
            data: data.into(),
        }
    }

    fn sample() -> Vec<Entry> {
        vec![
            Entry {
                path: "bin".into(),
                kind: Kind::Dir,
                mode: 0o755,
                data: vec![],
            },
            file("bin/app", 0o755, "#!/bin/sh\n"),
            file("Dockerfile", 0o644, "FROM scratch\n"),
        ]
    }

    #[test]
    fn fingerprint_is_stable_and_sensitive() {
        let base = fingerprint(&sample(), "Dockerfile", &[]);
        assert_eq!(base.len(), 64);
        assert_eq!(base, fingerprint(&sample(), "Dockerfile", &[]));

        let mut content = sample();
        content[1].data = b"#!/bin/sh \n".to_vec();
        let mut mode = sample();
        mode[1].mode = 0o700;
        let mut name = sample();
        name[1].path = "bin/app2".into();
        let mut kind = sample();
        kind[1].kind = Kind::Symlink;
        let arg = [("VER".to_string(), "1".to_string())];
        let variants = [
            fingerprint(&content, "Dockerfile", &[]),
            fingerprint(&mode, "Dockerfile", &[]),
            fingerprint(&name, "Dockerfile", &[]),
            fingerprint(&kind, "Dockerfile", &[]),
            fingerprint(&sample(), "Dockerfile.alt", &[]),
            fingerprint(&sample(), "Dockerfile", &arg),
        ];
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(v, &base, "variant {i} must change the fingerprint");
        }
        let two = [
            ("A".to_string(), "1".to_string()),
            ("B".to_string(), "2".to_string()),
        ];
        let swapped = [two[1].clone(), two[0].clone()];
        assert_eq!(fingerprint(&[], "D", &two), fingerprint(&[], "D", &swapped));
    }

    #[test]
    fn tar_layout() {
        let bytes = tar(&sample()).unwrap();
        // dir header, file header + 1 block, file header + 1 block, 2 end blocks
        assert_eq!(bytes.len(), 512 * 7);
        assert_eq!(&bytes[0..4], b"bin/");
        assert_eq!(bytes[156], b'5');
        assert_eq!(&bytes[100..108], b"0000755\0");
        assert_eq!(&bytes[512..519], b"bin/app");
        assert_eq!(&bytes[512 + 124..512 + 136], b"00000000012\0");
        assert_eq!(&bytes[1024..1034], b"#!/bin/sh\n");
        // header checksum: the sum with the field read as spaces
        let h = &bytes[512..1024];
        let sum: u32 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    b as u32
                }
            })
            .sum();
        assert_eq!(&h[148..156], format!("{sum:06o}\0 ").as_bytes());
        assert!(bytes[bytes.len() - 1024..].iter().all(|&b| b == 0));
    }

    #[test]
    fn long_names_get_a_long_link_record() {
        let long = format!("{}/f", "d".repeat(120));
        let bytes = tar(&[file(&long, 0o644, "x")]).unwrap();
        assert_eq!(&bytes[0..13], b"././@LongLink");
        assert_eq!(bytes[156], b'L');
        assert_eq!(&bytes[512..512 + long.len()], long.as_bytes());
        assert_eq!(bytes[512 + long.len()], 0);
        assert_eq!(bytes[1024 + 156], b'0');
    }

    #[test]
    fn reads_a_directory_sorted() {
        let dir = std::env::temp_dir().join(format!("mestral-ctx-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("b.txt"), "b").unwrap();
        fs::write(dir.join("sub/a.txt"), "a").unwrap();
        fs::set_permissions(dir.join("b.txt"), fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("b.txt", dir.join("link")).unwrap();
        let entries = read(&dir).unwrap();
        let listed: Vec<(&str, Kind)> = entries.iter().map(|e| (e.path.as_str(), e.kind)).collect();
        assert_eq!(
            listed,
            vec![
                ("b.txt", Kind::File),
                ("link", Kind::Symlink),
                ("sub", Kind::Dir),
                ("sub/a.txt", Kind::File),
            ]
        );
        assert_eq!(entries[0].mode, 0o640);
        assert_eq!(entries[1].data, b"b.txt");
        fs::remove_dir_all(&dir).unwrap();
    }
}
