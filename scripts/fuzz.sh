#!/usr/bin/env bash
# Bounded fuzzing of mestral's front ends (issue 7): the YAML playbook loader, the INI and
# YAML inventory parsers, the template renderer and the command line. Each target first
# replays fuzz/seeds/ and fuzz/regressions/ (kept in the repo), then mutates; a panic, a
# hang (over 10 s on one input), memory past 2 GiB or a rejection that does not name its file
# fails the script. New inputs go to fuzz/corpus/ (not kept); a crash is saved in
# fuzz/artifacts/TARGET/ to add to regressions.
#
# Two ways to bound it:
#   FUZZ_RUNS=N (the test suite's way, default 4000): N inputs per target from the fixed
#     seed FUZZ_SEED (default 1), so every machine tries the same inputs and a test run
#     cannot fail on a fresh random find;
#   FUZZ_SECONDS=S: S seconds per target with a random seed, to hunt for new bugs
#     (`FUZZ_SECONDS=600 bash scripts/fuzz.sh`); what it finds goes to fuzz/regressions/.
# FUZZ_TARGETS="template cli_args" picks some targets.
#
# Works with the stable toolchain only: cargo-fuzz is installed when missing, built without
# a sanitizer, and its -Z flags are accepted through RUSTC_BOOTSTRAP.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n ${FUZZ_SECONDS:-} ]]; then
    bound=(-max_total_time="$FUZZ_SECONDS")
else
    bound=(-runs="${FUZZ_RUNS:-4000}" -seed="${FUZZ_SEED:-1}")
fi
targets=(${FUZZ_TARGETS:-playbook inventory_ini inventory_yaml template cli_args})

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
cargo fuzz build --sanitizer none
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t" "fuzz/regressions/$t"
    if cargo fuzz run --sanitizer none "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" "fuzz/regressions/$t" \
        -- "${bound[@]}" -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1; then
        echo "fuzz $t: $(grep -a '^Done' "$log" | tail -n 1)"
    else
        tail -n 40 "$log"
        echo "fuzz $t FAILED (the input is in fuzz/artifacts/$t/)"
        exit 1
    fi
done
