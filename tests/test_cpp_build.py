"""The CMake build: what a machine without doctest or libcurl is told."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _configure(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not installed")
    command = [cmake, "-S", str(ROOT), "-B", str(tmp_path), *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_missing_doctest_is_one_clear_cmake_error(tmp_path):
    # as if doctest were not installed
    out = _configure(tmp_path, "-DNPN_BUILD_TESTS=ON", "-DCMAKE_DISABLE_FIND_PACKAGE_doctest=ON")
    assert out.returncode != 0
    assert "NPN_BUILD_TESTS needs doctest" in out.stderr
    assert "apt-get install doctest-dev" in " ".join(out.stderr.split())


def test_without_libcurl_the_engine_builds_without_served_endpoints_and_says_so(tmp_path):
    # as if libcurl's headers were not installed
    out = _configure(tmp_path / "engine", "-DCMAKE_DISABLE_FIND_PACKAGE_CURL=ON")
    assert out.returncode == 0
    assert "apt-get install libcurl4-openssl-dev" in " ".join(out.stderr.split())
    tests = _configure(
        tmp_path / "tests", "-DNPN_BUILD_TESTS=ON", "-DCMAKE_DISABLE_FIND_PACKAGE_CURL=ON"
    )
    assert tests.returncode != 0
    assert "apt-get install libcurl4-openssl-dev" in " ".join(tests.stderr.split())
