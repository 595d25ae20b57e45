#!/usr/bin/env bash
# lab/hide.sh NAME JUMP — put lab host NAME behind lab host JUMP, out of the machine's reach.
#
# Both hosts must be up (lab/up.sh). JUMP gets a bridge mhid0 with 172.30.9.1/24 (made
# once) and NAME a second interface eth1 on it with 172.30.9.N/24 (N = last octet of its
# lab address). NAME's lab interface eth0 goes down, so its 172.30.8 address is gone and
# only JUMP can reach it. The machine gets an `unreachable` route for 172.30.9.0/24: a
# direct attempt fails at once instead of leaving by the machine's default route.
# Prints the hidden address. Idempotent; lab/down.sh NAME JUMP undoes it (down.sh without
# names also drops the route). lab/sshd.sh does not work on a hidden host.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root

(($# == 2)) || die "usage: lab/hide.sh NAME JUMP"
name=$1 jump=$2
valid_name "$name"
valid_name "$jump"
[[ $name != "$jump" ]] || die "a host cannot hide behind itself"
take_lock
host_pid_or_die "$name" >/dev/null
host_pid_or_die "$jump" >/dev/null
addr=$(addr_lookup "$name")
hidden=$HIDDEN_PREFIX.$(octet_of "$addr")
ns=$(netns_of "$name")
jns=$(netns_of "$jump")

# The machine never routes the hidden subnet (nor sends it to its default gateway).
[[ -n $(ip route show "$HIDDEN_PREFIX.0/24") ]] || ip route add unreachable "$HIDDEN_PREFIX.0/24"

if ! ip -n "$jns" link show mhid0 >/dev/null 2>&1; then
    ip -n "$jns" link add mhid0 type bridge
    ip -n "$jns" addr add "$HIDDEN_PREFIX.1/24" dev mhid0
    ip -n "$jns" link set mhid0 up
fi
if ! ip -n "$ns" link show eth1 >/dev/null 2>&1; then
    ip link add "mh$(octet_of "$addr")" netns "$jns" type veth peer name eth1 netns "$ns"
    ip -n "$jns" link set "mh$(octet_of "$addr")" master mhid0 up
    ip -n "$ns" addr add "$hidden/24" dev eth1
    ip -n "$ns" link set eth1 up
fi
ip -n "$ns" link set eth0 down
ip -n "$ns" route replace default via "$HIDDEN_PREFIX.1"
deadline=$((SECONDS + 10))
until nsenter --net="/var/run/netns/$jns" bash -c ': </dev/tcp/'"$hidden"'/22' 2>/dev/null; do
    ((SECONDS < deadline)) || die "$name: sshd not reachable from $jump at $hidden:22"
    sleep 0.1
done
log "$name: hidden behind $jump at $hidden (eth0 down; machine route unreachable)" >&2
printf '%s\n' "$hidden"
