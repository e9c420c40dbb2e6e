#!/usr/bin/env bash
# Builds mpbroker and runs every test with warnings as errors, fuzzes the
# request path for a minute (libFuzzer, clang), then runs every test once
# more under AddressSanitizer + UndefinedBehaviorSanitizer.  Installs what it needs
# from Debian's packages first (Debian 12, run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

deps=(build-essential cmake pkg-config libnng-dev libmsgpack-dev libcmocka-dev
      clang-14 libclang-rt-14-dev)
if [ "$(dpkg-query -W -f='${Status}\n' "${deps[@]}" 2>/dev/null | grep -c '^install ok installed$')" -ne "${#deps[@]}" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${deps[@]}"
fi

jobs=$(nproc)

echo "== build (-Werror) and test"
cmake -S . -B build -DMPB_WERROR=ON -DMPB_BUILD_TESTS=ON -DMPB_SANITIZE=
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j2

echo "== fuzz the request path for ${MPB_FUZZ_SECONDS:-60} s (libFuzzer, ASan+UBSan)"
CC=clang-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug \
  -DMPB_BUILD_FUZZERS=ON -DMPB_SANITIZE=address,undefined >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_frame
# Fuzz a copy: the seed corpus in the repository only changes by hand.
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp tests/fuzz/corpus/* "$corpus"/
build-fuzz/bin/fuzz_frame -max_total_time="${MPB_FUZZ_SECONDS:-60}" \
  -max_len=4096 -rss_limit_mb=2048 -malloc_limit_mb=256 \
  -artifact_prefix=build-fuzz/ -print_final_stats=1 "$corpus"
echo "fuzzing found nothing; a crash would have stopped here with its input in build-fuzz/"

echo "== build with ASan+UBSan and test again"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMPB_WERROR=ON \
  -DMPB_BUILD_TESTS=ON -DMPB_SANITIZE=address,undefined
cmake --build build-asan -j"$jobs"
# Any sanitizer report fails the process that made it, and so the test.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
ctest --test-dir build-asan --output-on-failure -j2
