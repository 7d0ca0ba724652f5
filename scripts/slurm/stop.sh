#!/usr/bin/env bash
# Stops the single-node SLURM cluster that start.sh started (slurmd, slurmctld, munged of
# TINYACCEL_SLURM_DIR, by their pid files; other SLURM or MUNGE daemons are left alone).
# Its folder is kept (state, logs); remove it to start from scratch.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/env.sh
source "$here/env.sh"
require_root "$0" "$@"

for ((i = ${#SLURM_DAEMONS[@]} - 1; i >= 0; i--)); do
    read -r name pidfile <<<"${SLURM_DAEMONS[$i]}"
    pid=$(daemon_pid "$name" "$pidfile") || continue
    kill "$pid"
    for _ in $(seq 1 50); do
        daemon_pid "$name" "$pidfile" >/dev/null || break
        sleep 0.2
    done
    if daemon_pid "$name" "$pidfile" >/dev/null; then
        echo "error: $name (pid $pid) did not stop after SIGTERM" >&2
        exit 1
    fi
    echo "stopped $name (pid $pid)"
done
