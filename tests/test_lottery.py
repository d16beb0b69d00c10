"""LotteryTicket: exact mask arithmetic, rewinding, optimizer resets, controls and checkpoints on tiny models."""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.utils.prune
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from lightning_modules.lottery import (KeepMasks, LoadTicket, LotteryTicket, adjacency, checkpoint_ticket, load_ticket,
                                       model_masks, prune, random_masks, read_ticket, save_ticket,
                                       sparsity, sparsity_schedule)
from lightning_modules.lottery.summary import accuracy_figure, markdown_table, summarize

ROOT = Path(__file__).resolve().parents[1]


# -- the schedule and the mask arithmetic ---------------------------------------------------------------------------
def test_schedules_give_every_rounds_sparsity():
    assert sparsity_schedule("geometric", rounds=4, prune_fraction=0.2) == pytest.approx([0, 0.2, 0.36, 0.488])
    assert sparsity_schedule("linear", rounds=5, final_sparsity=1.0) == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert sparsity_schedule("explicit", sparsities=[0, 0.5, 0.5, 0.9]) == [0, 0.5, 0.5, 0.9]


@pytest.mark.parametrize("kwargs, field", [
    ({"schedule": "explicit", "sparsities": [0.1, 0.5]}, "sparsities[0]=0.1"),
    ({"schedule": "explicit", "sparsities": [0, 0.5, 0.4]}, "sparsities[2]=0.4"),
    ({"schedule": "explicit", "sparsities": [0, 1.5]}, "sparsities[1]=1.5"),
    ({"schedule": "explicit", "sparsities": [0, 0.5], "rounds": 3}, "rounds=3"),
    ({"schedule": "geometric", "rounds": 3, "sparsities": [0, 0.5, 0.7]}, "sparsities="),
    ({"schedule": "geometric", "rounds": 3, "prune_fraction": 1.0}, "prune_fraction=1.0"),
    ({"schedule": "linear", "rounds": 3}, "final_sparsity=None"),
    ({"schedule": "cubic", "rounds": 3}, "schedule='cubic'"),
])
def test_bad_schedules_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        sparsity_schedule(**kwargs)


SCORES = {"a": torch.tensor([[0.5, -0.1, 0.3], [0.9, -0.7, 0.2]]), "b": torch.tensor([0.05, -0.8, 0.4, 0.6])}
ONES = {name: torch.ones_like(s) for name, s in SCORES.items()}


def test_layerwise_pruning_drops_the_smallest_scores_of_each_layer():
    masks = prune({k: v.abs() for k, v in SCORES.items()}, ONES, [["a"], ["b"]], 0.4)
    # a: 6 entries -> 2 pruned (0.1, 0.2); b: 4 entries -> 2 pruned (0.05, 0.4)
    assert masks["a"].tolist() == [[1, 0, 1], [1, 1, 0]]
    assert masks["b"].tolist() == [0, 1, 0, 1]


def test_global_pruning_ranks_all_layers_together():
    masks = prune({k: v.abs() for k, v in SCORES.items()}, ONES, [["a", "b"]], 0.4)
    # 10 entries -> the 4 smallest of all: 0.05, 0.1, 0.2, 0.3
    assert masks["a"].tolist() == [[1, 0, 0], [1, 1, 0]]
    assert masks["b"].tolist() == [0, 1, 1, 1]
    assert sparsity(list(masks.values())) == 0.4


def test_pruned_entries_stay_pruned_whatever_their_score():
    before = {"a": torch.tensor([[1.0, 1, 1], [0, 1, 1]]), "b": ONES["b"]}  # 0.9 was pruned earlier
    masks = prune({k: v.abs() for k, v in SCORES.items()}, before, [["a"], ["b"]], 0.5)
    assert masks["a"].tolist() == [[1, 0, 1], [0, 1, 0]]  # 0.9 stays out, then 0.1 and 0.2
    with pytest.raises(ValueError, match="already pruned"):
        prune(SCORES, {"a": torch.zeros(2, 3), "b": ONES["b"]}, [["a"]], 0.5)


@pytest.mark.parametrize("size, target, zeros", [(100, 0.29, 29), (6, 0.75, 5), (15, 0.5, 8), (7, 1.0, 7)])
def test_pruned_count_is_the_nearest_integer(size, target, zeros):
    scores = {"w": torch.linspace(1, 2, size)}
    masks = prune(scores, {"w": torch.ones(size)}, [["w"]], target)
    assert int((masks["w"] == 0).sum()) == zeros
    assert masks["w"][:zeros].sum() == 0  # the smallest scores go first


