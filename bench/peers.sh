#!/bin/bash
# No-op throughput of parallelrun against multiprocessing.Pool, GNU parallel and
# Dask, through the shared harness /work/shared/bench/peers.py (used unchanged).
#
#   bench/peers.sh [PARALLELRUN_BINARY] [DATA_DIR]
#
# Defaults: build-bench/parallelrun of this tree, /tmp/prbench/files20k
# (20,000 files, generated if missing). For mini_batch_size 10 and 1 it runs
#
#   BENCH_WORKLOAD=noop BENCH_MB=<mb> BENCH_PROCS=2 PARALLELRUN=<binary> \
#     /usr/bin/python3 /work/shared/bench/peers.py compare DIR \
#     --runners mpool,gnuparallel,dask,parallelrun --reps 3
#
# except that GNU parallel at mini_batch_size 1 starts one Python process per
# file (20,000 of them: 15+ minutes a rep on a busy 2-core machine), so by
# default it runs on a 2,000-file subset instead (SUBSET_GNUPARALLEL_MB1=2000;
# set it to 0 to run the full set) and its time is scaled per item; the table
# marks such rows. Then it prints one table: wall seconds, items/s and the
# ratio parallelrun items/s / peer items/s.
#
# Environment: REPS (3), MBS ("10 1"), SUBSET_GNUPARALLEL_MB1 (2000),
# SUBSET_DASK_MB1 (0 = full set), OUT (/tmp/prbench/peers: raw outputs).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build-bench/parallelrun}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
data=${2:-/tmp/prbench/files20k}
reps=${REPS:-3}
mbs=${MBS:-"10 1"}
sub_gnu=${SUBSET_GNUPARALLEL_MB1:-2000}
sub_dask=${SUBSET_DASK_MB1:-0}
out=${OUT:-/tmp/prbench/peers}
py=/usr/bin/python3
harness=/work/shared/bench/peers.py
all=mpool,gnuparallel,dask,parallelrun

[ -x "$bin" ] || { echo "no parallelrun binary at $bin" >&2; exit 2; }
mkdir -p "$out"
if [ ! -d "$data" ]; then
  echo "generating 20000 files in $data"
  "$py" "$harness" gen "$data" 20000
fi

compare() {  # compare MB DIR RUNNERS LOGFILE
  echo "== mb=$1 dir=$2 runners=$3 reps=$reps load=$(cut -d' ' -f1-3 /proc/loadavg)"
  BENCH_WORKLOAD=noop BENCH_MB=$1 BENCH_PROCS=2 PARALLELRUN=$bin \
    "$py" "$harness" compare "$2" --runners "$3" --reps "$reps" 2>&1 | tee "$4"
  echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

subset_dir() {  # subset_dir N: a folder of the first N files, made by the harness's own gen
  local d="$data.subset$1"
  [ -d "$d" ] || "$py" "$harness" gen "$d" "$1" >/dev/null
  echo "$d"
}

rm -f "$out"/*.txt
for mb in $mbs; do
  runners=$all
  if [ "$mb" = 1 ] && [ "$sub_gnu" != 0 ]; then runners=${runners/gnuparallel,/}; fi
  if [ "$mb" = 1 ] && [ "$sub_dask" != 0 ]; then runners=${runners/dask,/}; fi
  compare "$mb" "$data" "$runners" "$out/mb$mb.full.txt"
  if [ "$mb" = 1 ] && [ "$sub_gnu" != 0 ]; then
    compare "$mb" "$(subset_dir "$sub_gnu")" gnuparallel "$out/mb$mb.subset$sub_gnu.gnuparallel.txt"
  fi
  if [ "$mb" = 1 ] && [ "$sub_dask" != 0 ]; then
    compare "$mb" "$(subset_dir "$sub_dask")" dask "$out/mb$mb.subset$sub_dask.dask.txt"
  fi
done

# One table from the harness's lines:
#   <runner> median <s> s  min <s>  max <s>  ratio-to-<first> <r>  items/s <n>
"$py" - "$out" "$data" <<'EOF'
import glob, os, re, sys
out, data = sys.argv[1], sys.argv[2]
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
print()
print("No-op workload, %d files, 2 processes; wall = median of the reps (subset rows: "
      "scaled to %d files as %d / items/s)" % (full, full, full))
print("| mb | runner | wall s (full set) | min-max s (as run) | items/s | parallelrun ÷ peer (items/s) | note |")
print("| --- | --- | ---: | --- | ---: | ---: | --- |")
for mb in sorted(rows, reverse=True):
    pr = [r for r in rows[mb] if r[0] == "parallelrun"]
    pr_ips = pr[0][4] if pr else float("nan")
    for name, med, lo, hi, ips, items, note in rows[mb]:
        wall = full / ips if ips == ips and ips > 0 else float("nan")
        r = pr_ips / ips
        ratio = "" if name == "parallelrun" else ("%.2f×" if r < 10 else "%.0f×") % r
        print("| %d | %s | %.2f | %.2f–%.2f | %.0f | %s | %s |" %
              (mb, name, wall, lo, hi, ips, ratio, note))
EOF
