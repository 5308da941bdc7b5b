"""The one reporter interface (google/benchmark's idea): a reporter turns reports, or
a comparison of two runs, into one text. It only formats; analysis/ computes."""

from __future__ import annotations

import abc
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from neuronperf_native._files import atomic_write_text, check_filename
from neuronperf_native.analysis import Comparison
from neuronperf_native.reporters._format import check_reports, default_filename


class Reporter(abc.ABC):
    """Renders reports (checked: a list of dicts) as text; write() saves that text."""

    #: The extension of the default file name (`<model>.results-<time>.<extension>`).
    extension: ClassVar[str]

    @abc.abstractmethod
    def render(self, reports: list[Mapping[str, Any]]) -> str:
        """The reports as text; one error naming a bad option before anything else."""

    def render_comparison(self, comparison: Comparison) -> str:
        """A comparison as text (its verdicts, and both runs where the format shows them)."""
        raise NotImplementedError(f"{type(self).__name__} does not render comparisons")

    def write(
        self, reports: Sequence[Mapping[str, Any]], filename: str | os.PathLike[str] | None
    ) -> str:
        """Writes render(reports) to filename (atomically replaced) and returns it; without
        one, to a name made from the model name and the local time."""
        checked = check_reports(reports)
        text = self.render(checked)
        path = check_filename(filename) or default_filename(checked, self.extension)
        return atomic_write_text(path, text)

    def write_comparison(
        self, comparison: Comparison, filename: str | os.PathLike[str] | None
    ) -> str:
        """Writes render_comparison() as write() does (named after the new run)."""
        path = check_filename(filename) or default_filename(comparison.new_reports, self.extension)
        return atomic_write_text(path, self.render_comparison(comparison))
