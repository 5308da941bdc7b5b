"""Accuracy metrics for evaluation runs: the BaseEvalMetric interface, a name registry, built-ins.

`benchmark(..., eval_metrics=[...])` and `npf.torch.evaluate(...)` look metrics up by name
here, feed every (output, target) pair to `process_record`, and report `aggregate()` next to
the performance numbers. Only numpy and the standard library are used, so this module can be
imported (and tested) without the compiled engine or any framework.

Rules shared by the built-ins
-----------------------------
* Inputs: numpy arrays, Python scalars/lists, or framework tensors. Anything with `.detach()`
  (torch) is converted with `.detach().cpu().numpy()`; anything else with `.numpy()`
  (TensorFlow eager tensors) with `.numpy()`; the rest with `np.asarray`.
* Class scores: when `output` has one more dimension than `target` (e.g. output
  `(batch, classes)`, target `(batch,)`; or output `(classes,)`, target a scalar), the
  prediction is the argmax over the last axis. A trailing axis of size 1 is squeezed instead
  (one score per record).
* Binary metrics (one class against the rest): a record is actually positive when
  `target == positive_label`. It is predicted positive when
  - the prediction came from an argmax: `argmax == positive_label`;
  - `output` is floating point and `threshold` is not None: `output >= threshold`
    (a score or probability for the positive class);
  - otherwise (integer, bool or string labels, or `threshold=None`): `output == positive_label`.
* Accuracy: the fraction of records predicted correctly: `argmax == target` or
  `output == target` for labels (so multi-class works), and for floating scores with a
  threshold, `(output >= threshold) == (target == positive_label)`.
* Regression (MeanAbsoluteError, MeanSquaredError): elementwise over all values; `output` and
  `target` must hold the same number of values and are compared in flattened (C) order.
* After argmax/squeeze, `output` and `target` must hold the same number of records, else
  ValueError. Empty records are allowed and change nothing.
* Division by zero gives NaN, never an exception: a ratio whose denominator is 0 (no actual
  positives for TPR, no predicted positives for PPV, FPR == 0 for LR+, TPR == FPR for the
  prevalence threshold, ...) is NaN, and so is `aggregate()` before any record was processed
  (0/0). An evaluation then reports `nan` instead of losing the performance results.
"""

from __future__ import annotations

import abc
import inspect
import math
import threading
from typing import Any

import numpy as np

__all__ = [
    "Accuracy",
    "BaseEvalMetric",
    "F1Score",
    "FalseDiscoveryRate",
    "FalseNegativeRate",
    "FalseOmissionRate",
    "FalsePositiveRate",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "NegativeLikelihoodRatio",
    "NegativePredictiveValue",
    "PositiveLikelihoodRatio",
    "PositivePredictiveValue",
    "PrevalenceThreshold",
    "ThreatScore",
    "TrueNegativeRate",
    "TruePositiveRate",
    "get_metric",
    "list_metrics",
    "register_metric",
    "register_metric_from_existing",
]


class BaseEvalMetric(abc.ABC):
    """The interface every evaluation metric implements.

    A metric accumulates over records (`process_record`, once per batch or per record),
    reports one float over everything it has seen (`aggregate`), and can start over (`reset`).
    `name` is what reports show; it defaults to the class name and `get_metric` sets it to the
    name the metric was looked up by (so an alias such as "Recall" reports as "Recall").
    """

    name: str = "BaseEvalMetric"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Gives every subclass a default `name` (its class name) unless it sets one."""
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__

    @abc.abstractmethod
    def process_record(self, output: Any, target: Any) -> None:
        """Accumulates one batch (or one record) of model outputs and their targets."""

    @abc.abstractmethod
    def aggregate(self) -> float:
        """Returns the metric over every record processed since construction or `reset`."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forgets every record processed so far."""

    def _repr_fields(self) -> dict[str, Any]:
        """Fields shown by `__repr__` after the name; subclasses add their settings and state."""
        return {}

    def __repr__(self) -> str:
        fields = {"name": self.name, **self._repr_fields()}
        inner = ", ".join(f"{key}={value!r}" for key, value in fields.items())
        return f"{type(self).__name__}({inner})"


