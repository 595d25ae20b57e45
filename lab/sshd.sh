#!/usr/bin/env bash
# lab/sshd.sh NAME stop|start|status — stop or start only NAME's sshd.
#
# stop: the listening sshd exits (sessions already open stay, as with
# `service ssh stop`) and port 22 on the host's address refuses connections.
# start: sshd -D is started again inside the host. status: exit 0 if running.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root

(($# == 2)) || die "usage: lab/sshd.sh NAME stop|start|status"
name=$1
valid_name "$name"
case $2 in
    stop) sshd_stop "$name" ;;
    start) sshd_start "$name" ;;
    status)
        host_pid_or_die "$name" >/dev/null
        pid=$(sshd_pid "$name")
        if [[ -n $pid ]]; then
            log "$name: sshd running (pid $pid)"
        else
            log "$name: sshd stopped"
            exit 3
        fi
        ;;
    *) die "usage: lab/sshd.sh NAME stop|start|status" ;;
esac
