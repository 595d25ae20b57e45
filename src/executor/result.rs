//! The result of one module run on one host, before it becomes a reported outcome: its
//! status, what gets registered, facts, diffs, and the JSON printed after `=>`.

use serde_json::json;

use crate::modules::{FileDiff, ModuleOutput};
use crate::output::Status;
use crate::vars::{Value, Vars};

/// One run of the module, before it becomes a reported outcome.
pub(super) struct OneResult {
    pub status: Status,
    pub msg: Option<String>,
    pub registered: Value,
    pub facts: Vars,
    pub ansible_facts: Vars,
    pub diffs: Vec<FileDiff>,
    pub delegated: Option<String>,
    /// The module wants its values printed even without -v (debug).
    pub show: bool,
}

impl OneResult {
    pub fn skipped() -> Self {
        OneResult {
            status: Status::Skipped,
            msg: None,
            registered: json!({"changed": false, "skipped": true,
                "skip_reason": "Conditional result was False"}),
            facts: Vars::new(),
            ansible_facts: Vars::new(),
            diffs: vec![],
            delegated: None,
            show: false,
        }
    }

    pub fn error(msg: String) -> Self {
        OneResult {
            status: Status::Failed,
            registered: json!({"changed": false, "failed": true, "msg": msg}),
            msg: Some(msg),
            ..OneResult::skipped()
        }
    }

    pub fn unreachable(msg: String) -> Self {
        OneResult {
            status: Status::Unreachable,
            registered: json!({"changed": false, "msg": msg, "unreachable": true}),
            ..OneResult::error(msg)
        }
    }

    pub fn from_output(out: ModuleOutput, delegated: Option<String>, diff: bool) -> Self {
        let status = if out.failed {
            Status::Failed
        } else if out.skipped {
            Status::Skipped
        } else if out.changed {
            Status::Changed
        } else {
            Status::Ok
        };
        let show = out.values.contains_key("_show");
        let mut registered = Vars::new();
        for (k, v) in out.values {
            if k != "_show" {
                registered.insert(k, v);
            }
        }
        registered.insert("changed".into(), json!(out.changed));
        if out.failed {
            registered.insert("failed".into(), json!(true));
        }
        if out.skipped {
            registered.insert("skipped".into(), json!(true));
        }
        if let Some(m) = &out.msg {
            registered.entry("msg").or_insert_with(|| json!(m));
        }
        let (facts, ansible_facts) = match out.facts {
            Some(f) if registered.contains_key("_set_fact") => {
                registered.remove("_set_fact");
                (f, Vars::new())
            }
            Some(f) => (Vars::new(), f),
            None => (Vars::new(), Vars::new()),
        };
        OneResult {
            status,
            msg: out.msg,
            registered: Value::Object(registered),
            facts,
            ansible_facts,
            diffs: if diff { out.diffs } else { vec![] },
            delegated,
            show,
        }
    }

    /// The JSON printed after `=>`: always for failures and debug, with -v for the rest.
    pub fn detail(&self, verbosity: u8) -> Option<Value> {
        match self.status {
            Status::Failed | Status::Unreachable => {
                let mut d = self.registered.clone();
                if let Value::Object(map) = &mut d {
                    if let Some(m) = &self.msg {
                        map.insert("msg".into(), json!(m));
                    }
                    map.remove("failed");
                }
                Some(d)
            }
            _ if self.show => {
                let mut d = self.registered.clone();
                if let Value::Object(map) = &mut d {
                    map.remove("changed");
                }
                Some(d)
            }
            Status::Skipped => None,
            _ if verbosity > 0 => Some(self.registered.clone()),
            _ => None,
        }
    }
}