# --------------------------------------------------------------------------------------------
# Input conversion and shared prediction rules
# --------------------------------------------------------------------------------------------


def _to_numpy(value: Any) -> np.ndarray:
    """Converts an array-like or framework tensor to a numpy array without importing torch."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach"):  # torch.Tensor and look-alikes
        value = value.detach()
        if hasattr(value, "cpu"):
            value = value.cpu()
        try:
            return np.asarray(value.numpy())
        except TypeError:
            # numpy has no bfloat16: widen first when the tensor can do it.
            if hasattr(value, "float"):
                return np.asarray(value.float().numpy())
            raise
    if hasattr(value, "numpy"):  # TensorFlow eager tensors
        return np.asarray(value.numpy())
    return np.asarray(value)


def _records(output: Any, target: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """Returns flat (predictions, targets, from_argmax) after the class-score rule."""
    out = _to_numpy(output)
    tgt = _to_numpy(target)
    from_argmax = False
    if out.ndim == tgt.ndim + 1:
        if out.shape[-1] == 1:
            out = out[..., 0]
        elif out.shape[-1] > 1:
            out = out.argmax(axis=-1)
            from_argmax = True
    if out.size != tgt.size:
        raise ValueError(
            f"output and target hold different numbers of records: output shape "
            f"{_to_numpy(output).shape} -> {out.size}, target shape {tgt.shape} -> {tgt.size}"
        )
    return out.reshape(-1), tgt.reshape(-1), from_argmax


def _is_scores(out: np.ndarray, from_argmax: bool, threshold: float | None) -> bool:
    """True when predictions are floating-point scores to compare with the threshold."""
    return not from_argmax and threshold is not None and np.issubdtype(out.dtype, np.floating)


def _equal(values: np.ndarray, other: Any) -> np.ndarray:
    """Elementwise values == other as a bool array (older numpy returns one scalar when the
    types cannot be compared, e.g. numbers against a string label)."""
    result = np.asarray(values == other)
    if result.shape != values.shape:
        result = np.broadcast_to(result, values.shape)
    return result.astype(bool, copy=False)


def _check_threshold(threshold: float | None) -> float | None:
    """Validates a score threshold: None (outputs are labels) or a finite real number."""
    if threshold is None:
        return None
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)):
        raise TypeError(f"threshold must be a real number or None, got {threshold!r}")
    if not math.isfinite(float(threshold)):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    return float(threshold)


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator as a float; NaN when the denominator is 0 (or either is NaN)."""
    if denominator == 0 or math.isnan(denominator) or math.isnan(numerator):
        return math.nan
    return numerator / denominator


