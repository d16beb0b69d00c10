"""The arithmetic of iterative pruning: sparsity schedules and masks, as pure functions on tensors.

A mask is a float tensor of ones (kept) and zeros (pruned) shaped like its parameter. Masks only ever shrink:
a weight pruned in one round stays pruned in every later round, whatever its score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

SCHEDULES = ("geometric", "linear", "explicit")


def sparsity_schedule(schedule: str, rounds: int | None = None, prune_fraction: float = 0.2,
                      final_sparsity: float | None = None,
                      sparsities: Sequence[float] | None = None) -> list[float]:
    """The target sparsity of every training round; round 0 is always the dense network (sparsity 0).

    ``geometric`` prunes ``prune_fraction`` of the remaining weights each round: ``1 - (1 - f) ** r``.
    ``linear`` steps evenly from 0 to ``final_sparsity`` in the last round (the paper: 100 rounds to 1.0).
    ``explicit`` takes ``sparsities`` as given: starting at 0, non-decreasing, each in [0, 1].
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule={schedule!r} is invalid: allowed one of {list(SCHEDULES)}")
    if schedule == "explicit":
        if sparsities is None or len(sparsities) < 1:
            raise ValueError(f"sparsities={sparsities!r} is invalid: schedule='explicit' needs a list of "
                             "per-round sparsities starting at 0.0")
        if rounds is not None and rounds != len(sparsities):
            raise ValueError(f"rounds={rounds} is invalid: the explicit schedule has {len(sparsities)} rounds "
                             "(leave rounds unset)")
        values = [float(s) for s in sparsities]
        if values[0] != 0.0:
            raise ValueError(f"sparsities[0]={values[0]} is invalid: round 0 trains the dense network (0.0)")
        for i, (before, after) in enumerate(zip(values, values[1:]), start=1):
            if not before <= after <= 1.0:
                raise ValueError(f"sparsities[{i}]={after} is invalid: allowed a value in [{before}, 1.0] "
                                 "(non-decreasing, at most 1)")
        return values
    if sparsities is not None:
        raise ValueError(f"sparsities={list(sparsities)} is invalid with schedule={schedule!r}: "
                         "use schedule='explicit'")
    if rounds is None or rounds < 1:
        raise ValueError(f"rounds={rounds!r} is invalid: schedule={schedule!r} needs an integer >= 1")
    if schedule == "geometric":
        if not 0.0 < prune_fraction < 1.0:
            raise ValueError(f"prune_fraction={prune_fraction} is invalid: allowed a value in (0, 1)")
        return [1.0 - (1.0 - prune_fraction) ** r for r in range(rounds)]
    if final_sparsity is None or not 0.0 <= final_sparsity <= 1.0:
        raise ValueError(f"final_sparsity={final_sparsity!r} is invalid: schedule='linear' needs a value in [0, 1]")
    if rounds == 1:
        return [0.0]
    return [final_sparsity * r / (rounds - 1) for r in range(rounds)]


def prune(scores: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor],
          groups: Sequence[Sequence[str]], sparsity: float) -> dict[str, torch.Tensor]:
    """New masks that prune, within each group of parameter names, the lowest-scored entries to ``sparsity``.

    Each group (one layer, or every prunable parameter for global pruning) ends with exactly
    ``floor(sparsity * size + 0.5)`` zeros (the nearest count, halves up). Entries already pruned count first,
    whatever their score; ties break by position, so every process computes the same masks.
    """
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity={sparsity} is invalid: allowed a value in [0, 1]")
    new_masks = {}
    for names in groups:
        flat_mask = torch.cat([masks[n].detach().flatten() for n in names])
        flat_score = torch.cat([scores[n].detach().flatten().to(flat_mask.dtype) for n in names])
        flat_score = torch.where(flat_mask > 0, flat_score, torch.full_like(flat_score, -torch.inf))
        n_pruned = math.floor(sparsity * flat_mask.numel() + 0.5)
        already = int((flat_mask == 0).sum())
        if n_pruned < already:
            raise ValueError(f"sparsity={sparsity} is invalid for group {list(names)}: {already} of its "
                             f"{flat_mask.numel()} entries are already pruned and masks never grow back")
        kept = torch.ones_like(flat_mask)
        kept[torch.argsort(flat_score, stable=True)[:n_pruned]] = 0
        for name, piece in zip(names, kept.split([masks[n].numel() for n in names])):
            new_masks[name] = piece.view_as(masks[name])
    return new_masks


def random_masks(like: Mapping[str, torch.Tensor], groups: Sequence[Sequence[str]],
                 seed: int) -> dict[str, torch.Tensor]:
    """Masks that prune, within each group of parameter names, as many entries as ``like`` does there, at
    uniformly random places: the random-mask control of a ticket (same layerwise sparsity, no structure).

    The draws depend only on ``seed`` and the shapes, and the zeros of a larger count contain those of a smaller
    one, so one seed gives nested masks across the sparsities of a search.
    """
    names = [name for group in groups for name in group]
    if sorted(names) != sorted(like):
        raise ValueError(f"groups name {sorted(names)}, the masks {sorted(like)}: expected the same parameters")
    generator = torch.Generator().manual_seed(seed)
    scores = {name: torch.rand(like[name].shape, generator=generator) for name in names}
    masks = {}
    for group in groups:
        flat = torch.cat([scores[n].flatten() for n in group])
        kept = torch.ones_like(flat)
        kept[torch.argsort(flat, stable=True)[:sum(int((like[n] == 0).sum()) for n in group)]] = 0
        for name, piece in zip(group, kept.split([like[n].numel() for n in group])):
            masks[name] = piece.view(like[name].shape)
    return masks


def sparsity(masks: Sequence[torch.Tensor]) -> float:
    """The fraction of pruned entries over all the given masks together."""
    total = sum(m.numel() for m in masks)
    return float(sum(int((m == 0).sum()) for m in masks)) / total if total else 0.0
