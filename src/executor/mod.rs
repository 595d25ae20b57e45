//! The executor: runs plays over hosts, task by task, with one session per host.