# --------------------------------------------------------------------------------------------
# Built-in metrics
# --------------------------------------------------------------------------------------------
# Formulas, with P = TP + FN (actual positives), N = FP + TN (actual negatives),
# PP = TP + FP (predicted positives), PN = FN + TN (predicted negatives):
#
#   TPR (sensitivity, recall, hit rate)  = TP / P          FNR (miss rate) = FN / P = 1 - TPR
#   TNR (specificity, selectivity)       = TN / N          FPR (fall-out)  = FP / N = 1 - TNR
#   PPV (precision)                      = TP / PP         FDR             = FP / PP = 1 - PPV
#   NPV                                  = TN / PN         FOR             = FN / PN = 1 - NPV
#   LR+ = TPR / FPR                      LR- = FNR / TNR
#   PT  = (sqrt(TPR * FPR) - FPR) / (TPR - FPR)
#   TS (threat score, critical success index) = TP / (TP + FN + FP)
#   F1  = 2 TP / (2 TP + FP + FN)   (harmonic mean of PPV and TPR)
#   ACC = (TP + TN) / (P + N)
#   MAE = sum |o - t| / n            MSE = sum (o - t)^2 / n
#
# Where each was checked (against definitions, not another tool's code):
# * Wikipedia, "Confusion matrix" / "Sensitivity and specificity", the diagnostic-testing
#   table (Template:Diagnostic testing diagram, read through a mirror of it):
#   TPR = TP/P = 1 - FNR, FNR = FN/P, FPR = FP/N = 1 - TNR, TNR = TN/N, PPV = TP/PP = 1 - FDR,
#   FDR = FP/PP, NPV = TN/PN = 1 - FOR, FOR = FN/PN, LR+ = TPR/FPR, LR- = FNR/TNR,
#   PT = (sqrt(TPR x FPR) - FPR)/(TPR - FPR), ACC = (TP + TN)/(P + N), and the aliases
#   (recall, hit rate, selectivity, fall-out, miss rate, threat score = critical success index).
# * NCBI Bookshelf glossary NBK51907, "Positive likelihood ratio":
#   LR+ = TPR / FPR = sensitivity / (1 - specificity); LR- likewise (1 - sens) / spec.
# * Balayla (2020), "Prevalence threshold (phi_e) and the geometry of screening curves",
#   PLOS ONE 15(10), doi:10.1371/journal.pone.0240215 (abstract): with sensitivity a and
#   specificity b, phi_e = (sqrt(a (1 - b)) + b - 1) / (a + b - 1), which is the form above
#   with FPR = 1 - b; the tests check both forms agree on a hand-worked matrix.
# * NOAA/NCEP verification notes ("Definitions of Threat Score, Equitable Threat Score and
#   Bias Score"): TS = hits / (hits + false alarms + misses) = TP / (TP + FP + FN).
# * F1 = 2 PPV TPR / (PPV + TPR); substituting PPV = TP/(TP+FP), TPR = TP/(TP+FN) and
#   simplifying gives 2TP / (2TP + FP + FN) (Wikipedia "F-score"; derived by hand too).
# * MAE and MSE: the usual means of absolute / squared errors (Wikipedia "Mean absolute
#   error", "Mean squared error"), averaged over every value, not per record first.


class _ConfusionMetric(BaseEvalMetric):
    """A binary metric computed from accumulated confusion-matrix counts (TP, FP, FN, TN)."""

    def __init__(self, threshold: float | None = 0.5, positive_label: Any = 1) -> None:
        self.threshold = _check_threshold(threshold)
        self.positive_label = positive_label
        self.tp = self.fp = self.fn = self.tn = 0

    @property
    def counts(self) -> dict[str, int]:
        """The confusion matrix accumulated so far: {"tp", "fp", "fn", "tn"}."""
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}

    def process_record(self, output: Any, target: Any) -> None:
        """Adds one batch's outcomes to the confusion-matrix counts."""
        out, tgt, from_argmax = _records(output, target)
        if _is_scores(out, from_argmax, self.threshold):
            predicted = out >= self.threshold
        else:
            predicted = _equal(out, self.positive_label)
        actual = _equal(tgt, self.positive_label)
        self.tp += int(np.count_nonzero(predicted & actual))
        self.fp += int(np.count_nonzero(predicted & ~actual))
        self.fn += int(np.count_nonzero(~predicted & actual))
        self.tn += int(np.count_nonzero(~predicted & ~actual))

    def aggregate(self) -> float:
        """The metric over the accumulated counts (NaN where a denominator is 0)."""
        return float(self._score(self.tp, self.fp, self.fn, self.tn))

    def reset(self) -> None:
        """Zeroes the confusion-matrix counts."""
        self.tp = self.fp = self.fn = self.tn = 0

    @staticmethod
    @abc.abstractmethod
    def _score(tp: int, fp: int, fn: int, tn: int) -> float:
        """The metric as a function of the four counts."""

    def _repr_fields(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "positive_label": self.positive_label, **self.counts}


def _tpr(tp: int, fp: int, fn: int, tn: int) -> float:
    return _ratio(tp, tp + fn)


def _fnr(tp: int, fp: int, fn: int, tn: int) -> float:
    return _ratio(fn, tp + fn)


def _tnr(tp: int, fp: int, fn: int, tn: int) -> float:
    return _ratio(tn, fp + tn)


def _fpr(tp: int, fp: int, fn: int, tn: int) -> float:
    return _ratio(fp, fp + tn)


class TruePositiveRate(_ConfusionMetric):
    """TPR = TP / (TP + FN): the share of actual positives predicted positive (recall)."""

    _score = staticmethod(_tpr)


