#!/usr/bin/env bash
# lab/down.sh [NAME ...] — tear the mestral lab down completely.
#
# Without names: every lab host found on the machine (by runtime dir, cgroup or
# netns), then the bridge, the iptables rules and the cgroup parents. With
# names: only those hosts. For each host it kills every process through the
# host's cgroups (containers and shims included), deletes its netns and veth,
# and wipes its layers, so the next up.sh starts a fresh host. Kept: the
# controller key, the host keys and the address map in /var/lib/mestral-lab.
# Idempotent; works after a half-finished up.sh.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root
take_lock

if (($# > 0)); then
    names=("$@")
    for n in "${names[@]}"; do valid_name "$n"; done
    all=false
else
    mapfile -t names < <(lab_hosts_on_machine)
    all=true
fi

for name in "${names[@]}"; do
    log "$name: tearing down"
    host_down "$name"
done

if $all; then
    # Stray veths (mlvN) of hosts whose runtime dir was already gone.
    ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2) } $2 ~ /^mlv[0-9]+$/ { print $2 }' |
        while read -r l; do ip link del "$l" 2>/dev/null || true; done
    if ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link del "$BRIDGE"
    fi
    while iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null; do
        iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
    done
    while iptables -C FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -j DROP 2>/dev/null; do
        iptables -D FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -j DROP
    done
    ip route del unreachable "$HIDDEN_PREFIX.0/24" 2>/dev/null || true
    "$LAB_DIR/cgroups.sh" remove-all
    if [[ -d $RUN_DIR ]]; then rmdir "$RUN_DIR" 2>/dev/null || true; fi
fi
log "down (kept $STATE_DIR: controller key, host keys, address map)"
