# lab/common.sh — shared settings and helpers for the mestral lab scripts.
#
# Sourced by up.sh, down.sh, exec.sh and sshd.sh (never run directly). It owns
# the lab's constants (bridge, subnet, paths), the persistent name -> address
# map, and the helpers that find a host's namespaces, cgroups and processes.
# Everything here is plain bash; the callers set `set -euo pipefail`.
# shellcheck disable=SC2034  # constants used by the scripts that source this

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/.." && pwd)

# Persistent state: controller key pair, host keys, address map. Kept by down.sh.
STATE_DIR=${MESTRAL_LAB_STATE:-/var/lib/mestral-lab}
# Per-host runtime: overlay upper/work dirs, /root, /run, /tmp, logs, pids.
# Wiped by down.sh. Must NOT be under /etc, /var, /opt or /home: those are the
# overlay lower layers, and an upper dir inside its own lower dir is unsound.
RUN_DIR=${MESTRAL_LAB_RUN:-/srv/mestral-lab}

BRIDGE=mlab0
NET_PREFIX=172.30.8
BRIDGE_ADDR=$NET_PREFIX.1
# Default route of every host: a lab address nobody owns. Swarm needs a default
# route to pick its advertise address; packets to it never get past ARP.
GATEWAY=$NET_PREFIX.254
# Subnet of hosts hidden behind a jump host by hide.sh (only the jump host reaches it).
HIDDEN_PREFIX=172.30.9
CGROUP_NAME=mestral-lab
CGROUP_ROOT=/sys/fs/cgroup
# Directories a host gets as copy-on-write overlays of the machine's own.
OVERLAY_DIRS=(etc var opt home)
# Directories a host gets as fresh private (empty) bind mounts.
PRIVATE_DIRS=(root run tmp)
# Users created inside every fresh host (the benchmark playbook expects `lab`).
LAB_USERS=${MESTRAL_LAB_USERS-lab}
CONTROLLER_KEY=$STATE_DIR/id_ed25519
DEFAULT_HOSTS=(calxitu calxitu2)

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '[lab] %s\n' "$*"; }
warn() { printf '[lab] warning: %s\n' "$*" >&2; }
die() { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

require_root() {
    [[ $(id -u) -eq 0 ]] || die "must run as root"
}

valid_name() {
    [[ $1 =~ ^[a-z][a-z0-9-]{0,30}$ ]] ||
        die "bad host name '$1' (lower-case letters, digits, '-'; start with a letter)"
}

# Serialise lab scripts that change state. fd 9 must never reach a lab host's
# processes (launchers close it), or the lock would be held forever.
take_lock() {
    mkdir -p "$STATE_DIR"
    exec 9>"$STATE_DIR/lock"
    flock -w 300 9 || die "another lab script holds $STATE_DIR/lock"
}

# Address of NAME from the persistent map, or nothing.
addr_lookup() {
    [[ -f $STATE_DIR/addresses ]] || return 0
    awk -v n="$1" '$1 == n { print $2; exit }' "$STATE_DIR/addresses"
}

# Address of NAME, allocating (and recording) one if it has none yet:
# calxitu=.250, calxitu2=.249, any other name the first free of .10 .. .200.
addr_of() {
    local name=$1 map=$STATE_DIR/addresses a o
    a=$(addr_lookup "$name")
    if [[ -z $a ]]; then
        mkdir -p "$STATE_DIR"
        touch "$map"
        case $name in
            calxitu) a=$NET_PREFIX.250 ;;
            calxitu2) a=$NET_PREFIX.249 ;;
            *)
                for o in $(seq 10 200); do
                    if ! awk '{ print $2 }' "$map" | grep -qx "$NET_PREFIX.$o"; then
                        a=$NET_PREFIX.$o
                        break
                    fi
                done
                [[ -n $a ]] || die "no free lab address left in $map"
                ;;
        esac
        printf '%s %s\n' "$name" "$a" >>"$map"
    fi
    printf '%s\n' "$a"
}

