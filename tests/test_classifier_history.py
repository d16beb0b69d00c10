"""The Table 1 CNN as the studies run it (``configs/cnn.yaml`` through the runner's ``fit``) trains and logs
bit for bit what the reference loop computes: a change to the Trainer path that moves one number fails here."""

import torch
from lightning.fabric.utilities.seed import seed_everything
from torch.nn import functional as F

from experiments.runs import fit_run, load_config, override
from experiments.tasks import MetricHistory, build
from lightning_modules import Classifier
from lightning_modules.nets import CNN

STEPS, EVAL_EVERY, SEED = 300, 150, 3


def logged_mean(value: torch.Tensor, batch_size: int) -> float:
    """What Lightning logs for one batch's ``value`` logged with ``batch_size``: the batch-weighted mean
    ``(value * n) / n`` in float32, which can differ from ``value`` in the last bit."""
    return ((value * batch_size) / torch.tensor(batch_size)).item()


def reference_history(x_train, y_train, splits, steps: int, eval_every: int, seed: int):
    """The paper's loop (Adam lr 1e-2, ordered slices of 100) from ``seed``, evaluated every ``eval_every``
    steps on each split as ``Classifier`` defines its metrics; the rows and the final network."""
    seed_everything(seed, verbose=False)
    net = CNN()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    rows = []
    for step in range(1, steps + 1):
        start = ((step - 1) * 100) % len(x_train)
        F.cross_entropy(net(x_train[start:start + 100]), y_train[start:start + 100]).backward()
        optimizer.step()
        optimizer.zero_grad()
        if step % eval_every == 0:
            row = {"step": step}
            with torch.no_grad():
                for split, (x, y) in splits.items():
                    logits = net(x)
                    wrong = logits.argmax(-1) != y
                    row[f"{split}/loss"] = logged_mean(F.cross_entropy(logits, y), len(y))
                    row[f"{split}/acc"] = ((~wrong).sum().float() / len(y)).item()  # micro accuracy
                    row[f"{split}/error"] = logged_mean(wrong.float().mean(), len(y))
            rows.append(row)
    return rows, net


def test_table1_cnn_fit_is_the_reference_loop_bit_for_bit():
    config = override(load_config("configs/cnn.yaml"), seed_everything=SEED,
                      **{"trainer.max_steps": STEPS, "trainer.val_check_interval": EVAL_EVERY})
    threads = torch.get_num_threads()
    try:  # the run sets one torch thread; the reference computes on one too (kernels differ by thread count)
        cli = build(fit_run({}, config).config)  # exactly what the runner's ``fit`` task runs
        history = MetricHistory()
        cli.trainer.callbacks.append(history)
        cli.trainer.fit(cli.model, cli.datamodule)
        data = cli.datamodule
        splits = {"val": data.split("test"), "train_eval": data.split("train")}
        rows, net = reference_history(*data.split("train"), splits, STEPS, EVAL_EVERY, SEED)
    finally:
        torch.set_num_threads(threads)
    assert isinstance(cli.model, Classifier) and isinstance(cli.model.net, CNN)
    for ours, theirs in zip(cli.model.net.state_dict().values(), net.state_dict().values()):
        assert torch.equal(ours, theirs)
    assert [r["step"] for r in history.rows] == [150, 300]
    assert history.rows == rows  # every metric, exactly
    assert 0.7 < rows[-1]["val/acc"] < 1.0  # a trained CNN, not two untrained ones agreeing

