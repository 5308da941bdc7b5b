"""Tests for neuronperf_native.launcher: NeuronPerf scripts run with `neuronperf` aliased.

Each run happens in a fresh interpreter (``python -c``) so this process's
``sys.modules`` and ``sys.meta_path`` stay clean.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Runs the script through run_script, then reports what is left of the alias.
_DRIVER = textwrap.dedent(
    """
    import json, sys
    from neuronperf_native import launcher

    status = launcher.run_script(sys.argv[1], sys.argv[2:])
    left = {
        "status": status,
        "neuronperf_modules": sorted(
            m for m in sys.modules if m == "neuronperf" or m.startswith("neuronperf.")
        ),
        "finders": [type(f).__name__ for f in sys.meta_path],
    }
    try:
        import neuronperf  # noqa: F401
        left["import_after"] = "imported"
    except ImportError:
        left["import_after"] = "ImportError"
    print("LEFT " + json.dumps(left))
    """
)


def _run(tmp_path: Path, source: str, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    script = tmp_path / "np_script.py"
    script.write_text(textwrap.dedent(source), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(script), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("LEFT ")]
    assert proc.returncode == 0, proc.stderr
    assert len(lines) == 1, proc.stdout + proc.stderr
    return proc, json.loads(lines[0][len("LEFT ") :])


def _assert_alias_gone(left: dict) -> None:
    assert left["neuronperf_modules"] == []
    assert "_AliasFinder" not in left["finders"]
    # This machine has no real NeuronPerf, so without the alias the import fails.
    assert left["import_after"] == "ImportError"


def test_neuronperf_imports_resolve_to_this_package(tmp_path):
    proc, left = _run(
        tmp_path,
        """
        import sys
        import neuronperf as npf
        import neuronperf.model_index
        from neuronperf import timing
        import neuronperf_native

        assert npf is neuronperf_native
        assert neuronperf.model_index is neuronperf_native.model_index
        assert timing is neuronperf_native.timing
        assert npf.__spec__.name == "neuronperf_native"
        print("name", npf.__name__)
        print("argv", sys.argv[1:])
        print("main", __name__)
        sys.exit(7)
        """,
        "--flag",
        "value",
    )
    assert left["status"] == 7
    assert "name neuronperf_native" in proc.stdout
    assert "argv ['--flag', 'value']" in proc.stdout
    assert "main __main__" in proc.stdout
    _assert_alias_gone(left)


def test_model_index_works_through_the_alias(tmp_path):
    (tmp_path / "model.pt").write_text("weights", encoding="utf-8")
    proc, left = _run(
        tmp_path,
        """
        import neuronperf.model_index

        index = neuronperf.model_index.create("model.pt", batch_size=4)
        path = neuronperf.model_index.save(index, "index.json")
        print("batch", neuronperf.model_index.load(path)["model_configs"][0]["batch_size"])
        """,
    )
    assert left["status"] == 0
    assert "batch 4" in proc.stdout
    assert (tmp_path / "index.json").is_file()
    _assert_alias_gone(left)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import sys\nsys.exit()\n", 0),
        ("import sys\nsys.exit(None)\n", 0),
        ("import sys\nsys.exit(3)\n", 3),
        ("raise SystemExit('stopping: bad config')\n", 1),
        ("print('done')\n", 0),
    ],
)
def test_exit_status(tmp_path, source, expected):
    proc, left = _run(tmp_path, source)
    assert left["status"] == expected
    if "stopping" in source:
        assert "stopping: bad config" in proc.stderr


def test_script_that_raises_gives_nonzero_status_and_traceback(tmp_path):
    proc, left = _run(
        tmp_path,
        """
        import neuronperf
        raise RuntimeError("model exploded")
        """,
    )
    assert left["status"] == 1
    assert "RuntimeError: model exploded" in proc.stderr
    _assert_alias_gone(left)


def test_missing_submodule_names_neuronperf_module(tmp_path):
    proc, left = _run(
        tmp_path,
        """
        for stmt in ("import neuronperf.no_such_part", "from neuronperf import mxnet"):
            try:
                exec(stmt)
            except ImportError as e:
                print("IE", e)
        """,
    )
    assert left["status"] == 0
    errors = [line for line in proc.stdout.splitlines() if line.startswith("IE ")]
    assert "NeuronPerf module 'neuronperf.no_such_part' is not available" in errors[0]
    assert "'neuronperf_native.no_such_part'" in errors[0]
    import importlib.util

    if importlib.util.find_spec("neuronperf_native.mxnet") is None:
        assert len(errors) == 2
        assert "NeuronPerf module 'neuronperf.mxnet' is not available" in errors[1]
    else:  # npf.mxnet exists; it imports MXNet only when used
        assert len(errors) == 1


def test_script_directory_is_importable(tmp_path):
    (tmp_path / "helper_mod.py").write_text("VALUE = 42\n", encoding="utf-8")
    proc, left = _run(tmp_path, "import helper_mod\nprint('value', helper_mod.VALUE)\n")
    assert left["status"] == 0
    assert "value 42" in proc.stdout


def test_install_alias_for_user_code(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        import neuronperf_native
        from neuronperf_native import launcher

        launcher.install_alias()
        launcher.install_alias()  # idempotent
        import neuronperf
        assert neuronperf is neuronperf_native
        launcher.remove_alias()
        assert "neuronperf" not in sys.modules
        try:
            import neuronperf
        except ImportError:
            print("removed")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "removed" in proc.stdout


def test_real_neuronperf_is_set_aside_and_restored(tmp_path):
    """A real neuronperf imported before run_script is shadowed only inside the script."""
    fake_real = tmp_path / "site" / "neuronperf"
    fake_real.mkdir(parents=True)
    (fake_real / "__init__.py").write_text("REAL = True\n", encoding="utf-8")
    script = tmp_path / "np_script.py"
    script.write_text(
        "import neuronperf\nprint('inside', getattr(neuronperf, 'REAL', False))\n",
        encoding="utf-8",
    )
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path / "site")!r})
        import neuronperf
        from neuronperf_native import launcher

        try:
            launcher.install_alias()
        except ImportError as e:
            print("refused", "already imported" in str(e))
        status = launcher.run_script({str(script)!r}, [])
        print("status", status)
        print("after", sys.modules["neuronperf"].REAL)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "refused True" in proc.stdout
    assert "inside False" in proc.stdout
    assert "status 0" in proc.stdout
    assert "after True" in proc.stdout


def test_cli_run_subcommand(tmp_path):
    script = tmp_path / "np_script.py"
    script.write_text(
        "import sys\nimport neuronperf\nprint('args', sys.argv[1:])\nsys.exit(4)\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "neuronperf_native", "run", str(script), "-v", "x"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 4, proc.stderr
    assert "args ['-v', 'x']" in proc.stdout


def test_run_script_validates_arguments(tmp_path):
    from neuronperf_native.launcher import run_script

    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_script(tmp_path / "missing.py", [])
    with pytest.raises(TypeError, match="path must be"):
        run_script(3, [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="argv must be a sequence of str"):
        run_script(__file__, "abc")
