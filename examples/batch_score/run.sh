#!/usr/bin/env bash
# Makes the example's data (if missing) and scores it with parallelrun.
set -euo pipefail
cd "$(dirname "$0")"
[ -d images ] || /usr/bin/env python3 make_data.py 2000
../../build/parallelrun run component.yaml \
  -i images_to_score=./images -i trained_model=./model -o scored_dataset=./out "$@"
echo "scores: $(cat out/scores_*.csv | wc -l) lines in $(pwd)/out"
