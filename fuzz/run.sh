#!/bin/sh
# Builds the libFuzzer targets with AddressSanitizer + UBSan and runs each in
# turn, sharing SECONDS (default 50) between them, on its seed corpus:
#   frame_fuzz           the link frames and the worker protocol (fuzz/corpus/)
#   spec_fuzz            the spec parser                (fuzz/corpus_spec/)
#   mltable_fuzz         the MLTable parser             (fuzz/corpus_mltable/)
#   text_splitter_fuzz   the CSV / JSON Lines splitter  (fuzz/corpus_text/)
#   parquet_footer_fuzz  the Parquet footer reader      (fuzz/corpus_parquet/)
# Exits non-zero when a fuzzer finds a crash, a leak, undefined behaviour or
# a hang; the reproducer is written to the build folder (<target>-crash-*,
# <target>-timeout-*). Reproduce with: build-fuzz/<target> FILE
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# FUZZ_BUILD_DIR (default: build-fuzz in the source tree) holds the binaries,
# the working corpora (new inputs found; the committed seeds are only read)
# and any reproducers. Installs clang and libFuzzer with apt when clang++ is
# missing.
set -eu

seconds=${1:-50}
[ $# -gt 0 ] && shift
targets=${*:-frame_fuzz spec_fuzz mltable_fuzz text_splitter_fuzz parquet_footer_fuzz}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${FUZZ_BUILD_DIR:-$root/build-fuzz}

if ! command -v clang++ >/dev/null 2>&1 ||
   ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz/run.sh: installing clang and libFuzzer" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    clang libclang-rt-dev >/dev/null
fi

# Each target's library sources (lib/…), beyond the target itself.
sources() {
  case $1 in
    frame_fuzz) echo base/wire.cc base/mini_batch_codec.cc link/link_codec.cc base/hmac.cc \
                     node/worker_protocol.cc master/journal.cc base/crc32c.cc base/disk.cc ;;
    spec_fuzz) echo plan/spec.cc plan/spec_args.cc plan/run_settings.cc plan/yaml_errors.cc \
                    plan/yaml_documents.cc \
                    plan/yaml_overrides.cc plan/mltable.cc base/source_error.cc \
                    base/spelling.cc base/text.cc base/disk.cc data/table_format.cc \
                    data/partitions.cc data/table_rows.cc data/table_range.cc base/wire.cc \
                    base/mini_batch.cc ;;
    mltable_fuzz) echo plan/mltable.cc plan/yaml_documents.cc base/source_error.cc \
                       base/spelling.cc base/text.cc \
                       base/disk.cc data/table_format.cc data/partitions.cc \
                       data/table_rows.cc data/table_range.cc base/wire.cc \
                       base/mini_batch.cc ;;
    text_splitter_fuzz) echo data/text_splitter.cc data/table_range.cc base/disk.cc \
                             base/text.cc base/wire.cc base/mini_batch.cc \
                             data/table_format.cc ;;
    parquet_footer_fuzz) echo data/parquet_footer.cc data/table_range.cc base/disk.cc \
                              base/wire.cc base/text.cc base/mini_batch.cc \
                              data/table_format.cc ;;
    *) echo "fuzz/run.sh: no target $1" >&2; exit 2 ;;
  esac
}

corpus() {
  case $1 in
    frame_fuzz) echo "$here/corpus" ;;
    spec_fuzz) echo "$here/corpus_spec" ;;
    mltable_fuzz) echo "$here/corpus_mltable" ;;
    text_splitter_fuzz) echo "$here/corpus_text" ;;
    parquet_footer_fuzz) echo "$here/corpus_parquet" ;;
  esac
}

count=0
for t in $targets; do
  count=$((count + 1))
  mkdir -p "$out/corpus-$t"
  libs=""
  for s in $(sources "$t"); do libs="$libs $root/lib/$s"; done
  echo "fuzz/run.sh: building $out/$t" >&2
  # shellcheck disable=SC2086  # $libs is a list of paths without spaces
  clang++ -std=c++17 -g -O1 \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root/lib" -I"$root/include" \
    "$here/$t.cc" $libs -lyaml-cpp -lfmt -lcrypto -o "$out/$t"
done

each=$((seconds / count))
[ "$each" -ge 1 ] || each=1
for t in $targets; do
  echo "fuzz/run.sh: fuzzing $t for $each s" >&2
  # New inputs go to the first folder (the working corpus); the committed
  # seeds are only read.
  "$out/$t" -max_total_time="$each" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$out/$t-" "$out/corpus-$t" "$(corpus "$t")"
done
