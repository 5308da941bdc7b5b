"""A copy group's outcome (copies/) -> the ConfigurationResult every executor yields."""

from __future__ import annotations

from typing import Any

from neuronperf_native.copies.parent import CopiesOutcome
from neuronperf_native.copies.validation import merge_validation
from neuronperf_native.planning import Configuration
from neuronperf_native.run import RESULTS_SCHEMA, ConfigurationResult


def configuration_result(
    configuration: Configuration,
    config: dict[str, Any],
    outcome: CopiesOutcome,
    cpu_percents: list[float],
    mem_percents: list[float],
) -> ConfigurationResult:
    """The result of one configuration from its copies' outcome and the CPU and memory
    samples taken while they ran."""
    copies = [c.result for c in outcome.copies if c.result is not None]
    results: dict[str, Any] = {
        "schema": RESULTS_SCHEMA,
        "status": _status(outcome, copies),
        "error": _error(outcome, copies),
        "workers_per_model": configuration.workers_per_model,
        "n_infs": sum(c["iterations"] for c in copies) * configuration.batch_size,
        "total_s": max((c["wall_s"] for c in copies), default=0.0),
        "cpu_percents": cpu_percents,
        "mem_percents": mem_percents,
        "copies": copies,
    }
    validation = merge_validation([c["validation"] for c in copies if c.get("validation")])
    if validation is not None:
        results["validation"] = validation
    return ConfigurationResult(
        configuration,
        config,
        results,
        timestamps=[c.timestamps for c in outcome.copies if c.result is not None],
        requests=[c.requests for c in outcome.copies if c.result is not None],
        interrupted=outcome.interrupted,
        strict_validation_failed=any(c.phase == "validate" and c.error for c in outcome.copies),
    )


def _status(outcome: CopiesOutcome, copies: list[dict[str, Any]]) -> str:
    if outcome.interrupted:
        return "stopped"
    if outcome.timed_out:
        return "timeout"
    if outcome.error is not None:
        return "error"
    statuses = {c["status"] for c in copies}
    if outcome.ended_early:  # an observer ended the run: its numbers were known
        statuses.discard("stopped")
    return next((s for s in ("error", "timeout", "stopped") if s in statuses), "finished")


def _error(outcome: CopiesOutcome, copies: list[dict[str, Any]]) -> str | None:
    if outcome.error is None:
        return next((c["error"] for c in copies if c["error"]), None)
    details = [c.error for c in outcome.copies if c.error]
    return f"{outcome.error}\n{details[0]}" if details else outcome.error