class TrueNegativeRate(_ConfusionMetric):
    """TNR = TN / (TN + FP): the share of actual negatives predicted negative (specificity)."""

    _score = staticmethod(_tnr)


class FalseNegativeRate(_ConfusionMetric):
    """FNR = FN / (TP + FN) = 1 - TPR: the share of actual positives missed (miss rate)."""

    _score = staticmethod(_fnr)


class FalsePositiveRate(_ConfusionMetric):
    """FPR = FP / (FP + TN) = 1 - TNR: the share of actual negatives flagged (fall-out)."""

    _score = staticmethod(_fpr)


class PositivePredictiveValue(_ConfusionMetric):
    """PPV = TP / (TP + FP): the share of predicted positives that are positive (precision)."""

    @staticmethod
    def _score(tp: int, fp: int, fn: int, tn: int) -> float:
        return _ratio(tp, tp + fp)


class NegativePredictiveValue(_ConfusionMetric):
    """NPV = TN / (TN + FN): the share of predicted negatives that are negative."""

    @staticmethod
    def _score(tp: int, fp: int, fn: int, tn: int) -> float:
        return _ratio(tn, tn + fn)


class FalseDiscoveryRate(_ConfusionMetric):
    """FDR = FP / (TP + FP) = 1 - PPV: the share of predicted positives that are negative."""

    @staticmethod
    def _score(tp: int, fp: int, fn: int, tn: int) -> float:
        return _ratio(fp, tp + fp)


class FalseOmissionRate(_ConfusionMetric):
    """FOR = FN / (FN + TN) = 1 - NPV: the share of predicted negatives that are positive."""

    @staticmethod
    def _score(tp: int, fp: int, fn: int, tn: int) -> float:
        return _ratio(fn, fn + tn)


class PositiveLikelihoodRatio(_ConfusionMetric):
    """LR+ = TPR / FPR: how much more often positives test positive than negatives do."""

    @staticmethod
    def _score(tp: int, fp: int, fn: int, tn: int) -> float:
        return _ratio(_tpr(tp, fp, fn, tn), _fpr(tp, fp, fn, tn))


class NegativeLikelihoodRatio(_ConfusionMetric):
    """LR- = FNR / TNR: how much more often positives test negative than negatives do."""

    @staticmethod
    def _score(tp: int, fp: int, fn: int, tn: int) -> float:
        return _ratio(_fnr(tp, fp, fn, tn), _tnr(tp, fp, fn, tn))


class PrevalenceThreshold(_ConfusionMetric):
    """PT = (sqrt(TPR * FPR) - FPR) / (TPR - FPR): the prevalence below which PPV drops fast."""

    @staticmethod
    def _score(tp: int, fp: int, fn: int, tn: int) -> float:
        tpr = _tpr(tp, fp, fn, tn)
        fpr = _fpr(tp, fp, fn, tn)
        if math.isnan(tpr) or math.isnan(fpr):
            return math.nan
        return _ratio(math.sqrt(tpr * fpr) - fpr, tpr - fpr)


class ThreatScore(_ConfusionMetric):
    """TS = TP / (TP + FN + FP), also called the critical success index (CSI)."""

    @staticmethod
    def _score(tp: int, fp: int, fn: int, tn: int) -> float:
        return _ratio(tp, tp + fn + fp)


class F1Score(_ConfusionMetric):
    """F1 = 2TP / (2TP + FP + FN): the harmonic mean of precision and recall."""

    @staticmethod
    def _score(tp: int, fp: int, fn: int, tn: int) -> float:
        return _ratio(2 * tp, 2 * tp + fp + fn)


