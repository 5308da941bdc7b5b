"""Output comparison: compare_outputs and the per-worker ValidationTally."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuronperf_native.inputs.specs import _normalize_dtype, bf16_to_float32


def _scalar(value: Any) -> Any:
    """A JSON-friendly Python value for reports."""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def compare_outputs(
    expected: Any, got: Any, rtol: float = 1e-5, atol: float = 1e-8, datatype: str | None = None
) -> dict | None:
    """Compare a model output with its expected value; None if they match.

    Integers, booleans and BYTES compare exactly, floats with ``allclose``
    tolerances (NaN equals NaN). Shapes must have the same element count
    (a leading batch dim of 1 is fine). The first mismatch is returned as
    ``{"index": flat index, "expected": ..., "got": ...}``; a size mismatch
    has ``index`` -1 and the two shapes. ``datatype="BF16"`` decodes uint16
    bit patterns before comparing.
    """
    exp = np.asarray(expected)
    res = np.asarray(got)
    if datatype is not None and _normalize_dtype(datatype) == "BF16":
        exp = bf16_to_float32(exp) if exp.dtype == np.uint16 else exp
        res = bf16_to_float32(res) if res.dtype == np.uint16 else res
    if exp.size != res.size:
        return {"index": -1, "expected": list(exp.shape), "got": list(res.shape)}
    e = exp.reshape(-1)
    g = res.reshape(-1)
    if e.dtype == object or g.dtype == object or e.dtype.kind in "SU" or g.dtype.kind in "SU":
        for i, (a, b) in enumerate(zip(e, g, strict=True)):
            a_b = a.encode("utf-8") if isinstance(a, str) else a
            b_b = b.encode("utf-8") if isinstance(b, str) else b
            if a_b != b_b:
                return {"index": i, "expected": _scalar(a_b), "got": _scalar(b_b)}
        return None
    if e.dtype.kind in "fc" or g.dtype.kind in "fc":
        with np.errstate(invalid="ignore", over="ignore"):
            ok = np.isclose(g.astype(np.float64), e.astype(np.float64), rtol, atol, equal_nan=True)
    else:
        ok = e == g
    if ok.all():
        return None
    i = int(np.argmin(ok))
    return {"index": i, "expected": _scalar(e[i]), "got": _scalar(g[i])}


@dataclass
class ValidationTally:
    """Counts validated steps and mismatching steps; keeps the first mismatch.

    Each worker keeps its own tally and ``merge``s once at the end; ``to_dict``
    is what a benchmark report stores in its ``validation`` field.
    """

    rtol: float = 1e-5
    atol: float = 1e-8
    steps_checked: int = 0
    mismatches: int = 0
    first_mismatch: dict | None = None

    def check_step(
        self,
        stream: int,
        step: int,
        expected: Mapping[str, Any],
        got: Mapping[str, Any],
        datatypes: Mapping[str, str] | None = None,
    ) -> bool:
        """Compare one step's outputs; True when every expected output matched.

        ``expected`` maps output names to expected arrays (None entries are
        skipped); a name missing from ``got`` counts as a mismatch. Steps
        with no expected value at all are not counted.
        """
        checked = False
        ok = True
        for name, exp in expected.items():
            if exp is None:
                continue
            checked = True
            if name not in got:
                mismatch: dict | None = {"index": -1, "expected": "output", "got": "missing"}
            else:
                dt = None if datatypes is None else datatypes.get(name)
                mismatch = compare_outputs(exp, got[name], self.rtol, self.atol, dt)
            if mismatch is not None:
                if ok and self.first_mismatch is None:
                    self.first_mismatch = {"stream": stream, "step": step, "tensor": name}
                    self.first_mismatch.update(mismatch)
                ok = False
        if checked:
            self.steps_checked += 1
            if not ok:
                self.mismatches += 1
        return ok

    def merge(self, other: ValidationTally) -> None:
        """Add another tally's counts; keep our first mismatch if we have one."""
        self.steps_checked += other.steps_checked
        self.mismatches += other.mismatches
        if self.first_mismatch is None and other.first_mismatch is not None:
            self.first_mismatch = dict(other.first_mismatch)

    def to_dict(self) -> dict:
        """JSON-friendly summary for a report's ``validation`` field."""
        return {
            "steps_checked": self.steps_checked,
            "mismatches": self.mismatches,
            "first_mismatch": None if self.first_mismatch is None else dict(self.first_mismatch),
        }
