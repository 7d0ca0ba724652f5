# Shared settings of the single-node SLURM test cluster (sourced by setup.sh, start.sh,
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

# Prints the pid of a running daemon from its pid file, or fails.
daemon_pid() {
    local name=$1 pidfile=$2 pid
    [[ -r "$pidfile" ]] || return 1
    pid=$(<"$pidfile")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name" ]] || return 1
    echo "$pid"
}
