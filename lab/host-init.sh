#!/usr/bin/env bash
# lab/host-init.sh NAME — boots one lab host from inside its namespaces.
#
# Internal: up.sh starts it as `tini -s -- bash host-init.sh NAME` in the host's
# own network namespace and new mount, UTS and cgroup namespaces. It builds the host's
# filesystem view (overlays, private dirs, its own sysfs), writes the host's
# configuration, starts Docker the Debian sysvinit way and sshd, reports
# "ready" (or "failed: ...") in RUN_DIR/NAME/status, then idles. tini (its
# parent, recorded in RUN_DIR/NAME/init.pid) is the host's init: it holds the
# namespaces and reaps the host's orphaned daemons.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

NAME=$1
ADDR=$(addr_lookup "$NAME")
H=$(hostdir_of "$NAME")
[[ -n $ADDR ]] || { echo "host-init: no address for $NAME" >&2; exit 1; }

exec 7>"$H/status"
say() { printf '[host-init %s] %s\n' "$NAME" "$*"; }
fail() {
    echo "failed: $*" >&7
    printf '[host-init %s] error: %s\n' "$NAME" "$*" >&2
    exit 1
}
trap 'fail "command failed at host-init.sh line $LINENO: $BASH_COMMAND"' ERR

[[ $(cat "/proc/$PPID/comm") == tini ]] || fail "parent is not tini"
echo "$PPID" >"$H/init.pid"
echo "$$" >"$H/main.pid"
hostname "$NAME"

# 1. Drop our copies of the machine's `ip netns` mounts: they would keep the
#    other hosts' network namespaces alive as long as this host lives.
awk '$2 ~ "^/(var/)?run/netns(/|$)" { print $2 }' /proc/self/mounts | sort -ru |
    while read -r m; do umount -l "$m"; done

# 2. Copy-on-write layers over the machine's directories (rename works in them,
#    e.g. an atomic rewrite of /etc/hosts), fresh private dirs for the rest.
for d in "${OVERLAY_DIRS[@]}"; do
    mkdir -p "$H/$d/upper" "$H/$d/work"
    mount -t overlay "lab-$NAME-$d" \
        -o "lowerdir=/$d,upperdir=$H/$d/upper,workdir=$H/$d/work" "/$d"
    [[ $(stat -f -c %T "/$d") == overlayfs ]] || fail "/$d is not an overlay"
done
for d in "${PRIVATE_DIRS[@]}"; do
    mkdir -p "$H/$d"
    mount --bind "$H/$d" "/$d"
done
chmod 0700 /root
chmod 0755 /run
chmod 1777 /tmp
[[ /var/run -ef /run ]] || fail "/var/run does not resolve to /run"

# 3. A sysfs of this host's own network namespace (as `ip netns exec` gives,
#    so /sys/class/net lists this host's interfaces) and, unlike it, the
#    machine's cgroup hierarchies mounted again at /sys/fs/cgroup (dockerd
#    needs them). Mounted from inside this host's cgroup namespace, each shows
#    the host's own subtree (mestral-lab/NAME) as its root, as on a real host.
mapfile -t cgmounts < <(awk '($3 == "cgroup" || $3 == "cgroup2") && $2 ~ "^/sys/fs/cgroup/" {
    print $2, $3, $4 }' /proc/self/mounts)