class Accuracy(BaseEvalMetric):
    """The fraction of records predicted correctly; multi-class via argmax or label equality.

    Class scores are reduced with argmax and compared with the target; labels are compared
    with the target directly; floating-point scores (with a threshold) are binary decisions
    compared with `target == positive_label`, so binary accuracy is (TP + TN) / (P + N).
    """

    def __init__(self, threshold: float | None = 0.5, positive_label: Any = 1) -> None:
        self.threshold = _check_threshold(threshold)
        self.positive_label = positive_label
        self.correct = 0
        self.total = 0

    def process_record(self, output: Any, target: Any) -> None:
        """Counts the correct predictions in one batch."""
        out, tgt, from_argmax = _records(output, target)
        if _is_scores(out, from_argmax, self.threshold):
            hits = (out >= self.threshold) == _equal(tgt, self.positive_label)
        else:
            hits = _equal(out, tgt)
        self.correct += int(np.count_nonzero(hits))
        self.total += int(tgt.size)

    def aggregate(self) -> float:
        """correct / total (NaN before any record)."""
        return _ratio(self.correct, self.total)

    def reset(self) -> None:
        """Zeroes the counts."""
        self.correct = 0
        self.total = 0

    def _repr_fields(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "positive_label": self.positive_label,
            "correct": self.correct,
            "total": self.total,
        }


class _ErrorMetric(BaseEvalMetric):
    """A regression metric: the mean of a per-value error over every value processed."""

    def __init__(self) -> None:
        self.error_sum = 0.0
        self.count = 0

    def process_record(self, output: Any, target: Any) -> None:
        """Adds one batch's per-value errors (output and target flattened, same size)."""
        out = _to_numpy(output).astype(np.float64, copy=False).reshape(-1)
        tgt = _to_numpy(target).astype(np.float64, copy=False).reshape(-1)
        if out.size != tgt.size:
            raise ValueError(
                f"output and target hold different numbers of values: {out.size} vs {tgt.size}"
            )
        self.error_sum += float(np.sum(self._error(out - tgt)))
        self.count += int(out.size)

    def aggregate(self) -> float:
        """error_sum / count (NaN before any value)."""
        return _ratio(self.error_sum, self.count)

    def reset(self) -> None:
        """Zeroes the running sum and count."""
        self.error_sum = 0.0
        self.count = 0

    @staticmethod
    @abc.abstractmethod
    def _error(diff: np.ndarray) -> np.ndarray:
        """The per-value error from output - target."""

    def _repr_fields(self) -> dict[str, Any]:
        return {"error_sum": self.error_sum, "count": self.count}


class MeanAbsoluteError(_ErrorMetric):
    """MAE = sum |output - target| / n over every value."""

    _error = staticmethod(np.abs)


class MeanSquaredError(_ErrorMetric):
    """MSE = sum (output - target)^2 / n over every value."""

    _error = staticmethod(np.square)


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------

#: name -> (metric class, keyword arguments fixed at registration).
_REGISTRY: dict[str, tuple[type[BaseEvalMetric], dict[str, Any]]] = {}
_REGISTRY_LOCK = threading.Lock()


def _check_new_name(name: object, argument: str, overwrite: bool) -> str:
    """Validates a name to register: a non-empty str, new unless overwrite."""
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a str, got {type(name).__name__}")
    if not name.strip():
        raise ValueError(f"{argument} must be a non-empty str")
    if name in _REGISTRY and not overwrite:
        raise ValueError(
            f"{argument} {name!r} is already registered; pass overwrite=True to replace it"
        )
    return name


def _unknown(name: str, argument: str) -> ValueError:
    return ValueError(f"{argument} {name!r} is not a registered metric; known: {list_metrics()}")


def register_metric(name: str, metric_cls: type[BaseEvalMetric], overwrite: bool = False) -> None:
    """Registers `metric_cls` under `name`, so evaluations can ask for it by name.

    `name` must be a non-empty str not yet registered (unless `overwrite=True`); `metric_cls`
    must be a concrete subclass of BaseEvalMetric. Keyword arguments given to `get_metric`
    reach its constructor (e.g. `k` for a top-k metric).
    """
    if not (isinstance(metric_cls, type) and issubclass(metric_cls, BaseEvalMetric)):
        raise TypeError(f"metric_cls must be a subclass of BaseEvalMetric, got {metric_cls!r}")
    if inspect.isabstract(metric_cls):
        raise TypeError(
            f"metric_cls {metric_cls.__name__} is abstract: it must implement "
            "process_record, aggregate and reset"
        )
    with _REGISTRY_LOCK:
        _check_new_name(name, "name", overwrite)
        _REGISTRY[name] = (metric_cls, {})


