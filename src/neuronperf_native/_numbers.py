"""The one number check every validator uses: a real number that is not a bool."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def is_number(value: Any) -> bool:
    """True for int, float and numpy numbers; False for bool (an int to Python) and
    everything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
