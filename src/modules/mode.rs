//! File modes as tasks write them: octal (`0644` unquoted, `'0644'`, `'644'`, `0o644`) or
//! symbolic (`u=rw,g=r,o=r`, `u+x`, `a-w`, `u=rwX,g=rX,o=`). A symbolic mode is applied to
//! the path's current mode, as Ansible and chmod do, so it only changes what it names.

use serde::Deserialize;

use crate::vars::Value;

/// A mode a task asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Octal(u32),
    Symbolic(String),
}

impl Mode {
    /// The mode the path ends with, given its current mode and whether it is a folder.
    pub fn resolve(&self, current: u32, is_dir: bool) -> Result<u32, String> {
        match self {
            Mode::Octal(m) => Ok(*m),
            Mode::Symbolic(spec) => apply_symbolic(spec, current, is_dir),
        }
    }

    /// The argument `chmod` takes for it.
    pub fn chmod_arg(&self) -> String {
        match self {
            Mode::Octal(m) => format!("{m:04o}"),
            Mode::Symbolic(spec) => spec.clone(),
        }
    }
}

/// Reads a mode parameter: octal text, a number (refused when YAML read an unquoted octal as
/// decimal, `mode: 644`), or a symbolic mode (checked here, so a typo fails before any host).
pub fn mode_any<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Mode>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::String(s) if s.contains(['+', '-', '=']) => {
            apply_symbolic(s, 0, false).map_err(serde::de::Error::custom)?;
            Ok(Some(Mode::Symbolic(s.clone())))
        }
        _ => super::args::mode_opt(v)
            .map(|m| m.map(Mode::Octal))
            .map_err(|e| serde::de::Error::custom(e.to_string())),
    }
}

/// Bits a `who` letter governs, special bits included.
fn who_mask(who: char) -> u32 {
    match who {
        'u' => 0o4700,
        'g' => 0o2070,
        'o' => 0o1007,
        _ => 0o7777,
    }
}

/// Applies a comma-separated symbolic mode to `mode`. `X` gives execute to folders and to
/// files that already have an execute bit; no `who` means all (`a`), umask ignored.
pub fn apply_symbolic(spec: &str, mode: u32, is_dir: bool) -> Result<u32, String> {
    let bad = |why: &str| format!("mode '{spec}' is not a valid symbolic mode: {why}");
    let mut cur = mode & 0o7777;
    for clause in spec.split(',') {
        let op_at = clause
            .find(['+', '-', '='])
            .ok_or_else(|| bad(&format!("'{clause}' has no operator")))?;
        let (who, rest) = clause.split_at(op_at);
        if let Some(c) = who.chars().find(|c| !"ugoa".contains(*c)) {
            return Err(bad(&format!("'{c}' is not one of u, g, o, a")));
        }
        let mask = if who.is_empty() {
            0o7777
        } else {
            who.chars().fold(0, |m, c| m | who_mask(c))
        };
        // one clause may chain operators: `u+r-x`
        let mut chars = rest.chars().peekable();
        while let Some(op) = chars.next() {
            let mut bits = 0u32;
            while let Some(&c) = chars.peek() {
                if "+-=".contains(c) {
                    break;
                }
                chars.next();
                bits |= match c {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' if is_dir || cur & 0o111 != 0 => 0o111,
                    'X' => 0,
                    's' => 0o6000,
                    't' => 0o1000,
                    'u' => ((cur >> 6) & 7) * 0o111,
                    'g' => ((cur >> 3) & 7) * 0o111,
                    'o' => (cur & 7) * 0o111,
                    other => return Err(bad(&format!("'{other}' is not a permission"))),
                };
            }
            let bits = bits & mask;
            cur = match op {
                '+' => cur | bits,
                '-' => cur & !bits,
                _ => (cur & !mask) | bits,
            };
        }
    }
    Ok(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbolic_modes() {
        let cases = [
            ("u=rw,g=r,o=r", 0o777, false, 0o644),
            ("u=rw,g=r,o=r", 0o000, false, 0o644),
            ("u+x", 0o644, false, 0o744),
            ("a-w", 0o664, false, 0o444),
            ("go-rwx", 0o755, false, 0o700),
            ("+x", 0o644, false, 0o755),
            ("u=rwX,g=rX,o=", 0o644, false, 0o640),
            ("u=rwX,g=rX,o=", 0o744, false, 0o750),
            ("u=rwX,g=rX,o=", 0o600, true, 0o750),
            ("u+s", 0o755, false, 0o4755),
            ("o+t", 0o777, true, 0o1777),
            ("g=u", 0o640, false, 0o660),
            ("u+r-x", 0o700, false, 0o600),
        ];
        for (spec, from, dir, want) in cases {
            assert_eq!(
                apply_symbolic(spec, from, dir),
                Ok(want),
                "{spec} on {from:o}"
            );
        }
    }

    #[test]
    fn refusals() {
        assert_eq!(
            apply_symbolic("q=rw", 0, false).unwrap_err(),
            "mode 'q=rw' is not a valid symbolic mode: 'q' is not one of u, g, o, a"
        );
        assert_eq!(
            apply_symbolic("u=rz", 0, false).unwrap_err(),
            "mode 'u=rz' is not a valid symbolic mode: 'z' is not a permission"
        );
        assert_eq!(
            apply_symbolic("urw", 0, false).unwrap_err(),
            "mode 'urw' is not a valid symbolic mode: 'urw' has no operator"
        );
    }
}
