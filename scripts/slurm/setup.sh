#!/usr/bin/env bash
# Installs SLURM (slurmctld, slurmd, the client commands) and MUNGE from Debian/Ubuntu's
# packages when they are missing. Needs apt-get and root (or sudo).
set -euo pipefail

missing=()
for tool in munged mungekey slurmctld slurmd sbatch squeue scontrol sinfo; do
    command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null 2>&1 ||
        missing+=("$tool")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

packages=(munge slurmctld slurmd slurm-client)
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: ${missing[*]} not found and apt-get is unavailable; install SLURM and MUNGE" \
        "with your package manager (Debian/Ubuntu: apt-get install ${packages[*]})" >&2
    exit 1
fi
sudo=
if [[ "$(id -u)" != 0 ]]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "error: ${missing[*]} not found; as root run: apt-get install ${packages[*]}" >&2
        exit 1
    fi
    sudo=sudo
fi
echo "installing ${packages[*]} (missing: ${missing[*]})" >&2
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
