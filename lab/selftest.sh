#!/usr/bin/env bash
# lab/selftest.sh [MANAGER WORKER] — prove the lab works, by hand-running the
# swarm procedure.
#
# Needs two fresh hosts, by default calxitu and calxitu2 (lab/up.sh); give
# other names (lab/up.sh st1 st2; lab/selftest.sh st1 st2) to stay clear of
# anyone else using calxitu and calxitu2 at the same time. Over real ssh it checks
# hostnames, private /etc/hosts (atomic rename), Docker via the init script,
# distinct daemons, then: swarm init/join, the app image built with the legacy
# builder, docker save | docker load between hosts, a 2-replica service with
# ports published in host mode, and HTTP answers from both hosts. It leaves the
# hosts dirty (swarm, image, service): run lab/down.sh && lab/up.sh afterwards.
# Prints "N passed, N failed"; exit status 0 only if nothing failed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root

M=${1:-calxitu} W=${2:-calxitu2}
valid_name "$M"
valid_name "$W"
MA=$(addr_lookup "$M") WA=$(addr_lookup "$W")
[[ -n $(host_pid "$M") && -n $(host_pid "$W") ]] || die "$M and $W must be up (lab/up.sh $M $W)"
mapfile -t SSH_OPTS < <(ssh_opts)
on() { local a=$1; shift; ssh "${SSH_OPTS[@]}" "root@$a" "$@"; }
pass=0 fail=0
check() { # description, command...
    local what=$1
    shift
    if "$@" >/tmp/lab-selftest.out 2>&1; then
        pass=$((pass + 1))
        printf 'ok      %s\n' "$what"
    else
        fail=$((fail + 1))
        printf 'FAILED  %s\n' "$what"
        sed 's/^/        /' /tmp/lab-selftest.out | tail -n 15
    fi
}
IMG=mestral-app:selftest

check "hostname of $M over ssh" test "$(on "$MA" hostname)" = $M
check "hostname of $W over ssh" test "$(on "$WA" hostname)" = $W
check "fresh host: no /root/.ssh on $M" on "$MA" '! test -e /root/.ssh'
check "fresh host: no swarm, no image on $M" \
    test "$(on "$MA" docker info --format '{{.Swarm.LocalNodeState}}/{{.Images}}')" = inactive/0
machine_hosts=$(md5sum </etc/hosts)
check "atomic rewrite of /etc/hosts on $M" on "$MA" \
    'cp /etc/hosts /etc/hosts.tmp && echo "'"$WA"'	'$W'" >>/etc/hosts.tmp && mv /etc/hosts.tmp /etc/hosts && grep -q '$W' /etc/hosts'
check "machine's /etc/hosts unchanged" test "$(md5sum </etc/hosts)" = "$machine_hosts"
check "$W's /etc/hosts unchanged" on "$WA" "! grep -q '$WA' /etc/hosts"
check "exec.sh sees the host's /etc/hosts" "$LAB_DIR/exec.sh" $M grep -q "$WA" /etc/hosts
check "exec.sh passes the exit status" bash -c "'$LAB_DIR/exec.sh' $M sh -c 'exit 7'; test \$? = 7"
check "service docker status on $M" on "$MA" service docker status
check "/etc/init.d/docker status on $W" on "$WA" /etc/init.d/docker status
id_m=$(on "$MA" docker info --format '{{.ID}}')
id_w=$(on "$WA" /usr/local/bin/docker info --format '{{.ID}}')
check "two distinct daemons" test -n "$id_m" -a -n "$id_w" -a "$id_m" != "$id_w"
check "both docker CLIs reach the host's daemon" \
    test "$(on "$MA" /usr/local/bin/docker info --format '{{.ID}}')" = "$id_m"

check "swarm init on $M" on "$MA" docker swarm init --advertise-addr "$MA"
token=$(on "$MA" docker swarm join-token -q worker)
check "swarm join of $W" on "$WA" docker swarm join --token "$token" "$MA:2377"
check "docker node ls: 2 Ready" test "$(on "$MA" docker node ls --format '{{.Status}}' | grep -c Ready)" = 2
check "legacy build of the app on $M" on "$MA" \
    "cd '$REPO_DIR/app' && DOCKER_BUILDKIT=0 docker build -q -t $IMG ."
check "docker save | docker load to $W" bash -c \
    "ssh ${SSH_OPTS[*]} root@$MA docker save $IMG | ssh ${SSH_OPTS[*]} root@$WA docker load"
check "service create (host-mode ports)" on "$MA" docker service create --detach --name web \
    --replicas 2 --publish published=3001,target=3001,mode=host \
    --publish published=6001,target=6001,mode=host --no-resolve-image $IMG
converged() {
    for _ in $(seq 1 60); do
        [[ $(on "$MA" docker service ls --filter name=web --format '{{.Replicas}}') == 2/2 ]] && return 0
        sleep 1
    done
    on "$MA" docker service ps --no-trunc web
    return 1
}
check "service web reaches 2/2" converged
for a in "$MA" "$WA"; do
    check "HTTP on $a:3001" bash -c "curl -fsS -m 5 --retry 5 --retry-connrefused --retry-delay 1 http://$a:3001/ | grep -q 'mestral reference app'"
    check "TCP echo on $a:6001" bash -c \
        "exec 3<>/dev/tcp/$a/6001; echo ping >&3; timeout 5 head -1 <&3 | grep -qx ping"
done
rm -f /tmp/lab-selftest.out
echo "$pass passed, $fail failed"
((fail == 0))
