"""Reports saved by write_json, read back as data (for compare and the `report` command)."""

from __future__ import annotations

import json
import os
from typing import Any

from neuronperf_native._files import check_filename


class ReportFileError(ValueError):
    """A saved report file that cannot be read back: names the file and the cause."""


def read_json(filename: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Reports saved by write_json: a non-empty JSON list of objects (parsed as data only)."""
    path = check_filename(filename)
    if path is None:
        raise TypeError("filename must be a str or os.PathLike, got None")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ReportFileError(f"{path}: report file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportFileError(f"{path}: cannot read: {error}") from None
    except RecursionError:
        raise ReportFileError(f"{path}: JSON nested too deeply to be saved reports") from None
    except ValueError as error:
        raise ReportFileError(f"{path}: not valid JSON: {error}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ReportFileError(f"{path}: expected a JSON list of report objects (from write_json)")
    if not data:
        raise ReportFileError(f"{path}: holds no reports")
    return data
