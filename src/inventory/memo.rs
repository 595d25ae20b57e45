//! What the executor asks the inventory again and again (a host's variables and group names,
//! the `groups` map: for every host, on every task), worked out once. The inventory does not
//! change during a run; each change made while loading clears the memo, and a memo made for
//! another count of hosts or groups is dropped.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::vars::Vars;

#[derive(Default)]
pub(super) struct Memo {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// (hosts, groups) when the memo was filled.
    shape: (usize, usize),
    host_vars: HashMap<String, Vars>,
    group_names: HashMap<String, Vec<String>>,
    groups: Option<Vars>,
}

/// A copied inventory starts with an empty memo (it may be changed apart from the first).
impl Clone for Memo {
    fn clone(&self) -> Self {
        Memo::default()
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

impl Memo {
    /// Forgets everything (the inventory is being changed).
    pub(super) fn clear(&mut self) {
        *self.inner.get_mut().unwrap_or_else(|e| e.into_inner()) = Inner::default();
    }

    fn get<T: Clone>(
        &self,
        shape: (usize, usize),
        pick: impl Fn(&mut Inner) -> Option<T>,
        make: impl FnOnce() -> T,
        keep: impl FnOnce(&mut Inner, T),
    ) -> T {
        {
            // A poisoned lock only means another task panicked; the memo is still whole.
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if inner.shape != shape {
                *inner = Inner {
                    shape,
                    ..Inner::default()
                };
            }
            if let Some(found) = pick(&mut inner) {
                return found;
            }
        }
        // made outside the lock: `make` may ask the memo for something else
        let made = make();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.shape == shape {
            keep(&mut inner, made.clone());
        }
        made
    }

    pub(super) fn host_vars(
        &self,
        shape: (usize, usize),
        host: &str,
        make: impl FnOnce() -> Vars,
    ) -> Vars {
        self.get(
            shape,
            |i| i.host_vars.get(host).cloned(),
            make,
            |i, v| {
                i.host_vars.insert(host.to_string(), v);
            },
        )
    }

    pub(super) fn group_names(
        &self,
        shape: (usize, usize),
        host: &str,
        make: impl FnOnce() -> Vec<String>,
    ) -> Vec<String> {
        self.get(
            shape,
            |i| i.group_names.get(host).cloned(),
            make,
            |i, v| {
                i.group_names.insert(host.to_string(), v);
            },
        )
    }

    pub(super) fn groups(&self, shape: (usize, usize), make: impl FnOnce() -> Vars) -> Vars {
        self.get(shape, |i| i.groups.clone(), make, |i, v| i.groups = Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn made_once_per_shape_and_cleared() {
        let mut memo = Memo::default();
        let made = std::cell::Cell::new(0);
        let vars = |n: i64| {
            made.set(made.get() + 1);
            let mut v = Vars::new();
            v.insert("n".into(), json!(n));
            v
        };
        let steps: [((usize, usize), i64, i64, u32); 3] =
            [((1, 2), 1, 1, 1), ((1, 2), 2, 1, 1), ((2, 2), 3, 3, 2)];
        for (shape, offered, got, count) in steps {
            let v = memo.host_vars(shape, "h", || vars(offered));
            assert_eq!((v["n"].clone(), made.get()), (json!(got), count));
        }
        memo.clear();
        let v = memo.host_vars((2, 2), "h", || vars(4));
        assert_eq!((v["n"].clone(), made.get()), (json!(4), 3));
    }
}
