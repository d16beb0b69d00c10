"""A lottery-ticket search killed mid-round and a SimCLR run killed mid-epoch resume bit-identical.

Each test runs ``cli.py fit`` in a subprocess, SIGKILLs it after a checkpoint mid-epoch, resumes it with
``--ckpt_path last`` and compares the end (weights, masks, optimizer, the callback's state, loops, every logged
metric) with an uninterrupted run (``resume_helpers``).
"""

from __future__ import annotations

import torch

from resume_helpers import assert_identical, kill_and_resume

SUBSET, BATCH = 250, 50  # 5 batches an epoch


def data(ordered: bool) -> dict:
    return {"variant": "standard", "overrides": {"num_samples": 1000}, "train_subset": SUBSET,
            "batch_size": BATCH, "ordered": ordered, "shuffle_seed": 3}


def test_a_lottery_search_killed_mid_round_resumes_bit_identical(tmp_path):
    steps, rounds = 6, 3  # rounds end at steps 6 and 12, epochs at 5, 10 and 15: a round starts mid-epoch
    config = {
        "seed_everything": 0,
        "trainer": {"accelerator": "cpu", "devices": 1, "max_steps": steps * rounds, "max_epochs": -1,
                    "log_every_n_steps": 1, "val_check_interval": 3, "check_val_every_n_epoch": None,
                    "num_sanity_val_steps": 0,
                    "callbacks": [{"class_path": "lightning_modules.lottery.LotteryTicket",
                                   "init_args": {"steps_per_round": steps, "rounds": rounds, "prune_fraction": 0.5,
                                                 "prune_biases": True, "score_at_step": 4}}]},
        "model": {"class_path": "lightning_modules.Classifier",
                  "init_args": {"net": {"class_path": "lightning_modules.nets.MLP",
                                        "init_args": {"hidden_size": 32}}}},
        "data": data(ordered=False),
    }
    # the kill lands after step 7's checkpoint (round 1, before its scored step 10, epoch 1) or a little later;
    # not on a validation step (a multiple of 3): see test_lottery's resume-before-validation test for why
    expected, resumed = kill_and_resume(config, tmp_path, kill_after_step=6, every=1)
    assert 7 <= resumed.killed_at < steps * rounds and resumed.killed_at % steps != 0, resumed.killed_at
    assert_identical(expected, resumed)
    state = next(v for k, v in resumed.checkpoint["callbacks"].items() if k.startswith("LotteryTicket"))
    assert state["round"] == 2 and [r["round"] for r in state["history"]] == [0, 1]  # round 2 ends after it
    masks = resumed.checkpoint["state_dict"]["net.input.weight_mask"]
    assert int((masks == 0).sum()) > 0
    assert any(key[1] == "lottery/sparsity" for key in resumed.metrics)  # a round's record logged after the kill


def test_a_simclr_run_killed_mid_epoch_resumes_bit_identical(tmp_path):
    epochs = 3
    config = {
        "seed_everything": 0,
        "trainer": {"accelerator": "cpu", "devices": 1, "max_epochs": epochs, "log_every_n_steps": 1,
                    "check_val_every_n_epoch": 1, "num_sanity_val_steps": 0},
        "model": {"class_path": "lightning_modules.ssl.SimCLR",
                  "init_args": {"backbone": {"class_path": "lightning_modules.nets.ConvStack",
                                             "init_args": {"channels": 8}},
                                "projector_dims": [32, 8], "evaluate_at_fit_end": False}},
        "data": data(ordered=False),
    }
    expected, resumed = kill_and_resume(config, tmp_path, kill_after_step=6, every=1)
    per_epoch = SUBSET // BATCH
    assert 6 <= resumed.killed_at < epochs * per_epoch and resumed.killed_at % per_epoch != 0, resumed.killed_at
    assert resumed.checkpoint["augment_seed"] == expected.checkpoint["augment_seed"] == 0
    assert_identical(expected, resumed)
    assert any(key[1].startswith("val/dead_fraction/") for key in resumed.metrics)
    assert torch.equal(expected.checkpoint["state_dict"]["backbone.blocks.0.0.weight"],
                       resumed.checkpoint["state_dict"]["backbone.blocks.0.0.weight"])
