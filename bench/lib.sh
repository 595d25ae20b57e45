# bench/lib.sh — functions of bench/run.sh (sourced; REPO is the repository, cwd too).
#
# Comparability: both tools run the unmodified bench.yml from a writable copy of
# $SHARED/bench (only keys/deploy_ed25519 is generated into it), the same inventory (every
# host with ansible_host, root, the lab's controller key), and check host keys strictly
# against the lab's known_hosts through the same ssh config file ($WORK/.ssh/config: mestral
# reads it as ~/.ssh/config with HOME=$WORK, OpenSSH under Ansible gets it with -F).

WORK=${BENCH_WORK:-/var/tmp/mestral-bench}
SHARED=${SHARED:-$REPO/../shared}
VENV=$WORK/venv
LAB_KEY=/var/lib/mestral-lab/id_ed25519
LAB_KNOWN=/var/lib/mestral-lab/known_hosts
IMAGE_MIB=${BENCH_IMAGE_MIB:-1100}

say() { printf '[bench] %s\n' "$*" >&2; }
verdict() { echo "$*" >>"$WORK/verdicts"; say "$*"; }

# Installs and builds what the benchmark needs; lays out $WORK.
prepare() {
    bash lab/deps.sh
    local pkgs=()
    command -v /usr/bin/time >/dev/null || pkgs+=(time)
    command -v bc >/dev/null || pkgs+=(bc)
    python3 -c 'import ensurepip, venv' 2>/dev/null || pkgs+=(python3-venv)
    if ((${#pkgs[@]} > 0)); then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"
    fi
    mkdir -p "$WORK/.ssh" "$WORK/out" "$WORK/cp"
    if [[ ! -x $VENV/bin/ansible-playbook ]] ||
        ! "$VENV/bin/ansible-playbook" --version | grep -q 'core 2\.19'; then
        say "installing ansible-core 2.19 (and the ansible package, for ansible.posix) into $VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q 'ansible-core>=2.19,<2.20' 'ansible>=12,<13'
    fi
    if [[ -z ${MESTRAL_BIN:-} || -z ${FLOOR_BIN:-} ]]; then
        say "building mestral and the floor (release)"
        cargo build --release --locked --bin mestral --example floor
        local t=${CARGO_TARGET_DIR:-$REPO/target}
        MESTRAL_BIN=${MESTRAL_BIN:-$t/release/mestral}
        FLOOR_BIN=${FLOOR_BIN:-$t/release/examples/floor}
    fi
    [[ -d $SHARED/bench ]] || { say "no $SHARED/bench (set SHARED)"; exit 1; }
    rm -rf "$WORK/bench"
    cp -r "$SHARED/bench" "$WORK/bench"
    chmod -R u+w "$WORK/bench"
    mkdir -p "$WORK/keys"
    [[ -f $WORK/keys/deploy_ed25519 ]] ||
        ssh-keygen -q -t ed25519 -N '' -C bench-deploy -f "$WORK/keys/deploy_ed25519"
    mkdir -p "$WORK/bench/keys"
    cp "$WORK/keys/deploy_ed25519.pub" "$WORK/bench/keys/"
    cat >"$WORK/.ssh/config" <<EOF
Host *
    UserKnownHostsFile $LAB_KNOWN
    StrictHostKeyChecking yes
EOF
    cat >"$WORK/ansible.cfg" <<EOF
[defaults]
host_key_checking = True
interpreter_python = /usr/bin/python3
retry_files_enabled = False
nocolor = True
[ssh_connection]
pipelining = True
ssh_args = -F $WORK/.ssh/config -o ControlMaster=auto -o ControlPersist=60s
EOF
}

machine_facts() {
    echo "## Machine and versions"
    echo
    echo "- CPU: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores"
    echo "- memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "- OS: $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
    echo "- mestral: $("$MESTRAL_BIN" --version 2>/dev/null | head -1)" \
        "(git $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')), $MESTRAL_BIN"
    echo "- rustc: $(rustc --version 2>/dev/null || echo '?')"
    echo "- ansible: $("$VENV/bin/ansible-playbook" --version | head -1 | tr -d '[]'), " \
        "$("$VENV/bin/python" --version)"
    echo "- OpenSSH: $(ssh -V 2>&1)"
    echo "- lab hosts: namespaces on this machine (lab/), sshd without PAM; bench hosts without dockerd"
}

hosts_of() { local i; for ((i = 1; i <= $1; i++)); do printf 'b%02d\n' "$i"; done; }
addr() { awk -v n="$1" '$1 == n { print $2; exit }' /var/lib/mestral-lab/addresses; }

# Fresh hosts: down, then up without dockerd; checked (no /etc/calx anywhere), tried twice.
fresh() {
    local try h stale
    for try in 1 2; do
        bash lab/down.sh "$@" >"$WORK/out/down.log" 2>&1 || true
        LAB_DOCKER=0 bash lab/up.sh "$@" >"$WORK/out/up.log" 2>&1 ||
            { tail -20 "$WORK/out/up.log" >&2; exit 1; }
        stale=()
        for h in "$@"; do
            bash lab/exec.sh "$h" test -e /etc/calx 2>/dev/null && stale+=("$h")
        done
        ((${#stale[@]} == 0)) && return 0
        say "not fresh after down + up (try $try): ${stale[*]}; see $WORK/out/down.log"
    done
    exit 1
}

# Makes sure the hosts are up (someone's `lab/down.sh` may have taken them).
ensure_up() { LAB_DOCKER=${LAB_DOCKER:-0} bash lab/up.sh "$@" >"$WORK/out/up.log" 2>&1; }

write_inventory() {
    local file=$1 h
    shift
    {
        echo "[bench]"
        for h in "$@"; do echo "$h ansible_host=$(addr "$h")"; done
        echo "[bench:vars]"
        echo "ansible_user=root"
        echo "ansible_ssh_private_key_file=$LAB_KEY"
    } >"$file"
}

now() { date +%s.%N; }

# timed TAG CMD...: runs CMD in $WORK/bench; records wall s, max RSS of one process (kB) and
# the summed peak of the process tree (kB) in $WORK/out/TAG.{out,time}; returns CMD's status.
timed() {
    local tag=$1 t0 t1 rc=0
    shift
    t0=$(now)
    (cd "$WORK/bench" && /usr/bin/time -f '%M %U %S %O' -o "$WORK/out/$tag.rusage" \
        "$REPO/bench/rss-tree.sh" "$WORK/out/$tag.tree" -- "$@") >"$WORK/out/$tag.out" 2>&1 ||
        rc=$?
    t1=$(now)
    read -r maxrss user sys fsout <"$WORK/out/$tag.rusage" || true
    echo "$(echo "$t1 - $t0" | bc) ${maxrss:-0} $(cat "$WORK/out/$tag.tree" 2>/dev/null || echo 0)" \
        "${user:-0} ${sys:-0} ${fsout:-0}" >"$WORK/out/$tag.time"
    return "$rc"
}

run_ansible() {
    local tag=$1 inv=$2 forks=$3 cpdir=$4
    timed "$tag" env HOME="$WORK" ANSIBLE_CONFIG="$WORK/ansible.cfg" \
        ANSIBLE_SSH_CONTROL_PATH_DIR="$cpdir" ANSIBLE_NOCOLOR=1 \
        "$VENV/bin/ansible-playbook" -i "$inv" -f "$forks" bench.yml
}

run_mestral() {
    local tag=$1 inv=$2 forks=$3
    timed "$tag" env HOME="$WORK" "$MESTRAL_BIN" -i "$inv" -f "$forks" \
        --host-key-checking strict --color never bench.yml
}

# Ends Ansible's ControlPersist masters of one round.
close_masters() {
    local s
    for s in "$1"/*; do
        [[ -S $s ]] && ssh -o ControlPath="$s" -O exit dummy >/dev/null 2>&1
    done
    rm -rf "$1"
}

# Per task: the number of `changed:` results (loop items counted one by one).
changed_per_task() {
    awk '/^TASK \[/ { t = $0; sub(/^TASK \[/, "", t); sub(/\] \**$/, "", t); order[++n] = t; c[t] = 0 }
         /^changed: / { c[t]++ }
         END { for (i = 1; i <= n; i++) printf "%s\t%d\n", order[i], c[order[i]] }' "$1"
}
recap() { awk '/^PLAY RECAP/ { r = 1; next } r && NF { $1 = $1; print }' "$1" | sort; }

field() { awk -v f="$2" '{ print $f }' "$WORK/out/$1.time"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { echo "scale=1; $1 / $2" | bc; }
mb() { echo "scale=1; $1 / 1024" | bc; }

bench_size() {
    local n=$1 rep order tool phase inv cpdir cmds hosts
    mapfile -t hosts < <(hosts_of "$n")
    inv=$WORK/inv-$n.ini
    say "N=$n: hosts ${hosts[0]}..${hosts[-1]}"
    fresh "${hosts[@]}"
    write_inventory "$inv" "${hosts[@]}"
    cmds=$((19 + n))
    for ((rep = 1; rep <= REPS; rep++)); do
        if ((rep % 2)); then order=(ansible mestral); else order=(mestral ansible); fi
        for tool in "${order[@]}"; do
            say "N=$n round $rep: $tool on fresh hosts"
            fresh "${hosts[@]}"
            if [[ $tool == ansible ]]; then
                cpdir=$WORK/cp/$n-$rep
                mkdir -p "$cpdir"
                run_ansible "a$n-first-$rep" "$inv" "$n" "$cpdir" || true
                run_ansible "a$n-conv-$rep" "$inv" "$n" "$cpdir" || true
                close_masters "$cpdir"
            else
                run_mestral "m$n-first-$rep" "$inv" "$n" || true
                run_mestral "m$n-conv-$rep" "$inv" "$n" || true
            fi
        done
        say "N=$n round $rep: floor"
        local addrs=()
        for h in "${hosts[@]}"; do addrs+=("$(addr "$h")"); done
        timed "f$n-$rep" "$FLOOR_BIN" "$LAB_KEY" root "$cmds" "${addrs[@]}" || true
        timed "fq$n-$rep" env FLOOR_QUICKACK=1 "$FLOOR_BIN" "$LAB_KEY" root "$cmds" "${addrs[@]}" ||
            true
    done
    report_size "$n" "$cmds"
}

report_size() {
    local n=$1 cmds=$2 phase tool rep
    declare -A med rss
    for phase in first conv; do
        for tool in a m; do
            med[$tool$phase]=$(for ((rep = 1; rep <= REPS; rep++)); do field "$tool$n-$phase-$rep" 1; done | median)
            if [[ $tool == a ]]; then
                rss[$tool$phase]=$(for ((rep = 1; rep <= REPS; rep++)); do field "$tool$n-$phase-$rep" 3; done | median)
            else
                rss[$tool$phase]=$(for ((rep = 1; rep <= REPS; rep++)); do field "$tool$n-$phase-$rep" 2; done | median)
            fi
        done
    done
    local floor
    floor=$(for ((rep = 1; rep <= REPS; rep++)); do field "f$n-$rep" 1; done | median)
    echo "## N = $n hosts ($REPS rounds, medians; floor: $cmds commands per host)"
    echo
    echo "| run | ansible-playbook s | mestral s | ratio | floor s | mestral / floor | ansible peak MB | mestral peak MB |"
    echo "|---|---|---|---|---|---|---|---|"
    for phase in first conv; do
        printf '| %s | %.2f | %.3f | %sx | %.3f | %sx | %s | %s |\n' \
            "$([[ $phase == first ]] && echo 'first (fresh hosts)' || echo converged)" \
            "${med[a$phase]}" "${med[m$phase]}" "$(ratio "${med[a$phase]}" "${med[m$phase]}")" \
            "$floor" "$(ratio "${med[m$phase]}" "$floor")" \
            "$(mb "${rss[a$phase]}")" "$(mb "${rss[m$phase]}")"
    done
    echo
    echo "Each run (wall s): "
    for phase in first conv; do
        for tool in a m; do
            printf -- '- %s %s:' "$([[ $tool == a ]] && echo ansible || echo mestral)" "$phase"
            for ((rep = 1; rep <= REPS; rep++)); do printf ' %s' "$(field "$tool$n-$phase-$rep" 1)"; done
            echo
        done
    done
    printf -- '- floor:'
    for ((rep = 1; rep <= REPS; rep++)); do printf ' %s' "$(field "f$n-$rep" 1)"; done
    echo
    local floorq
    floorq=$(for ((rep = 1; rep <= REPS; rep++)); do field "fq$n-$rep" 1; done | median)
    printf -- '- floor with TCP_QUICKACK as mestral (FLOOR_QUICKACK=1):'
    for ((rep = 1; rep <= REPS; rep++)); do printf ' %s' "$(field "fq$n-$rep" 1)"; done
    printf '; median %.3f s, mestral converged / it: %sx\n' "$floorq" "$(ratio "${med[mconv]}" "$floorq")"
    echo
    echo "Peak memory: mestral = max RSS of its one process; ansible = summed RSS of its process"
    echo "tree (forks and ssh clients), sampled every 50 ms."
    echo
    # One line per run kind for the summary across sizes (run.sh prints it at the end).
    for phase in first conv; do
        printf '| %s | %s | %.2f | %.3f | %sx | %.3f | %sx | %s | %s |\n' "$n" \
            "$([[ $phase == first ]] && echo first || echo converged)" \
            "${med[a$phase]}" "${med[m$phase]}" "$(ratio "${med[a$phase]}" "${med[m$phase]}")" \
            "$floor" "$(ratio "${med[m$phase]}" "$floor")" \
            "$(mb "${rss[a$phase]}")" "$(mb "${rss[m$phase]}")" >>"$WORK/summary-rows"
    done
    printf '%s %s %s\n' "$n" "${rss[mfirst]}" "${rss[mconv]}" >>"$WORK/memory-rows"
    # Results: per-task changed counts and recaps, every run against Ansible's first round.
    local same=1 a m
    for phase in first conv; do
        a=$(changed_per_task "$WORK/out/a$n-$phase-1.out")
        for tool in a m; do
            for ((rep = 1; rep <= REPS; rep++)); do
                m=$(changed_per_task "$WORK/out/$tool$n-$phase-$rep.out")
                if [[ $a != "$m" || -z $a ]]; then
                    same=0
                    say "N=$n $tool $phase round $rep: changed per task differs from Ansible's"
                    diff <(echo "$a") <(echo "$m") >&2 || true
                fi
            done
        done
        [[ $(recap "$WORK/out/a$n-$phase-1.out") == "$(recap "$WORK/out/m$n-$phase-1.out")" ]] ||
            { same=0; say "N=$n $phase: recaps differ"; }
        echo "Changed results per task, $phase run (Ansible = mestral: $([[ $same == 1 ]] && echo yes || echo NO)):"
        echo
        echo '```'
        echo "$a" | awk -F'\t' '{ printf "%-58s %s\n", $1, $2 }'
        echo
        recap "$WORK/out/m$n-$phase-1.out"
        echo '```'
        echo
    done
    ((same)) && verdict "PASS N=$n: identical changed counts per task and recaps" ||
        verdict "FAIL N=$n: changed counts or recaps differ from Ansible's"
    local rf rc
    rf=$(ratio "${med[afirst]}" "${med[mfirst]}")
    rc=$(ratio "${med[aconv]}" "${med[mconv]}")
    local want=30
    ((QUICK)) && want=10
    for phase in first conv; do
        local r
        r=$(ratio "${med[a$phase]}" "${med[m$phase]}")
        if (($(echo "$r >= $want" | bc))); then
            verdict "PASS N=$n $phase: mestral ${r}x faster than Ansible (target ${want}x)"
        elif ((QUICK)); then
            verdict "FAIL N=$n $phase: mestral only ${r}x faster than Ansible (target ${want}x)"
        else
            verdict "MISS N=$n $phase: mestral ${r}x faster than Ansible (target ${want}x)"
        fi
    done
    if ((n == 10)); then
        local f
        f=$(ratio "${med[mconv]}" "$floor")
        (($(echo "$f <= 2" | bc))) && verdict "PASS N=10 converged: ${f}x the floor (target <= 2x)" ||
            verdict "MISS N=10 converged: ${f}x the floor (target <= 2x)"
    fi
    if ((n == 50)); then
        local p
        p=$(mb "${rss[mfirst]}")
        (($(echo "$p < 30" | bc))) && verdict "PASS N=50: mestral peak ${p} MB (target < 30 MB)" ||
            verdict "MISS N=50: mestral peak ${p} MB (target < 30 MB)"
    fi
}

# The swarm playbook, converged, on two docker hosts of the benchmark's own (bx1, bx2).
swarm_inventory() {
    cat >"$WORK/inv-swarm.ini" <<EOF
[managers]
bx1 ansible_host=$(addr bx1)
[workers]
bx2 ansible_host=$(addr bx2)
[swarm:children]
managers
workers
[swarm:vars]
ansible_user=root
ansible_ssh_private_key_file=$LAB_KEY
swarm_publish_mode=host
EOF
}

bench_swarm() {
    say "swarm: hosts bx1 bx2 with dockerd"
    LAB_DOCKER=1 bash lab/up.sh bx1 bx2 >"$WORK/out/up.log" 2>&1 ||
        { tail -20 "$WORK/out/up.log" >&2; exit 1; }
    swarm_inventory
    local rep
    (cd "$REPO" && HOME=$WORK "$MESTRAL_BIN" -i "$WORK/inv-swarm.ini" --host-key-checking strict \
        --color never playbooks/swarm.yml >"$WORK/out/swarm-converge.out" 2>&1) ||
        { tail -30 "$WORK/out/swarm-converge.out" >&2; verdict "FAIL swarm: first run failed"; return; }
    for ((rep = 1; rep <= REPS; rep++)); do
        (cd "$REPO" && timed "swarm-$rep" env HOME="$WORK" "$MESTRAL_BIN" -i "$WORK/inv-swarm.ini" \
            --host-key-checking strict --color never "$REPO/playbooks/swarm.yml") || true
    done
    local med cpu changed
    med=$(for ((rep = 1; rep <= REPS; rep++)); do field "swarm-$rep" 1; done | median)
    cpu=$(for ((rep = 1; rep <= REPS; rep++)); do
        echo "$(field "swarm-$rep" 4) + $(field "swarm-$rep" 5)" | bc; done | median)
    changed=$(recap "$WORK/out/swarm-$REPS.out" | grep -c 'changed=[1-9]' || true)
    echo "## Swarm playbook, converged, two docker hosts ($REPS runs)"
    echo
    echo "- wall s per run:$(for ((rep = 1; rep <= REPS; rep++)); do printf ' %s' "$(field "swarm-$rep" 1)"; done)"
    echo "- median $med s; mestral's CPU (user + sys) median $cpu s; peak $(mb "$(field "swarm-1" 2)") MB"
    echo "- hosts with changes in the last run: $changed"
    echo
    echo '```'
    recap "$WORK/out/swarm-$REPS.out"
    echo '```'
    echo
    (($(echo "$med < 1" | bc))) && ((changed == 0)) &&
        verdict "PASS swarm converged: $med s (target < 1 s), changed=0" ||
        verdict "MISS swarm converged: $med s (target < 1 s), hosts with changes: $changed"
}

# A FROM-scratch image of IMAGE_MIB random MiB on bx1, copied to bx2 both ways.
bench_image() {
    local img=bench-big:latest a1 a2 rep
    say "image: building a $IMAGE_MIB MiB image on bx1"
    a1=$(addr bx1)
    a2=$(addr bx2)
    local SSH=(ssh -F "$WORK/.ssh/config" -i "$LAB_KEY" -o BatchMode=yes)
    "${SSH[@]}" "root@$a1" "docker image inspect $img >/dev/null 2>&1 || {
        set -e; d=\$(mktemp -d); head -c ${IMAGE_MIB}M /dev/urandom >\$d/big
        printf 'FROM scratch\nCOPY big /big\n' >\$d/Dockerfile
        DOCKER_BUILDKIT=0 docker build -q -t $img \$d >/dev/null; rm -rf \$d; }"
    local bytes
    bytes=$("${SSH[@]}" "root@$a1" "docker save $img | wc -c")
    cat >"$WORK/bench/image-copy.yml" <<EOF
- hosts: bx2
  gather_facts: false
  tasks:
    - community.docker.docker_image_copy:
        name: $img
        source_host: bx1
        compress: false
EOF
    cat >"$WORK/inv-image.ini" <<EOF
bx1 ansible_host=$a1
bx2 ansible_host=$a2
[all:vars]
ansible_user=root
ansible_ssh_private_key_file=$LAB_KEY
EOF
    for ((rep = 1; rep <= REPS; rep++)); do
        "${SSH[@]}" "root@$a2" "docker rmi -f $img >/dev/null 2>&1; true"
        timed "img-ssh-$rep" bash -c "${SSH[*]} root@$a1 docker save $img | ${SSH[*]} root@$a2 docker load" || true
        "${SSH[@]}" "root@$a2" "docker rmi -f $img >/dev/null 2>&1; true"
        timed "img-m-$rep" env HOME="$WORK" "$MESTRAL_BIN" -i "$WORK/inv-image.ini" \
            --host-key-checking strict --color never image-copy.yml || true
        grep -q 'changed: \[bx2\]' "$WORK/out/img-m-$rep.out" ||
            { tail -20 "$WORK/out/img-m-$rep.out" >&2; verdict "FAIL image: mestral's copy did not report changed"; }
    done
    local ts tm rate_s rate_m pct
    ts=$(for ((rep = 1; rep <= REPS; rep++)); do field "img-ssh-$rep" 1; done | median)
    tm=$(for ((rep = 1; rep <= REPS; rep++)); do field "img-m-$rep" 1; done | median)
    rate_s=$(echo "scale=1; $bytes / 1048576 / $ts" | bc)
    rate_m=$(echo "scale=1; $bytes / 1048576 / $tm" | bc)
    pct=$(echo "scale=0; 100 * $ts / $tm" | bc)
    echo "## Image transfer bx1 -> bx2 ($((bytes / 1048576)) MiB docker save stream, $REPS runs each)"
    echo
    echo "| way | wall s (median) | MiB/s | controller peak MB | controller fs writes (512 B blocks) |"
    echo "|---|---|---|---|---|"
    echo "| ssh bx1 docker save \| ssh bx2 docker load | $ts | $rate_s | $(mb "$(field img-ssh-1 3)") | $(field img-ssh-1 6) |"
    echo "| mestral docker_image_copy (compress: false) | $tm | $rate_m | $(mb "$(field img-m-1 2)") | $(field img-m-1 6) |"
    echo
    echo "- runs, ssh:$(for ((rep = 1; rep <= REPS; rep++)); do printf ' %s' "$(field "img-ssh-$rep" 1)"; done);" \
        "mestral:$(for ((rep = 1; rep <= REPS; rep++)); do printf ' %s' "$(field "img-m-$rep" 1)"; done)"
    echo
    ((pct >= 90)) && verdict "PASS image: mestral at ${pct}% of ssh save|load (target >= 90%)" ||
        verdict "MISS image: mestral at ${pct}% of ssh save|load (target >= 90%)"
}

# The table for BENCHMARKS.md across the sizes run, and mestral's peak memory per host: the
# growth from the smallest size measured, divided by the hosts added.
summary() {
    echo "## Summary (paste into BENCHMARKS.md)"
    echo
    echo "| N | run | ansible-playbook s | mestral s | vs Ansible | floor s | mestral / floor | Ansible peak MB | mestral peak MB |"
    echo "|---|---|---|---|---|---|---|---|---|"
    cat "$WORK/summary-rows"
    echo
    local n0 f0 c0 n f c
    read -r n0 f0 c0 < <(sort -n "$WORK/memory-rows" | head -1)
    echo "mestral peak memory (max RSS, MB) and growth per host beyond N = $n0:"
    echo
    echo "| N | first run MB | converged MB | per host beyond N = $n0, first / converged |"
    echo "|---|---|---|---|"
    while read -r n f c; do
        if ((n == n0)); then
            printf '| %s | %s | %s | - |\n' "$n" "$(mb "$f")" "$(mb "$c")"
        else
            printf '| %s | %s | %s | %s / %s MB |\n' "$n" "$(mb "$f")" "$(mb "$c")" \
                "$(echo "scale=3; ($f - $f0) / 1024 / ($n - $n0)" | bc)" \
                "$(echo "scale=3; ($c - $c0) / 1024 / ($n - $n0)" | bc)"
        fi
    done < <(sort -n "$WORK/memory-rows")
    echo
}
