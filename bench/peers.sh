#!/bin/bash
# No-op throughput of parallelrun against multiprocessing.Pool, GNU parallel,
# Dask and Ray Data, through the shared harness ../../shared/bench/peers.py
# beside this checkout (used unchanged; PEERS_HARNESS names another).
#
#   [BENCH_PYTHON=VENV/bin/python] bench/peers.sh [PARALLELRUN_BINARY] [DATA_DIR]
#
# Defaults: build-bench/parallelrun of this tree, /tmp/prbench/files20k
# (20,000 files, generated if missing). For mini_batch_size 10 and 1 it runs
#
#   BENCH_WORKLOAD=noop BENCH_MB=<mb> BENCH_PROCS=2 PARALLELRUN=<binary> \
#     BENCH_PYTHON=<python> <python> peers.py compare DIR \
#     --runners mpool,gnuparallel,dask,ray,parallelrun --reps 3
#
# BENCH_PYTHON (default /usr/bin/python3) is the interpreter of the harness and
# of every runner, parallelrun's workers included. Dask and Ray Data run only
# where it imports them, e.g. a venv made with
#
#   /usr/bin/python3 -m venv VENV && VENV/bin/pip install "ray[data]" dask distributed
#
# A peer that is missing (Dask, Ray Data, GNU parallel) is left out of the runs
# and the table says "skipped: <peer> not installed" in its rows.
#
# GNU parallel at mini_batch_size 1 starts one Python process per file (20,000
# of them: 15+ minutes a rep on a busy 2-core machine), so by default it runs
# on a 2,000-file subset instead (SUBSET_GNUPARALLEL_MB1=2000; set it to 0 to
# run the full set) and its time is scaled per item; the table marks such rows.
# SUBSET_DASK_MB1 and SUBSET_RAY_MB1 do the same for Dask and Ray Data (0, the
# full set, by default); no subset is made of a DATA_DIR that is not larger.
# Then it prints one table: wall seconds, items/s and the ratio parallelrun
# items/s / peer items/s, with the versions of Python and of the peers.
#
# Environment: REPS (3), MBS ("10 1"), OUT (/tmp/prbench/peers: raw outputs).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build-bench/parallelrun}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
data=${2:-/tmp/prbench/files20k}
reps=${REPS:-3}
mbs=${MBS:-"10 1"}
out=${OUT:-/tmp/prbench/peers}
py=${BENCH_PYTHON:-/usr/bin/python3}
harness=${PEERS_HARNESS:-$here/../../shared/bench/peers.py}
declare -A subset_mb1=([gnuparallel]=${SUBSET_GNUPARALLEL_MB1:-2000}
                       [dask]=${SUBSET_DASK_MB1:-0} [ray]=${SUBSET_RAY_MB1:-0})

[ -x "$bin" ] || { echo "no parallelrun binary at $bin" >&2; exit 2; }
[ -f "$harness" ] || { echo "no peer harness at $harness" >&2; exit 2; }
mkdir -p "$out"
if [ ! -d "$data" ]; then
  echo "generating 20000 files in $data"
  "$py" "$harness" gen "$data" 20000
fi

missing() {  # missing RUNNER: prints the peer RUNNER needs and $py lacks, if any
  case $1 in
    gnuparallel) command -v parallel >/dev/null || echo "GNU parallel" ;;
    dask) "$py" -c "import dask.distributed" 2>/dev/null || echo dask ;;
    ray) "$py" -c "import ray.data" 2>/dev/null || echo ray ;;
  esac
}

