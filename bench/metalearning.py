"""One outer step of each metalearning module (Trainer path) vs the same math in a plain PyTorch loop.

Ours: ``MetaLearningRate`` / ``MetaActivation`` trained by a Trainer as ``configs/metalearn_*.yaml`` does (an
outer step is one training step: ``torch.func.functional_call`` on parameter dicts, the unrolled inner loop,
``manual_backward``, the optimizer, the logging), timed from ``on_train_batch_start`` to ``on_train_batch_end``.
Baseline: the same outer step written as the reference notebooks do, with explicit weight tensors,
``F.linear``, ``torch.autograd.grad(create_graph=True)`` and hand-written updates. One plain outer step runs
beside every module step inside the same process, alternately before and after it; the first pair is a
warm-up and is dropped. Both sides start from the same state and must produce the same meta-losses (checked).
Target: median ratio (module / plain) at most 1.0.

Peak memory of one outer step of the activation module (and of the plain loop, for reference) is measured in a
fresh subprocess each, started before this process grows (Linux keeps ru_maxrss across fork and exec): the
growth of ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the peak resident set, which counts torch's CPU
allocations, unlike tracemalloc) across that one step, and the process's absolute peak.

    python bench/metalearning.py [--lr-repeats 5] [--activation-repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from alternating import bench_parser, parse_and_configure
from results_file import write_results
from torch.nn import functional as F

from lightning_modules.data import MNIST1DDataModule
from lightning_modules.meta import MetaActivation, MetaLearningRate, seeded_inner_mlp


# ---- the plain loops ------------------------------------------------------------------------------------------
def plain_learning_rate_step(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor, steps: int = 200,
                             batch_size: int = 50, outer_lr: float = 0.3) -> float:
    """One outer step of the learning-rate study, notebook style; updates ``state["lr"]``, returns the meta-loss."""
    lr = state["lr"].detach().requires_grad_()
    w1, b1, w2, b2 = (p.detach().requires_grad_() for p in state["theta0"])
    losses = []
    for step in range(steps):
        start = (step * batch_size) % len(x)
        logits = F.linear(torch.tanh(F.linear(x[start:start + batch_size], w1, b1)), w2, b2)
        loss = F.cross_entropy(logits, y[start:start + batch_size])
        g1, gb1, g2, gb2 = torch.autograd.grad(loss, (w1, b1, w2, b2), create_graph=True)
        w1, b1, w2, b2 = w1 - lr * g1, b1 - lr * gb1, w2 - lr * g2, b2 - lr * gb2
        losses.append(loss)
    meta_loss = torch.stack(losses).mean()
    (grad,) = torch.autograd.grad(meta_loss, lr)
    state["lr"] = (lr - outer_lr * grad).detach()
    return meta_loss.item()


def plain_activation_step(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor,
                          y_test: torch.Tensor, steps: int = 301, batch_size: int = 100, lr: float = 1e-2,
                          decay: float = 0.4, eps: float = 1e-8, window: int = 200, clip: float = 0.1,
                          outer_lr: float = 0.3) -> float:
    """One outer step of the activation study, notebook style; updates ``state["g"]``, returns the meta-loss."""
    u1, c1, u2, c2 = g_params = [p.detach().requires_grad_() for p in state["g"]]
    generator = torch.Generator().manual_seed(0)

    def activation(pre: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(F.linear(pre.reshape(-1, 1), u1, c1))
        h = h + 0.1 * (2 * torch.rand((1, u1.shape[0]), generator=generator) - 1)
        return F.elu(pre) + 0.2 * F.linear(h, u2, c2).reshape(pre.shape)

    def forward(params: list[torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        w1, b1, w2, b2 = params
        h = activation(F.linear(inputs, w1, b1))
        h = h + 0.1 * (2 * torch.rand((1, w1.shape[0]), generator=generator) - 1)
        return F.linear(h, w2, b2)

    params = [p.detach().requires_grad_() for p in state["theta0"]]
    square_avg = [torch.ones_like(p) for p in params]
    losses = []
    for step in range(steps):
        start = (step * batch_size) % len(x)
        loss = F.cross_entropy(forward(params, x[start:start + batch_size]), y[start:start + batch_size])
        grads = torch.autograd.grad(loss, params, create_graph=True)
        square_avg = [v * decay + g ** 2 * (1 - decay) for v, g in zip(square_avg, grads)]
        params = [p - lr * g / (torch.sqrt(v) + eps) for p, g, v in zip(params, grads, square_avg)]
        losses.append(loss)
        if 1 <= step < steps - 1:  # the noise the reference's per-step test evaluation draws
            torch.rand((1, u1.shape[0]), generator=generator)
            torch.rand((1, params[0].shape[0]), generator=generator)
    with torch.no_grad():
        (forward(params, x_test[:500]).argmax(-1) == y_test[:500]).float().mean().item()
    meta_loss = torch.stack(losses)[-window:].mean()
    grads = torch.autograd.grad(meta_loss, g_params)
    state["g"] = [(p - outer_lr * g.clamp(-clip, clip)).detach() for p, g in zip(g_params, grads)]
    return meta_loss.item()


# ---- the interleaved timing -----------------------------------------------------------------------------------
class InterleavedTimer(L.Callback):
    """Times each training step of the module and one plain outer step beside it, alternately before and after."""

    def __init__(self, plain_step: Any) -> None:
        self.plain_step = plain_step
        self.times: dict[str, list[float]] = {"module": [], "plain": []}
        self.plain_losses: list[float] = []

    def _plain(self) -> None:
        start = time.perf_counter()
        self.plain_losses.append(self.plain_step())
        self.times["plain"].append(time.perf_counter() - start)

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, batch: Any, idx: int) -> None:
        if trainer.global_step % 2 == 1:
            self._plain()
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *args: Any) -> None:
        self.times["module"].append(time.perf_counter() - self.start)
        if trainer.global_step % 2 == 1:  # global_step has advanced: this was an even step
            self._plain()


def trainer(steps: int, callbacks: list[L.Callback]) -> L.Trainer:
    return L.Trainer(max_steps=steps, max_epochs=-1, accelerator="cpu", devices=1, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                     limit_val_batches=0, num_sanity_val_steps=0, callbacks=callbacks)


def splits(data: MNIST1DDataModule) -> tuple[torch.Tensor, ...]:
    data.setup("fit")
    return (*data.split("train"), *data.split("test"))


def learning_rate_side(repeats: int) -> dict[str, Any]:
    module, data = MetaLearningRate(), MNIST1DDataModule()
    x, y, _, _ = splits(MNIST1DDataModule())
    state = {"lr": module.inner_lr.detach().clone(), "theta0": [t.clone() for t in module.theta0.values()]}
    timer = InterleavedTimer(lambda: plain_learning_rate_step(state, x, y))
    trainer(repeats + 1, [timer]).fit(module, data)
    return summarize(timer, [h["meta/mean_inner_loss"] for h in module.history])


def activation_side(repeats: int) -> dict[str, Any]:
    module, data = MetaActivation(), MNIST1DDataModule(overrides={"num_samples": 10000})
    x, y, x_test, y_test = splits(MNIST1DDataModule(overrides={"num_samples": 10000}))
    state = {"g": [p.detach().clone() for p in module.activation.parameters()], "theta0": activation_theta0()}
    timer = InterleavedTimer(lambda: plain_activation_step(state, x, y, x_test, y_test))
    trainer(repeats + 1, [timer]).fit(module, data)
    return summarize(timer, [h["meta/loss"] for h in module.history])


def activation_theta0() -> list[torch.Tensor]:
    """The activation study's inner init, as ``activation_inner_run`` builds it (seed 0)."""
    return list(seeded_inner_mlp(40, 128, 10, seed=0, noise=0.1)[1].values())


