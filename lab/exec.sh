#!/usr/bin/env bash
# lab/exec.sh NAME CMD [ARG...] — run CMD inside lab host NAME, without ssh.
#
# Enters the host's network, mount, UTS and cgroup namespaces (those of its init,
# recorded by up.sh) and joins its cgroups, so CMD sees exactly what the host
# sees: its /etc, its Docker daemon on /var/run/docker.sock, its hostname.
# Working directory /root, like an ssh login. CMD's exit status is passed through.
# Example: lab/exec.sh calxitu docker node ls
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root

(($# >= 2)) || die "usage: lab/exec.sh NAME CMD [ARG...]"
name=$1
shift
valid_name "$name"
pid=$(host_pid_or_die "$name")
join_cgroups "$name" "$$"
unset DOCKER_HOST DOCKER_CONTEXT
export HOME=/root
exec nsenter -t "$pid" --net --mount --uts --cgroup --wd=/root -- "$@"
