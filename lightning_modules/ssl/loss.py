"""Contrastive losses on two views' embeddings, with negatives from every process when distributed.

With ``gather_distributed=True`` and an initialized process group, each process scores its own anchors against
the embeddings of ALL processes, gathered with gradients (``torch.distributed.nn.functional.all_gather``), and
averages over its own anchors. DDP then averages the gradients over processes, which gives exactly the gradient
of the loss over the global batch. Every process must hold the same number of rows.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.nn.functional import all_gather


def gather_with_gradients(z: torch.Tensor, gather_distributed: bool) -> tuple[torch.Tensor, int]:
    """All processes' rows of ``z`` concatenated in rank order, and the index of this process's first row."""
    if gather_distributed and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return torch.cat(all_gather(z)), dist.get_rank() * z.shape[0]
    return z, 0


def _check(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> None:
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError(f"views have shapes {tuple(z1.shape)} and {tuple(z2.shape)}: expected two equal (batch, dim)")
    if temperature <= 0:
        raise ValueError(f"temperature={temperature}: expected > 0")


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5,
             gather_distributed: bool = True) -> torch.Tensor:
    """The reference loss: each view-1 embedding picks its own view 2 among all view-2 embeddings.

    Cross-entropy over cosine similarities / temperature; the N - 1 other view-2 rows are the negatives.
    """
    _check(z1, z2, temperature)
    z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    all_z2, first = gather_with_gradients(z2, gather_distributed)
    logits = z1 @ all_z2.T / temperature
    targets = torch.arange(z1.shape[0], device=z1.device) + first
    return F.cross_entropy(logits, targets)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5,
            gather_distributed: bool = True) -> torch.Tensor:
    """Symmetric NT-Xent (SimCLR): each of the 2N views picks its partner among the other 2N - 1 views."""
    _check(z1, z2, temperature)
    z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    all_z1, first = gather_with_gradients(z1, gather_distributed)
    all_z2, _ = gather_with_gradients(z2, gather_distributed)
    total = all_z1.shape[0]
    logits = torch.cat([z1, z2]) @ torch.cat([all_z1, all_z2]).T / temperature
    local = torch.arange(z1.shape[0], device=z1.device) + first
    own = torch.cat([local, local + total])
    partner = torch.cat([local + total, local])
    rows = torch.arange(own.shape[0], device=z1.device)
    logits = logits.index_put((rows, own), torch.tensor(float("-inf"), device=z1.device, dtype=logits.dtype))
    return F.cross_entropy(logits, partner)


LOSSES = {"info_nce": info_nce, "nt_xent": nt_xent}