# Records ADDR as NAME's address: it must be NET_PREFIX.201 .. .248, and neither the name
# nor the address may already be mapped otherwise.
addr_claim() {
    local name=$1 addr=$2 map=$STATE_DIR/addresses have owner o
    o=${addr##*.}
    [[ $addr == "$NET_PREFIX.$o" && $o =~ ^[0-9]+$ ]] && ((o >= 201 && o <= 248)) ||
        die "$name=$addr: a fixed address must be $NET_PREFIX.201 .. $NET_PREFIX.248"
    have=$(addr_lookup "$name")
    [[ -z $have || $have == "$addr" ]] || die "$name already has address $have, not $addr"
    [[ -n $have ]] && return 0
    mkdir -p "$STATE_DIR"
    touch "$map"
    owner=$(awk -v a="$addr" '$2 == a { print $1; exit }' "$map")
    [[ -z $owner ]] || die "$name=$addr: $addr already belongs to $owner"
    printf '%s %s\n' "$name" "$addr" >>"$map"
}

octet_of() { printf '%s\n' "${1##*.}"; }

# Per-host names derived from the address (interface names max 15 chars).
netns_of() { printf 'lab-%s\n' "$1"; }
veth_of() { printf 'mlv%s\n' "$(octet_of "$1")"; }
# docker0 of each host gets its own /24 so the per-host bridges never collide.
bip_of() { printf '172.31.%s.1/24\n' "$(octet_of "$1")"; }

hostdir_of() { printf '%s/%s\n' "$RUN_DIR" "$1"; }
hostkey_of() { printf '%s/hostkeys/%s/ssh_host_ed25519_key\n' "$STATE_DIR" "$1"; }

# cgroup v1 controllers used to track every process of a host.
TRACK_CONTROLLERS=(pids freezer)
cgroup_dir() { printf '%s/%s/%s/%s\n' "$CGROUP_ROOT" "$1" "$CGROUP_NAME" "$2"; }

# Move PID (default $$) into host NAME's tracking cgroups (pids, freezer), so
# that whatever it runs is tracked and killed by down.sh. (Hosts themselves are
# started by cgroups.sh join, which covers every hierarchy.)
join_cgroups() {
    local name=$1 pid=${2:-$$} c
    for c in "${TRACK_CONTROLLERS[@]}"; do
        echo "$pid" >"$(cgroup_dir "$c" "$name")/cgroup.procs"
    done
}

# inode of a namespace file ("net:[4026532..]" -> 4026532..).
ns_id() { readlink "$1" 2>/dev/null | tr -dc '0-9'; }

# PID of NAME's init (the process holding its namespaces) if it is alive and
# really in the host's netns; nothing otherwise.
host_pid() {
    local name=$1 pidfile pid want
    pidfile=$(hostdir_of "$name")/init.pid
    [[ -s $pidfile ]] || return 0
    pid=$(<"$pidfile")
    [[ -d /proc/$pid ]] || return 0
    want=$(stat -L -c %i "/var/run/netns/$(netns_of "$name")" 2>/dev/null) || return 0
    [[ $(ns_id "/proc/$pid/ns/net") == "$want" ]] || return 0
    printf '%s\n' "$pid"
}

# PID of NAME's init or a clear error.
host_pid_or_die() {
    local pid
    pid=$(host_pid "$1")
    [[ -n $pid ]] || die "lab host '$1' is not up (run lab/up.sh $1)"
    printf '%s\n' "$pid"
}

# Names of every lab host that has any trace on this machine.
lab_hosts_on_machine() {
    {
        [[ -d $RUN_DIR ]] && find "$RUN_DIR" -mindepth 1 -maxdepth 1 -type d -printf '%f\n'
        local c
        for c in "${TRACK_CONTROLLERS[@]}"; do
            [[ -d $CGROUP_ROOT/$c/$CGROUP_NAME ]] &&
                find "$CGROUP_ROOT/$c/$CGROUP_NAME" -mindepth 1 -maxdepth 1 -type d -printf '%f\n'
        done
        ip netns list 2>/dev/null | awk '$1 ~ /^lab-/ { sub(/^lab-/, "", $1); print $1 }'
    } | sort -u
}

ssh_opts() {
    printf '%s\n' -i "$CONTROLLER_KEY" -o BatchMode=yes -o ConnectTimeout=5 \
        -o UserKnownHostsFile="$STATE_DIR/known_hosts" -o StrictHostKeyChecking=yes \
        -o LogLevel=ERROR
}

# ---------------------------------------------------------------- sshd helpers

# PID of NAME's listening sshd (from the host's own /run/sshd.pid), or nothing.
sshd_pid() {
    local name=$1 pidfile pid
    pidfile=$(hostdir_of "$name")/run/sshd.pid
    [[ -s $pidfile ]] || return 0
    pid=$(<"$pidfile")
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == sshd ]] || return 0
    printf '%s\n' "$pid"
}