# -- tiny deterministic models ------------------------------------------------------------------------------------
def fixed_values(n: int, scale: float) -> torch.Tensor:
    """Distinct magnitudes in a scrambled order with alternating signs: (k * 7 mod n + 1) / (n + 1)."""
    k = torch.arange(n)
    return scale * ((k * 7) % n + 1).float() / (n + 1) * (1 - 2 * (k % 2)).float()


class Tiny(L.LightningModule):
    """4 -> 3 -> 2 with fixed weights, full-batch training on 8 fixed points: one batch is one step."""

    def __init__(self, optimizer: type[torch.optim.Optimizer] = torch.optim.SGD, lr: float = 0.1,
                 weight_decay: float = 0.0, gamma: float = 0.5) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
        with torch.no_grad():
            for i, p in enumerate(self.net.parameters()):
                p.copy_(fixed_values(p.numel(), 1.0 + 0.1 * i).view_as(p))
        self.optimizer, self.lr, self.weight_decay, self.gamma = optimizer, lr, weight_decay, gamma

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/acc", (self.net(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        optimizer = self.optimizer(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1, self.gamma)}


def loader() -> DataLoader:
    x = torch.linspace(-1, 1, 32).view(8, 4) ** 3
    return DataLoader(TensorDataset(x, torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])), batch_size=8)


