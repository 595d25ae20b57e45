#!/usr/bin/env bash
# bench/rss-tree.sh OUT -- CMD... — runs CMD and samples, every 50 ms, the summed resident
# memory of CMD and all its descendants (Ansible's forks and ssh clients included); writes
# the peak in kB to OUT. CMD's exit status is passed through.
set -uo pipefail
out=$1
shift
[[ ${1:-} == -- ]] && shift
"$@" &
pid=$!
peak=0
while kill -0 "$pid" 2>/dev/null; do
    kb=$(ps -e -o pid=,ppid=,rss= | awk -v root="$pid" '
        { parent[$1] = $2; rss[$1] = $3 }
        END {
            for (p in parent) {
                q = p
                while (q != "" && q != 0 && q != 1) {
                    if (q == root) { sum += rss[p]; break }
                    q = parent[q]
                }
            }
            print sum + 0
        }')
    ((kb > peak)) && peak=$kb
    sleep 0.05
done
wait "$pid"
rc=$?
echo "$peak" >"$out"
exit "$rc"
