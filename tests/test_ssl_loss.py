"""The contrastive losses against a direct computation, and their global negatives on a real 2-process group."""

import math
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lightning_modules.ssl.loss import info_nce, nt_xent


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(p * q for p, q in zip(a, b))
    return dot / math.sqrt(sum(p * p for p in a) * sum(q * q for q in b))


def direct_info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> float:
    """View 1 row i against every view 2 row j; the positive is j = i."""
    a, b = z1.tolist(), z2.tolist()
    terms = []
    for i in range(len(a)):
        scores = [math.exp(cosine(a[i], b[j]) / temperature) for j in range(len(b))]
        terms.append(-math.log(scores[i] / sum(scores)))
    return sum(terms) / len(terms)


def direct_nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> float:
    """All 2N views; view k's positive is its partner, every view but itself is in the denominator."""
    views, n = z1.tolist() + z2.tolist(), len(z1)
    terms = []
    for k in range(2 * n):
        partner = (k + n) % (2 * n)
        scores = {m: math.exp(cosine(views[k], views[m]) / temperature) for m in range(2 * n) if m != k}
        terms.append(-math.log(scores[partner] / sum(scores.values())))
    return sum(terms) / len(terms)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 2.0])
@pytest.mark.parametrize("loss, direct", [(info_nce, direct_info_nce), (nt_xent, direct_nt_xent)])
def test_loss_equals_direct_computation(loss, direct, temperature):
    generator = torch.Generator().manual_seed(3)
    z1, z2 = torch.randn(5, 3, generator=generator), torch.randn(5, 3, generator=generator)
    expected = direct(z1, z2, temperature)
    z1, z2 = z1.double(), z2.double()
    assert loss(z1, z2, temperature).item() == pytest.approx(expected, rel=1e-12)
    # without a process group the gather switch changes nothing
    assert loss(z1, z2, temperature, gather_distributed=False).item() == pytest.approx(expected, rel=1e-12)


def test_the_two_options_differ_and_perfect_views_score_low():
    generator = torch.Generator().manual_seed(4)
    z1, z2 = torch.randn(8, 4, generator=generator), torch.randn(8, 4, generator=generator)
    assert info_nce(z1, z2).item() != pytest.approx(nt_xent(z1, z2).item(), rel=1e-3)
    orthogonal = torch.eye(8) * 10
    assert info_nce(orthogonal, orthogonal, 0.05).item() < 1e-6
    assert nt_xent(orthogonal, orthogonal, 0.05).item() < 1e-6


@pytest.mark.parametrize("loss", [info_nce, nt_xent])
def test_bad_inputs_are_named(loss):
    with pytest.raises(ValueError, match="temperature"):
        loss(torch.ones(2, 3), torch.ones(2, 3), 0.0)
    with pytest.raises(ValueError, match="shapes"):
        loss(torch.ones(2, 3), torch.ones(3, 3))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_gradients(rank: int, world: int, port: int, z1: torch.Tensor, z2: torch.Tensor, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        rows = slice(rank * len(z1) // world, (rank + 1) * len(z1) // world)
        for name, loss in (("info_nce", info_nce), ("nt_xent", nt_xent)):
            for gather in (True, False):
                a, b = z1[rows].clone().requires_grad_(), z2[rows].clone().requires_grad_()
                value = loss(a, b, 0.5, gather_distributed=gather)
                value.backward()
                out[(name, gather, rank)] = (value.detach(), a.grad, b.grad)
    finally:
        dist.destroy_process_group()


def test_gathered_loss_on_two_gloo_processes_is_the_full_batch_loss():
    generator = torch.Generator().manual_seed(5)
    z1, z2 = torch.randn(8, 4, generator=generator, dtype=torch.float64), torch.randn(8, 4, generator=generator,
                                                                                          dtype=torch.float64)
    world, out = 2, mp.Manager().dict()
    mp.start_processes(_rank_gradients, args=(world, _free_port(), z1, z2, out), nprocs=world, start_method="fork")
    for name, loss in (("info_nce", info_nce), ("nt_xent", nt_xent)):
        a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        loss(a, b, 0.5).backward()
        full = loss(z1, z2, 0.5)
        per_rank = [out[(name, True, r)] for r in range(world)]
        # DDP averages over processes: mean loss and gradients / world are those of the full batch
        torch.testing.assert_close(sum(v for v, _, _ in per_rank) / world, full)
        torch.testing.assert_close(torch.cat([g for _, g, _ in per_rank]) / world, a.grad)
        torch.testing.assert_close(torch.cat([g for _, _, g in per_rank]) / world, b.grad)
        # per-GPU negatives (the classic bug) are a different loss
        local = [out[(name, False, r)][0] for r in range(world)]
        assert abs((sum(local) / world - full).item()) > 1e-3
