//! Authentication on a fresh SSH session: the inventory's key, then the agent's keys, then
//! `~/.ssh/config` IdentityFiles and the default `~/.ssh/id_*` keys, then a password (only
//! when one was given). An encrypted key file is unlocked by a passphrase asked on the
//! terminal, once per file for the whole run; without a terminal it is skipped with a note.
//! When all fail the error lists each method and what happened to it.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use russh::client::Handle;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyBase64};

use super::known_hosts;
use super::ssh::{unreachable, Client, Target};
use super::ConnectSpec;

/// Tries each method in turn; the error lists what was tried and how each went.
pub(crate) async fn authenticate(
    handle: &mut Handle<Client>,
    spec: &ConnectSpec,
    target: &Target,
) -> Result<()> {
    let mut auth = Auth {
        handle,
        user: target.user.clone(),
        tried: Vec::new(),
        offered: Vec::new(),
        rsa_hash: None,
    };
    let broken = |auth: &Auth, e: russh::Error| {
        unreachable(format!(
            "authentication for {}@{}:{} broke off: {e}; tried {}",
            target.user,
            target.host,
            target.port,
            auth.tried.join(", ")
        ))
    };

    if let Some(path) = &spec.private_key {
        if auth
            .try_file(path, true)
            .await
            .map_err(|e| broken(&auth, e))?
        {
            return Ok(());
        }
    }
    if auth.try_agent().await.map_err(|e| broken(&auth, e))? {
        return Ok(());
    }
    let defaults = default_keys(&dirs::home_dir().unwrap_or_default());
    for path in target.identity_files.iter().chain(defaults.iter()) {
        if spec.private_key.as_deref() == Some(path.as_path()) {
            continue;
        }
        if !path.exists() {
            // ssh skips a missing default key silently; the list says it was looked for.
            if defaults.contains(path) {
                auth.tried.push(not_found(path));
            }
            continue;
        }
        if auth
            .try_file(path, false)
            .await
            .map_err(|e| broken(&auth, e))?
        {
            return Ok(());
        }
    }
    if let Some(password) = &spec.password {
        let result = auth
            .handle
            .authenticate_password(&auth.user, password)
            .await;
        if result.map_err(|e| broken(&auth, e))?.success() {
            return Ok(());
        }
        auth.tried.push("password (refused)".into());
    }
    Err(unreachable(failed(target, &auth.tried)))
}

/// The keys ssh tries when none is configured, in its order.
fn default_keys(home: &Path) -> [PathBuf; 3] {
    ["id_ed25519", "id_ecdsa", "id_rsa"].map(|n| home.join(".ssh").join(n))
}

/// The entry for a default key that is not there.
fn not_found(path: &Path) -> String {
    format!("key {} (not found)", known_hosts::display(path))
}

/// The error when every method failed: each one tried and how it went, in order.
fn failed(target: &Target, tried: &[String]) -> String {
    format!(
        "authentication failed for {}@{}:{}: tried {}",
        target.user,
        target.host,
        target.port,
        tried.join(", ")
    )
}

struct Auth<'a> {
    handle: &'a mut Handle<Client>,
    user: String,
    /// One entry per method, with its outcome.
    tried: Vec<String>,
    /// Public keys already offered, so a file key held by the agent is not offered twice.
    offered: Vec<String>,
    rsa_hash: Option<Option<HashAlg>>,
}

impl Auth<'_> {
    async fn hash_for(&mut self, rsa: bool) -> Result<Option<HashAlg>, russh::Error> {
        if !rsa {
            return Ok(None);
        }
        if self.rsa_hash.is_none() {
            self.rsa_hash = Some(self.handle.best_supported_rsa_hash().await?.flatten());
        }
        Ok(self.rsa_hash.flatten())
    }

    /// Offers the key in `path`. `given` keys report reading problems; others are skipped
    /// when already offered.
    async fn try_file(&mut self, path: &Path, given: bool) -> Result<bool, russh::Error> {
        let shown = known_hosts::display(path);
        let key = match unlock(path).await {
            Ok(key) => key,
            Err(reason) => {
                self.tried.push(format!("key {shown} ({reason})"));
                return Ok(false);
            }
        };
        let public = key.public_key().public_key_base64();
        if !given && self.offered.contains(&public) {
            return Ok(false);
        }
        self.offered.push(public);
        let hash = self.hash_for(key.algorithm().is_rsa()).await?;
        let key = PrivateKeyWithHashAlg::new(key, hash);
        let result = self.handle.authenticate_publickey(&self.user, key).await?;
        if result.success() {
            tracing::debug!(key = %shown, "authenticated with key");
            return Ok(true);
        }
        self.tried.push(format!("key {shown} (refused)"));
        Ok(false)
    }

    /// Offers every key the agent at `SSH_AUTH_SOCK` holds.
    async fn try_agent(&mut self) -> Result<bool, russh::Error> {
        let mut agent = match AgentClient::connect_env().await {
            Ok(agent) => agent,
            Err(russh::keys::Error::EnvVar(_)) => {
                self.tried.push("agent (SSH_AUTH_SOCK not set)".into());
                return Ok(false);
            }
            Err(e) => {
                self.tried.push(format!("agent (cannot connect: {e})"));
                return Ok(false);
            }
        };
        if let Some(binding) = self.handle.agent_session_binding() {
            if let Err(e) = agent.bind_session(binding, false).await {
                tracing::debug!("agent session binding refused: {e}");
            }
        }
        let identities = match agent.request_identities().await {
            Ok(identities) => identities,
            Err(e) => {
                self.tried.push(format!("agent (cannot list keys: {e})"));
                return Ok(false);
            }
        };
        if identities.is_empty() {
            self.tried.push("agent (no keys)".into());
            return Ok(false);
        }
        let mut refused = 0;
        for identity in &identities {
            let public = identity.public_key().into_owned();
            self.offered.push(public.public_key_base64());
            let hash = self.hash_for(public.algorithm().is_rsa()).await?;
            let user = self.user.clone();
            match self
                .handle
                .authenticate_publickey_with(user, public, hash, &mut agent)
                .await
            {
                Ok(result) if result.success() => return Ok(true),
                Ok(_) => refused += 1,
                Err(russh::AgentAuthError::Send(_)) => return Err(russh::Error::SendError),
                Err(e) => {
                    tracing::debug!("agent could not sign: {e}");
                    refused += 1;
                }
            }
        }
        let plural = if refused == 1 { "" } else { "s" };
        self.tried
            .push(format!("agent ({refused} key{plural} refused)"));
        Ok(false)
    }
}

