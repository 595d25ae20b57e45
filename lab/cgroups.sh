#!/usr/bin/env bash
# lab/cgroups.sh — a lab host's cgroups in every hierarchy (internal helper).
#
#   cgroups.sh join NAME PID   move PID into a new cgroup mestral-lab/NAME below
#                              its current one, in every hierarchy
#   cgroups.sh remove NAME     rmdir every .../mestral-lab/NAME subtree
#   cgroups.sh remove-all      rmdir every .../mestral-lab subtree
#
# "Every hierarchy": each enabled cgroup v1 controller (mounted on the machine
# or not: a host's Docker init script mounts the rest), the machine's named v1
# hierarchies (name=systemd) and cgroup2. The host then runs in its own cgroup
# namespace rooted there, so whatever the host and its Docker create lands
# below mestral-lab/NAME. Nesting below the *current* cgroup keeps the lab
# inside whatever cgroup the session's own machinery put us in (here the
# memory controller's). The work happens in a throwaway mount namespace:
# nothing gets mounted on the machine.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root

if [[ ${LAB_CGROUPS_PRIVATE:-} != 1 ]]; then
    LAB_CGROUPS_PRIVATE=1 exec unshare --mount --propagation private -- "$0" "$@"
fi

# One line per hierarchy: "TYPE OPTIONS", e.g. "cgroup cpu", "cgroup2 -".
hierarchies() {
    # v1 controllers, grouped as the kernel has them bound together
    awk 'NR > 1 && $4 == 1 {
            if ($2 == 0) { print $1; next }
            if ($2 in h) h[$2] = h[$2] "," $1; else h[$2] = $1
         }
         END { for (i in h) print h[i] }' /proc/cgroups | sed 's/^/cgroup /'
    # named v1 hierarchies the machine mounts (e.g. name=systemd)
    awk '$3 == "cgroup" { n = split($4, o, ","); for (i = 1; i <= n; i++)
            if (o[i] ~ /^name=/) print "cgroup none," o[i] }' /proc/self/mounts | sort -u
    if awk '$3 == "cgroup2" { found = 1 } END { exit !found }' /proc/self/mounts; then
        echo "cgroup2 -"
    fi
}

dir=$(mktemp -d /tmp/lab-cgroups.XXXXXX)
trap 'umount "$dir" 2>/dev/null || true; rmdir "$dir" 2>/dev/null || true' EXIT

mount_hierarchy() { # TYPE OPTIONS
    if [[ $1 == cgroup2 ]]; then
        mount -t cgroup2 lab-cgroups "$dir"
    else
        mount -t cgroup -o "$2" lab-cgroups "$dir"
    fi
}

# Current cgroup of PID in the hierarchy with OPTIONS ("/" if not listed).
current_cgroup() { # PID OPTIONS
    local want=$2
    [[ $want == - ]] && want=""
    want=${want#none,}
    awk -F: -v w="$want" '$2 == w { print $3; found = 1; exit } END { if (!found) print "/" }' \
        "/proc/$1/cgroup"
}

# A new cpuset cgroup starts with no CPUs and no memory nodes: inherit them.
init_cpuset() { # DIR
    local d=$1
    [[ -f $d/cpuset.cpus ]] || return 0
    [[ -n $(<"$d/cpuset.cpus") ]] || cat "$d/../cpuset.cpus" >"$d/cpuset.cpus"
    [[ -n $(<"$d/cpuset.mems") ]] || cat "$d/../cpuset.mems" >"$d/cpuset.mems"
}

# rmdir, children first, every directory matching TAIL (.../mestral-lab or
# .../mestral-lab/NAME) in the mounted hierarchy; retried while the kernel
# still lists exiting tasks. With a NAME, an emptied mestral-lab parent goes too.
remove_matching() { # TAIL OPTIONS
    local d
    while read -r d; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            [[ -d $d ]] || break
            find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || sleep 0.2
        done
        [[ -d $d ]] && warn "could not remove cgroup ${d#"$dir"} ($2)"
        if [[ $1 == "$CGROUP_NAME"/* ]]; then
            rmdir "$(dirname "$d")" 2>/dev/null || true
        fi
    done < <(find "$dir" -maxdepth 5 -type d -path "$dir*/$1" -prune -print)
}

case ${1:-} in
    join)
        (($# == 3)) || die "usage: cgroups.sh join NAME PID"
        name=$2 pid=$3
        while read -r type opts; do
            if ! mount_hierarchy "$type" "$opts" 2>/dev/null; then
                case ,$opts, in
                    *,pids,* | *,freezer,*) die "cannot mount the cgroup hierarchy '$opts'" ;;
                esac
                warn "skipping cgroup hierarchy '$opts' (cannot mount it)"
                continue
            fi
            cur=$(current_cgroup "$pid" "$opts")
            # pids and freezer: always /mestral-lab/NAME, where down.sh looks.
            case ,$opts, in *,pids,* | *,freezer,*) cur=/ ;; esac
            base=$dir${cur%/}/$CGROUP_NAME
            mkdir -p "$base/$name"
            init_cpuset "$base"
            init_cpuset "$base/$name"
            echo "$pid" >"$base/$name/cgroup.procs"
            umount "$dir"
        done < <(hierarchies)
        ;;
    remove | remove-all)
        if [[ $1 == remove ]]; then
            (($# == 2)) || die "usage: cgroups.sh remove NAME"
            pattern="$CGROUP_NAME/$2"
        else
            pattern="$CGROUP_NAME"
        fi
        while read -r type opts; do
            mount_hierarchy "$type" "$opts" 2>/dev/null || continue
            remove_matching "$pattern" "$opts"
            umount "$dir"
        done < <(hierarchies)
        ;;
    *) die "usage: cgroups.sh join NAME PID | remove NAME | remove-all" ;;
esac
