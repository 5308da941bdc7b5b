"""Unchanged NeuronPerf-style scripts, run through `neuronperf-native run` (SPEC 1, 7).

The scripts follow NeuronPerf's public documentation (benchmark guide, model index
guide, API reference) with `import neuronperf as npf` left as it is.
"""

import csv
import json
import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import neuronperf_native as npf

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import neuronperf as npf
    import neuronperf.cpu
    from neuronperf import model_index

    class Model:
        def __call__(self, x):
            return x * 2

    batch_sizes = [1, 4]
    inputs = [np.ones((b, 8), dtype=np.float32) for b in batch_sizes]
    reports = npf.cpu.benchmark(
        Model, inputs, batch_sizes=batch_sizes, duration=0.3, n_models=1,
        workers_per_model=[1, 2], verbosity=0,
    )
    npf.print_reports(reports)
    csv_file = npf.write_csv(reports, sys.argv[1] + "/results.csv")
    json_file = npf.write_json(reports, sys.argv[1] + "/results.json")
    index = model_index.create("model_b1.pt", batch_size=1)
    model_index.save(index, sys.argv[1] + "/model_index.json")
    print("wrote", csv_file, json_file)
    sys.exit(0 if all(r["status"] == "finished" for r in reports) else 3)
    """
)


def test_unchanged_neuronperf_script_runs_through_the_launcher(tmp_path):
    script = tmp_path / "bench.py"
    script.write_text(SCRIPT)
    out = subprocess.run(
        [sys.executable, "-m", "neuronperf_native", "run", str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "throughput_avg" in out.stdout
    assert "wrote" in out.stdout
    with open(tmp_path / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    assert list(rows[0]) == npf.CSV_COLS
    assert {(r["batch_size"], r["workers_per_model"]) for r in rows} == {
        ("1", "1"),
        ("1", "2"),
        ("4", "1"),
        ("4", "2"),
    }
    reports = json.loads((tmp_path / "results.json").read_text())
    assert all(r["status"] == "finished" for r in reports)
    assert all(r["total_infs"] % r["batch_size"] == 0 for r in reports)
    index = json.loads((tmp_path / "model_index.json").read_text())
    assert index["model_configs"][0]["batch_size"] == 1


def test_script_failure_gives_its_exit_status(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text("import neuronperf as npf\nraise SystemExit(7)\n")
    out = subprocess.run(
        ["neuronperf-native", "run", str(script)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 7


class _Doubler:
    def __call__(self, x):
        return x * 2


def test_n_models_above_the_core_count_runs_with_a_warning_as_in_neuronperf(caplog):
    """NeuronPerf's multithread, multiprocess and reporting tests use n_models 4 and 16
    on CPU: here twice and eight times the usable cores."""
    cores = len(os.sched_getaffinity(0))
    if cores > 4:
        pytest.skip(f"{cores} cores: {8 * cores} copies would be too many for a test")
    n_models = [2 * cores, 8 * cores]
    with caplog.at_level(logging.WARNING, logger="neuronperf_native"):
        reports = npf.cpu.benchmark(
            _Doubler, np.ones((1, 8), np.float32), batch_sizes=[1], n_models=n_models,
            workers_per_model=1, duration=0.5, verbosity=0,
        )  # fmt: skip
    assert [r["n_models"] for r in reports] == n_models
    assert [r["status"] for r in reports] == ["finished", "finished"]
    assert all(r["total_infs"] > 0 and r["throughput_avg"] > 0 for r in reports)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith(
        f"n_models={8 * cores} runs more model copies than this machine's {cores} usable cores"
    )