((${#cgmounts[@]} > 0)) || fail "no cgroup hierarchies mounted under /sys/fs/cgroup"
umount -R /sys
mount -t sysfs -o rw,nosuid,nodev,noexec,relatime sysfs /sys
mount -t tmpfs -o rw,nosuid,nodev,noexec,mode=755 cgroup /sys/fs/cgroup
for m in "${cgmounts[@]}"; do
    read -r mp type opts <<<"$m"
    mkdir -p "$mp"
    if [[ $type == cgroup2 ]]; then
        mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$mp"
        continue
    fi
    opts=$(tr , '\n' <<<"$opts" |
        grep -vxE 'rw|ro|relatime|noatime|strictatime|nodiratime|nosuid|nodev|noexec' |
        paste -sd, -)
    [[ $opts == name=* ]] && opts=none,$opts
    mount -t cgroup -o "nosuid,nodev,noexec,$opts" cgroup "$mp"
done
grep -q ':pids:/$' /proc/self/cgroup || fail "not in a cgroup namespace of its own"
[[ -e /sys/class/net/eth0 ]] || fail "fresh sysfs does not show eth0"

# 4. The host's own identity and configuration (all inside its /etc overlay).
echo "$NAME" >/etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n' \
    "$NAME" >/etc/hosts.lab-tmp
mv /etc/hosts.lab-tmp /etc/hosts
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >/etc/machine-id
echo >>/etc/machine-id
# DNS goes to the controller's lab address, where nothing answers: lookups
# fail fast and no query ever leaves the lab.
rm -f /etc/resolv.conf
printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$BRIDGE_ADDR" >/etc/resolv.conf

# sshd: this host's persistent key only; root by key only. The controller's key
# is authorised through a second AuthorizedKeysFile that playbooks never touch,
# so they can manage /root/.ssh/authorized_keys freely.
rm -f /etc/ssh/ssh_host_*
install -m 0600 "$(hostkey_of "$NAME")" /etc/ssh/ssh_host_ed25519_key
install -m 0644 "$(hostkey_of "$NAME").pub" /etc/ssh/ssh_host_ed25519_key.pub
install -d -m 0755 /etc/mestral-lab
install -m 0644 "$CONTROLLER_KEY.pub" /etc/mestral-lab/controller_keys
cat >/etc/ssh/sshd_config <<'EOF'
# sshd_config of a mestral lab host (written by lab/host-init.sh)
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys /etc/mestral-lab/controller_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
# No PAM here: pam_loginuid and friends are not needed in the lab.
UsePAM no
StrictModes yes
UseDNS no
PidFile /run/sshd.pid
PrintMotd no
X11Forwarding no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
mkdir -p -m 0755 /run/sshd
mkdir -p -m 1777 /run/lock

# Docker, configured the Debian way: /etc/default/docker is read by
# /etc/init.d/docker. (Its containers land in this host's cgroups by way of
# the cgroup namespace: down.sh finds and kills them too.)
cat >/etc/default/docker <<EOF
# /etc/default/docker of mestral lab host $NAME (written by lab/host-init.sh)
DOCKER_OPTS="--storage-driver vfs --bip $(bip_of "$ADDR")"
EOF
# Where the hard limits cannot be raised (a sandbox without CAP_SYS_RESOURCE),
# the init script's `ulimit -n 1048576` / `ulimit -p unlimited` would abort it
# (it runs under `set -e`). This file is sourced before those lines: make them
# fall back to the hard limit instead.
if ! (ulimit -n 1048576 && ulimit -u unlimited) 2>/dev/null; then
    cat >>/etc/default/docker <<'EOF'

# mestral lab: hard limits cannot be raised on this machine; use the hard limit.
ulimit() { command ulimit "$@" 2>/dev/null || command ulimit "$1" "$(command ulimit -H "$1")"; }
EOF
fi

# root's home as on a fresh Debian install, without .ssh.
for f in bashrc profile; do
    [[ -f /usr/share/base-files/dot.$f ]] && install -m 0644 "/usr/share/base-files/dot.$f" "/root/.$f"
done
for u in $LAB_USERS; do
    id "$u" >/dev/null 2>&1 || useradd -m -s /bin/bash "$u"
done

# 5. Start Docker with the host's own init script, and wait for it. LAB_DOCKER=0 (in
#    up.sh's environment) leaves it stopped: a lighter host, e.g. for benchmarks.
if [[ ${LAB_DOCKER:-1} == 0 ]]; then
    say "LAB_DOCKER=0: docker not started"
else
    say "starting docker"
    /etc/init.d/docker start </dev/null 5>&- 7>&-
    deadline=$((SECONDS + 90))
    until /usr/bin/docker info >/dev/null 2>&1; do
        if ((SECONDS > deadline)); then
            echo "--- end of /var/log/docker.log:" >&2
            tail -n 40 /var/log/docker.log >&2 || true
            fail "dockerd did not answer 'docker info' within 90 s"
        fi
        sleep 0.2
    done
    say "docker is up"
fi

# 6. sshd, double-forked so that tini (a subreaper) adopts and reaps it.
start_sshd() {
    (/usr/sbin/sshd -D -f /etc/ssh/sshd_config -E /var/log/sshd.log </dev/null >/dev/null 2>&1 5>&- 7>&- &)
}
/usr/sbin/sshd -t -f /etc/ssh/sshd_config
rm -f "$H/control"
mkfifo -m 0600 "$H/control"
exec 5<>"$H/control"
start_sshd
deadline=$((SECONDS + 15))
until (: </dev/tcp/"$ADDR"/22) 2>/dev/null; do
    ((SECONDS < deadline)) || fail "sshd did not listen on $ADDR:22 within 15 s"
    sleep 0.1
done
say "sshd is up"

# 7. Hide the lab's runtime dir (other hosts' layers) from this host, report,
#    then serve requests from lab/sshd.sh on the control fifo (fd 5), so that a
#    restarted sshd is again a child of this host's init.
mount -t tmpfs -o size=64k,mode=0755 mestral-lab-hidden "$RUN_DIR"
echo ready >&7
exec 7>&-
trap - ERR
set +e
while read -r -u 5 request; do
    case $request in
        start-sshd) say "request: start sshd"; start_sshd ;;
        *) say "unknown request: $request" ;;
    esac
done