port_open() { (: </dev/tcp/"$1"/"$2") 2>/dev/null; }

# Is PID alive (a zombie awaiting its reaper does not count)?
alive() { [[ -d /proc/$1 ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# Start sshd -D inside NAME again and wait for port 22. The host's own
# host-init (a child of the host's init, tini) starts it on request through the
# control fifo, so the new sshd is adopted and reaped inside the host.
sshd_start() {
    local name=$1 addr fifo deadline
    host_pid_or_die "$name" >/dev/null
    addr=$(addr_lookup "$name")
    if [[ -n $(sshd_pid "$name") ]]; then
        log "$name: sshd already running"
        return 0
    fi
    fifo=$(hostdir_of "$name")/control
    [[ -p $fifo ]] || die "$name: no control fifo $fifo (host not fully up?)"
    timeout 5 bash -c 'echo start-sshd >"$1"' _ "$fifo" ||
        die "$name: host-init does not read $fifo"
    deadline=$((SECONDS + 15))
    until port_open "$addr" 22; do
        ((SECONDS < deadline)) || die "$name: sshd did not listen on $addr:22 within 15 s"
        sleep 0.1
    done
    log "$name: sshd started ($addr:22)"
}

# Stop NAME's listening sshd (open sessions are left alone, as `service ssh
# stop` would) and wait until port 22 refuses connections.
sshd_stop() {
    local name=$1 pid addr deadline
    host_pid_or_die "$name" >/dev/null
    addr=$(addr_lookup "$name")
    pid=$(sshd_pid "$name")
    if [[ -z $pid ]]; then
        log "$name: sshd already stopped"
        return 0
    fi
    kill -TERM "$pid"
    deadline=$((SECONDS + 10))
    while alive "$pid" || port_open "$addr" 22; do
        ((SECONDS < deadline)) || die "$name: sshd (pid $pid) did not stop within 10 s"
        sleep 0.1
    done
    log "$name: sshd stopped ($addr:22 now refuses connections)"
}

# ---------------------------------------------------------------- teardown

# Every PID tracked for NAME: all tasks in its cgroup subtrees (the host runs in
# a cgroup namespace rooted there, so its containers are below too) plus, as a
# safety net, any process in its network or mount namespace.
host_pids() {
    local name=$1 netns_ino=$2 mntns_ino=$3 f
    {
        for f in "$CGROUP_ROOT"/*/"$CGROUP_NAME/$name"; do
            [[ -d $f ]] && find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null
        done
        if [[ -n $netns_ino$mntns_ino ]]; then
            stat -L -c '%i %n' /proc/[0-9]*/ns/net /proc/[0-9]*/ns/mnt 2>/dev/null |
                awk -v n="${netns_ino:--}" -v m="${mntns_ino:--}" \
                    '($1 == n && $2 ~ /net$/) || ($1 == m && $2 ~ /mnt$/) { split($2, p, "/"); print p[3] }'
        fi
    } | sort -un | grep -vx -e "$$" -e "$BASHPID" || true
}

# Kill every process of NAME: freeze its tree, SIGKILL all, thaw, repeat until
# nothing is left (daemons that fork while we kill are caught next round).
# Order matters for reaping: the host's init (tini) adopts the host's daemons
# and reaps them, but exits as soon as its main child (host-init.sh) exits. So
# the main child is stopped first (it can't spawn anything), then everything
# else is killed and reaped, then the main child, and tini last: no zombie is
# left for the machine's PID 1, which reaps only now and then.
kill_host() {
    local name=$1 netns_ino="" mntns_ino="" init main="" freezer pids deadline
    netns_ino=$(stat -L -c %i "/var/run/netns/$(netns_of "$name")" 2>/dev/null) || netns_ino=""
    init=$(host_pid "$name")
    if [[ -n $init ]]; then
        mntns_ino=$(ns_id "/proc/$init/ns/mnt")
        main=$(cat "$(hostdir_of "$name")/main.pid" 2>/dev/null || true)
        [[ -n $main && $(ps -o ppid= -p "$main" 2>/dev/null | tr -d ' ') == "$init" ]] || main=""
        [[ -n $main ]] && kill -STOP "$main" 2>/dev/null
    fi
    freezer=$(cgroup_dir freezer "$name")
    deadline=$((SECONDS + 30))
    while :; do
        mapfile -t pids < <(host_pids "$name" "$netns_ino" "$mntns_ino" |
            grep -vx -e "${init:-0}" -e "${main:-0}")
        # done when the rest is dead and the init has reaped it
        if ((${#pids[@]} == 0)) && { [[ -z $init ]] || ! alive "$init" ||
            [[ -z $(ps -o pid= --ppid "$init" | tr -d ' ' | grep -vx "${main:-0}") ]]; }; then
            break
        fi
        ((SECONDS < deadline)) || die "$name: processes survive SIGKILL: ${pids[*]}"
        if ((${#pids[@]} > 0)); then
            [[ -f $freezer/freezer.state ]] && echo FROZEN >"$freezer/freezer.state" 2>/dev/null
            kill -9 "${pids[@]}" 2>/dev/null || true
            [[ -f $freezer/freezer.state ]] && echo THAWED >"$freezer/freezer.state" 2>/dev/null
        fi
        sleep 0.1
    done
    # the main child, then the init (tini exits by itself once its child is gone)
    if [[ -n $main ]]; then
        kill -9 "$main" 2>/dev/null || true
    elif [[ -n $init ]]; then
        kill -9 "$init" 2>/dev/null || true
    fi
    while [[ -n $init ]] && alive "$init"; do
        ((SECONDS < deadline)) || kill -9 "$init" 2>/dev/null || true
        ((SECONDS < deadline + 5)) || die "$name: init $init survives SIGKILL"
        sleep 0.05
    done
    while [[ -n $(host_pids "$name" "$netns_ino" "$mntns_ino") ]]; do
        ((SECONDS < deadline + 5)) || die "$name: processes survive SIGKILL"
        sleep 0.1
    done
}

# Tear down one host completely: processes, cgroups, netns, veth, layers.
host_down() {
    local name=$1 addr H c m
    addr=$(addr_lookup "$name")
    H=$(hostdir_of "$name")
    kill_host "$name"
    "$LAB_DIR/cgroups.sh" remove "$name"
    if ip netns list | awk '{ print $1 }' | grep -qx "$(netns_of "$name")"; then
        ip netns del "$(netns_of "$name")"
    fi
    # Deleting the netns destroys the veth pair asynchronously: it may vanish between the
    # check and the delete, which is fine.
    if [[ -n $addr ]] && ip link show "$(veth_of "$addr")" >/dev/null 2>&1; then
        ip link del "$(veth_of "$addr")" 2>/dev/null ||
            ! ip link show "$(veth_of "$addr")" >/dev/null 2>&1 ||
            die "$name: cannot delete $(veth_of "$addr")"
    fi
    # Nothing of a host is mounted on the machine side; be sure before rm -rf.
    awk -v h="$H" '$2 == h || index($2, h "/") == 1 { print $2 }' /proc/self/mounts |
        sort -r | while read -r m; do umount -l "$m"; done
    if [[ -d $H ]]; then
        rm -rf --one-file-system "$H"
    fi
}
