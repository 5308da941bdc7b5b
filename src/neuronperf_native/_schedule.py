"""One open-loop schedule dealt out to the model copies that serve it together.

A configuration's request_rate (or request_intervals) is the load of all its copies
together; each copy runs its own engine schedule. split_schedule() gives copy i of n
its share so that the copies' requests together are the configuration's schedule:

- constant rate R: the requests of one schedule at R, dealt round-robin: copy i runs
  at R/n from i/R after the shared start (the copies interleave, never burst together);
- Poisson rate R: copy i draws its own Poisson stream at R/n from seed + i (merged
  independent Poisson streams are a Poisson stream at R); gamma likewise, each copy's
  stream with the burstiness asked (merged, the bursts of different copies interleave);
- intervals (looped): request k is due at the sum of the first k + 1 intervals (the
  first one interval after the start, as perf_analyzer sends it); copy i serves
  requests i, i + n, i + 2n, ... at those times (the engine's share_index and
  share_count), computing them from the trace itself, which every copy maps from one
  file the parent wrote once per benchmark: no copy holds or receives a copy of it.

A rate copy's timing starts at the shared instant plus its offset and ends with the
configuration's duration (its own duration is shortened by the offset); every interval
copy starts at the shared instant. So the requests due over all copies are those of the
single schedule over the duration.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from neuronperf_native.engine import IntervalTrace


@dataclasses.dataclass(frozen=True)
class CopySchedule:
    """One copy's open-loop engine settings, and how long after the shared start its
    timing starts."""

    request_rate: float | None
    arrival: str
    seed: int
    share: tuple[int, int]  # replayed intervals: (this copy, copies); rates: (0, 1)
    offset_ns: int
    burstiness: float = 1.0

    def engine_kwargs(self) -> dict[str, Any]:
        """The engine.RunOptions fields of this schedule (the intervals themselves, or
        the file they are mapped from, stay as the configuration gives them)."""
        return {
            "request_rate": self.request_rate,
            "arrival": self.arrival,
            "seed": self.seed,
            "share_index": self.share[0],
            "share_count": self.share[1],
            "burstiness": self.burstiness,
        }


def split_schedule(
    request_rate: float | None,
    arrival: str,
    seed: int,
    replayed: bool,
    n_copies: int,
    copy_id: int,
    burstiness: float = 1.0,
) -> CopySchedule:
    """Copy ``copy_id``'s share (0 <= copy_id < n_copies) of a configuration's schedule:
    a rate, or (replayed) the share of the intervals."""
    if not 0 <= copy_id < n_copies:
        raise ValueError(f"copy_id must be in [0, {n_copies}), got {copy_id}")
    if replayed:
        return CopySchedule(None, "constant", 0, (copy_id, n_copies), 0)
    if request_rate is None:
        raise ValueError("an open-loop schedule needs request_rate or replayed intervals")
    if arrival in ("poisson", "gamma"):
        return CopySchedule(request_rate / n_copies, arrival, seed + copy_id, (0, 1), 0, burstiness)
    return CopySchedule(
        request_rate / n_copies, arrival, 0, (0, 1), round(copy_id * 1e9 / request_rate)
    )


def first_request_s(
    request_rate: float | None, arrival: str, intervals: IntervalTrace | None, n_copies: int
) -> float:
    """Seconds after the shared start at which the last copy's first request is due
    (Poisson and gamma: 0, every copy draws its own stream)."""
    if intervals is not None:
        return intervals.arrival_s(n_copies - 1)
    if n_copies == 1 or arrival in ("poisson", "gamma") or request_rate is None:
        return 0.0
    return split_schedule(request_rate, arrival, 0, False, n_copies, n_copies - 1).offset_ns / 1e9
