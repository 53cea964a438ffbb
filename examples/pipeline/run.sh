#!/usr/bin/env bash
# Runs the example pipeline with parallelrun. Everything it makes — the sales
# table (made once), the pipeline's job dirs, the models — goes under
# build/examples/pipeline ($PIPELINE_EXAMPLE_DIR), never into the source tree,
# and each run starts from an empty models folder, so a second run gives the
# same models. Extra arguments go to `parallelrun run`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
parallelrun="${PARALLELRUN:-$root/build/parallelrun}"
work="${PIPELINE_EXAMPLE_DIR:-$root/build/examples/pipeline}"
mkdir -p "$work"
cd "$work"
[ -f sales.csv ] || /usr/bin/env python3 "$here/make_data.py" .
rm -rf models
# The scripts are run from the source tree: no __pycache__ there.
export PYTHONDONTWRITEBYTECODE=1
# The pipeline's job dirs go to ./parallelrun-jobs here.
"$parallelrun" run "$here/pipeline.yml" -i sales=./sales.csv -o models=./models "$@"
echo "models: $(ls models | wc -l) in $work/models"
