"""metrics: built-ins against a hand-worked confusion matrix, input rules, NaN, the registry."""

import importlib.util
import math
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

try:
    from neuronperf_native import metrics
except ImportError:  # compiled engine not built here: metrics.py is pure Python, load it alone
    _path = Path(__file__).resolve().parents[1] / "src" / "neuronperf_native" / "metrics.py"
    _spec = importlib.util.spec_from_file_location("_npf_metrics_standalone", _path)
    metrics = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(metrics)

BaseEvalMetric = metrics.BaseEvalMetric
get_metric = metrics.get_metric

# The hand-worked matrix: TP=30, FP=10, FN=5, TN=55, so P=35, N=65, PP=40, PN=60, total 100.
TP, FP, FN, TN = 30, 10, 5, 55

# Expected values worked out by hand (reduced fractions), not by the code under test.
EXPECTED = {
    "TruePositiveRate": Fraction(6, 7),  # 30/35
    "FalseNegativeRate": Fraction(1, 7),  # 5/35
    "TrueNegativeRate": Fraction(11, 13),  # 55/65
    "FalsePositiveRate": Fraction(2, 13),  # 10/65
    "PositivePredictiveValue": Fraction(3, 4),  # 30/40
    "FalseDiscoveryRate": Fraction(1, 4),  # 10/40
    "NegativePredictiveValue": Fraction(11, 12),  # 55/60
    "FalseOmissionRate": Fraction(1, 12),  # 5/60
    "PositiveLikelihoodRatio": Fraction(39, 7),  # (6/7) / (2/13) = 78/14
    "NegativeLikelihoodRatio": Fraction(13, 77),  # (1/7) / (11/13)
    "ThreatScore": Fraction(2, 3),  # 30/45
    "F1Score": Fraction(4, 5),  # 60/75
    "Accuracy": Fraction(17, 20),  # 85/100
    # (sqrt(12/91) - 14/91) / (64/91) = (sqrt(91 * 12) - 14) / 64
    "PrevalenceThreshold": (math.sqrt(1092) - 14) / 64,
}

ALIASES = {
    "Sensitivity": "TruePositiveRate",
    "Recall": "TruePositiveRate",
    "HitRate": "TruePositiveRate",
    "Specificity": "TrueNegativeRate",
    "Selectivity": "TrueNegativeRate",
    "Precision": "PositivePredictiveValue",
}


