//! Playbooks: plays, tasks, handlers and roles read from YAML into typed structures.
