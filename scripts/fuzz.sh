#!/usr/bin/env bash
# Bounded fuzzing of mestral's front ends (issue 7): the YAML playbook loader, the INI and
# YAML inventory parsers, the template renderer and the command line. Each target first
# replays fuzz/seeds/ and fuzz/regressions/ (kept in the repo), then mutates for
# FUZZ_SECONDS (default 20) seconds; a panic, a hang (over 10 s on one input), memory past
# 2 GiB or a rejection that does not name its file fails the script. New inputs go to
# fuzz/corpus/ (not kept); a crash is saved in fuzz/artifacts/TARGET/ to add to regressions.
#
# Works with the stable toolchain only: cargo-fuzz is installed when missing, built without
# a sanitizer, and its -Z flags are accepted through RUSTC_BOOTSTRAP.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
targets=(playbook inventory_ini inventory_yaml template cli_args)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
cargo fuzz build --sanitizer none
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t" "fuzz/regressions/$t"
    if cargo fuzz run --sanitizer none "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" "fuzz/regressions/$t" \
        -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1; then
        echo "fuzz $t: $(grep -a '^Done' "$log" | tail -n 1)"
    else
        tail -n 40 "$log"
        echo "fuzz $t FAILED (the input is in fuzz/artifacts/$t/)"
        exit 1
    fi
done
