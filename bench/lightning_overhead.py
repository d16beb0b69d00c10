"""What Lightning costs per step: the Table 1 CNN protocol through our Trainer path vs a plain PyTorch loop.

Both sides train the paper's CNN from the same initialization on the same data with the reference loop's
semantics (Adam lr 1e-2, batch 100, ordered cycling batches, accuracy on the full train and test sets every
250 steps). The Trainer side is exactly what the ``table1`` study runs: ``configs/cnn.yaml`` through the
runner's ``fit`` task (LightningCLI in-process, no logger or checkpoints). The sides alternate over the repetitions; the reported number is the
median of the per-repetition time ratios (Trainer / plain). Target: at most 1.2.

    python bench/lightning_overhead.py [--steps 6000] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from alternating import alternate, bench_parser, parse_and_configure, report, timed
from experiments.runs import fit_run, load_config, override
from experiments.tasks import fit
from lightning_modules import MNIST1DDataModule
from lightning_modules.nets import CNN


def plain_loop(data: MNIST1DDataModule, steps: int, eval_every: int, batch_size: int = 100) -> float:
    """The reference training loop (no Lightning); returns the final test accuracy in percent."""
    x_train, y_train = data.split("train")
    x_test, y_test = data.split("test")
    net = CNN()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    accuracy = lambda x, y: 100 * (net(x).argmax(-1) == y).float().mean().item()  # noqa: E731
    test_acc = float("nan")
    for step in range(1, steps + 1):
        start = ((step - 1) * batch_size) % len(x_train)
        loss = F.cross_entropy(net(x_train[start:start + batch_size]), y_train[start:start + batch_size])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step % eval_every == 0:
            with torch.no_grad():
                F.cross_entropy(net(x_test), y_test).item()
                test_acc, _ = accuracy(x_test, y_test), accuracy(x_train, y_train)
    return test_acc


def trainer_path(steps: int, eval_every: int) -> float:
    """The same protocol through Classifier + MNIST1DDataModule + Trainer; returns the final test accuracy."""
    config = override(load_config("configs/cnn.yaml"), **{"trainer.max_steps": steps,
                                                           "trainer.val_check_interval": eval_every})
    return 100 * fit(fit_run({}, config).config)["final"]["val/acc"]


def main() -> None:
    parser = bench_parser(__doc__, repeats=3)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--eval-every", type=int, default=250)
    args = parse_and_configure(parser)

    data = MNIST1DDataModule()
    data.prepare_data()
    data.setup("fit")
    timed(trainer_path, 50, 25)  # warm-up: imports, first-call allocations
    times = alternate(
        ("trainer", trainer_path, (args.steps, args.eval_every)),
        ("plain", plain_loop, (data, args.steps, args.eval_every)), args.repeats,
        lambda name, seconds, acc: f"{name:7s} {args.steps / seconds:7.1f} steps/s  ({seconds:.1f} s, test accuracy "
                                   f"{acc:.1f}%)")
    report("lightning_overhead", "Trainer / plain loop time", times, "<= 1.2", steps=args.steps)

if __name__ == "__main__":
    main()
