#!/usr/bin/env bash
# bench/run.sh [--quick] [N ...] — mestral against ansible-playbook and the floor, on lab hosts
# of this machine (as root). See BENCHMARKS.md.
#
# For each N (default 2 10 50): lab hosts b01..bN without dockerd; REPS (default 3) rounds,
# alternating which tool goes first; in each round each tool gets freshly booted hosts
# (lab/down.sh + lab/up.sh of those hosts only) for its first run, then a converged run; the
# floor (examples/floor.rs) runs the same number of remote commands. Then, unless --quick:
# the swarm playbook converged on two docker hosts (bx1 bx2), and a >= 1 GiB image copied
# bx1 -> bx2 by docker_image_copy against `ssh bx1 docker save | ssh bx2 docker load`.
#
# --quick: N=2, one round, no swarm and no image; exits 1 unless mestral is at least 10 times
# faster than Ansible on both runs. Every run exits 1 when the changed counts per task differ.
#
# Environment: MESTRAL_BIN, FLOOR_BIN (default: built here with cargo --release), BENCH_WORK
# (scratch folder, default /var/tmp/mestral-bench), SHARED (default: ../shared beside the
# repository), REPS, BENCH_RESULTS (default bench/results.md; $BENCH_WORK/results-quick.md
# with --quick), BENCH_IMAGE_MIB (default 1100), BENCH_EXTRAS=0 (no swarm, no image).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
. bench/lib.sh

QUICK=0
if [[ ${1:-} == --quick ]]; then
    QUICK=1
    shift
fi
SIZES=("$@")
if ((QUICK)); then
    ((${#SIZES[@]} > 0)) || SIZES=(2)
    REPS=${REPS:-1}
    RESULTS=${BENCH_RESULTS:-$WORK/results-quick.md}
else
    ((${#SIZES[@]} > 0)) || SIZES=(2 10 50)
    REPS=${REPS:-3}
    RESULTS=${BENCH_RESULTS:-$REPO/bench/results.md}
fi

prepare
: >"$WORK/verdicts"
: >"$WORK/summary-rows"
: >"$WORK/memory-rows"
{
    echo "# bench/run.sh results ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    machine_facts
    echo
} >"$RESULTS.tmp"

for n in "${SIZES[@]}"; do
    bench_size "$n" >>"$RESULTS.tmp"
done
summary >>"$RESULTS.tmp"
if ((!QUICK)) && [[ ${BENCH_EXTRAS:-1} != 0 ]]; then
    bench_swarm >>"$RESULTS.tmp"
    bench_image >>"$RESULTS.tmp"
fi
{
    echo "## Verdicts"
    echo
    sed 's/^/- /' "$WORK/verdicts"
} >>"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
cat "$RESULTS"
echo "results written to $RESULTS"
if grep -q '^FAIL' "$WORK/verdicts"; then
    exit 1
fi