def register_metric_from_existing(existing_name: str, new_name: str, **kwargs: Any) -> None:
    """Registers `new_name` as the metric `existing_name` built with `kwargs` fixed.

    For example `register_metric_from_existing("Precision", "Precision@0.9", threshold=0.9)`.
    The existing metric's own fixed kwargs are kept (and may be refined here). The kwargs are
    tried once now, so a bad one fails at registration rather than mid-evaluation.
    """
    if not isinstance(existing_name, str):
        raise TypeError(f"existing_name must be a str, got {type(existing_name).__name__}")
    with _REGISTRY_LOCK:
        if existing_name not in _REGISTRY:
            raise _unknown(existing_name, "existing_name")
        _check_new_name(new_name, "new_name", overwrite=False)
        metric_cls, fixed = _REGISTRY[existing_name]
        merged = {**fixed, **kwargs}
        try:
            metric_cls(**merged)
        except TypeError as exc:
            raise TypeError(f"kwargs for {existing_name!r} ({metric_cls.__name__}): {exc}") from exc
        _REGISTRY[new_name] = (metric_cls, merged)


def list_metrics() -> list[str]:
    """Every registered metric name, sorted."""
    return sorted(_REGISTRY)


def get_metric(name_or_instance: str | BaseEvalMetric, **kwargs: Any) -> BaseEvalMetric:
    """Returns a metric to accumulate into: a new instance for a registered name or a class.

    A name gives a fresh instance built with its fixed kwargs plus `kwargs` (a kwarg fixed by
    `register_metric_from_existing` cannot be changed: ValueError); its `name` is the name
    asked for. A BaseEvalMetric subclass is instantiated with `kwargs`. An instance is returned
    as is (no kwargs allowed), so a caller can keep a configured metric and read it afterwards.
    """
    if isinstance(name_or_instance, BaseEvalMetric):
        if kwargs:
            raise TypeError(
                f"kwargs {sorted(kwargs)} cannot be applied to an existing metric instance"
            )
        return name_or_instance
    if isinstance(name_or_instance, type) and issubclass(name_or_instance, BaseEvalMetric):
        return name_or_instance(**kwargs)
    if not isinstance(name_or_instance, str):
        raise TypeError(
            "name_or_instance must be a metric name, a BaseEvalMetric subclass or instance, "
            f"got {type(name_or_instance).__name__}"
        )
    entry = _REGISTRY.get(name_or_instance)
    if entry is None:
        raise _unknown(name_or_instance, "name_or_instance")
    metric_cls, fixed = entry
    clash = sorted(set(fixed) & set(kwargs))
    if clash:
        raise ValueError(f"metric {name_or_instance!r} fixes {clash}; they cannot be passed again")
    metric = metric_cls(**fixed, **kwargs)
    metric.name = name_or_instance
    return metric


def _register_builtins() -> None:
    """Registers the built-in metrics and their textbook aliases."""
    builtins: dict[str, type[BaseEvalMetric]] = {
        "Accuracy": Accuracy,
        "TruePositiveRate": TruePositiveRate,
        "Sensitivity": TruePositiveRate,
        "Recall": TruePositiveRate,
        "HitRate": TruePositiveRate,
        "TrueNegativeRate": TrueNegativeRate,
        "Specificity": TrueNegativeRate,
        "Selectivity": TrueNegativeRate,
        "PositivePredictiveValue": PositivePredictiveValue,
        "Precision": PositivePredictiveValue,
        "NegativePredictiveValue": NegativePredictiveValue,
        "FalseNegativeRate": FalseNegativeRate,
        "FalsePositiveRate": FalsePositiveRate,
        "FalseDiscoveryRate": FalseDiscoveryRate,
        "FalseOmissionRate": FalseOmissionRate,
        "PositiveLikelihoodRatio": PositiveLikelihoodRatio,
        "NegativeLikelihoodRatio": NegativeLikelihoodRatio,
        "PrevalenceThreshold": PrevalenceThreshold,
        "ThreatScore": ThreatScore,
        "F1Score": F1Score,
        "MeanAbsoluteError": MeanAbsoluteError,
        "MeanSquaredError": MeanSquaredError,
    }
    for name, metric_cls in builtins.items():
        register_metric(name, metric_cls)


_register_builtins()
