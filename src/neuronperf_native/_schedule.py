"""One open-loop schedule dealt out to the model copies that serve it together.

A configuration's request_rate (or request_intervals) is the load of all its copies
together; each copy runs its own engine schedule. split_schedule() gives copy i of n
its share so that the copies' requests together are the configuration's schedule:

- constant rate R: the requests of one schedule at R, dealt round-robin: copy i runs
  at R/n from i/R after the shared start (the copies interleave, never burst together);
- Poisson rate R: copy i draws its own Poisson stream at R/n from seed + i (merged
  independent Poisson streams are a Poisson stream at R); gamma likewise, each copy's
  stream with the burstiness asked (merged, the bursts of different copies interleave);
- intervals (looped): request k is due at the sum of the first k intervals; copy i
  serves requests i, i + n, i + 2n, ...: it starts at request i's time and its gaps
  are sums of n consecutive intervals, which repeat after L / gcd(L, n) gaps.

Every copy's timing starts at the shared instant plus its offset and ends with the
configuration's duration (its own duration is shortened by the offset), so the requests
due over all copies are those of the single schedule over the duration.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class CopySchedule:
    """One copy's open-loop engine arguments, and how long after the shared start its
    first request is due."""

    request_rate: float | None
    arrival: str
    seed: int
    request_intervals_us: tuple[float, ...] | None
    offset_ns: int
    burstiness: float = 1.0

    def engine_kwargs(self) -> dict[str, object]:
        """The engine.Runner keywords of this schedule."""
        return {
            "request_rate": self.request_rate,
            "arrival": self.arrival,
            "seed": self.seed,
            "request_intervals_us": self.request_intervals_us,
            "burstiness": self.burstiness,
        }


def split_schedule(
    request_rate: float | None,
    arrival: str,
    seed: int,
    request_intervals_us: tuple[float, ...] | list[float] | None,
    n_copies: int,
    copy_id: int,
    burstiness: float = 1.0,
) -> CopySchedule:
    """Copy ``copy_id``'s share (0 <= copy_id < n_copies) of a configuration's schedule."""
    if not 0 <= copy_id < n_copies:
        raise ValueError(f"copy_id must be in [0, {n_copies}), got {copy_id}")
    if request_intervals_us is not None:
        gaps, offset_us = _dealt_intervals(
            np.asarray(request_intervals_us, float), n_copies, copy_id
        )
        return CopySchedule(None, "constant", 0, gaps, round(offset_us * 1e3))
    if request_rate is None:
        raise ValueError("an open-loop schedule needs request_rate or request_intervals_us")
    if arrival in ("poisson", "gamma"):
        return CopySchedule(request_rate / n_copies, arrival, seed + copy_id, None, 0, burstiness)
    return CopySchedule(
        request_rate / n_copies, arrival, 0, None, round(copy_id * 1e9 / request_rate)
    )


def _dealt_intervals(
    intervals_us: np.ndarray, n_copies: int, copy_id: int
) -> tuple[tuple[float, ...], float]:
    """(gaps, offset) of the requests copy_id, copy_id + n, ... of the looped intervals."""
    length = len(intervals_us)
    period = length // math.gcd(length, n_copies)  # gaps before this copy's pattern repeats
    positions = (copy_id + np.arange(period * n_copies)) % length
    gaps = intervals_us[positions].reshape(period, n_copies).sum(axis=1)
    offset_us = float(intervals_us[np.arange(copy_id) % length].sum())
    return tuple(float(g) for g in gaps), offset_us


def last_offset_s(
    request_rate: float | None,
    arrival: str,
    request_intervals_us: tuple[float, ...] | None,
    n_copies: int,
) -> float:
    """Seconds after the shared start at which the last copy's first request is due."""
    if n_copies == 1 or (request_intervals_us is None and arrival in ("poisson", "gamma")):
        return 0.0
    return (
        split_schedule(
            request_rate, arrival, 0, request_intervals_us, n_copies, n_copies - 1
        ).offset_ns
        / 1e9
    )