def _labels(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(predicted labels, target labels) with exactly TP, FP, FN, TN, shuffled."""
    pred = np.array([1] * TP + [1] * FP + [0] * FN + [0] * TN)
    target = np.array([1] * TP + [0] * FP + [1] * FN + [0] * TN)
    order = np.random.default_rng(seed).permutation(pred.size)
    return pred[order], target[order]


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the registry, so tests that register names leave no trace."""
    monkeypatch.setattr(metrics, "_REGISTRY", dict(metrics._REGISTRY))
    return metrics


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_against_hand_worked_matrix(name):
    pred, target = _labels()
    metric = get_metric(name)
    metric.process_record(pred, target)
    assert metric.aggregate() == pytest.approx(float(EXPECTED[name]), rel=1e-12)
    if name != "Accuracy":
        assert metric.counts == {"tp": TP, "fp": FP, "fn": FN, "tn": TN}


def test_prevalence_threshold_equals_balayla_form():
    # Balayla's form with sensitivity a and specificity b: (sqrt(a(1 - b)) + b - 1) / (a + b - 1)
    a, b = 6 / 7, 11 / 13
    pred, target = _labels()
    metric = get_metric("PrevalenceThreshold")
    metric.process_record(pred, target)
    assert metric.aggregate() == pytest.approx((math.sqrt(a * (1 - b)) + b - 1) / (a + b - 1))


@pytest.mark.parametrize(("alias", "base"), sorted(ALIASES.items()))
def test_alias_equals_base(alias, base):
    pred, target = _labels(seed=3)
    a, b = get_metric(alias), get_metric(base)
    a.process_record(pred, target)
    b.process_record(pred, target)
    assert type(a) is type(b)
    assert a.aggregate() == b.aggregate() == pytest.approx(float(EXPECTED[base]))
    assert a.name == alias
    assert b.name == base


def test_all_builtins_registered_and_topk_left_to_torch():
    names = metrics.list_metrics()
    assert names == sorted(names)
    for name in [*EXPECTED, *ALIASES, "MeanAbsoluteError", "MeanSquaredError"]:
        assert name in names
    # topk is registered by neuronperf_native.torch, not by metrics itself
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from neuronperf_native import metrics; print('topk' in metrics.list_metrics())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", [*sorted(EXPECTED), "MeanAbsoluteError", "MeanSquaredError"])
def test_accumulation_equals_one_call(name):
    pred, target = _labels(seed=7)
    whole = get_metric(name)
    whole.process_record(pred, target)
    parts = get_metric(name)
    for lo, hi in [(0, 1), (1, 17), (17, 17), (17, 64), (64, 100)]:
        parts.process_record(pred[lo:hi], target[lo:hi])
    assert parts.aggregate() == pytest.approx(whole.aggregate(), rel=1e-12)


def test_single_records_as_scalars():
    pred, target = _labels(seed=1)
    metric = get_metric("Recall")
    for p, t in zip(pred.tolist(), target.tolist(), strict=True):
        metric.process_record(p, t)
    assert metric.aggregate() == pytest.approx(6 / 7)


def test_reset_forgets_records():
    pred, target = _labels()
    metric = get_metric("F1Score")
    metric.process_record(pred, target)
    metric.reset()
    assert metric.counts == {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    metric.process_record([1, 0], [1, 1])  # TP=1, FN=1 -> 2/(2+1)
    assert metric.aggregate() == pytest.approx(2 / 3)


def test_threshold_on_scores():
    scores = np.array([0.9, 0.5, 0.49, 0.1, 0.7, 0.2], dtype=np.float32)
    target = np.array([1, 1, 1, 0, 0, 0])
    # >= 0.5 positive: predicted [1, 1, 0, 0, 1, 0] -> TP=2, FN=1, FP=1, TN=2
    metric = get_metric("TruePositiveRate")
    metric.process_record(scores, target)
    assert metric.counts == {"tp": 2, "fp": 1, "fn": 1, "tn": 2}
    assert metric.aggregate() == pytest.approx(2 / 3)
    strict = get_metric("TruePositiveRate", threshold=0.8)  # predicted [1, 0, 0, 0, 0, 0]
    strict.process_record(scores, target)
    assert strict.counts == {"tp": 1, "fp": 0, "fn": 2, "tn": 3}
    accuracy = get_metric("Accuracy")
    accuracy.process_record(scores, target)
    assert accuracy.aggregate() == pytest.approx(4 / 6)


def test_float_labels_with_threshold_none():
    # Float class labels: with threshold=None 2.0 is a label, not a score above 0.5.
    metric = get_metric("Precision", threshold=None)
    metric.process_record(np.array([1.0, 2.0, 1.0, 0.0]), np.array([1, 2, 2, 0]))
    assert metric.counts == {"tp": 1, "fp": 1, "fn": 0, "tn": 2}
    assert metric.aggregate() == pytest.approx(1 / 2)


def test_one_score_per_record_column_is_squeezed():
    metric = get_metric("Recall")
    metric.process_record(np.array([[0.8], [0.3], [0.6]]), np.array([1, 1, 0]))
    assert metric.counts == {"tp": 1, "fp": 1, "fn": 1, "tn": 0}


def test_argmax_of_class_scores():
    logits = np.array(
        [
            [0.1, 2.0, 0.3],  # -> 1
            [3.0, 0.0, 0.5],  # -> 0
            [0.0, 0.2, 0.9],  # -> 2
            [0.0, 5.0, 1.0],  # -> 1
            [1.0, 0.0, 0.0],  # -> 0
        ]
    )
    target = np.array([1, 1, 2, 0, 0])
    accuracy = get_metric("Accuracy")
    accuracy.process_record(logits, target)
    assert accuracy.aggregate() == pytest.approx(3 / 5)  # rows 0, 2, 4 correct
    # One class against the rest, positive class 1: predicted [1,0,0,1,0], actual [1,1,0,0,0]
    recall = get_metric("Recall")
    recall.process_record(logits, target)
    assert recall.counts == {"tp": 1, "fp": 1, "fn": 1, "tn": 2}
    # Positive class 2: predicted [0,0,1,0,0], actual [0,0,1,0,0]
    precision = get_metric("Precision", positive_label=2)
    precision.process_record(logits, target)
    assert precision.counts == {"tp": 1, "fp": 0, "fn": 0, "tn": 4}
    # One record: class scores (classes,) against a scalar target.
    single = get_metric("Accuracy")
    single.process_record(np.array([0.2, 0.7, 0.1]), 1)
    single.process_record(np.array([0.2, 0.7, 0.1]), 2)
    assert single.aggregate() == pytest.approx(1 / 2)


def test_multiclass_label_accuracy_and_one_vs_rest():
    pred = np.array([0, 1, 2, 2, 1, 0])
    target = np.array([0, 2, 2, 1, 1, 0])
    accuracy = get_metric("Accuracy")
    accuracy.process_record(pred, target)
    assert accuracy.aggregate() == pytest.approx(4 / 6)
    tpr = get_metric("TruePositiveRate")  # class 1: actual at 3, 4; predicted at 1, 4
    tpr.process_record(pred, target)
    assert tpr.counts == {"tp": 1, "fp": 1, "fn": 1, "tn": 3}


def test_string_labels_and_positive_label():
    metric = get_metric("Specificity", positive_label="cat")
    metric.process_record(["cat", "dog", "dog", "cat"], ["cat", "dog", "cat", "dog"])
    assert metric.counts == {"tp": 1, "fp": 1, "fn": 1, "tn": 1}
    assert metric.aggregate() == pytest.approx(1 / 2)
    # Numbers never equal a string label: everything is negative, elementwise, no error.
    numeric = get_metric("Specificity", positive_label="cat", threshold=None)
    numeric.process_record(np.array([1, 0, 1]), np.array([0, 1, 1]))
    assert numeric.counts == {"tp": 0, "fp": 0, "fn": 0, "tn": 3}


def test_mismatched_sizes_raise():
    with pytest.raises(ValueError, match="different numbers of records"):
        get_metric("Accuracy").process_record([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="different numbers of values"):
        get_metric("MeanSquaredError").process_record([1.0, 2.0], [1.0])


def test_mae_mse_on_known_arrays():
    output = np.array([[1.0, 2.0], [3.0, 4.0]])
    target = np.array([[1.5, 2.0], [1.0, 5.0]])
    # errors: -0.5, 0, 2, -1 -> |.| sum 3.5, squares sum 0.25 + 0 + 4 + 1 = 5.25, n = 4
    mae, mse = get_metric("MeanAbsoluteError"), get_metric("MeanSquaredError")
    mae.process_record(output, target)
    mse.process_record(output, target)
    assert mae.aggregate() == pytest.approx(3.5 / 4)
    assert mse.aggregate() == pytest.approx(5.25 / 4)
    # Elementwise over every value: a second batch of one value weighs as one value.
    mae.process_record([10.0], [0.0])
    assert mae.aggregate() == pytest.approx(13.5 / 5)
    # Integer inputs do not wrap or truncate.
    ints = get_metric("MeanSquaredError")
    ints.process_record(np.array([0], dtype=np.uint8), np.array([255], dtype=np.uint8))
    assert ints.aggregate() == 255.0**2


@pytest.mark.parametrize(
    ("name", "pred", "target"),
    [
        ("TruePositiveRate", [0, 0], [0, 0]),  # no actual positives
        ("FalseNegativeRate", [1, 0], [0, 0]),
        ("TrueNegativeRate", [1, 1], [1, 1]),  # no actual negatives
        ("FalsePositiveRate", [0, 1], [1, 1]),
        ("PositivePredictiveValue", [0, 0], [1, 0]),  # no predicted positives
        ("FalseDiscoveryRate", [0, 0], [1, 0]),
        ("NegativePredictiveValue", [1, 1], [1, 0]),  # no predicted negatives
        ("FalseOmissionRate", [1, 1], [1, 0]),
        ("PositiveLikelihoodRatio", [1, 0], [1, 0]),  # FPR = 0
        ("NegativeLikelihoodRatio", [1, 1], [0, 0]),  # TPR undefined (no positives)
        ("PrevalenceThreshold", [1, 1], [1, 0]),  # TPR = FPR = 1
        ("ThreatScore", [0, 0], [0, 0]),
        ("F1Score", [0, 0], [0, 0]),
    ],
)
def test_division_by_zero_is_nan(name, pred, target):
    metric = get_metric(name)
    metric.process_record(pred, target)
    assert math.isnan(metric.aggregate())


@pytest.mark.parametrize("name", [*sorted(EXPECTED), "MeanAbsoluteError", "MeanSquaredError"])
def test_no_records_is_nan(name):
    metric = get_metric(name)
    assert math.isnan(metric.aggregate())
    metric.process_record(np.array([]), np.array([]))
    assert math.isnan(metric.aggregate())


def test_prevalence_threshold_zero_fpr_is_zero():
    metric = get_metric("PrevalenceThreshold")
    metric.process_record([1, 0, 0], [1, 1, 0])  # TPR = 1/2, FPR = 0 -> (0 - 0) / (1/2)
    assert metric.aggregate() == 0.0


class _FakeTensor:
    """Mimics a torch tensor on an accelerator: only detach().cpu().numpy() gives numbers."""

    def __init__(self, values, device="cuda"):
        self._values = np.asarray(values)
        self._device = device
        self.calls = []

    def detach(self):
        self.calls.append("detach")
        return self

    def cpu(self):
        self.calls.append("cpu")
        return _FakeTensor(self._values, device="cpu")

    def numpy(self):
        if self._device != "cpu":
            raise TypeError("can't convert cuda tensor to numpy")
        return self._values


def test_tensor_like_objects_are_converted():
    pred, target = _labels(seed=5)
    out_t, tgt_t = _FakeTensor(pred), _FakeTensor(target)
    metric = get_metric("F1Score")
    metric.process_record(out_t, tgt_t)
    assert metric.aggregate() == pytest.approx(4 / 5)
    assert out_t.calls == ["detach", "cpu"]


def test_numpy_only_objects_are_converted():
    class _EagerTensor:
        def numpy(self):
            return np.array([2.0, 4.0])

    metric = get_metric("MeanAbsoluteError")
    metric.process_record(_EagerTensor(), [1.0, 1.0])
    assert metric.aggregate() == pytest.approx(2.0)


def test_torch_tensors():
    torch = pytest.importorskip("torch")
    pred, target = _labels(seed=2)
    logits = torch.nn.functional.one_hot(torch.from_numpy(pred), 2).float()
    logits.requires_grad_(True)
    metric = get_metric("Accuracy")
    metric.process_record(logits * 3.0, torch.from_numpy(target))
    assert metric.aggregate() == pytest.approx(17 / 20)
    mse = get_metric("MeanSquaredError")
    mse.process_record(torch.tensor([1.0, 2.0], dtype=torch.bfloat16), torch.tensor([0.0, 0.0]))
    assert mse.aggregate() == pytest.approx(5 / 2)


def test_get_metric_returns_fresh_instances():
    a, b = get_metric("Accuracy"), get_metric("Accuracy")
    assert a is not b
    a.process_record([1], [1])
    assert math.isnan(b.aggregate())
    assert get_metric(a) is a
    assert isinstance(get_metric(metrics.ThreatScore), metrics.ThreatScore)
    assert get_metric("Recall", threshold=0.25).threshold == 0.25


def test_get_metric_errors():
    with pytest.raises(ValueError, match=r"name_or_instance 'Nope'.*known: \[.*'Accuracy'"):
        get_metric("Nope")
    with pytest.raises(TypeError, match="name_or_instance"):
        get_metric(42)
    with pytest.raises(TypeError, match="existing metric instance"):
        get_metric(get_metric("Accuracy"), threshold=0.3)
    with pytest.raises(TypeError, match="threshold"):
        get_metric("Recall", threshold="high")
    with pytest.raises(ValueError, match="threshold must be finite"):
        get_metric("Recall", threshold=math.inf)
    with pytest.raises(TypeError):
        get_metric("MeanAbsoluteError", threshold=0.5)  # regression metrics take no threshold


def test_repr_shows_name_settings_and_state():
    metric = get_metric("Recall", threshold=0.3)
    metric.process_record([0.9], [1])
    assert repr(metric) == (
        "TruePositiveRate(name='Recall', threshold=0.3, positive_label=1, tp=1, fp=0, fn=0, tn=0)"
    )
    assert repr(get_metric("MeanSquaredError")) == (
        "MeanSquaredError(name='MeanSquaredError', error_sum=0.0, count=0)"
    )


class _CountPositives(BaseEvalMetric):
    """A user metric: the share of records whose output is among the top k (toy top-k)."""

    def __init__(self, k=1):
        self.k = k
        self.hits = 0
        self.total = 0

    def process_record(self, output, target):
        scores = np.atleast_2d(np.asarray(output))
        top = np.argsort(-scores, axis=-1)[:, : self.k]
        self.hits += int(np.sum(np.any(top == np.reshape(target, (-1, 1)), axis=-1)))
        self.total += scores.shape[0]

    def aggregate(self):
        return self.hits / self.total if self.total else math.nan

    def reset(self):
        self.hits = self.total = 0


def test_register_user_metric_with_k(registry):
    registry.register_metric("mytopk", _CountPositives)
    assert "mytopk" in registry.list_metrics()
    scores = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1]])
    top1 = registry.get_metric("mytopk")
    top2 = registry.get_metric("mytopk", k=2)
    for metric in (top1, top2):
        metric.process_record(scores, [2, 0])
    assert (top1.aggregate(), top2.aggregate()) == (0.5, 1.0)
    assert top2.name == "mytopk"
    assert _CountPositives.name == "_CountPositives"  # default name is the class name

    registry.register_metric_from_existing("mytopk", "top2", k=2)
    fixed = registry.get_metric("top2")
    assert (fixed.k, fixed.name) == (2, "top2")
    with pytest.raises(ValueError, match=r"fixes \['k'\]"):
        registry.get_metric("top2", k=3)


