//! mestral: an agentless playbook runner that reads Ansible-style inventories and playbooks
//! and runs them over one SSH session per host.

pub mod cli;
pub mod commands;
pub mod config;
pub mod connection;
pub mod executor;
pub mod inventory;
pub mod modules;
pub mod output;
pub mod playbook;
pub mod suggest;
pub mod template;
pub mod vars;