compare() {  # compare MB DIR RUNNERS LOGFILE
  echo "== mb=$1 dir=$2 runners=$3 reps=$reps load=$(cut -d' ' -f1-3 /proc/loadavg)"
  BENCH_WORKLOAD=noop BENCH_MB=$1 BENCH_PROCS=2 PARALLELRUN=$bin BENCH_PYTHON=$py \
    "$py" "$harness" compare "$2" --runners "$3" --reps "$reps" 2>&1 | tee "$4"
  echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

subset_dir() {  # subset_dir N: a folder of the first N files, made by the harness's own gen
  local d="$data.subset$1"
  [ -d "$d" ] || "$py" "$harness" gen "$d" "$1" >/dev/null
  echo "$d"
}

rm -f "$out"/*.txt "$out"/skipped
runners=()
for r in mpool gnuparallel dask ray parallelrun; do
  what=$(missing "$r")
  if [ -n "$what" ]; then
    echo "skipping $r: $what not installed for $py"
    echo "$r $what" >> "$out/skipped"
  else
    runners+=("$r")
  fi
done

nfiles=$(find "$data" -type f | wc -l)
for mb in $mbs; do
  full=() subsets=()
  for r in "${runners[@]}"; do
    n=${subset_mb1[$r]:-0}
    if [ "$mb" = 1 ] && [ "$n" != 0 ] && [ "$n" -lt "$nfiles" ]; then
      subsets+=("$r")
    else
      full+=("$r")
    fi
  done
  compare "$mb" "$data" "$(IFS=,; echo "${full[*]}")" "$out/mb$mb.full.txt"
  for r in "${subsets[@]}"; do
    n=${subset_mb1[$r]}
    compare "$mb" "$(subset_dir "$n")" "$r" "$out/mb$mb.subset$n.$r.txt"
  done
done

# One table from the harness's lines:
#   <runner> median <s> s  min <s>  max <s>  ratio-to-<first> <r>  items/s <n>
"$py" - "$out" "$data" "$py" "$mbs" <<'EOF'
import glob, os, re, subprocess, sys
from importlib import metadata
out, data, py, mbs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
full = sum(len(f) for _, _, f in os.walk(data))
rows = {}
for path in sorted(glob.glob(os.path.join(out, "mb*.txt"))):
    text = open(path).read()
    head = re.search(r"items=(\d+) mb=(\d+) procs=(\d+) reps=(\d+)", text)
    items, mb = int(head.group(1)), int(head.group(2))
    for m in re.finditer(r"^(\S+)\s+median\s+([0-9.na]+) s\s+min\s+([0-9.na]+)\s+max\s+([0-9.na]+)"
                         r".*items/s\s+([0-9.na]+)", text, re.M):
        name, med, lo, hi, ips = m.groups()
        # items/s from the median itself: the harness prints it rounded to units.
        ips = items / float(med) if float(med) > 0 else float("nan")
        note = "" if items == full else "%d-file subset, scaled" % items
        rows.setdefault(mb, []).append((name, float(med), float(lo), float(hi), ips, items, note))
skipped = []
if os.path.exists(os.path.join(out, "skipped")):
    skipped = [line.split(" ", 1) for line in open(os.path.join(out, "skipped")).read().splitlines()]

versions = ["python %d.%d.%d (%s)" % (sys.version_info[:3] + (py,))]
for dist in ("dask", "distributed", "ray"):
    try:
        versions.append("%s %s" % (dist, metadata.version(dist)))
    except metadata.PackageNotFoundError:
        pass
try:
    versions.append(subprocess.run(["parallel", "--version"], capture_output=True,
                                   text=True).stdout.splitlines()[0])
except (OSError, IndexError):
    pass
print()
print("No-op workload, %d files, 2 processes; wall = median of the reps (subset rows: "
      "scaled to %d files as %d / items/s)" % (full, full, full))
print("; ".join(versions))
print("| mb | runner | wall s (full set) | min-max s (as run) | items/s | parallelrun ÷ peer (items/s) | note |")
print("| --- | --- | ---: | --- | ---: | ---: | --- |")
for mb in sorted({int(m) for m in mbs} | set(rows), reverse=True):
    pr = [r for r in rows.get(mb, []) if r[0] == "parallelrun"]
    pr_ips = pr[0][4] if pr else float("nan")
    for name, med, lo, hi, ips, items, note in rows.get(mb, []):
        wall = full / ips if ips == ips and ips > 0 else float("nan")
        r = pr_ips / ips
        ratio = "" if name == "parallelrun" else ("%.2f×" if r < 10 else "%.0f×") % r
        print("| %d | %s | %.2f | %.2f–%.2f | %.0f | %s | %s |" %
              (mb, name, wall, lo, hi, ips, ratio, note))
    for name, what in skipped:
        print("| %d | %s | | | | | skipped: %s not installed |" % (mb, name, what))
EOF
