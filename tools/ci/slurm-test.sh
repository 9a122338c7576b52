#!/usr/bin/env bash
# Scale-out on a real Slurm: install Debian's slurm-wlm and munge (skipped when present), start
# munged, slurmctld and slurmd for one local node (Slurm 22.05: proctrack/linuxproc, task/none, no
# cgroup.conf, SlurmUser=root, select/cons_tres), then on the synthetic scenes with the committed
# tiny random-weight CLIP:
#   1. a 4-task array of `cuelab ground --shard auto` (sbatch --array=0-3) plus a merge job
#      (--dependency=afterok), exactly as a user would write it by hand;
#   2. the same through `cuelab slurm ground ... --array 4 --submit` (its generated scripts);
#   3. a resubmission after deleting one shard's done marker: only that shard is submitted;
# and checks that every merged summary equals the unsharded run's and the merged results equal
# it row for row (sorted by key). Stops the daemons it started (and only those).
#
# Usage (as root): bash tools/ci/slurm-test.sh   (KEEP=1 keeps the work folder, CUELAB_SKIP_SLURM=1
# skips it; uses ${CARGO_TARGET_DIR:-target}/debug/cuelab,
# building it when missing). Needs no network once slurm-wlm and munge are installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
t0=$(date +%s)

if [ -n "${CUELAB_SKIP_SLURM:-}" ]; then
    echo "slurm-test.sh: skipped (CUELAB_SKIP_SLURM is set)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-test.sh: run as root (it starts munged, slurmctld and slurmd), or set CUELAB_SKIP_SLURM=1" >&2
    exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends slurm-wlm munge
fi

target=${CARGO_TARGET_DIR:-$repo/target}
cuelab=$target/debug/cuelab
if [ ! -x "$cuelab" ]; then
    cargo build -p cuelab
fi
clip=$repo/crates/cuelab-models/tests/data/clip-vit-tiny

work=$(mktemp -d /tmp/cuelab-slurm.XXXXXX)
chmod 755 "$work"
node=$(hostname -s)
started_munge=""
passed=""
cleanup() {
    set +e
    for p in "$work/slurmd.pid" "$work/slurmctld.pid"; do
        [ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null
    done
    if [ -n "$started_munge" ] && [ -s /run/munge/munged.pid ]; then
        kill "$(cat /run/munge/munged.pid)" 2>/dev/null
    fi
    sleep 1
    if [ -n "$passed" ] && [ -z "${KEEP:-}" ]; then
        rm -rf "$work"
        echo "daemons stopped"
    else
        echo "daemons stopped; logs and runs in $work"
    fi
}
trap cleanup EXIT

# munge: a key, its directories, the daemon (as the munge user)
if [ ! -S /run/munge/munge.socket.2 ] || ! munge -n >/dev/null 2>&1; then
    mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
    [ -s /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
    chmod 0700 /etc/munge /var/lib/munge /var/log/munge
    chmod 0755 /run/munge
    chmod 0400 /etc/munge/munge.key
    runuser -u munge -- /usr/sbin/munged
    started_munge=1
fi
munge -n | unmunge >/dev/null

# one node, as slurmd sees it
mkdir -p "$work/state" "$work/spool"
nodeline=$(slurmd -C | head -n 1 | sed 's/ UpTime=.*//')
cat > "$work/slurm.conf" <<EOF
ClusterName=cuelab
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
$nodeline State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf
slurmctld -i
slurmd -N "$node"
for _ in $(seq 60); do
    state=$(sinfo -h -o %T 2>/dev/null | head -n 1 || true)
    [ "$state" = idle ] && break
    sleep 1
done
[ "$state" = idle ] || { echo "the node did not come up (state: ${state:-none})"; tail -20 "$work"/slurm*.log; exit 1; }
echo "slurm up after $(( $(date +%s) - t0 )) s: $(sinfo -h -o '%P %D %T %C')"

# the data and the unsharded reference run
"$cuelab" scenes -n 12 --clips 0 --size 64 --out "$work/scenes" >/dev/null
data=$work/scenes/samples.jsonl
run_flags=(--data "$data" --model "$clip" --debias 10)
"$cuelab" ground "${run_flags[@]}" --out "$work/full" >/dev/null

# 1. by hand: the array of `--shard auto` and the merge after it
array=$(sbatch --parsable --array=0-3 --output="$work/hand-%a.out" --chdir="$work" \
    --wrap "$cuelab ground ${run_flags[*]} --shard auto --out $work/hand/shard-\$SLURM_ARRAY_TASK_ID")
merge=$(sbatch --parsable --dependency=afterok:"$array" --output="$work/hand-merge.out" --chdir="$work" \
    --wrap "$cuelab merge $work/hand/shard-0 $work/hand/shard-1 $work/hand/shard-2 $work/hand/shard-3 -o $work/hand/merged")
echo "by hand: array job $array, merge job $merge"

# 2. the same through `cuelab slurm`
(cd "$work" && "$cuelab" slurm ground "${run_flags[@]}" --out "$work/gen" --array 4 --cpus-per-task 1 \
    --time 00:10:00 --submit) | tail -n 1

wait_jobs() {
    for _ in $(seq 300); do
        [ -z "$(squeue -h -o %i)" ] && return 0
        sleep 1
    done
    echo "jobs still queued after 300 s:"; squeue; return 1
}
wait_jobs

check() { # merged run dir
    python3 - "$work/full" "$1" <<'EOF'
import json, sys
full, merged = sys.argv[1], sys.argv[2]
def rows(d):
    with open(f"{d}/results.jsonl") as f:
        return sorted((json.loads(l) for l in f if l.strip()), key=lambda r: r["key"])
def summary(d):
    with open(f"{d}/summary.json") as f:
        return json.load(f)
a, b = rows(full), rows(merged)
assert len(a) == len(b), f"{merged}: {len(b)} rows, unsharded {len(a)}"
assert a == b, f"{merged}: results differ from the unsharded run"
assert summary(full) == summary(merged), f"{merged}: summary differs from the unsharded run"
print(f"{merged}: {len(b)} rows and the summary equal the unsharded run's")
EOF
}
for i in 0 1 2 3; do
    grep -q "\"shard\": \"$i/4\"" "$work/hand/shard-$i/manifest.json" || { echo "shard-$i is not shard $i/4"; exit 1; }
done
check "$work/hand/merged"
check "$work/gen"

# 3. resubmission after a "failure": only the unfinished shard goes out again
rm "$work/gen/slurm/done/2"
out=$(cd "$work" && "$cuelab" slurm ground "${run_flags[@]}" --out "$work/gen" --array 4 --submit | tail -n 1)
echo "$out"
echo "$out" | grep -q "1 of 4 shards unfinished: 2" || { echo "resubmission did not send only shard 2"; exit 1; }
wait_jobs
[ -e "$work/gen/slurm/done/2" ] || { echo "shard 2 did not finish on resubmission"; exit 1; }
check "$work/gen"
passed=1
echo "slurm test passed in $(( $(date +%s) - t0 )) s"
