#!/usr/bin/env bash
# The main job on the local lab, on a fresh Debian machine, as root: installs what the lab
# needs, builds mestral, brings up the two lab hosts (calxitu and calxitu2) and runs the
# swarm playbook against them. Run it again to see every task report ok.
set -euo pipefail
cd "$(dirname "$0")/.."

bash lab/deps.sh
cargo build --release --locked
if ! ip netns list | grep -q '^lab-calxitu\b'; then
  bash lab/up.sh
fi
exec ./target/release/mestral -i inventory/lab.ini playbooks/swarm.yml "$@"
