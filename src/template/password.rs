//! The `password_hash` filter: SHA-crypt (`$6$` sha512, `$5$` sha256) strings exactly as
//! Ansible 2.19 writes them through passlib, for `user: password=...`: passlib's default rounds
//! (656000, 535000) written out, `rounds=` left out only for crypt(3)'s implicit 5000. The
//! digest is the `sha-crypt` crate's; the text form (salt kept as given, crypt's own base64
//! byte order) is written here.

use std::io::Read;

use minijinja::value::{Kwargs, Value as MjValue};
use minijinja::Error;

use super::convert::py_str;
use super::filters::{fail, require_defined};

/// The rounds crypt(3) uses when the string names none; passlib leaves them out too.
const IMPLICIT_ROUNDS: u32 = 5_000;

/// passlib's default rounds, which Ansible 2.19 uses when the filter is given none.
const DEFAULT_ROUNDS_SHA512: u32 = 656_000;
const DEFAULT_ROUNDS_SHA256: u32 = 535_000;

/// The characters of crypt's base64 and of a valid salt.
const ALPHABET: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `'secret' | password_hash('sha512', 'saltsalt', rounds=10000)`.
pub fn password_hash(
    v: &MjValue,
    hashtype: Option<String>,
    salt: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    require_defined(v)?;
    let hashtype = hashtype.or(kwargs.get("hashtype")?);
    let salt: Option<String> = salt.or(kwargs.get("salt")?);
    let rounds: Option<u32> = kwargs.get("rounds")?;
    kwargs.assert_all_used()?;
    let sha512 = match hashtype.as_deref().unwrap_or("sha512") {
        "sha512" | "sha512_crypt" => true,
        "sha256" | "sha256_crypt" => false,
        other => {
            return Err(fail(format!(
                "password_hash: hash type '{other}' is not supported (use sha512 or sha256)"
            )))
        }
    };
    let salt = match salt {
        Some(s) => s,
        None => random_salt().map_err(|e| fail(format!("password_hash: no random salt: {e}")))?,
    };
    crypt(&py_str(v), &salt, rounds, sha512).map_err(fail)
}

/// The SHA-crypt string of `password`; rounds default to passlib's.
pub fn crypt(
    password: &str,
    salt: &str,
    rounds: Option<u32>,
    sha512: bool,
) -> Result<String, String> {
    if let Some(bad) = salt
        .chars()
        .find(|c| !c.is_ascii() || !ALPHABET.contains(&(*c as u8)))
    {
        return Err(format!(
            "password_hash: invalid character '{bad}' in salt (use letters, digits, '.' and '/')"
        ));
    }
    if salt.len() > 16 {
        return Err("password_hash: salt too large (16 characters at most)".into());
    }
    let rounds = rounds.unwrap_or(match sha512 {
        true => DEFAULT_ROUNDS_SHA512,
        false => DEFAULT_ROUNDS_SHA256,
    });
    let params = sha_crypt::Params::new(rounds)
        .map_err(|_| format!("password_hash: rounds {rounds} is not between 1000 and 999999999"))?;
    let (id, text) = if sha512 {
        let digest = sha_crypt::sha512_crypt(password.as_bytes(), salt.as_bytes(), params);
        ("6", encode_sha512(&digest))
    } else {
        let digest = sha_crypt::sha256_crypt(password.as_bytes(), salt.as_bytes(), params);
        ("5", encode_sha256(&digest))
    };
    Ok(match rounds {
        IMPLICIT_ROUNDS => format!("${id}${salt}${text}"),
        n => format!("${id}$rounds={n}${salt}${text}"),
    })
}

/// `n` characters of crypt's base64 for three bytes, low six bits first.
fn push_b64(out: &mut String, a: u8, b: u8, c: u8, n: usize) {
    let mut w = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
    for _ in 0..n {
        out.push(char::from(ALPHABET[(w & 0x3f) as usize]));
        w >>= 6;
    }
}

/// SHA-512-crypt's output order: byte triples (i, i+21, i+42) turned left by i mod 3, then
/// the last byte alone.
fn encode_sha512(d: &[u8; 64]) -> String {
    let mut out = String::with_capacity(86);
    for i in 0..21 {
        let mut t = [d[i], d[i + 21], d[i + 42]];
        t.rotate_left(i % 3);
        push_b64(&mut out, t[0], t[1], t[2], 4);
    }
    push_b64(&mut out, 0, 0, d[63], 2);
    out
}

/// SHA-256-crypt's output order: byte triples (i, i+10, i+20) turned right by i mod 3, then
/// bytes 31 and 30.
fn encode_sha256(d: &[u8; 32]) -> String {
    let mut out = String::with_capacity(43);
    for i in 0..10 {
        let mut t = [d[i], d[i + 10], d[i + 20]];
        t.rotate_right(i % 3);
        push_b64(&mut out, t[0], t[1], t[2], 4);
    }
    push_b64(&mut out, 0, d[31], d[30], 3);
    out
}

/// Sixteen salt characters from the system's random source, as Ansible makes when none is
/// given.
fn random_salt() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 0x3f)]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each expected string is what `ansible localhost -m debug -a "msg={{ 'secret' |
    /// password_hash(...) }}"` (2.19, passlib 1.7) printed; for explicit rounds glibc's
    /// crypt(3) gives the same.
    #[test]
    fn crypt_strings_match_crypt3() {
        let rows = [
            (
                "secret",
                "saltsalt",
                None,
                true,
                "$6$rounds=656000$saltsalt$Vg7us3Hcq8rplCTNjwvGRwObM2xyfDZZ.XP2YLQ.ii85wAq/psu28u\
                 EfoMveNszsQWMgkWRxbZm2mBBlNn3.J0",
            ),
            (
                "secret",
                "saltsalt",
                None,
                false,
                "$5$rounds=535000$saltsalt$VSmVlMm.XSbjLKI0G48ksoE0xc0243La2Jr.EPuau75",
            ),
            (
                "secret",
                "saltsalt",
                Some(10_000),
                true,
                "$6$rounds=10000$saltsalt$WowrPBpEDVlCoruBosYlrZycTCx3//TyDHYqEhX9DUHHt0XTztUqz\
                 QDDUuvUGRA8aUe9p55hcAxeGcu58sm3u.",
            ),
            (
                "secret",
                "saltsalt",
                Some(5_000),
                true,
                "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y7\
                 7vwPZN.Pq.H91p5hVO1",
            ),
        ];
        for (password, salt, rounds, sha512, want) in rows {
            assert_eq!(
                crypt(password, salt, rounds, sha512).as_deref(),
                Ok(want),
                "{rounds:?}"
            );
        }
    }

    #[test]
    fn bad_salts_and_rounds_are_refused() {
        assert_eq!(
            crypt("x", "sa$lt", None, true).unwrap_err(),
            "password_hash: invalid character '$' in salt (use letters, digits, '.' and '/')"
        );
        assert_eq!(
            crypt("x", "salt", Some(10), true).unwrap_err(),
            "password_hash: rounds 10 is not between 1000 and 999999999"
        );
        assert_eq!(
            crypt("x", "abcdefghijklmnopq", None, true).unwrap_err(),
            "password_hash: salt too large (16 characters at most)"
        );
        let salt = random_salt().unwrap();
        assert_eq!(salt.len(), 16);
        assert!(crypt("x", &salt, Some(5000), true)
            .unwrap()
            .starts_with(&format!("$6${salt}$")));
    }
}
