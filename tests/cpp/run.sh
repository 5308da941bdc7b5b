#!/usr/bin/env bash
# Builds and runs the C++ engine tests three ways: plain (-O2), with
# AddressSanitizer + UndefinedBehaviorSanitizer, and with ThreadSanitizer.
# Needs cmake, a C++17 compiler, zlib, libcurl and doctest (Debian: doctest-dev zlib1g-dev
# libcurl4-openssl-dev).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${NPN_CPP_BUILD_DIR:-$root/build/cpp-tests}"
jobs="$(nproc)"
run() {
  local name="$1"; shift
  echo "== C++ tests: $name"
  cmake -S "$root" -B "$build/$name" -DNPN_BUILD_TESTS=ON "$@" >/dev/null
  cmake --build "$build/$name" -j "$jobs" >/dev/null
  # Each doctest case is its own ctest test: a lone test means discovery broke.
  local listed
  listed="$(ctest --test-dir "$build/$name" -N | sed -n 's/^Total Tests: //p')"
  if [ "${listed:-0}" -le 1 ]; then
    echo "ctest lists ${listed:-no} test(s) in $build/$name: doctest discovery failed" >&2
    return 1
  fi
  ctest --test-dir "$build/$name" --output-on-failure
}
run release -DCMAKE_BUILD_TYPE=Release
run asan-ubsan -DCMAKE_BUILD_TYPE=Debug "-DNPN_SANITIZE=address,undefined" \
  -DCMAKE_CXX_FLAGS=-fno-sanitize-recover=all
run tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNPN_SANITIZE=thread
