"""The C++ unit-test build (tests/cpp): what a machine without doctest is told."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_missing_doctest_is_one_clear_cmake_error(tmp_path):
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not installed")
    out = subprocess.run(
        [
            cmake,
            "-S",
            str(ROOT),
            "-B",
            str(tmp_path),
            "-DNPN_BUILD_TESTS=ON",
            "-DCMAKE_DISABLE_FIND_PACKAGE_doctest=ON",  # as if doctest were not installed
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode != 0
    assert "NPN_BUILD_TESTS needs doctest" in out.stderr
    assert "apt-get install doctest-dev" in " ".join(out.stderr.split())
