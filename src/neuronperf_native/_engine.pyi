"""
neuronperf_native's compiled timing engine
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['ARRIVALS', 'DEFAULT_SPIN_WAIT_US', 'Histogram', 'IntervalTrace', 'JsonError', 'MAX_INTERVAL_US', 'MAX_REQUEST_RATE', 'MAX_SECONDS', 'MAX_TRACE_INTERVALS', 'MAX_TRACE_LINE_BYTES', 'MAX_WORKERS', 'MIN_INTERVAL_US', 'NativeModel', 'Pipeline', 'ProgressForwarder', 'RUN_SETTINGS_FIELDS', 'RequestFailed', 'Runner', 'STAGES', 'b64decode', 'check_run_settings', 'clock_read_cost_ns', 'histogram_record_cost_ns', 'kill_group_now', 'kill_group_on_parent_death', 'native_pipeline', 'noop_model', 'now_ns', 'python_pipeline', 'read_json', 'read_message', 'spin_model', 'stream_spin_model', 'unlink_on_parent_death', 'wait_readable', 'write_message']
class Histogram:
    """
    HDR histogram of integer nanosecond values (HdrHistogram algorithm).
    
    Values are kept to `digits` significant decimal digits between `lowest` and
    `highest`; values above `highest` are recorded as `highest` and counted in
    `saturated_count`. Percentiles report the highest value equivalent to the
    bucket that holds the p-th percentile, as HdrHistogram does. Not thread-safe.
    Encodings are the standard HdrHistogram V2 compressed format (readable by the
    `hdrhistogram` package); `saturated_count` is not part of that format.
    """
    __hash__: typing.ClassVar[None] = None
    @staticmethod
    def decode(data: typing.Any) -> Histogram:
        ...
    @staticmethod
    def decode_bytes(data: typing.Any) -> Histogram:
        ...
    def __add__(self, arg0: Histogram) -> Histogram:
        ...
    def __eq__(self, arg0: typing.Any) -> typing.Any:
        ...
    def __getstate__(self) -> bytes:
        ...
    def __iadd__(self, arg0: Histogram) -> typing.Any:
        ...
    def __init__(self, lowest: typing.SupportsInt | typing.SupportsIndex = 1, highest: typing.SupportsInt | typing.SupportsIndex = 3600000000000, digits: typing.SupportsInt | typing.SupportsIndex = 3) -> None:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, arg0: bytes) -> None:
        ...
    def buckets(self) -> list:
        ...
    def encode(self) -> str:
        """
        The V2 compressed encoding as base64 text.
        """
    def encode_bytes(self) -> bytes:
        ...
    def merge(self, other: Histogram) -> typing.Any:
        """
        Add other's counts to this histogram (same settings); returns self.
        """
    def percentiles(self, percentiles: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex]) -> list[int]:
        ...
    def record(self, value: typing.Any) -> None:
        """
        Record one integer value (ns).
        """
    def record_many(self, values: typing.Any) -> None:
        """
        Record every value of an array (integer dtypes, or floats rounded to nearest).
        """
    def reset(self) -> None:
        ...
    def value_at_percentile(self, percentile: typing.SupportsFloat | typing.SupportsIndex) -> int:
        ...
    @property
    def count(self) -> int:
        ...
    @property
    def digits(self) -> int:
        ...
    @property
    def highest(self) -> int:
        ...
    @property
    def lowest(self) -> int:
        ...
    @property
    def max(self) -> int:
        ...
    @property
    def mean(self) -> float:
        ...
    @property
    def min(self) -> int:
        ...
    @property
    def saturated_count(self) -> int:
        ...
    @property
    def stddev(self) -> float:
        ...
class IntervalTrace:
    """
    Replayed request intervals (see engine.IntervalTrace).
    """
    @staticmethod
    def map(path: str) -> IntervalTrace:
        ...
    @staticmethod
    def of_us(intervals_us: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], name: str) -> IntervalTrace:
        ...
    @staticmethod
    def read_text(path: str, max_intervals: typing.SupportsInt | typing.SupportsIndex = 100000000) -> IntervalTrace:
        ...
    def __getstate__(self) -> bytes:
        ...
    def __len__(self) -> int:
        ...
    def __setstate__(self, arg0: bytes) -> None:
        ...
    def arrival_ns(self, index: typing.SupportsInt | typing.SupportsIndex) -> int:
        ...
    def arrived_by(self, t_ns: typing.SupportsInt | typing.SupportsIndex) -> int:
        ...
    def offsets_ns(self) -> numpy.typing.NDArray[numpy.int64]:
        ...
    def write(self, path: str) -> None:
        ...
    @property
    def cycle_ns(self) -> int:
        ...
    @property
    def digest(self) -> int:
        ...
    @property
    def max_interval_ns(self) -> int:
        ...
class JsonError(ValueError):
    pass
class RequestFailed(Exception):
    """
    Raised by a model (a served endpoint's client) when one request failed: the run counts it under its message in requests_failed, records no latency, and goes on.
    """
class NativeModel:
    """
    A model implemented in C++.
    """
    def __repr__(self) -> str:
        ...
class Pipeline:
    """
    A model with its inputs and stages.
    """
class ProgressForwarder:
    """
    Sends a run's progress over a pipe (see Runner.forward_progress).
    """
    def finish(self) -> None:
        ...
class Runner:
    """
    Runs a pipeline on worker threads (see engine.Runner).
    """
    def __init__(self, pipeline: Pipeline, options: typing.Any) -> None:
        ...
    def forward_progress(self, fd: typing.SupportsInt | typing.SupportsIndex, *, period_s: typing.SupportsFloat | typing.SupportsIndex, histograms: bool, metric: str = 'e2e') -> ProgressForwarder:
        """
        Starts a native thread that sends this run's progress to the connection with file descriptor fd and stops the run when a message arrives on it.
        """
    def poll_windows(self) -> list:
        ...
    def start(self) -> None:
        ...
    def stop(self) -> None:
        ...
    def wait(self) -> dict:
        ...
    @property
    def done(self) -> bool:
        ...
    @property
    def live_iterations(self) -> int:
        ...
def _stop_runs_at_exit(timeout_s: typing.SupportsFloat | typing.SupportsIndex) -> None:
    """
    atexit hook: stops active runs and waits for their workers to leave Python.
    """
def b64decode(text: str) -> bytes:
    """
    Decode standard base64 (whitespace skipped, padding required) to bytes.
    Raises ValueError naming the invalid character and its position.
    """
def check_run_settings(options: typing.Any) -> None:
    """
    Raises ValueError naming the first setting of options (engine.RunOptions) out of range.
    """
def clock_read_cost_ns(reads: typing.SupportsInt | typing.SupportsIndex) -> float:
    ...
def histogram_record_cost_ns(values: typing.SupportsInt | typing.SupportsIndex) -> float:
    ...
def kill_group_now() -> None:
    """
    What the parent-death signal does, now: remove the registered files and kill this process's group, this process included.
    """
def kill_group_on_parent_death(expected_parent: typing.SupportsInt | typing.SupportsIndex) -> None:
    """
    Kill this process's group when its parent dies (or now, if it already has).
    """
def native_pipeline(model: NativeModel, input_count: typing.SupportsInt | typing.SupportsIndex = -1) -> Pipeline:
    ...
def noop_model() -> NativeModel:
    ...
def now_ns() -> int:
    """
    The engine's monotonic clock (CLOCK_MONOTONIC) in nanoseconds.
    """
def python_pipeline(*, model: typing.Any, native: typing.Any, preprocess: typing.Any, postprocess: typing.Any, inputs: collections.abc.Sequence[tuple], iterator: typing.Any, thread_context: typing.Any, gil_slice_ns: typing.SupportsInt | typing.SupportsIndex, token_count_fn: typing.Any = None, input_tokens: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex] = []) -> Pipeline:
    ...
def read_json(path: bytes, *, min_typed_array: typing.SupportsInt | typing.SupportsIndex = 16, decode_b64: bool = False, huge_floats_as_decimal: bool = False, prefetch_threads: typing.SupportsInt | typing.SupportsIndex = -1) -> typing.Any:
    """
    Parse the JSON file at path (bytes, as os.fsencode gives) like json.load, except
    that an array of at least min_typed_array integer literals (within int64) or float
    literals is a numpy int64 / float64 array (float32 when float32 holds every value
    exactly), and with decode_b64 the valid base64 string value of a "b64" member is
    bytes; with huge_floats_as_decimal a float literal beyond double's range (json.load:
    inf) is a decimal.Decimal and its array a list. prefetch_threads: worker threads
    converting large numeric arrays of large files ahead of the parser (-1: one per
    idle CPU, at most 3; 0: none); the result is the same. Raises JsonError (a ValueError) for invalid JSON and OSError when the
    file cannot be read.
    """
def read_message(fd: typing.SupportsInt | typing.SupportsIndex) -> bytes:
    """
    Reads one message sent by multiprocessing.Connection.send_bytes (or write_message); EOFError when the other end closed.
    """
def spin_model(distribution: str, latency_ns: typing.SupportsInt | typing.SupportsIndex, low_ns: typing.SupportsInt | typing.SupportsIndex, high_ns: typing.SupportsInt | typing.SupportsIndex, second_latency_ns: typing.SupportsInt | typing.SupportsIndex, second_fraction: typing.SupportsFloat | typing.SupportsIndex, sigma: typing.SupportsFloat | typing.SupportsIndex, seed: typing.SupportsInt | typing.SupportsIndex) -> NativeModel:
    ...
def stream_spin_model(first_token_ns: typing.SupportsInt | typing.SupportsIndex, token_ns: typing.SupportsInt | typing.SupportsIndex, tokens: typing.SupportsInt | typing.SupportsIndex) -> NativeModel:
    ...
def unlink_on_parent_death(path: str) -> None:
    """
    Remove this file when the parent dies, before the group is killed.
    """
def wait_readable(fds: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], timeout_s: typing.SupportsFloat | typing.SupportsIndex | None) -> list[int]:
    """
    The file descriptors among fds that are readable (or closed), waiting at most timeout_s seconds (None: no limit) with the GIL released.
    """
def write_message(fd: typing.SupportsInt | typing.SupportsIndex, data: bytes) -> None:
    """
    Writes one message as multiprocessing.Connection.send_bytes does.
    """
ARRIVALS: tuple = ('constant', 'poisson', 'gamma')
DEFAULT_SPIN_WAIT_US: float = 20.0
MAX_INTERVAL_US: float = 10000000000000.0
MAX_REQUEST_RATE: float = 100000000.0
MAX_SECONDS: float = 10000000.0
MAX_TRACE_INTERVALS: int = 100000000
MAX_TRACE_LINE_BYTES: int = 64
MAX_WORKERS: int = 4096
MIN_INTERVAL_US: float = 0.001
RUN_SETTINGS_FIELDS: tuple = ('workers', 'duration_s', 'max_iterations', 'warmup', 'window_s', 'call_timeout_s', 'record_timestamps', 'start_at_ns', 'request_rate', 'arrival', 'seed', 'request_intervals_us', 'request_trace', 'share_index', 'share_count', 'spin_wait_us', 'learn_wakeup', 'burstiness', 'stream')
STAGES: tuple = ('schedule_lag', 'gil_wait', 'input', 'preprocess', 'infer', 'postprocess', 'e2e')
