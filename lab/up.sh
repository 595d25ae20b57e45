#!/usr/bin/env bash
# lab/up.sh [NAME[=ADDR] ...] — bring up mestral lab hosts (default: calxitu calxitu2).
#
# Each host is a network namespace on bridge mlab0 (172.30.8.0/24, machine side
# 172.30.8.1) plus a mount + UTS namespace with copy-on-write /etc /var /opt
# /home, private /root /run /tmp, a real sshd (root by key) and a real dockerd
# started by the host's own /etc/init.d/docker. Hosts already up are left as
# they are; half-built ones are torn down and rebuilt. See lab/README.md.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root

# NAME=ADDR asks for a fixed address (172.30.8.201 .. .248, outside the range handed out
# by first use), so an inventory can compute it; the name keeps it for good.
names=()
claims=()
for arg in "$@"; do
    if [[ $arg == *=* ]]; then
        names+=("${arg%%=*}")
        claims+=("$arg")
    else
        names+=("$arg")
    fi
done
((${#names[@]} > 0)) || names=("${DEFAULT_HOSTS[@]}")
for n in "${names[@]}"; do valid_name "$n"; done

"$LAB_DIR/deps.sh"
take_lock
for claim in "${claims[@]}"; do addr_claim "${claim%%=*}" "${claim#*=}"; done
start_time=$SECONDS

# ------------------------------------------------------------ machine side

# Controller key pair (generated once, kept across down/up).
mkdir -p "$STATE_DIR/hostkeys"
chmod 0755 "$STATE_DIR"
if [[ ! -f $CONTROLLER_KEY ]]; then
    log "generating controller key $CONTROLLER_KEY"
    ssh-keygen -q -t ed25519 -N '' -C mestral-lab-controller -f "$CONTROLLER_KEY"
fi

# Reference app build context: a static busybox beside app/Dockerfile.
if ! cmp -s /bin/busybox "$REPO_DIR/app/busybox"; then
    install -m 0755 /bin/busybox "$REPO_DIR/app/busybox"
    log "copied /bin/busybox to app/busybox"
fi

# Bridge and its address.
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
fi
# (No `| grep -q`: with pipefail, grep quitting early can fail the pipeline.)
[[ $(ip addr show dev "$BRIDGE") == *"inet $BRIDGE_ADDR/24"* ]] ||
    ip addr add "$BRIDGE_ADDR/24" dev "$BRIDGE"
ip link set "$BRIDGE" up

# Bridged lab traffic passes through iptables here, and the FORWARD policy may
# be DROP: allow host-to-host (swarm needs it). Never let lab traffic be
# forwarded anywhere else; no NAT.
iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null ||
    iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
iptables -C FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -j DROP 2>/dev/null ||
    iptables -I FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -j DROP

for c in "${TRACK_CONTROLLERS[@]}"; do
    [[ -d $CGROUP_ROOT/$c ]] || die "cgroup v1 controller '$c' is not mounted at $CGROUP_ROOT/$c"
done

# ------------------------------------------------------------ per host

# Persistent ssh host key of NAME; a new key means old known_hosts lines are stale.
ensure_hostkey() {
    local name=$1 addr=$2 key
    key=$(hostkey_of "$name")
    [[ -f $key ]] && return 0
    mkdir -p "$(dirname "$key")"
    ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$key"
    if [[ -f $HOME/.ssh/known_hosts ]]; then
        ssh-keygen -R "$addr" -f "$HOME/.ssh/known_hosts" >/dev/null 2>&1 || true
        ssh-keygen -R "$name" -f "$HOME/.ssh/known_hosts" >/dev/null 2>&1 || true
    fi
    log "$name: new ssh host key (removed stale $addr entries from ~/.ssh/known_hosts)"
}

# Network namespace, veth into the bridge, address, default route.
make_net() {
    local name=$1 addr=$2 ns veth
    ns=$(netns_of "$name")
    veth=$(veth_of "$addr")
    ip netns add "$ns"
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$GATEWAY"
    # A host brought up again has a new MAC: forget the machine's cached one, or
    # connections time out until the stale neighbour entry expires.
    ip neigh flush to "$addr" dev "$BRIDGE" 2>/dev/null || true
}

# Start host-init inside fresh namespaces (a cgroup namespace rooted at NAME's
# new cgroups among them), as a child of tini, the host's init.
launch() {
    local name=$1 H c
    H=$(hostdir_of "$name")
    mkdir -p "$H"
    : >"$H/status"
    (
        "$LAB_DIR/cgroups.sh" join "$name" "$BASHPID"
        exec setsid nsenter --net="/var/run/netns/$(netns_of "$name")" -- \
            unshare --mount --uts --cgroup --propagation private -- \
            tini -s -- bash "$LAB_DIR/host-init.sh" "$name"
    ) </dev/null >>"$H/init.log" 2>&1 9>&- &
}

started=()
for name in "${names[@]}"; do
    addr=$(addr_of "$name")
    ensure_hostkey "$name" "$addr"
    if [[ -n $(host_pid "$name") ]]; then
        log "$name: already up ($addr)"
        sshd_start "$name"
        continue
    fi
    if lab_hosts_on_machine | grep -qx "$name" ||
        ip link show "$(veth_of "$addr")" >/dev/null 2>&1; then
        log "$name: leftovers of an earlier run found, tearing them down"
        host_down "$name"
    fi
    log "$name: starting ($addr)"
    make_net "$name" "$addr"
    launch "$name"
    started+=("$name")
done

# known_hosts for the lab (also usable with ssh -o UserKnownHostsFile=...).
: >"$STATE_DIR/known_hosts.tmp"
while read -r n a; do
    [[ -f $(hostkey_of "$n").pub ]] || continue
    printf '%s,%s %s\n' "$a" "$n" "$(cut -d' ' -f1-2 "$(hostkey_of "$n").pub")" \
        >>"$STATE_DIR/known_hosts.tmp"
done <"$STATE_DIR/addresses"
mv "$STATE_DIR/known_hosts.tmp" "$STATE_DIR/known_hosts"

# Wait for every started host to report ready (or failed).
failed=()
for name in "${started[@]}"; do
    H=$(hostdir_of "$name")
    deadline=$((SECONDS + 150))
    while :; do
        status=$(cat "$H/status" 2>/dev/null || true)
        [[ $status == ready ]] && break
        if [[ $status == failed* ]] || ((SECONDS > deadline)); then
            [[ -n $status ]] || status="no answer within 150 s"
            printf '[lab] error: %s: %s\n--- end of %s:\n' "$name" "$status" "$H/init.log" >&2
            tail -n 30 "$H/init.log" >&2 || true
            if [[ -f $H/var/upper/log/docker.log ]]; then
                printf -- '--- end of the host'"'"'s /var/log/docker.log:\n' >&2
                tail -n 20 "$H/var/upper/log/docker.log" >&2
            fi
            failed+=("$name")
            break
        fi
        sleep 0.2
    done
done
if ((${#failed[@]} > 0)); then
    die "host(s) failed to come up: ${failed[*]} (inspect, then run lab/down.sh)"
fi

# End-to-end check from the controller: real ssh, known host key, hostname.
mapfile -t SSH_OPTS < <(ssh_opts)
for name in "${names[@]}"; do
    addr=$(addr_lookup "$name")
    got=$(ssh "${SSH_OPTS[@]}" "root@$addr" hostname) ||
        die "$name: ssh root@$addr failed"
    [[ $got == "$name" ]] || die "$name: ssh root@$addr reports hostname '$got'"
done

log "up in $((SECONDS - start_time)) s:"
for name in "${names[@]}"; do
    addr=$(addr_lookup "$name")
    printf '    %-12s %-15s ssh -i %s root@%s\n' "$name" "$addr" "$CONTROLLER_KEY" "$addr"
done
cat <<EOF
    controller side: $BRIDGE $BRIDGE_ADDR/24; hosts' known keys: $STATE_DIR/known_hosts
    run a command inside a host without ssh:  lab/exec.sh NAME CMD...
    stop/start a host's sshd:                 lab/sshd.sh NAME stop|start
    take these hosts down:                    lab/down.sh NAME...  (no names: every lab host)
EOF
