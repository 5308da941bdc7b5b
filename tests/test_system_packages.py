"""tools/system-packages: README's commands set a fresh machine up themselves.

Each case runs the script with PATH holding only the tools it uses itself and stand-ins
for the ones it checks, so what it finds missing is known.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "system-packages"
_OWN_TOOLS = ("bash", "sed", "sort", "head", "id", "python3", "cat")


@pytest.fixture
def bin_dir(tmp_path):
    """A PATH of the script's own tools; stand-ins are added with `_stand_in`."""
    for name in _OWN_TOOLS:
        (tmp_path / name).symlink_to(shutil.which(name))
    return tmp_path


def _stand_in(bin_dir: Path, name: str, output: str = "") -> None:
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\nprintf '%s\\n' '{output}'\n")
    tool.chmod(0o755)


def _run(bin_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**os.environ, "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_what_each_set_misses_is_listed(bin_dir):
    # no compiler: neither g++ nor the zlib and doctest headers (checked through it)
    assert _run(bin_dir, "--missing", "build").stdout.split() == ["g++", "zlib1g-dev"]
    _stand_in(bin_dir, "c++")  # a compiler that finds every header
    assert _run(bin_dir, "--missing", "build").stdout.split() == []
    assert _run(bin_dir, "--missing", "test").stdout.split() == ["cmake", "make", "chromium"]
    _stand_in(bin_dir, "make")
    _stand_in(bin_dir, "chromium")
    _stand_in(bin_dir, "cmake", "cmake version 3.16.3")  # older than the build needs
    assert _run(bin_dir, "--missing", "test").stdout.split() == ["cmake"]
    _stand_in(bin_dir, "cmake", "cmake version 3.25.1")
    assert _run(bin_dir, "--missing", "test", "dev").stdout.split() == ["clang-format"]


def test_without_apt_get_one_line_names_the_packages_and_a_required_one_fails(bin_dir):
    _stand_in(bin_dir, "c++")
    _stand_in(bin_dir, "make")
    _stand_in(bin_dir, "cmake", "cmake version 3.25.1")
    optional = _run(bin_dir, "test")  # only chromium: its tests skip, the command goes on
    assert optional.returncode == 0
    assert optional.stderr.splitlines() == [
        "system packages for 'test' missing: chromium (Debian/Ubuntu, as root: apt-get "
        "install -y chromium)"
    ]
    required = _run(bin_dir, "dev")
    assert required.returncode == 1
    assert "missing: clang-format" in required.stderr
    assert _run(bin_dir).returncode == 2  # no set named


def test_the_readme_commands_set_the_machine_up_and_ci_runs_them_as_written():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = re.findall(r"^# (\d)\..*\n(.*)$", first_block, flags=re.MULTILINE)
    assert [number for number, _ in commands] == ["1", "2"]
    assert commands[0][1].startswith("tools/system-packages build && ")
    assert commands[1][1].startswith("tools/system-packages test && ")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get" not in ci  # nothing installed before the README's commands
    # CI takes each command from the README and runs that very line
    extract = 'source <(sed -n "/^readme_command() {/,/^}/p" .ci/run); readme_command "$1"'
    for number, command in commands:
        out = subprocess.run(
            ["bash", "-c", extract, "extract", number], cwd=ROOT, capture_output=True, text=True
        )
        assert out.stdout == command + "\n"
    assert 'bash -euo pipefail -c "$command"' in ci
