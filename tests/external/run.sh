#!/usr/bin/env bash
# The install test (ctest "install", registered by tests/install.cmake).
#
# Installs a configured mpbroker build tree into a temporary prefix, checks
# what landed there (files, SONAME, exported symbols), builds ext.c as a
# program outside the tree four ways -- find_package(mpb) with mpb::mpb and
# mpb::mpb_static, pkg-config shared and pkg-config --static -- and runs
# each against the installed mpbroker on a private ipc socket.
#
# Usage: run.sh BUILD_DIR
# Environment (set by tests/install.cmake): MPB_EXT_CC, the C compiler the
# tree was built with; MPB_EXT_CFLAGS, extra flags for the programs built
# here (the sanitizer flags of a -DMPB_SANITIZE build: an instrumented
# libmpb needs an instrumented program to link and run); MPB_EXT_VERSION,
# the project's version.
set -euo pipefail

build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
cc=${MPB_EXT_CC:-cc}
read -r -a cflags <<<"${MPB_EXT_CFLAGS:-}"
cflags+=(-std=c11 -Wall -Wextra -Werror)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mpb-install.XXXXXX")
broker_pid=
cleanup() {
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -KILL "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

die() {
  echo "install test: $*" >&2
  exit 1
}

# The install step needs every installed target built; this is a no-op
# after a full build (tests/run.sh builds first) but makes the test stand
# on its own: ctest -R install right after configuring.
cmake --build "$build" --target mpbroker mpb_cli mpb mpb_static >/dev/null

prefix=$tmp/prefix
echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"

pc=$(find "$prefix" -path '*/pkgconfig/mpb.pc')
[ -n "$pc" ] || die "no mpb.pc installed"
libdir=$(dirname "$(dirname "$pc")")
for f in bin/mpbroker bin/mpb include/mpb.h include/mpb_err.h \
         share/man/man1/mpbroker.1 share/man/man1/mpb.1 share/man/man3/libmpb.3 \
         share/doc/mpbroker/examples/mpbroker.service \
         "${libdir#"$prefix"/}/libmpb.a" "${libdir#"$prefix"/}/libmpb.so" \
         "${libdir#"$prefix"/}/cmake/mpb/mpbConfig.cmake" \
         "${libdir#"$prefix"/}/cmake/mpb/mpbConfigVersion.cmake"; do
  [ -e "$prefix/$f" ] || die "not installed: $f"
done

# The soname carries the ABI version (the major version); the real file
# the full version.
version=${MPB_EXT_VERSION:-0.1.0}
want=libmpb.so.${version%%.*}
soname=$(readelf -d "$libdir/libmpb.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "$want" ] || die "SONAME is '$soname', not $want"
[ "$(readlink "$libdir/$want")" = "libmpb.so.$version" ] || die "$want -> $(readlink "$libdir/$want")"

# Only the public API may be exported (client/libmpb.map).
private=$(nm -D --defined-only "$libdir/libmpb.so" | awk '{print $NF}' | grep -v '^mpb_' || true)
[ -z "$private" ] || die "libmpb.so exports non-public symbols: $private"
# Not grep -q: it would stop reading, and nm, killed by SIGPIPE once its
# output outgrows one pipe write (4 KiB), would fail the pipeline.
nm -D --defined-only "$libdir/libmpb.so" | grep ' T mpb_queue_put$' >/dev/null || die "mpb_queue_put not exported"
# ... and every mpb_* symbol exported must be declared in the installed
# headers: an internal function that happens to be named mpb_* and is not
# static would otherwise become API by accident.
for sym in $(nm -D --defined-only "$libdir/libmpb.so" | awk '{print $NF}'); do
  grep -q "\\b$sym(" "$prefix/include/mpb.h" "$prefix/include/mpb_err.h" \
    || die "libmpb.so exports $sym, which mpb.h and mpb_err.h do not declare"
done

# pkg-config must describe this prefix, not the configured one.
export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --variable=prefix mpb)" = "$prefix" ] || die "mpb.pc prefix is $(pkg-config --variable=prefix mpb)"
pkg-config --exists --print-errors 'mpb >= 0.1'

echo "== build ext.c with pkg-config (shared and --static)"
read -r -a pc_cflags <<<"$(pkg-config --cflags mpb)"
read -r -a pc_libs <<<"$(pkg-config --libs mpb)"
"$cc" "${cflags[@]}" "${pc_cflags[@]}" "$here/ext.c" -o "$tmp/ext_pc_shared" \
  "${pc_libs[@]}" -Wl,-rpath,"$libdir"
# pkg-config --static lists what libmpb.a needs (Libs.private,
# Requires.private); -l:libmpb.a makes the linker take the archive even
# though libmpb.so sits beside it.
read -r -a pc_static <<<"$(pkg-config --static --libs mpb)"
for i in "${!pc_static[@]}"; do
  if [ "${pc_static[i]}" = -lmpb ]; then pc_static[i]=-l:libmpb.a; fi
done
"$cc" "${cflags[@]}" "${pc_cflags[@]}" "$here/ext.c" -o "$tmp/ext_pc_static" "${pc_static[@]}"

echo "== build ext.c with find_package(mpb)"
cmake -S "$here" -B "$tmp/ext-build" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_C_FLAGS="${MPB_EXT_CFLAGS:-} -Werror" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$tmp/ext-configure.log" \
  || { cat "$tmp/ext-configure.log"; die "configuring tests/external failed"; }
grep -q "^mpb_DIR:PATH=$libdir/cmake/mpb\$" "$tmp/ext-build/CMakeCache.txt" \
  || die "find_package(mpb) found $(grep ^mpb_DIR "$tmp/ext-build/CMakeCache.txt")"
cmake --build "$tmp/ext-build" >"$tmp/ext-build.log" \
  || { cat "$tmp/ext-build.log"; die "building tests/external failed"; }

# The static builds must not need libmpb.so; the shared ones must use it.
for p in "$tmp/ext_pc_static" "$tmp/ext-build/ext_cmake_static"; do
  ! readelf -d "$p" | grep 'NEEDED.*libmpb' >/dev/null || die "$p links libmpb.so"
done
for p in "$tmp/ext_pc_shared" "$tmp/ext-build/ext_cmake_shared"; do
  readelf -d "$p" | grep 'NEEDED.*\[libmpb\.so\.0\]' >/dev/null || die "$p does not link libmpb.so.0"
done

echo "== run them against the installed mpbroker"
url=ipc://$tmp/mpbroker.ipc
"$prefix/bin/mpbroker" --listen "$url" 2>"$tmp/broker.log" &
broker_pid=$!
# Wait for the broker to answer rather than for a fixed time.
deadline=$((SECONDS + 30))
until "$prefix/bin/mpb" --url "$url" --connect-timeout 500 ping >/dev/null 2>&1; do
  kill -0 "$broker_pid" 2>/dev/null || { cat "$tmp/broker.log" >&2; die "mpbroker exited"; }
  [ "$SECONDS" -lt "$deadline" ] || { cat "$tmp/broker.log" >&2; die "mpbroker did not answer ping"; }
  sleep 0.05
done

for p in "$tmp/ext_pc_shared" "$tmp/ext_pc_static" \
         "$tmp/ext-build/ext_cmake_shared" "$tmp/ext-build/ext_cmake_static"; do
  "$p" "$url" "$(basename "$p")" || { cat "$tmp/broker.log" >&2; die "$(basename "$p") failed"; }
done

# SIGTERM is the clean stop: exit status 0, and the socket file removed.
kill -TERM "$broker_pid"
rc=0
wait "$broker_pid" || rc=$?
broker_pid=
[ "$rc" -eq 0 ] || { cat "$tmp/broker.log" >&2; die "mpbroker exited $rc on SIGTERM"; }
[ ! -e "$tmp/mpbroker.ipc" ] || die "mpbroker left its socket file"
echo "install test: ok"
