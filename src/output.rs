//! The reporter: PLAY and TASK headers, a line per host result, diffs and the PLAY RECAP.
