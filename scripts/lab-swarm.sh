#!/usr/bin/env bash
# The main job on the local lab, on a fresh Debian machine, as root: installs what the lab
# needs, builds mestral, brings up the two lab hosts (calxitu and calxitu2) and runs the
# swarm playbook against them. Run it again to see every task report ok.
set -euo pipefail
cd "$(dirname "$0")/.."

bash lab/deps.sh
cargo build --release --locked
# Brings up whichever of the two hosts is not running yet (a running one is left as it is).
bash lab/up.sh calxitu calxitu2
exec ./target/release/mestral -i inventory/lab.ini playbooks/swarm.yml "$@"
