"""The lottery study's tasks, as a worker runs them: ``search`` finds a trial's tickets and hands them on as an
artifact; ``retrain`` trains one ticket of it through ``experiments.tasks:fit``.

The artifact ``ticket.pt`` holds theta0 (the search's initialization), the first round each weight is pruned in
(so every round's masks) and the groups ranked together, so a retraining can take the ticket of any round, or a
random mask with its layerwise counts. ``retrain`` writes the ticket it trains to a temporary file that the
``LoadTicket`` callback of its config loads: the run's declared config never holds a path.
"""

from __future__ import annotations

import copy
import hashlib
import io
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..runs import Output, Upstream
from .protocol import FIRST_LAYER, WINDOWS

ARTIFACT = "ticket.pt"


def _bits(mask: torch.Tensor) -> list[str]:
    return ["".join("1" if v else "0" for v in row) for row in (mask != 0).tolist()]


def digest(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict's names and values: identifies theta0 in a search's result."""
    sha = hashlib.sha256()
    for key in sorted(state):
        sha.update(key.encode())
        sha.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()


def search(config: dict[str, Any]) -> Output:
    """Run one search: its history, the analysis round's sparsity, its first-layer masks (ticket and random) and
    their adjacency; the artifact holding theta0 and every round's masks."""
    from lightning_modules.lottery import LotteryTicket, adjacency, random_masks, sparsity

    from ..tasks import build

    cli = build(config["cli"])
    ticket = next(c for c in cli.trainer.callbacks if isinstance(c, LotteryTicket))
    cli.trainer.fit(cli.model, cli.datamodule)
    r = config["analysis_round"]
    masks, theta0 = ticket.masks_at_round(r), ticket.rewind_state
    random = random_masks(masks, ticket.groups, config["random_mask_seed"])
    kinds = (("ticket", masks), ("random", random))
    history = [{k: v for k, v in record.items() if k != "layer_sparsity"} for record in ticket.history]
    result = {
        "history": history, "analysis_round": r, "sparsity": sparsity(list(masks.values())),
        "random_sparsity": sparsity(list(random.values())), "theta0_sha256": digest(theta0),
        "first_layer": {kind: _bits(m[FIRST_LAYER]) for kind, m in kinds},
        "adjacency": {kind: {str(w): adjacency(m[FIRST_LAYER].numpy(), w) for w in WINDOWS} for kind, m in kinds},
        "first_layer_density": {kind: float(m[FIRST_LAYER].mean()) for kind, m in kinds},
    }
    buffer = io.BytesIO()
    torch.save({"theta0": theta0, "pruning_round": ticket.pruning_round, "groups": ticket.groups}, buffer)
    return Output(result, {ARTIFACT: buffer.getvalue()})


def ticket_of(spec: Mapping[str, Any], found: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor],
                                                                           dict[str, torch.Tensor] | None]:
    """``(masks, init_state)`` a retraining trains, from a search's artifact ``found``: the masks of ``spec``
    (dense, the ticket's or random ones at round ``spec["round"]``) and theta0, or None for the config's own
    initialization (``init: fresh``)."""
    from lightning_modules.lottery import masks_at_round, random_masks

    ticket = masks_at_round(found["pruning_round"], spec["round"])
    if spec["masks"] == "dense":
        masks = {name: torch.ones_like(m) for name, m in ticket.items()}
    elif spec["masks"] == "ticket":
        masks = ticket
    elif spec["masks"] == "random":
        masks = random_masks(ticket, found["groups"], spec["mask_seed"])
    else:
        raise ValueError(f"masks={spec['masks']!r} is invalid: allowed 'dense', 'ticket' or 'random'")
    if spec["init"] not in ("theta0", "fresh"):
        raise ValueError(f"init={spec['init']!r} is invalid: allowed 'theta0' or 'fresh'")
    return masks, found["theta0"] if spec["init"] == "theta0" else None


def retrain(config: dict[str, Any], upstream: tuple[Upstream, ...]) -> dict[str, Any]:
    """Train ``config["cli"]`` with the ticket of ``config["ticket"]`` loaded (``LoadTicket``); the test-accuracy
    history, its final value, the masks' sparsity and the pruned weights found nonzero at the end (0)."""
    from lightning_modules.lottery import save_ticket, sparsity

    from ..tasks import fit

    (searched,) = upstream
    if ARTIFACT not in searched.artifacts:
        raise ValueError(f"the search handed over {sorted(searched.artifacts)}, not {ARTIFACT}")
    found = torch.load(io.BytesIO(searched.artifacts[ARTIFACT]), map_location="cpu", weights_only=True)
    masks, init_state = ticket_of(config["ticket"], found)
    with tempfile.TemporaryDirectory(prefix="ticket-") as folder:
        path = save_ticket(Path(folder) / ARTIFACT, masks, init_state)
        cli = copy.deepcopy(config["cli"])
        load = {"class_path": "lightning_modules.lottery.LoadTicket", "init_args": {"path": str(path)}}
        cli["trainer"]["callbacks"] = [*cli["trainer"].get("callbacks", []), load]
        fitted = fit(cli)
    return {"history": [{"step": row["step"], "acc": row["val/acc"]} for row in fitted["history"]
                        if "val/acc" in row],
            "final": fitted["final"]["val/acc"], "sparsity": sparsity(list(masks.values())),
            "pruned_weights_nonzero": int(fitted["final"]["masks/pruned_nonzero"])}
