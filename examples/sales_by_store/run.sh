#!/usr/bin/env bash
# Totals the example's sales per store with parallelrun, one mini-batch per
# (region, store). Everything it makes — the sales (made once), the job
# dirs, the totals — goes under build/examples/sales_by_store
# ($SALES_BY_STORE_DIR), never into the source tree, and each run starts
# from an empty output folder, so a second run writes the same file. Extra
# arguments go to `parallelrun run`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
parallelrun="${PARALLELRUN:-$root/build/parallelrun}"
work="${SALES_BY_STORE_DIR:-$root/build/examples/sales_by_store}"
mkdir -p "$work"
cd "$work"
[ -d sales ] || /usr/bin/env python3 "$here/make_data.py" "${SALES_BY_STORE_WEEKS:-52}" .
rm -rf out
# The entry script is imported from the source tree: no __pycache__ there.
export PYTHONDONTWRITEBYTECODE=1
"$parallelrun" run "$here/job.yaml" -i sales=./sales -o totals=./out "$@"
echo "totals: $(cut -d' ' -f2,7 out/weeks.txt | sort -u | tr '\n' ' ')"
echo "weeks: $(wc -l < out/weeks.txt) lines of $(cut -d' ' -f2 out/weeks.txt | sort -u | wc -l) stores in $work/out/weeks.txt"
