"""Input data for benchmarks, compatible with perf_analyzer's ``--input-data``.

Sources: ``"random"`` (default), ``"zero"``, a directory of raw tensor files, one
JSON file or a list of JSON files in perf_analyzer's format (``{"data": [...]}``,
optional ``"validation_data"``). Everything is decoded and checked once, up front,
so the measurement loop only indexes a precomputed list of batches.

Modules: ``specs`` (TensorSpec, data types, shapes), ``decoding`` (one tensor
value to numpy), ``json_files``, ``directory`` and ``generated`` (the loaders),
``loading`` (load_input_data), ``data`` (InputData), ``validation`` (output
comparison), ``memory`` (size estimates) and ``sequences`` (sequence playback).
"""

from neuronperf_native.inputs.data import InputData
from neuronperf_native.inputs.loading import load_input_data
from neuronperf_native.inputs.sequences import (
    SequenceFeed,
    SequenceOptions,
    SequencePlayer,
    SequenceSchedule,
    SequenceStats,
    sequence_feed,
)
from neuronperf_native.inputs.specs import (
    InputDataError,
    TensorSpec,
    bf16_to_float32,
    float32_to_bf16,
    parse_shape_arg,
)
from neuronperf_native.inputs.validation import ValidationTally, compare_outputs

__all__ = [
    "InputData",
    "InputDataError",
    "SequenceFeed",
    "SequenceOptions",
    "SequencePlayer",
    "SequenceSchedule",
    "SequenceStats",
    "TensorSpec",
    "ValidationTally",
    "bf16_to_float32",
    "compare_outputs",
    "float32_to_bf16",
    "load_input_data",
    "parse_shape_arg",
    "sequence_feed",
]
