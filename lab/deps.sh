#!/usr/bin/env bash
# lab/deps.sh — install what the mestral lab needs, idempotently.
#
# Checks each needed file and apt-get installs only the packages that are
# missing (one `apt-get update` first, only when something is missing). While
# installing, a temporary policy-rc.d stops Debian from starting sshd or dockerd
# on the machine itself: the lab runs its own copies inside each lab host.
# Usage: lab/deps.sh        (up.sh runs it for you)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root

# file that must exist -> Debian package that provides it
declare -A NEED=(
    [/usr/sbin/sshd]=openssh-server
    [/usr/bin/ssh]=openssh-client
    [/usr/bin/ssh-keygen]=openssh-client
    [/usr/sbin/dockerd]=docker.io
    [/usr/bin/docker]=docker.io
    [/etc/init.d/docker]=docker.io
    [/usr/bin/tini]=tini
    [/usr/sbin/iptables]=iptables
    [/usr/sbin/ip]=iproute2
    [/usr/bin/curl]=curl
    [/usr/bin/nsenter]=util-linux
    [/usr/bin/unshare]=util-linux
    [/usr/bin/flock]=util-linux
    [/usr/bin/setsid]=util-linux
    [/usr/bin/ps]=procps
    [/usr/sbin/start-stop-daemon]=dpkg
    [/lib/lsb/init-functions]=lsb-base
    [/usr/sbin/service]=init-system-helpers
    [/usr/sbin/useradd]=passwd
    [/usr/sbin/visudo]=sudo
)

missing=()
for f in "${!NEED[@]}"; do
    [[ -e $f ]] || missing+=("${NEED[$f]}")
done
# The app image needs a *static* busybox (FROM scratch has no libc).
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' ||
    missing+=(busybox-static)

if ((${#missing[@]} == 0)); then
    log "dependencies present"
    exit 0
fi

mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
log "installing: ${pkgs[*]}"

# Keep package scripts from starting services on the machine during install.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=true
fi
cleanup() { if $own_policy; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${pkgs[@]}"
log "dependencies installed"