def summarize(timer: InterleavedTimer, module_losses: list[float]) -> dict[str, Any]:
    """Drop the warm-up pair; per-pair ratios, medians, and whether both sides computed the same meta-losses."""
    module, plain = timer.times["module"][1:], timer.times["plain"][1:]
    ratios = [m / p for m, p in zip(module, plain)]
    same = max(abs(a - b) for a, b in zip(module_losses, timer.plain_losses))
    return {"seconds": {"module": module, "plain": plain, "ratio": ratios},
            "median_seconds": {"module": statistics.median(module), "plain": statistics.median(plain)},
            "median_ratio": statistics.median(ratios), "max_meta_loss_difference": same,
            "meta_losses": {"module": module_losses, "plain": timer.plain_losses}}


# ---- peak memory in a fresh process ---------------------------------------------------------------------------
class PeakMemory(L.Callback):
    def on_train_batch_start(self, *args: Any) -> None:
        self.before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def on_train_batch_end(self, *args: Any) -> None:
        self.after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def probe_memory(side: str) -> None:
    """Run one activation outer step (``module`` or ``plain``) and print the ru_maxrss figures in MiB as JSON."""
    kib = 1024  # Linux reports ru_maxrss in KiB
    if side == "module":
        probe = PeakMemory()
        trainer(1, [probe]).fit(MetaActivation(), MNIST1DDataModule(overrides={"num_samples": 10000}))
        before, after = probe.before, probe.after
    else:
        x, y, x_test, y_test = splits(MNIST1DDataModule(overrides={"num_samples": 10000}))
        module = MetaActivation()
        state = {"g": [p.detach().clone() for p in module.activation.parameters()],
                 "theta0": activation_theta0()}
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        plain_activation_step(state, x, y, x_test, y_test)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_before_step_mib": before / kib, "peak_after_step_mib": after / kib,
                      "step_growth_mib": (after - before) / kib}))


def memory_in_subprocess(side: str, threads: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--probe-memory", side, "--threads", str(threads)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = bench_parser(__doc__, repeats=3)
    parser.add_argument("--lr-repeats", type=int, default=5)
    parser.add_argument("--activation-repeats", type=int, default=3)
    parser.add_argument("--probe-memory", choices=["module", "plain"], help=argparse.SUPPRESS)
    args = parse_and_configure(parser)
    if args.probe_memory:
        probe_memory(args.probe_memory)
        return
    # first, while this process is small: Linux carries ru_maxrss across fork and exec into the probe
    memory = {side: memory_in_subprocess(side, args.threads) for side in ("module", "plain")}
    print(f"activation outer step peak memory (ru_maxrss, MiB): {memory}")
    results = {"learning_rate": learning_rate_side(args.lr_repeats)}
    print(f"learning rate: module / plain per outer step, median of {args.lr_repeats}: "
          f"{results['learning_rate']['median_ratio']:.3f} ({results['learning_rate']['median_seconds']})")
    results["activation"] = activation_side(args.activation_repeats)
    print(f"activation: module / plain per outer step, median of {args.activation_repeats}: "
          f"{results['activation']['median_ratio']:.3f} ({results['activation']['median_seconds']})")
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else None
    write_results("metalearning", {
        "what": "one outer step: module through the Trainer / the same math in a plain PyTorch loop",
        "target": "<= 1.0", "torch_threads": torch.get_num_threads(),
        "repetitions": {"learning_rate": args.lr_repeats, "activation": args.activation_repeats},
        **results, "activation_peak_memory": {
            "method": "resource.getrusage(RUSAGE_SELF).ru_maxrss before and after one outer step in a fresh "
                      "process started while the benchmark process was small",
            **memory},
        "load_average_at_end": load})


if __name__ == "__main__":
    main()
