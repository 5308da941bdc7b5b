"""Reports saved by write_json, read back as data (for compare and the `report` command)."""

from __future__ import annotations

import json
import os
from typing import Any

from neuronperf_native._files import check_filename


class ReportFileError(ValueError):
    """A saved report file that cannot be read back: names the file and the cause."""


#: The largest report file read_json reads (characters): reports of 10,000
#: configurations take a few hundred MB. A file that does not begin as JSON (a list or an
#: object) is refused after its first _HEAD_CHARS characters (/dev/zero: at once).
MAX_REPORT_FILE_CHARS = 2**30
_HEAD_CHARS = 2**16


def read_json(filename: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Reports saved by write_json: a non-empty JSON list of objects (parsed as data only),
    at most MAX_REPORT_FILE_CHARS long."""
    path = check_filename(filename)
    if path is None:
        raise TypeError("filename must be a str or os.PathLike, got None")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(_HEAD_CHARS)
            start = text.lstrip()[:1]
            if start not in ("[", "{", "") or (not start and len(text) == _HEAD_CHARS):
                raise ReportFileError(
                    f"{path}: not saved reports (write_json writes a JSON list, this begins "
                    f"with {text[:12]!r})"
                )
            text += f.read(MAX_REPORT_FILE_CHARS - len(text) + 1)
        if len(text) > MAX_REPORT_FILE_CHARS:
            raise ReportFileError(
                f"{path}: larger than {MAX_REPORT_FILE_CHARS:,} characters, the most a report "
                "file may be"
            )
        data = json.loads(text)
    except ReportFileError:
        raise
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