class Probe(Callback):
    """Records, after LotteryTicket has acted, what each step starts from and what it ends with."""

    def __init__(self) -> None:
        self.start, self.end = {}, {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        optimizer = trainer.optimizers[0]
        self.start[trainer.global_step] = {
            "params": {k: v.detach().clone() for k, v in pl_module.named_parameters()},
            "buffers": {k: v.detach().clone() for k, v in pl_module.named_buffers()},
            "optimizer": optimizer, "state_size": len(optimizer.state), "lr": optimizer.param_groups[0]["lr"],
        }

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        state = trainer.optimizers[0].state
        self.end[trainer.global_step] = {
            "params": {k: v.detach().clone() for k, v in pl_module.named_parameters()},
            "moments": {k: {s: t.clone() for s, t in state[p].items() if s.startswith("exp_avg")}
                        for k, p in pl_module.named_parameters() if p in state},
        }


def fit(module: L.LightningModule, ticket: LotteryTicket, tmp_path, *callbacks: Callback, ckpt_path=None,
        **trainer_kwargs) -> L.Trainer:
    trainer = L.Trainer(max_steps=ticket.total_steps, max_epochs=-1, callbacks=[ticket, *callbacks],
                        logger=False, enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        default_root_dir=tmp_path, accelerator="cpu", **trainer_kwargs)
    trainer.fit(module, loader(), loader(), ckpt_path=ckpt_path)
    return trainer


def magnitude_mask(weights: torch.Tensor, mask: torch.Tensor, target: float) -> torch.Tensor:
    """The reference: zero the ``floor(target * n + 0.5)`` smallest |w|, counting pruned (zero) weights first."""
    scores = np.where(mask.flatten().numpy() > 0, np.abs(weights.flatten().numpy()), -1.0)
    expected = np.ones(scores.size, dtype=np.float32)
    expected[np.argsort(scores, kind="stable")[:math.floor(target * scores.size + 0.5)]] = 0
    return torch.from_numpy(expected).view_as(weights)


# -- the callback ---------------------------------------------------------------------------------------------------
def test_rounds_prune_by_magnitude_rewind_to_init_and_restart_the_optimizer(tmp_path):
    module, probe, steps = Tiny(), Probe(), 3
    theta0 = {k: v.detach().clone() for k, v in module.named_parameters()}
    ticket = LotteryTicket(steps_per_round=steps, rounds=3, prune_fraction=0.5)
    fit(module, ticket, tmp_path, probe)

    names = ["net.0.weight", "net.2.weight"]
    masks = {n: torch.ones_like(theta0[n]) for n in names}
    for r, target in enumerate([0.5, 0.75], start=1):
        start, trained = probe.start[r * steps], probe.end[r * steps]["params"]
        for n in names:
            expected = magnitude_mask(trained[n], masks[n], target)
            assert torch.equal(start["buffers"][n + "_mask"], expected), (r, n)
            zeros = math.floor(target * expected.numel() + 0.5)
            assert int((expected == 0).sum()) == zeros
            # survivors are exactly their initial values, the pruned weights exactly zero
            assert torch.equal(start["params"][n], theta0[n] * expected)
            masks[n] = expected
        for n in ["net.0.bias", "net.2.bias"]:  # not pruned, but rewound with the rest
            assert torch.equal(start["params"][n], theta0[n])
            assert n + "_mask" not in start["buffers"]
        # a new optimizer without state, at the initial learning rate (the StepLR had halved it every step)
        assert start["optimizer"] is not probe.start[r * steps - 1]["optimizer"]
        assert start["state_size"] == 0 and start["lr"] == 0.1
        assert probe.start[r * steps + 1]["lr"] == 0.05
    assert ticket.round == 2 and len(ticket.history) == 3
    assert [h["target_sparsity"] for h in ticket.history] == [0.0, 0.5, 0.75]
    assert [h["layer_sparsity"]["net.2"] for h in ticket.history] == [0.0, 0.5, 5 / 6]  # 4.5 rounds up


def test_late_rewinding_restores_the_weights_after_k_steps(tmp_path):
    module, probe = Tiny(), Probe()
    ticket = LotteryTicket(steps_per_round=4, rounds=2, prune_fraction=0.5, rewind_step=2, prune_biases=True)
    fit(module, ticket, tmp_path, probe)
    theta_k = probe.end[2]["params"]
    start = probe.start[4]
    assert not torch.equal(theta_k["net.0.weight"], probe.start[0]["params"]["net.0.weight"])
    for name, value in start["params"].items():
        mask = start["buffers"][name + "_mask"]
        assert int((mask == 0).sum()) > 0
        assert torch.equal(value, theta_k[name] * mask), name


def test_pruned_weights_never_move_and_adam_moments_stay_zero(tmp_path):
    module, probe = Tiny(optimizer=torch.optim.AdamW, lr=0.05, weight_decay=0.1, gamma=1.0), Probe()
    ticket = LotteryTicket(steps_per_round=4, rounds=3, prune_fraction=0.6)
    fit(module, ticket, tmp_path, probe)
    for step in range(5, 13):  # every step of rounds 1 and 2
        masks = {n: b for n, b in probe.start[4 * ((step - 1) // 4)]["buffers"].items()}
        end = probe.end[step]
        for name in ["net.0.weight", "net.2.weight"]:
            pruned = masks[name + "_mask"] == 0
            assert pruned.any() and (~pruned).any()
            assert torch.all(end["params"][name][pruned] == 0)
            assert torch.all(end["params"][name][~pruned] != 0)
            for moment in ("exp_avg", "exp_avg_sq"):
                assert torch.all(end["moments"][name][moment][pruned] == 0), (step, name, moment)
                assert torch.any(end["moments"][name][moment][~pruned] != 0)


class Drift(torch.optim.Optimizer):
    """Moves every parameter by ``lr`` each step, gradient or not: a stand-in for any optimizer's quirks."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                p.add_(group["lr"])
        return loss


def test_pruned_weights_stay_zero_whatever_the_optimizer_does(tmp_path):
    module, probe = Tiny(optimizer=Drift, lr=0.01), Probe()
    fit(module, LotteryTicket(steps_per_round=2, rounds=3, prune_fraction=0.5), tmp_path, probe)
    for step in (3, 4, 5, 6):
        masks = probe.start[2 * ((step - 1) // 2)]["buffers"]
        for name in ["net.0.weight", "net.2.weight"]:
            pruned = masks[name + "_mask"] == 0
            assert pruned.any() and torch.all(probe.end[step]["params"][name][pruned] == 0)


def test_random_masks_match_the_sparsities_and_are_seeded(tmp_path):
    runs = []
    for pruning, seed in [("magnitude", 0), ("random", 0), ("random", 0), ("random", 1)]:
        ticket = LotteryTicket(steps_per_round=2, rounds=3, prune_fraction=0.5, pruning=pruning, seed=seed)
        module = Tiny()
        fit(module, ticket, tmp_path)
        runs.append((ticket.history, {k: v.clone() for k, v in model_masks(module).items()}))
    (magnitude_history, magnitude), (random_history, random), (_, again), (_, other) = runs
    assert [h["layer_sparsity"] for h in random_history] == [h["layer_sparsity"] for h in magnitude_history]
    assert any(not torch.equal(random[n], magnitude[n]) for n in random)
    assert all(torch.equal(random[n], again[n]) for n in random)
    assert any(not torch.equal(random[n], other[n]) for n in random)


def test_reinit_keeps_the_magnitude_mask_and_draws_a_new_initialization(tmp_path):
    probes = {}
    for reinit in (False, True):
        probes[reinit] = Probe()
        ticket = LotteryTicket(steps_per_round=3, rounds=3, prune_fraction=0.5, reinit=reinit)
        fit(Tiny(), ticket, tmp_path, probes[reinit])
    rewound, fresh = probes[False].start[3], probes[True].start[3]
    assert all(torch.equal(rewound["buffers"][k], fresh["buffers"][k]) for k in rewound["buffers"])
    for name in ["net.0.weight", "net.2.weight", "net.0.bias"]:
        mask = fresh["buffers"].get(name + "_mask", torch.ones_like(fresh["params"][name]))
        assert torch.all(fresh["params"][name][mask == 0] == 0)
        assert torch.all(fresh["params"][name][mask > 0] != rewound["params"][name][mask > 0])
    assert not torch.equal(fresh["params"]["net.0.weight"], probes[True].start[6]["params"]["net.0.weight"])


def test_global_scope_with_biases_prunes_the_pooled_smallest_weights(tmp_path):
    module, probe = Tiny(), Probe()
    ticket = LotteryTicket(steps_per_round=2, rounds=2, schedule="explicit", sparsities=[0.0, 0.6],
                           scope="global", prune_biases=True)
    fit(module, ticket, tmp_path, probe)
    names = ["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"]
    trained = torch.cat([probe.end[2]["params"][n].flatten() for n in names])
    expected = magnitude_mask(trained, torch.ones_like(trained), 0.6)
    got = torch.cat([probe.start[2]["buffers"][n + "_mask"].flatten() for n in names])
    assert torch.equal(got, expected)
    assert int((got == 0).sum()) == 14  # 0.6 * 23 = 13.8
    record = ticket.history[1]
    assert record["sparsity"] == pytest.approx(14 / 23)
    layer = record["layer_sparsity"]
    assert layer["net.0"] * 15 + layer["net.2"] * 8 == pytest.approx(14)


class CheckpointEveryStep(ModelCheckpoint):
    def __init__(self, dirpath):
        super().__init__(dirpath=dirpath, save_top_k=-1, every_n_epochs=1, save_on_train_epoch_end=False,
                         filename="{step}")


@pytest.mark.parametrize("options", [{"rewind_step": 1}, {"score_at_step": 1}, {"pruning": "random", "reinit": True}])
def test_a_run_resumed_mid_round_ends_where_an_uninterrupted_one_does(tmp_path, options):
    def ticket():
        return LotteryTicket(steps_per_round=4, rounds=3, prune_fraction=0.5, **options)

    def adam():
        return Tiny(optimizer=torch.optim.Adam, lr=0.05, gamma=0.9)

    full, full_ticket = adam(), ticket()
    fit(full, full_ticket, tmp_path, CheckpointEveryStep(tmp_path / "ckpt"))

    checkpoint = torch.load(tmp_path / "ckpt" / "step=6.ckpt", weights_only=True)
    mask = checkpoint["state_dict"]["net.0.weight_mask"]
    assert int((mask == 0).sum()) == 6  # round 1 of the schedule: half of 12
    state = next(v for k, v in checkpoint["callbacks"].items() if k.startswith("LotteryTicket"))
    assert state["round"] == 1 and len(state["history"]) == 1 and state["rewind_state"] is not None

    resumed, resumed_ticket = adam(), ticket()
    fit(resumed, resumed_ticket, tmp_path, ckpt_path=tmp_path / "ckpt" / "step=6.ckpt")
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert resumed_ticket.history == full_ticket.history


@pytest.mark.xfail(strict=True, reason="Lightning skips the validation due at the step a resumed checkpoint was "
                   "taken at (before that validation ran), so that score is missing from the round's record")
def test_a_run_resumed_from_a_checkpoint_taken_before_its_steps_validation_records_every_score(tmp_path):
    def run(ckpt_path=None):
        module, ticket = Tiny(optimizer=torch.optim.Adam, lr=0.05), LotteryTicket(steps_per_round=4, rounds=2)
        every_step = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=1, save_top_k=-1,
                                     filename="{step}")  # saved at the batch's end, before its validation
        fit(module, ticket, tmp_path, every_step, ckpt_path=ckpt_path)
        return module, ticket

    full, full_ticket = run()
    resumed, resumed_ticket = run(tmp_path / "ckpt" / "step=3.ckpt")
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name  # the weights and masks do match
    assert resumed_ticket.history == full_ticket.history  # the step-3 score is missing


def test_masks_the_module_already_carries_are_kept_and_enforced(tmp_path):
    module, probe = Tiny(optimizer=torch.optim.Adam, lr=0.05), Probe()
    mask = (torch.arange(12).view(3, 4) % 3 == 0).float()
    module.net[0].register_buffer("weight_mask", mask)
    fit(module, LotteryTicket(steps_per_round=3, schedule="explicit", sparsities=[0.0]), tmp_path, probe)
    for step in (1, 2, 3):
        weights = probe.end[step]["params"]["net.0.weight"]
        assert torch.all(weights[mask == 0] == 0) and torch.all(weights[mask > 0] != 0)
    assert torch.equal(module.net[0].weight_mask, mask)


def test_every_rounds_masks_and_the_ticket_come_back_from_the_state_and_the_checkpoint(tmp_path):
    module, probe, steps = Tiny(), Probe(), 2
    ticket = LotteryTicket(steps_per_round=steps, rounds=3, prune_fraction=0.5, prune_biases=True)
    fit(module, ticket, tmp_path, probe, CheckpointEveryStep(tmp_path / "ckpt"))
    for r in range(3):
        round_start = probe.start[r * steps]["buffers"]
        masks = ticket.masks_at_round(r)
        assert sorted(masks) == sorted(k[:-len("_mask")] for k in round_start)
        for name, mask in masks.items():
            assert torch.equal(mask, round_start[name + "_mask"]), (r, name)
    with pytest.raises(ValueError, match="round_index=3"):
        ticket.masks_at_round(3)

    # the round-2 ticket read from the last checkpoint, loaded into a fresh model: round 2's starting point
    masks, init = checkpoint_ticket(tmp_path / "ckpt" / "step=6.ckpt", round_index=2)
    fresh = Tiny()
    with torch.no_grad():
        for p in fresh.parameters():
            p.add_(1.0)  # nothing of the fresh model's own weights may survive
    load_ticket(fresh, masks, init)
    for name, value in fresh.named_parameters():
        assert torch.equal(value, probe.start[2 * steps]["params"][name]), name
    pruned = int((fresh.net[0].weight_mask == 0).sum()) + int((fresh.net[0].bias_mask == 0).sum())
    assert pruned == 11  # layerwise with the bias: 0.75 * (12 + 3) = 11.25


def test_load_ticket_refuses_every_key_mismatch():
    module = Tiny()
    masks = {"net.0.weight": (torch.arange(12).view(3, 4) % 2).float()}
    init = {k: v.detach().clone() + 1 for k, v in module.state_dict().items()}
    with pytest.raises(ValueError, match=r"init_state has keys \['net.5.weight'\]"):
        load_ticket(Tiny(), masks, {**init, "net.5.weight": torch.zeros(2)})
    with pytest.raises(ValueError, match=r"init_state lacks \['net.2.bias'\]"):
        load_ticket(Tiny(), masks, {k: v for k, v in init.items() if k != "net.2.bias"})
    with pytest.raises(ValueError, match=r"init_state\['net.2.bias'\] has shape \(3,\)"):
        load_ticket(Tiny(), masks, {**init, "net.2.bias": torch.zeros(3)})
    with pytest.raises(ValueError, match="the mask of 'net.0.weight' has shape"):
        load_ticket(Tiny(), {"net.0.weight": torch.ones(4, 3)}, init)
    with pytest.raises(ValueError, match="'net.0.gain' is not a parameter"):
        load_ticket(Tiny(), {"net.0.gain": torch.ones(3)}, init)

    partial = Tiny()
    kept_bias = partial.net[2].bias.detach().clone()
    load_ticket(partial, masks, {k: v for k, v in init.items() if k != "net.2.bias"}, strict=False)
    assert torch.equal(partial.net[2].bias, kept_bias)
    assert torch.equal(partial.net[0].weight, init["net.0.weight"] * masks["net.0.weight"])
    assert torch.equal(partial.net[0].weight_mask, masks["net.0.weight"])


def test_keep_masks_retrains_a_loaded_ticket_with_its_pruned_weights_at_zero(tmp_path):
    module = Tiny(optimizer=torch.optim.AdamW, lr=0.05, weight_decay=0.1, gamma=1.0)
    mask = (torch.arange(12).view(3, 4) % 3 == 0).float()
    load_ticket(module, {"net.0.weight": mask}, {k: v.clone() for k, v in module.state_dict().items()})
    before = module.net[0].weight.detach().clone()
    trainer = L.Trainer(max_steps=3, callbacks=[KeepMasks()], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(module, loader())
    weight = module.net[0].weight.detach()
    assert torch.all(weight[mask == 0] == 0) and torch.all(weight[mask > 0] != before[mask > 0])
    with pytest.raises(ValueError, match="KeepMasks found no"):
        L.Trainer(max_steps=1, callbacks=[KeepMasks()], logger=False, enable_checkpointing=False,
                  enable_progress_bar=False, enable_model_summary=False).fit(Tiny(), loader())


def quiet_trainer(steps: int, *callbacks: Callback, **options) -> L.Trainer:
    return L.Trainer(max_steps=steps, callbacks=list(callbacks), logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", **options)


def test_load_ticket_trains_a_ticket_file_from_its_init_with_the_pruned_weights_at_zero(tmp_path):
    mask = (torch.arange(12).view(3, 4) % 3 == 0).float()
    init = {k: v + 0.5 for k, v in Tiny().state_dict().items()}  # an init the module does not start from
    path = save_ticket(tmp_path / "ticket.pt", {"net.0.weight": mask}, init)
    masks, saved_init = read_ticket(path)
    assert torch.equal(masks["net.0.weight"], mask) and all(torch.equal(saved_init[k], v) for k, v in init.items())
    # LoadTicket then training equals load_ticket by hand then KeepMasks, step for step
    by_hand = Tiny(optimizer=torch.optim.Adam, lr=0.05, gamma=1.0)
    load_ticket(by_hand, {"net.0.weight": mask}, init)
    quiet_trainer(3, KeepMasks()).fit(by_hand, loader())
    module = Tiny(optimizer=torch.optim.Adam, lr=0.05, gamma=1.0)
    trainer = quiet_trainer(3, LoadTicket(str(path)), num_sanity_val_steps=0)
    trainer.fit(module, loader(), loader())
    for name, value in by_hand.state_dict().items():
        assert torch.equal(module.state_dict()[name], value), name
    assert torch.all(module.net[0].weight[mask == 0] == 0)
    assert trainer.callback_metrics["masks/pruned_nonzero"] == 0
    # validate after fit attaches the masks again but never rewinds the trained weights
    trained = module.net[0].weight.detach().clone()
    trainer.validate(module, loader(), verbose=False)
    assert torch.equal(module.net[0].weight, trained)


def test_load_ticket_without_an_init_keeps_the_modules_own_weights_masked(tmp_path):
    path = save_ticket(tmp_path / "ticket.pt", {"net.2.bias": torch.tensor([1.0, 0.0])})
    module = Tiny()
    own = module.net[2].bias.detach().clone()
    quiet_trainer(1, LoadTicket(str(path))).fit(module, loader())
    assert module.net[2].bias[1] == 0 and module.net[2].bias[0] != own[0]  # trained from its own init, masked
    torch.save({"weights": 1}, tmp_path / "not_a_ticket.pt")
    with pytest.raises(ValueError, match="not a ticket file"):
        quiet_trainer(1, LoadTicket(str(tmp_path / "not_a_ticket.pt"))).fit(Tiny(), loader())


def test_random_masks_prune_as_many_per_group_as_the_ticket_at_random_places():
    generator = torch.Generator().manual_seed(0)
    shapes = {"a.weight": (20, 10), "a.bias": (20,), "b.weight": (5, 20)}
    groups = [["a.weight", "a.bias"], ["b.weight"]]
    like = prune({n: torch.rand(s, generator=generator) for n, s in shapes.items()},
                 {n: torch.ones(s) for n, s in shapes.items()}, groups, 0.7)
    masks = random_masks(like, groups, seed=3)
    for group in groups:
        assert sum(int((masks[n] == 0).sum()) for n in group) == sum(int((like[n] == 0).sum()) for n in group)
    assert not torch.equal(masks["a.weight"], like["a.weight"])
    assert all(torch.equal(masks[n], random_masks(like, groups, seed=3)[n]) for n in shapes)  # seeded
    assert not torch.equal(masks["a.weight"], random_masks(like, groups, seed=4)["a.weight"])
    # the same draws ranked by prune: what the former study computed with prune at the layer's sparsity
    generator = torch.Generator().manual_seed(3)
    scores = {n: torch.rand(shapes[n], generator=generator) for group in groups for n in group}
    expected = prune(scores, {n: torch.ones(s) for n, s in shapes.items()}, groups, 0.7)
    assert all(torch.equal(masks[n], expected[n]) for n in shapes)
    # one seed, a sparser ticket: the random zeros contain the earlier ones (nested, like the ticket's)
    sparser = random_masks(prune(scores, like, groups, 0.9), groups, seed=3)
    assert all(torch.all(sparser[n][masks[n] == 0] == 0) for n in shapes)
    with pytest.raises(ValueError, match="expected the same parameters"):
        random_masks(like, [["a.weight"]], seed=0)


def test_score_at_step_prunes_by_the_weights_of_that_step_of_the_round(tmp_path):
    module, probe, steps = Tiny(optimizer=torch.optim.Adam, lr=0.3, gamma=1.0), Probe(), 4
    ticket = LotteryTicket(steps_per_round=steps, rounds=3, prune_fraction=0.5, score_at_step=2)
    fit(module, ticket, tmp_path, probe)
    masks = {n: torch.ones(p.shape) for n, p in probe.start[0]["params"].items() if n.endswith("weight")}
    for r in (1, 2):
        scored = probe.end[(r - 1) * steps + 2]["params"]
        last = probe.end[r * steps]["params"]
        # the end-of-round weights would give other masks, so the option is what decides them
        assert any(not torch.equal(magnitude_mask(scored[n], masks[n], ticket.sparsities[r]),
                                   magnitude_mask(last[n], masks[n], ticket.sparsities[r])) for n in masks)
        for name in masks:
            expected = magnitude_mask(scored[name], masks[name], ticket.sparsities[r])
            assert torch.equal(probe.start[r * steps]["buffers"][name + "_mask"], expected), (r, name)
            masks[name] = expected
    with pytest.raises(ValueError, match="score_at_step=5"):
        LotteryTicket(steps_per_round=4, rounds=2, score_at_step=5)


def test_the_summary_turns_the_history_into_columns_a_table_and_a_figure(tmp_path):
    ticket = LotteryTicket(steps_per_round=2, rounds=3, prune_fraction=0.5)
    fit(Tiny(), ticket, tmp_path)
    summary = summarize(ticket.history)
    assert summary["round"] == [0, 1, 2] and summary["final_step"] == [2, 4, 6]
    assert summary["sparsity"] == [h["sparsity"] for h in ticket.history]
    assert summary["layer_sparsity"]["net.0"] == [0.0, 0.5, 0.75]
    table = markdown_table(ticket.history, "val/acc").splitlines()
    assert len(table) == 5 and table[3].startswith("| 1 | 50.00 | 50.00 |")
    figure = accuracy_figure(ticket.history)
    assert [len(line.get_xdata()) for line in figure.axes[0].get_lines()] == [3, 3]


def test_bad_settings_fail_early_with_the_field_named(tmp_path):
    with pytest.raises(ValueError, match="trainer.max_steps=5"):
        L.Trainer(max_steps=5, callbacks=[LotteryTicket(steps_per_round=2, rounds=3)], logger=False,
                  enable_progress_bar=False, default_root_dir=tmp_path).fit(Tiny(), loader())
    with pytest.raises(ValueError, match="layers contains 'net.9'"):
        fit(Tiny(), LotteryTicket(steps_per_round=2, rounds=2, layers=["net.9"]), tmp_path)
    with pytest.raises(ValueError, match="monitor='val/loss'"):
        fit(Tiny(), LotteryTicket(steps_per_round=2, rounds=2, monitor="val/loss"),
            tmp_path)
    pruned_by_torch = Tiny()
    torch.nn.utils.prune.l1_unstructured(pruned_by_torch.net[0], "weight", 0.5)
    with pytest.raises(ValueError, match="'net.0.weight' is not a parameter"):
        fit(pruned_by_torch, LotteryTicket(steps_per_round=2, rounds=2), tmp_path)
    with pytest.raises(ValueError, match="rewind_step=3"):
        LotteryTicket(steps_per_round=3, rounds=2, rewind_step=3)


# -- the experiment: the YAML config through the CLI, and the adjacency statistic ---------------------------------
def test_adjacency_is_the_share_of_windows_of_three_kept_weights():
    mask = np.array([[1, 1, 1, 0, 1, 1, 1], [1, 0, 1, 0, 1, 0, 1]])
    assert adjacency(mask) == 2 / 10
    assert adjacency(np.ones((4, 40))) == 1.0
    random = np.random.default_rng(0).random((5000, 40)) < 0.3  # independent: p = density ** 3
    assert adjacency(random) == pytest.approx(0.3 ** 3, rel=0.1)


def test_adjacency_counts_windows_of_kept_inputs_per_unit():
    mask = np.zeros((2, 6))
    mask[0, [0, 1, 2]] = 1  # unit 0: windows of 2: (0,1), (1,2) of 5; of 3: (0,1,2) of 4; of 4: none
    mask[1, [0, 2, 4]] = 1  # unit 1: nothing adjacent
    assert adjacency(mask, 2) == pytest.approx((2 / 5 + 0) / 2)
    assert adjacency(mask, 3) == pytest.approx((1 / 4 + 0) / 2)
    assert adjacency(mask, 4) == 0.0
    assert adjacency(mask, 1) == pytest.approx(mask.mean())
    with pytest.raises(ValueError, match="window=7"):
        adjacency(mask, 7)


def test_the_lottery_config_builds_and_runs_through_the_cli(tmp_path):
    import yaml

    from lightning_modules.cli import build_cli

    config = yaml.safe_load((ROOT / "configs" / "lottery.yaml").read_text())
    trainer = config["trainer"]
    ticket, checkpoint = trainer["callbacks"]
    assert ticket["init_args"]["pruning"] == "magnitude"
    ticket["init_args"].update(steps_per_round=20, rounds=3, prune_fraction=0.7)
    checkpoint["init_args"]["dirpath"] = str(tmp_path / "checkpoints")
    trainer.update(max_steps=60, val_check_interval=10, logger=False, default_root_dir=str(tmp_path))
    threads = torch.get_num_threads()
    try:
        cli = build_cli(config, run=False)
        cli.trainer.fit(cli.model, cli.datamodule)
    finally:
        torch.set_num_threads(threads)
    search = next(c for c in cli.trainer.callbacks if isinstance(c, LotteryTicket))
    assert [r["round"] for r in search.history] == [0, 1, 2]
    assert [r["sparsity"] for r in search.history] == pytest.approx([0.0, 0.7, 0.91], abs=1e-4)
    assert all(len(r["scores"]) == 2 and 0.0 < r["final"] <= r["best"] <= 1.0 for r in search.history)
    masks, init = checkpoint_ticket(tmp_path / "checkpoints" / "last.ckpt", round_index=2)
    assert sorted(masks) == ["net.input.bias", "net.input.weight", "net.readout.bias", "net.readout.weight",
                             "net.residual.0.bias", "net.residual.0.weight"]
    first = torch.cat([masks["net.input.weight"].flatten(), masks["net.input.bias"]])
    assert int((first == 0).sum()) == math.floor(0.91 * 20_500 + 0.5)
    assert torch.equal(cli.model.net.input.weight_mask, masks["net.input.weight"])
    assert sorted(init) == sorted(k for k in cli.model.state_dict() if not k.endswith("_mask"))


@pytest.mark.slow
def test_the_lottery_study_reproduces_its_committed_report(tmp_path):
    """The full lottery study (searches, section F's retrainings and Fig. 3's random masks, 3 trials; about 180 min
    of run time here) into a fresh folder: the mean of every cell of section F within a point and every adjacency
    value within 0.001 of the committed store's, and every claim the committed report judged with the same
    verdict. (Today's code does not retrain the stored runs bit for bit: two dense runs of trial 0 moved by 1.0
    and 0.3 points.)"""
    import json

    from experiments.lottery import Lottery
    from experiments.lottery.readers import adjacency_stats, table_cells
    from experiments.runner import RESULTS, collect, report, run_study

    committed = json.loads((RESULTS / "lottery" / "results.json").read_text())
    run_study(Lottery(), workers=1, out=tmp_path, progress=False)
    report(Lottery(), out=tmp_path)
    fresh, missing = collect(Lottery(), out=tmp_path)
    stored, _ = collect(Lottery())
    assert not missing
    for row, cells in table_cells(stored).items():
        for name, by_trial in cells.items():
            again = table_cells(fresh)[row][name]
            assert set(again) == set(by_trial), (row, name)
            assert np.mean(list(again.values()) or [0]) == pytest.approx(np.mean(list(by_trial.values()) or [0]),
                                                                         abs=1.0), (row, name)
    for kind, windows in adjacency_stats(stored).items():
        for window, by_trial in windows.items():
            assert adjacency_stats(fresh)[kind][window] == pytest.approx(by_trial, abs=1e-3)
    verdicts = {c["claim"]: c["verdict"] for c in json.loads((tmp_path / "results.json").read_text())["claims"]}
    judged = [c for c in committed["claims"] if c["verdict"] != "not judged"]
    assert judged and all(verdicts[c["claim"]] == c["verdict"] for c in judged)
