//! The template context as minijinja objects: one host's variables, rendered lazily and
//! recursively when looked up (each in the scope of the host that owns them), `hostvars`
//! over every host, and the per-render settings that lookups read.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value as MjValue};
use minijinja::{Environment, Error, ErrorKind};

use super::render::render_json;
use crate::vars::{HostVarsMap, Value as Json, Vars, RAW_KEY};

/// Name under which the root context exposes the per-render settings (`RenderCtx`).
pub const CTX_VAR: &str = "__mestral_ctx";

/// How deep lazily rendered variables may nest (across hosts too) before the render is
/// taken for a loop.
const MAX_DEPTH: usize = 32;

/// What every object of one render shares: the engine, the controller-side base directory
/// for `lookup('file')`, every host's variables, and the nesting depth.
pub struct RenderCtx {
    pub env: Arc<Environment<'static>>,
    pub base_dir: Option<PathBuf>,
    pub hostvars: Arc<HostVarsMap>,
    depth: AtomicUsize,
}

impl std::fmt::Debug for RenderCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderCtx")
            .field("base_dir", &self.base_dir)
            .finish()
    }
}

impl Object for RenderCtx {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
}

impl RenderCtx {
    pub fn new(
        env: Arc<Environment<'static>>,
        base_dir: Option<PathBuf>,
        hostvars: Arc<HostVarsMap>,
    ) -> Arc<Self> {
        Arc::new(RenderCtx {
            env,
            base_dir,
            hostvars,
            depth: AtomicUsize::new(0),
        })
    }
}

/// One host's variables as a map object, and the root context of a render in that scope.
/// Values are rendered on first lookup and cached for the rest of the render.
#[derive(Debug)]
pub struct HostScope {
    ctx: Arc<RenderCtx>,
    vars: Arc<Vars>,
    cache: Mutex<HashMap<String, MjValue>>,
    active: Mutex<Vec<String>>,
    /// Names looked up in this scope that it does not hold, in lookup order.
    misses: Mutex<Vec<String>>,
}

impl HostScope {
    pub fn new(ctx: Arc<RenderCtx>, vars: Arc<Vars>) -> Arc<Self> {
        Arc::new(HostScope {
            ctx,
            vars,
            cache: Mutex::new(HashMap::new()),
            active: Mutex::new(Vec::new()),
            misses: Mutex::new(Vec::new()),
        })
    }

    /// Whether a render in this scope looked `name` up and found nothing: what tells a
    /// condition that really read an undefined variable from one that short-circuited past it.
    pub fn missed(&self, name: &str) -> bool {
        lock(&self.misses).iter().any(|n| n == name)
    }

    /// Whether the variable holds data that must not be rendered (see `vars::RAW_KEY`).
    fn is_data(&self, name: &str) -> bool {
        match self.vars.get(RAW_KEY) {
            Some(Json::Array(names)) => names.iter().any(|n| n.as_str() == Some(name)),
            _ => false,
        }
    }

    /// Looks up and renders one variable, or returns the error that rendering gave.
    fn variable(self: &Arc<Self>, name: &str) -> Option<Result<MjValue, Error>> {
        let raw = self.vars.get(name)?;
        if let Some(hit) = lock(&self.cache).get(name) {
            return Some(Ok(hit.clone()));
        }
        if self.is_data(name) {
            return Some(Ok(super::convert::to_mj(raw)));
        }

        // A variable that is being rendered and is looked up again is a loop.
        let depth = self.ctx.depth.fetch_add(1, Ordering::SeqCst);
        let looping = {
            let mut active = lock(&self.active);
            let looping = depth >= MAX_DEPTH || active.iter().any(|n| n == name);
            if !looping {
                active.push(name.to_string());
            }
            looping
        };
        if looping {
            self.ctx.depth.fetch_sub(1, Ordering::SeqCst);
            let message = format!("recursive loop detected in variable '{name}'");
            return Some(Err(Error::new(ErrorKind::InvalidOperation, message)));
        }

        let root = MjValue::from_dyn_object(self.clone());
        let rendered = render_json(&self.ctx.env, raw, &root);
        lock(&self.active).retain(|n| n != name);
        self.ctx.depth.fetch_sub(1, Ordering::SeqCst);
        // A value holding this very scope (`x: "{{ vars }}"`) is not cached: that would make
        // the scope own itself.
        if let Ok(value) = &rendered {
            if value.downcast_object_ref::<HostScope>().is_none() {
                lock(&self.cache).insert(name.to_string(), value.clone());
            }
        }
        Some(rendered)
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (plain inserts and
/// removals), so a poisoned lock is taken over rather than propagated.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Object for HostScope {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<MjValue> {
        match key {
            "hostvars" => Some(MjValue::from_object(HostVars {
                ctx: self.ctx.clone(),
            })),
            "vars" => Some(MjValue::from_dyn_object(self.clone())),
            CTX_VAR => Some(MjValue::from_dyn_object(self.ctx.clone())),
            _ => match self.variable(key) {
                Some(Ok(value)) => Some(value),
                Some(Err(err)) => Some(MjValue::from(super::nested_error(&err))),
                None => {
                    lock(&self.misses).push(key.to_string());
                    None
                }
            },
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.vars
                .keys()
                .filter(|k| k.as_str() != RAW_KEY)
                .map(|k| MjValue::from(k.as_str()))
                .collect(),
        )
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.vars.len() - usize::from(self.vars.contains_key(RAW_KEY)))
    }
}

/// `hostvars`: a map from inventory name to that host's lazily rendered variables.
#[derive(Debug)]
pub struct HostVars {
    ctx: Arc<RenderCtx>,
}

impl Object for HostVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<MjValue> {
        let vars = self.ctx.hostvars.get(key)?;
        Some(MjValue::from_dyn_object(HostScope::new(
            self.ctx.clone(),
            vars.clone(),
        )))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.ctx
                .hostvars
                .keys()
                .map(|k| MjValue::from(k.as_str()))
                .collect(),
        )
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.ctx.hostvars.len())
    }
}
