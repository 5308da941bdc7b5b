"""Unchanged NeuronPerf-style scripts, run through `neuronperf-native run` (SPEC 1, 7).

The scripts follow NeuronPerf's public documentation (benchmark guide, model index
guide, API reference) with `import neuronperf as npf` left as it is.
"""

import csv
import json
import subprocess
import sys
import textwrap

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