/// Reads an unencrypted private key; the error is the reason shown in the list of methods.
fn load_key(path: &Path) -> Result<PrivateKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    match russh::keys::decode_secret_key(&text, None) {
        Ok(key) => Ok(key),
        Err(russh::keys::Error::KeyIsEncrypted) => Err(ENCRYPTED.into()),
        Err(_) if text.contains("ENCRYPTED") => Err(ENCRYPTED.into()),
        Err(e) => Err(format!("unreadable: {e}")),
    }
}

const ENCRYPTED: &str = "encrypted: load it into ssh-agent with ssh-add";

/// Keys read so far, by file: an encrypted key's passphrase is asked once per run even
/// when many hosts connect at once (the others wait for the answer).
static UNLOCKED: tokio::sync::Mutex<Vec<(PathBuf, Unlocked)>> =
    tokio::sync::Mutex::const_new(Vec::new());

/// A key read from its file, or why it could not be.
type Unlocked = Result<Arc<PrivateKey>, String>;

/// Reads the key in `path`, asking for its passphrase on the terminal when it is encrypted
/// and stdin is a terminal.
async fn unlock(path: &Path) -> Result<Arc<PrivateKey>, String> {
    let mut unlocked = UNLOCKED.lock().await;
    if let Some((_, known)) = unlocked.iter().find(|(p, _)| p == path) {
        return known.clone();
    }
    let result = match load_key(path) {
        Err(reason) if reason == ENCRYPTED && std::io::stdin().is_terminal() => {
            let owned = path.to_path_buf();
            tokio::task::spawn_blocking(move || ask_passphrase(&owned))
                .await
                .unwrap_or_else(|e| Err(format!("passphrase prompt failed: {e}")))
        }
        other => other.map(Arc::new),
    };
    unlocked.push((path.to_path_buf(), result.clone()));
    result
}

/// Asks for the passphrase of the key in `path` on the terminal and decrypts it.
fn ask_passphrase(path: &Path) -> Result<Arc<PrivateKey>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let question = format!("Passphrase for key {}: ", known_hosts::display(path));
    let passphrase = rpassword::prompt_password(question)
        .map_err(|e| format!("encrypted, and the passphrase could not be read: {e}"))?;
    match russh::keys::decode_secret_key(&text, Some(&passphrase)) {
        Ok(key) => Ok(Arc::new(key)),
        Err(_) => Err("wrong passphrase".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No agent, no key given, no default key on disk: each default key is named as looked
    /// for; a key that is there is not listed as missing.
    #[test]
    fn missing_default_keys_are_listed_in_the_failure() {
        let home = std::env::temp_dir().join(format!("mestral-auth-home-{}", std::process::id()));
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".ssh/id_ecdsa"), "x").unwrap();
        let target = Target {
            host: "10.0.0.5".into(),
            port: 22,
            user: "deploy".into(),
            identity_files: Vec::new(),
            policy: known_hosts::Policy::Strict,
            known_hosts: Vec::new(),
        };
        let mut tried = vec!["agent (SSH_AUTH_SOCK not set)".to_string()];
        let missing = default_keys(&home).into_iter().filter(|p| !p.exists());
        tried.extend(missing.map(|p| not_found(&p)));
        let h = home.display();
        assert_eq!(
            failed(&target, &tried),
            format!(
                "authentication failed for deploy@10.0.0.5:22: tried agent (SSH_AUTH_SOCK not \
                 set), key {h}/.ssh/id_ed25519 (not found), key {h}/.ssh/id_rsa (not found)"
            )
        );
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn encrypted_and_missing_keys_are_explained() {
        let dir = std::env::temp_dir().join(format!("mestral-key-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let encrypted = dir.join("enc");
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "pass phrase", "-f"])
            .arg(&encrypted)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(load_key(&encrypted).unwrap_err(), ENCRYPTED);
        let missing = load_key(&dir.join("missing")).unwrap_err();
        assert_eq!(
            missing,
            "cannot read: No such file or directory (os error 2)"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
