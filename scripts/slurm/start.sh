#!/usr/bin/env bash
# Starts a single-node SLURM cluster on this machine for scripts/sweep.sbatch,
# scripts/search.sbatch and tests/slurm.rs: installs SLURM and MUNGE when missing
# (setup.sh), writes slurm.conf for this node (CPUs and memory as slurmd detects them),
# starts munged, slurmctld and slurmd as plain daemons (no systemd, no cgroups) and waits
# until the node accepts jobs. Idempotent: a cluster already running is reused. The
# daemons run as root (not root: the script runs itself again with sudo); any user may
# submit jobs.
#
#   scripts/slurm/start.sh
#   export SLURM_CONF=/tmp/tinyaccel-slurm/slurm.conf   # then sbatch, squeue, ... use it
#   scripts/slurm/stop.sh
#
# Settings: see env.sh (TINYACCEL_SLURM_DIR, TINYACCEL_SLURM_PORT).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/env.sh
source "$here/env.sh"
require_root "$0" "$@"
"$here/setup.sh"
PATH=$PATH:/usr/sbin:/sbin

# Waits until the node is idle or busy with jobs (not down, drained or unknown).
wait_ready() {
    local state=
    for _ in $(seq 1 120); do
        state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
        case "$state" in
        idle | mixed | allocated | completing)
            echo "single-node SLURM ready (node $state); SLURM_CONF=$SLURM_CONF"
            return 0
            ;;
        esac
        sleep 0.5
    done
    echo "error: the SLURM node did not become ready (state: '${state:-no answer}'); logs:" >&2
    tail -n 20 "$SLURM_LOG"/*.log >&2 || true
    sinfo -N -l >&2 || true
    return 1
}

running=0
for d in "${SLURM_DAEMONS[@]}"; do
    # shellcheck disable=SC2086 # "name pidfile"
    daemon_pid $d >/dev/null && running=$((running + 1))
done
if [[ $running -eq ${#SLURM_DAEMONS[@]} ]]; then
    echo "single-node SLURM already running under $TINYACCEL_SLURM_DIR"
    wait_ready
    exit
fi
if [[ $running -gt 0 ]]; then
    echo "some SLURM daemons of $TINYACCEL_SLURM_DIR are not running: restarting all" >&2
    "$here/stop.sh"
fi

# The folder holds root's daemons' files: refuse one that someone else owns.
if [[ -e "$TINYACCEL_SLURM_DIR" && "$(stat -c %u "$TINYACCEL_SLURM_DIR")" != 0 ]]; then
    echo "error: $TINYACCEL_SLURM_DIR is not owned by root; remove it or set TINYACCEL_SLURM_DIR" >&2
    exit 1
fi
mkdir -p "$TINYACCEL_SLURM_DIR" "$SLURM_RUN" "$SLURM_LOG" "$MUNGE_DIR" \
    "$TINYACCEL_SLURM_DIR/state" "$TINYACCEL_SLURM_DIR/spool"
chmod 0755 "$TINYACCEL_SLURM_DIR" "$MUNGE_DIR"

# MUNGE: a private key and socket (the system's munged, if any, is left alone).
if [[ ! -s "$MUNGE_DIR/munge.key" ]]; then
    mungekey --create --keyfile="$MUNGE_DIR/munge.key"
fi
chmod 0600 "$MUNGE_DIR/munge.key"
rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
munged --force --socket="$MUNGE_SOCKET" --key-file="$MUNGE_DIR/munge.key" \
    --pid-file="$SLURM_RUN/munged.pid" --log-file="$SLURM_LOG/munged.log" \
    --seed-file="$MUNGE_DIR/munged.seed"

# slurm.conf for this one node. `slurmd -C` prints the node's line as slurmd sees the
# machine (CPUs, sockets, cores, threads, RealMemory), so the node always registers.
host=$(hostname -s)
node=$(slurmd -C | head -n 1)
if [[ "$node" != NodeName=* ]]; then
    echo "error: 'slurmd -C' did not describe this node: $node" >&2
    exit 1
fi
cat >"$SLURM_CONF" <<CONF
# Written by scripts/slurm/start.sh: a single-node cluster for tinyaccel's tests.
ClusterName=tinyaccel
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$TINYACCEL_SLURM_PORT
SlurmdPort=$((TINYACCEL_SLURM_PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$TINYACCEL_SLURM_DIR/state
SlurmdSpoolDir=$TINYACCEL_SLURM_DIR/spool
SlurmctldPidFile=$SLURM_RUN/slurmctld.pid
SlurmdPidFile=$SLURM_RUN/slurmd.pid
SlurmctldLogFile=$SLURM_LOG/slurmctld.log
SlurmdLogFile=$SLURM_LOG/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MailProg=/bin/true
DependencyParameters=kill_invalid_depend
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
wait_ready
