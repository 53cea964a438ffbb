#!/bin/sh
# Builds fuzz/frame_fuzz.cc with libFuzzer + AddressSanitizer + UBSan and runs
# it for SECONDS (default 30) on the seed corpus in fuzz/corpus/.
# Exits non-zero when the fuzzer finds a crash, a leak, undefined behaviour or
# a hang; the reproducer is written to the build folder (crash-*, timeout-*).
#
#   fuzz/run.sh [SECONDS]
#
# FUZZ_BUILD_DIR (default: build-fuzz in the source tree) holds the binary,
# the working corpus (new inputs found; fuzz/corpus/ is only read) and any
# reproducers. Installs clang and libFuzzer with apt when clang++ is missing.
set -eu

seconds=${1:-30}
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

mkdir -p "$out/corpus"
echo "fuzz/run.sh: building $out/frame_fuzz" >&2
clang++ -std=c++17 -g -O1 \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/lib" -I"$root/include" \
  "$here/frame_fuzz.cc" "$root/lib/base/wire.cc" "$root/lib/base/mini_batch_codec.cc" \
  "$root/lib/link/link_codec.cc" "$root/lib/base/hmac.cc" "$root/lib/node/worker_protocol.cc" \
  "$root/lib/master/journal.cc" "$root/lib/base/crc32c.cc" "$root/lib/base/disk.cc" \
  -lfmt -o "$out/frame_fuzz"

echo "fuzz/run.sh: fuzzing for $seconds s" >&2
# New inputs go to the first folder (the working corpus); the committed seeds
# are only read.
"$out/frame_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" "$here/corpus"