def test_register_metric_errors_name_the_argument(registry):
    with pytest.raises(TypeError, match="name must be a str"):
        registry.register_metric(7, _CountPositives)
    with pytest.raises(ValueError, match="name must be a non-empty str"):
        registry.register_metric("  ", _CountPositives)
    with pytest.raises(ValueError, match="name 'Accuracy' is already registered"):
        registry.register_metric("Accuracy", _CountPositives)
    with pytest.raises(TypeError, match="metric_cls must be a subclass of BaseEvalMetric"):
        registry.register_metric("x", object)
    with pytest.raises(TypeError, match="metric_cls must be a subclass of BaseEvalMetric"):
        registry.register_metric("x", _CountPositives())
    with pytest.raises(TypeError, match="metric_cls BaseEvalMetric is abstract"):
        registry.register_metric("x", BaseEvalMetric)
    assert "x" not in registry.list_metrics()


def test_register_metric_overwrite(registry):
    registry.register_metric("Accuracy", _CountPositives, overwrite=True)
    assert isinstance(registry.get_metric("Accuracy"), _CountPositives)


def test_register_metric_from_existing_with_threshold(registry):
    registry.register_metric_from_existing("Precision", "Precision@0.8", threshold=0.8)
    scores = np.array([0.9, 0.7, 0.6, 0.2])
    target = np.array([1, 0, 0, 1])
    strict, default = registry.get_metric("Precision@0.8"), registry.get_metric("Precision")
    strict.process_record(scores, target)
    default.process_record(scores, target)
    assert strict.aggregate() == pytest.approx(1 / 1)  # only 0.9 predicted positive
    assert default.aggregate() == pytest.approx(1 / 3)  # 0.9, 0.7, 0.6 predicted positive
    assert strict.name == "Precision@0.8"
    # Chaining keeps the fixed threshold and adds a positive label.
    registry.register_metric_from_existing(
        "Precision@0.8", "Precision@0.8/label0", positive_label=0
    )
    chained = registry.get_metric("Precision@0.8/label0")
    assert (chained.threshold, chained.positive_label) == (0.8, 0)


def test_register_metric_from_existing_errors(registry):
    with pytest.raises(ValueError, match=r"existing_name 'Nope'.*known: \["):
        registry.register_metric_from_existing("Nope", "x")
    with pytest.raises(TypeError, match="existing_name must be a str"):
        registry.register_metric_from_existing(None, "x")
    with pytest.raises(ValueError, match="new_name 'Recall' is already registered"):
        registry.register_metric_from_existing("Accuracy", "Recall")
    with pytest.raises(TypeError, match="new_name must be a str"):
        registry.register_metric_from_existing("Accuracy", 3)
    with pytest.raises(TypeError, match=r"kwargs for 'Accuracy' \(Accuracy\)"):
        registry.register_metric_from_existing("Accuracy", "x", k=5)
    assert "x" not in registry.list_metrics()
