#!/usr/bin/env bash
# Scores the example's images with parallelrun. Everything it makes — the
# images and model (made once), the job dirs, the scores — goes under
# build/examples/batch_score ($BATCH_SCORE_DIR), never into the source tree,
# and each run starts from an empty output folder, so a second run gives the
# same scores. Extra arguments go to `parallelrun run`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
parallelrun="${PARALLELRUN:-$root/build/parallelrun}"
work="${BATCH_SCORE_DIR:-$root/build/examples/batch_score}"
mkdir -p "$work"
cd "$work"
[ -d images ] || /usr/bin/env python3 "$here/make_data.py" "${BATCH_SCORE_IMAGES:-2000}" .
rm -rf out
# The entry script is imported from the source tree: no __pycache__ there.
export PYTHONDONTWRITEBYTECODE=1
# Job dirs go to ./parallelrun-jobs here; `parallelrun jobs` lists them.
"$parallelrun" run "$here/component.yaml" \
  -i images_to_score=./images -i trained_model=./model -o scored_dataset=./out "$@"
echo "scores: $(cat out/scores_*.csv | wc -l) lines in $work/out"
