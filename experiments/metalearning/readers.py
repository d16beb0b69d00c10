"""How the metalearning study reads its stored runs: histories and inner-run evaluations by seed."""

from __future__ import annotations

from typing import Any

from ..runner import Results

History = list[dict[str, float]]


def lr_histories(results: Results) -> dict[float, dict[int, History]]:
    """``{init_lr: {seed: history}}`` of the stored learning-rate runs."""
    out: dict[float, dict[int, History]] = {}
    for record in results.select(part="learning_rate"):
        out.setdefault(record["tags"]["init_lr"], {})[record["tags"]["seed"]] = record["result"]["history"]
    return out


def activation_histories(results: Results) -> dict[int, History]:
    """``{seed: outer trajectory}`` of the stored activation runs."""
    return {r["tags"]["seed"]: r["result"]["history"] for r in results.select(part="activation")}


def evaluations(results: Results) -> dict[int, dict[str, dict[str, Any]]]:
    """``{seed: {activation: result}}`` of the stored inner runs."""
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for record in results.select(part="evaluation"):
        out.setdefault(record["tags"]["seed"], {})[record["tags"]["activation"]] = record["result"]
    return out
