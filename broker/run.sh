#!/usr/bin/env bash
# Builds mpbroker and runs it in the foreground on its default address,
# ipc:///tmp/mpbroker.ipc (or $MPB_URL).  Arguments go to mpbroker (see
# `broker/run.sh --help`).  Installs what it needs from Debian's packages
# first (Debian 12, run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

deps=(build-essential cmake pkg-config libnng-dev libmsgpack-dev)
if [ "$(dpkg-query -W -f='${Status}\n' "${deps[@]}" 2>/dev/null | grep -c '^install ok installed$')" -ne "${#deps[@]}" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${deps[@]}"
fi

cmake -S . -B build -DMPB_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target mpbroker mpb_cli >/dev/null
exec build/bin/mpbroker "$@"
