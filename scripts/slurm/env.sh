# shellcheck shell=bash disable=SC2034 # sourced: the variables are used by its callers
# Shared settings of the single-node SLURM test cluster (sourced by start.sh and
# stop.sh). Everything the daemons write lives under one private folder:
#
#   TINYACCEL_SLURM_DIR   the folder (default /tmp/tinyaccel-slurm): slurm.conf, munge key
#                         and socket, controller state, slurmd spool, pid files, logs
#   TINYACCEL_SLURM_PORT  slurmctld's port (default 6817); slurmd listens on PORT + 1
#
# Clients (sbatch, squeue, scontrol) find the cluster through SLURM_CONF, which this file
# exports: `export SLURM_CONF=$TINYACCEL_SLURM_DIR/slurm.conf` in your shell does the same.
TINYACCEL_SLURM_DIR=${TINYACCEL_SLURM_DIR:-/tmp/tinyaccel-slurm}
TINYACCEL_SLURM_PORT=${TINYACCEL_SLURM_PORT:-6817}
export TINYACCEL_SLURM_DIR TINYACCEL_SLURM_PORT
export SLURM_CONF=$TINYACCEL_SLURM_DIR/slurm.conf

SLURM_RUN=$TINYACCEL_SLURM_DIR/run
SLURM_LOG=$TINYACCEL_SLURM_DIR/log
MUNGE_DIR=$TINYACCEL_SLURM_DIR/munge
MUNGE_SOCKET=$MUNGE_DIR/munge.socket.2

# The daemons, as "name pid-file" pairs, in start order.
SLURM_DAEMONS=(
    "munged $SLURM_RUN/munged.pid"
    "slurmctld $SLURM_RUN/slurmctld.pid"
    "slurmd $SLURM_RUN/slurmd.pid"
)

# The daemons run as root (slurmd starts each job as the user who submitted it; clients
# may be any user). Not root: run the calling script again with sudo, or fail naming it.
require_root() {
    [[ "$(id -u)" == 0 ]] && return 0
    if command -v sudo >/dev/null 2>&1; then
        exec sudo TINYACCEL_SLURM_DIR="$TINYACCEL_SLURM_DIR" \
            TINYACCEL_SLURM_PORT="$TINYACCEL_SLURM_PORT" "$@"
    fi
    echo "error: the SLURM daemons run as root; run as root: $*" >&2
    exit 1
}

# Prints the pid of a running daemon from its pid file, or fails.
daemon_pid() {
    local name=$1 pidfile=$2 pid
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name" ]] || return 1
    echo "$pid"
}
