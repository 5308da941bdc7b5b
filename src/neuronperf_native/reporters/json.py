"""JSON: the reports as a list of plain dicts (what read_json and compare read back)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from neuronperf_native.reporters._format import plain
from neuronperf_native.reporters.base import Reporter


class JsonReporter(Reporter):
    """The reports as a JSON list of plain dicts. Floats are written as-is (never NaN:
    missing values are null); non-JSON values (a model class, numpy scalars) become
    plain data."""

    extension = "json"

    def render(self, reports: list[Mapping[str, Any]]) -> str:
        return json.dumps([plain(report) for report in reports], indent=2, allow_nan=False) + "\n"
