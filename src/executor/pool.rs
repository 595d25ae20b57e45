//! The session pool: one SSH session per host for the whole run, opened on first use and
//! shared by every task, plus what is needed to open it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Result};
use tokio::sync::OnceCell;

use crate::connection::{ConnectSpec, Session, Unreachable};
use crate::modules::SessionLookup;

type Slot = Arc<OnceCell<Result<Session, String>>>;

/// Sessions by inventory name. A host that could not be reached keeps its error, so the
/// run does not retry it for every task.
#[derive(Default)]
pub struct Pool {
    specs: Mutex<HashMap<String, ConnectSpec>>,
    slots: Mutex<HashMap<String, Slot>>,
}

impl Pool {
    pub fn new() -> Self {
        Pool::default()
    }

    /// Records how to reach a host (before its first use).
    pub fn set_spec(&self, host: &str, spec: ConnectSpec) {
        // A poisoned lock only means another task panicked; the map itself is intact.
        let mut specs = self.specs.lock().unwrap_or_else(|e| e.into_inner());
        specs.entry(host.to_string()).or_insert(spec);
    }

    pub fn has_spec(&self, host: &str) -> bool {
        self.specs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(host)
    }

    /// The host's session, connecting on first use. Errors are `Unreachable`.
    pub async fn get(&self, host: &str) -> Result<Session> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(host.to_string()).or_default().clone()
        };
        let spec = self
            .specs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
            .cloned();
        let result = slot
            .get_or_init(|| async move {
                let Some(spec) = spec else {
                    return Err(format!("host '{host}' is not in the inventory"));
                };
                Session::connect(&spec).await.map_err(|e| format!("{e:#}"))
            })
            .await;
        match result {
            Ok(session) => Ok(session.clone()),
            Err(msg) => Err(anyhow!(Unreachable(msg.clone()))),
        }
    }

    /// The host's session when it is open (this never connects).
    pub fn open_session(&self, host: &str) -> Option<Session> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.get(host)?.get()?.as_ref().ok().cloned()
    }

    /// Closes every open session.
    pub async fn close_all(&self) {
        let slots: Vec<Slot> = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for slot in slots {
            if let Some(Ok(session)) = slot.get() {
                session.close().await;
            }
        }
    }
}

impl SessionLookup for Pool {
    fn session<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Session>> + Send + 'a>> {
        Box::pin(self.get(host))
    }
}
