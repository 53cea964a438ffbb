#!/usr/bin/env bash
# Flags hot readings in the example's table with parallelrun. Everything it
# makes — the readings (made once), the job dirs, the output — goes under
# build/examples/table_score ($TABLE_SCORE_DIR), never into the source tree,
# and each run starts from an empty output folder, so a second run writes
# the same file. Extra arguments go to `parallelrun run`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
parallelrun="${PARALLELRUN:-$root/build/parallelrun}"
work="${TABLE_SCORE_DIR:-$root/build/examples/table_score}"
mkdir -p "$work"
cd "$work"
[ -d readings ] || /usr/bin/env python3 "$here/make_data.py" "${TABLE_SCORE_ROWS:-3000}" .
rm -rf out
# The entry script is imported from the source tree: no __pycache__ there.
export PYTHONDONTWRITEBYTECODE=1
"$parallelrun" run "$here/job.yaml" -i readings=./readings -o flagged=./out "$@"
echo "flagged: $(grep -c ' hot$' out/flagged.txt) of $(wc -l < out/flagged.txt) readings in $work/out/flagged.txt"
