"""Plain PyTorch, no Lightning: ``load(...).with_format("torch")`` straight into a ``DataLoader``."""

import numpy as np
import torch
from torch.utils.data import DataLoader

from mnist1d_hf import generate, load, variant_config


def test_with_format_torch_into_a_dataloader(tmp_path):
    dd = load("standard", cache_dir=str(tmp_path)).with_format("torch")
    loader = DataLoader(dd["train"], batch_size=100, shuffle=False)
    batches = list(loader)
    assert len(batches) == 40
    first = batches[0]
    assert first["x"].shape == (100, 40) and first["x"].dtype == torch.float32
    assert first["y"].shape == (100,) and first["y"].dtype == torch.int64
    data = generate(variant_config("standard"))
    x = torch.cat([b["x"] for b in batches]).numpy()
    y = torch.cat([b["y"] for b in batches]).numpy()
    np.testing.assert_array_equal(x, data.x_train.astype(np.float32))
    np.testing.assert_array_equal(y, data.y_train)


def test_a_few_steps_of_plain_training_learn_something(tmp_path):
    torch.manual_seed(0)
    dd = load("standard", cache_dir=str(tmp_path)).with_format("torch")
    loader = DataLoader(dd["train"], batch_size=100, shuffle=True)
    model = torch.nn.Sequential(torch.nn.Linear(40, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        for batch in loader:
            loss = torch.nn.functional.cross_entropy(model(batch["x"]), batch["y"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.2
