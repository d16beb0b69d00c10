"""Lottery tickets on MNIST-1D (paper Fig. 3 c-g): the search for tickets, then the analysis of the 92% ticket.

Two stages, both runs of the study. A ``search`` run trains ``configs/lottery.yaml`` (residual MLP 40-500-500-10,
Adam 2e-2, batch 100) with ``LotteryTicket``: the paper's linear schedule of sparsity k/99, every round of it up
to round 91 (91.9%), 1501 steps a round, weights scored at step 1000 of each round, survivors rewound to theta0. It
stores the ticket of the last round (masks and theta0) and a random mask at the same layerwise sparsities as an
artifact beside the store, keyed by the search's run key. An ``analysis`` run retrains one network of section F's
protocol on new data (seed 43): dense, ticket or random mask, from theta0 or a fresh init (seed 42 + trial), with
the input columns as given, Adam 2e-2, batch 500; every retraining goes through ``load_ticket(strict=True)`` and
``KeepMasks``. Its config holds the search's config and key, so a changed search makes new analysis runs.

    python -m experiments run lottery            # 3 trials: searches, then the analysis runs
    python -m experiments run lottery --quick    # 3 rounds of 30 steps, 60-step analysis, 1 trial
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import functools
import hashlib
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from lightning_modules.data import OrderedBatches, WholeBatches
from mnist1d_hf.atomic import save_figure, write_file, write_text

from .runner import RESULTS, Claim, Results, Study, fmt, mean_std
from .runs import QUIET_TRAINER, ROOT, Run, load_config

SEARCH_TASK = "experiments.lottery:search"
ANALYSIS_TASK = "experiments.lottery:retrain"
PAPER_ROUNDS = 100  # the paper's linear schedule: sparsity k / 99 in round k
ANALYSIS_K = 91  # 91/99 = 91.9%: the paper's "92%" ticket
FIRST_LAYER = "net.input.weight"
TABLE_EVERY = 7  # the report's table shows every 7th round of the search (the figure shows all)
WINDOWS = (2, 3, 4)

# section F's protocol
NEW_DATA_SEED = 43
FRESH_SEED = 42  # fresh init of trial t: torch seeded with 42 + t
RANDOM_MASK_SEED = 1000  # random mask of trial t: seeded with 1000 + t
COLUMNS = {
    "new": list(range(40)),
    "shuffled": [int(i) for i in np.random.RandomState(0).permutation(40)],  # np.random.seed(0); permutation(40)
    "flipped": list(range(39, -1, -1)),
    "chunks": list(range(20, 30)) + list(range(30, 40)) + list(range(10)) + list(range(10, 20)),
}
ROWS = ("new", "shuffled", "flipped", "chunks", "reinit")
ROW_LABELS = {"new": "new data (seed 43)", "shuffled": "shuffled", "flipped": "flipped", "chunks": "chunks",
              "reinit": "reinit (new init, mask kept)"}
MODELS = ("dense", "ticket", "random")
PAPER = {  # mean of 2 trials, final test accuracy (%)
    "new": {"dense": 64.2, "ticket": 65.85, "random": 59.95},
    "shuffled": {"dense": 63.75, "ticket": 62.8, "random": 60.7},
    "flipped": {"dense": 63.05, "ticket": 62.8, "random": 60.25},
    "chunks": {"dense": 64.1, "ticket": 61.85, "random": 59.2},
    "reinit": {"dense": 63.75, "ticket": 65.5, "random": 60.45},
}
PAPER_ADJACENCY = {"random": {2: 0.0056, 3: 0.00015, 4: 0.0}, "ticket": {2: 0.0093, 3: 0.0024, 4: 0.0003}}
FAR_MORE = 5.0  # "adjacent far more often": p(3 adjacent) of the ticket at least this many times a random mask's
CLEARLY = 1.0  # "hurts it clearly more": at least this many points more
VANISHES = 0.5  # the ticket's advantage "vanishes": at most this many points over dense
SEARCH_GAIN = 4.0  # the search's 92% ticket over its dense round: the paper's 75.0 vs 65.6, at least this

FULL = {"search_steps": 1501, "score_at_step": 1000, "search_eval_every": 79, "stride": 1,  # 1501 = 19 x 79
        "analysis_steps": 6000, "analysis_eval_every": 100}
QUICK = {"search_steps": 30, "score_at_step": 20, "search_eval_every": 10, "stride": 45,
         "analysis_steps": 60, "analysis_eval_every": 20}


# -- the search ----------------------------------------------------------------------------------------------------
def schedule_ks(stride: int) -> list[int]:
    """The rounds k of the paper's k/99 schedule that the search trains: every ``stride``-th, ending at 91."""
    ks = list(range(0, ANALYSIS_K + 1, stride))
    return ks if ks[-1] == ANALYSIS_K else ks + [ANALYSIS_K]


def search_config(trial: int, protocol: Mapping[str, int], artifacts: str) -> dict[str, Any]:
    """A search run's config: ``configs/lottery.yaml`` with the paper's linear schedule (the rounds trained), the
    trial's seed, quiet trainer; plus where the artifacts go."""
    cli = load_config("configs/lottery.yaml")
    ticket = copy.deepcopy(cli["trainer"]["callbacks"][0])
    if not ticket["class_path"].endswith("LotteryTicket"):
        raise ValueError(f"configs/lottery.yaml's first callback is {ticket['class_path']}, not LotteryTicket")
    sparsities = [k / (PAPER_ROUNDS - 1) for k in schedule_ks(protocol["stride"])]
    args = ticket["init_args"]
    for name in ("rounds", "prune_fraction", "final_sparsity"):
        args.pop(name, None)
    args.update(steps_per_round=protocol["search_steps"], schedule="explicit", sparsities=sparsities,
                score_at_step=protocol["score_at_step"], pruning="magnitude", rewind_step=0, reinit=False,
                seed=trial)
    trainer = {**cli["trainer"], **QUIET_TRAINER, "callbacks": [ticket],
               "max_steps": len(sparsities) * protocol["search_steps"],
               "val_check_interval": protocol["search_eval_every"]}
    cli = {**cli, "trainer": trainer, "seed_everything": trial}
    return {"cli": cli, "analysis_round": len(sparsities) - 1, "random_mask_seed": RANDOM_MASK_SEED + trial,
            "artifacts": artifacts}


def search_key(config: Mapping[str, Any]) -> str:
    return Run({}, dict(config), SEARCH_TASK).key


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created): one process computes a search's artifact, the others wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def artifact_folder(config: Mapping[str, Any]) -> Path:
    root = Path(config["artifacts"])
    return (root if root.is_absolute() else ROOT / root) / search_key(config)


def random_masks(model: torch.nn.Module, like: Mapping[str, torch.Tensor], sparsity: float,
                 seed: int) -> dict[str, torch.Tensor]:
    """Random masks at ``sparsity`` in every layer group (weight and bias ranked together, as the search prunes):
    the same number of zeros per layer as a ticket's masks ``like``, at uniformly random places."""
    from lightning_modules.lottery import prunable_layers, prune

    groups = list(prunable_layers(model, None, prune_biases=True).values())
    names = [n for group in groups for n in group]
    if sorted(names) != sorted(like):
        raise ValueError(f"the ticket masks {sorted(like)} are not the model's prunable parameters {sorted(names)}")
    generator = torch.Generator().manual_seed(seed)
    scores = {name: torch.rand(like[name].shape, generator=generator) for name in names}
    masks = prune(scores, {n: torch.ones_like(like[n]) for n in names}, groups, sparsity)
    for group in groups:  # same count of zeros per layer as the ticket
        zeros = sum(int((masks[n] == 0).sum()) for n in group)
        ticket_zeros = sum(int((like[n] == 0).sum()) for n in group)
        if zeros != ticket_zeros:
            raise RuntimeError(f"random mask of {group} prunes {zeros} entries, the ticket {ticket_zeros}")
    return masks


def adjacency(mask: np.ndarray | torch.Tensor, window: int = 3) -> float:
    """Fraction of windows of ``window`` adjacent input weights that are all kept, per unit, mean over units.

    ``mask`` is a first-layer mask (units, inputs), nonzero = kept."""
    kept = np.asarray(mask) != 0
    if kept.ndim != 2 or not 1 <= window <= kept.shape[1]:
        raise ValueError(f"mask of shape {kept.shape} and window={window}: expected (units, inputs), "
                         f"1 <= window <= inputs")
    width = kept.shape[1] - window + 1
    windows = np.ones((kept.shape[0], width), dtype=bool)
    for offset in range(window):
        windows &= kept[:, offset:offset + width]
    return float(windows.mean(axis=1).mean())


def _bits(mask: torch.Tensor) -> list[str]:
    return ["".join("1" if v else "0" for v in row) for row in (mask != 0).tolist()]


def _digest(state: Mapping[str, torch.Tensor]) -> str:
    sha = hashlib.sha256()
    for key in sorted(state):
        sha.update(key.encode())
        sha.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()


def search(config: dict[str, Any]) -> dict[str, Any]:
    """Run (or read, if a process already ran it) one search; its history, the analysis round's sparsity, the
    first-layer masks and their adjacency statistics, and the artifact holding theta0 and the masks."""
    folder = artifact_folder(config)
    with _locked(folder.with_suffix(".lock")):
        summary = folder / "search.json"
        if summary.is_file():
            return json.loads(summary.read_text())
        result = _run_search(config, folder)
        write_text(summary, json.dumps(result))
        return result


def _run_search(config: dict[str, Any], folder: Path) -> dict[str, Any]:
    from lightning_modules.lottery import LotteryTicket, sparsity

    from .tasks import build

    cli = build(copy.deepcopy(config["cli"]))
    ticket = next(c for c in cli.trainer.callbacks if isinstance(c, LotteryTicket))
    cli.trainer.fit(cli.model, cli.datamodule)
    r = config["analysis_round"]
    masks, theta0 = ticket.masks_at_round(r), ticket.rewind_state
    random = random_masks(cli.model, masks, ticket.sparsities[r], config["random_mask_seed"])
    payload = {"theta0": theta0, "ticket": {n: m.bool() for n, m in masks.items()},
               "random": {n: m.bool() for n, m in random.items()}}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_file(folder / "ticket.pt", lambda tmp: tmp.write_bytes(buffer.getvalue()))
    history = [{k: v for k, v in record.items() if k != "layer_sparsity"} for record in ticket.history]
    return {
        "history": history, "analysis_round": r, "sparsity": sparsity(list(masks.values())),
        "random_sparsity": sparsity(list(random.values())), "theta0_sha256": _digest(theta0),
        "artifact": str((folder / "ticket.pt").relative_to(ROOT)) if folder.is_relative_to(ROOT)
        else str(folder / "ticket.pt"),
        "first_layer": {kind: _bits(m[FIRST_LAYER]) for kind, m in (("ticket", masks), ("random", random))},
        "adjacency": {kind: {str(w): adjacency(m[FIRST_LAYER].numpy(), w) for w in WINDOWS}
                      for kind, m in (("ticket", masks), ("random", random))},
        "first_layer_density": {kind: float(m[FIRST_LAYER].mean()) for kind, m in (("ticket", masks),
                                                                                   ("random", random))},
    }


def load_search(config: Mapping[str, Any]) -> dict[str, Any]:
    """The artifact of a search (theta0, ticket and random masks), running the search first if no process has."""
    search(dict(config))
    return torch.load(artifact_folder(config) / "ticket.pt", map_location="cpu", weights_only=True)


# -- the analysis --------------------------------------------------------------------------------------------------
def analysis_config(search: Mapping[str, Any], trial: int, model: str, init: str, columns: str,
                    protocol: Mapping[str, int]) -> dict[str, Any]:
    """One retraining of section F: ``model`` (dense, ticket, random) from ``init`` (theta0, fresh) on the new
    data with the input columns ``COLUMNS[columns]``."""
    net = search["cli"]["model"]["init_args"]["net"]["init_args"]
    config = {"search": {"key": search_key(search), "config": copy.deepcopy(dict(search))}, "trial": trial,
              "model": model, "init": init, "columns": COLUMNS[columns],
              "data": {"variant": "standard", "seed": NEW_DATA_SEED}, "net": dict(net), "lr": 0.02,
              "batch_size": 500, "steps": protocol["analysis_steps"], "eval_every": protocol["analysis_eval_every"],
              "torch_threads": 1}
    if init == "fresh":
        config["init_seed"] = FRESH_SEED + trial
    return config


class ColumnOrderData(L.LightningDataModule):
    """The new data of section F: ``variant`` generated with ``seed``, its input columns read in the order
    ``columns`` (an explicit permutation), the reference loop's ordered batches, the test split as validation."""

    def __init__(self, variant: str, seed: int, columns: Sequence[int], batch_size: int) -> None:
        from mnist1d_hf import generate
        from mnist1d_hf import variant as named_variant

        super().__init__()
        if sorted(columns) != list(range(len(columns))):
            raise ValueError(f"columns={list(columns)} is invalid: allowed a permutation of 0..{len(columns) - 1}")
        data = generate(named_variant(variant, seed=seed))
        if data.x_train.shape[1] != len(columns):
            raise ValueError(f"columns has {len(columns)} entries, the signals {data.x_train.shape[1]} positions")
        order = np.asarray(columns)
        self.x_train, self.x_test = (torch.as_tensor(np.asarray(x, dtype=np.float32)[:, order])
                                     for x in (data.x_train, data.x_test))
        self.y_train, self.y_test = (torch.as_tensor(np.asarray(y, dtype=np.int64))
                                     for y in (data.y_train, data.y_test))
        self.batch_size = batch_size

    def train_dataloader(self) -> OrderedBatches:
        return OrderedBatches(self.x_train, self.y_train, self.batch_size)

    def val_dataloader(self) -> WholeBatches:
        return WholeBatches(self.x_test, self.y_test, None)


def retrain(config: dict[str, Any]) -> dict[str, Any]:
    """Retrain one network of the analysis; its test-accuracy history and final value."""
    from lightning_modules import Classifier
    from lightning_modules.lottery import KeepMasks, load_ticket, sparsity
    from lightning_modules.nets import MLP

    from .tasks import MetricHistory

    search_conf = config["search"]["config"]
    if search_key(search_conf) != config["search"]["key"]:
        raise ValueError(f"search key {config['search']['key']} does not match its config "
                         f"({search_key(search_conf)})")
    found = load_search(search_conf)
    torch.manual_seed(config.get("init_seed", 0))
    model = Classifier(MLP(**config["net"]), optimizer=functools.partial(torch.optim.Adam, lr=config["lr"]))
    if config["init"] == "theta0":
        init = found["theta0"]
    elif config["init"] == "fresh":
        init = {k: v.clone() for k, v in model.state_dict().items()}
    else:
        raise ValueError(f"init={config['init']!r} is invalid: allowed 'theta0' or 'fresh'")
    if config["model"] == "dense":
        masks = {name: torch.ones_like(m, dtype=torch.float32) for name, m in found["ticket"].items()}
    elif config["model"] in ("ticket", "random"):
        masks = {name: m.float() for name, m in found[config["model"]].items()}
    else:
        raise ValueError(f"model={config['model']!r} is invalid: allowed one of {list(MODELS)}")
    load_ticket(model, masks, init, strict=True)
    data = ColumnOrderData(config["data"]["variant"], config["data"]["seed"], config["columns"],
                           config["batch_size"])
    history = MetricHistory()
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=config["steps"], max_epochs=-1,
                        val_check_interval=config["eval_every"], check_val_every_n_epoch=None,
                        num_sanity_val_steps=0, callbacks=[KeepMasks(), history], **QUIET_TRAINER)
    trainer.fit(model, data)
    pruned_nonzero = sum(int(((model.get_parameter(n).detach() != 0) & (m == 0)).sum()) for n, m in masks.items())
    return {"history": [{"step": r["step"], "acc": r["val/acc"]} for r in history.rows if "val/acc" in r],
            "final": history.rows[-1]["val/acc"], "sparsity": sparsity(list(masks.values())),
            "pruned_weights_nonzero": pruned_nonzero}


# -- reading results -----------------------------------------------------------------------------------------------
def search_finals(searches: Sequence[dict[str, Any]], i: int) -> list[float]:
    """Test accuracy (%) at the end of the ``i``-th trained round of each search that recorded it."""
    return [100 * r["result"]["history"][i]["final"] for r in searches
            if len(r["result"]["history"]) > i and r["result"]["history"][i]["final"] is not None]


def final_acc(result: dict[str, Any]) -> float:
    return 100 * result["final"]


def cell(results: Results, row: str, model: str, init: str) -> list[float]:
    """Final test accuracies (%) over trials of one cell of section F's table (reinit: fresh init, new data)."""
    columns = "new" if row == "reinit" else row
    init = "fresh" if row == "reinit" else init
    return results.values(final_acc, stage="analysis", columns=columns, model=model, init=init)


def table_cells(results: Results) -> dict[str, dict[str, list[float]]]:
    """Every cell: ``{row: {"dense (fresh)", "dense (theta0)", "ticket", "random": [acc per trial]}}``."""
    out = {}
    for row in ROWS:
        out[row] = {"dense (fresh)": cell(results, row, "dense", "fresh"),
                    "dense (theta0)": [] if row == "reinit" else cell(results, row, "dense", "theta0"),
                    "ticket": cell(results, row, "ticket", "theta0"),
                    "random": cell(results, row, "random", "theta0")}
    return out


def adjacency_stats(results: Results) -> dict[str, dict[int, list[float]]]:
    """``{kind: {window: [value per trial]}}`` from the searches."""
    searches = results.select(stage="search")
    return {kind: {w: [r["result"]["adjacency"][kind][str(w)] for r in searches] for w in WINDOWS}
            for kind in ("ticket", "random")}


def _mean(values: Sequence[float]) -> float | None:
    return mean_std(values)[0] if values else None


def section_f_claims(cells: Mapping[str, Mapping[str, Sequence[float]]],
                     adjacency_values: Mapping[str, Mapping[int, Sequence[float]]],
                     applicable: bool = True) -> list[Claim]:
    """A verdict for each sentence of the paper's text in section F (and the shuffled-input claim of section 4),
    judged on trial means; thresholds fixed before measuring (``CLEARLY``, ``VANISHES``, ``FAR_MORE``)."""
    m = {row: {k: _mean(v) for k, v in c.items()} for row, c in cells.items()}
    claims = []

    def gains(row: str) -> tuple[float, float, float] | None:
        r = m[row]
        dense_fresh, dense_theta0 = r["dense (fresh)"], r["dense (theta0)"] if row != "reinit" else r["dense (fresh)"]
        if None in (r["ticket"], r["random"], dense_fresh, dense_theta0):
            return None
        return r["ticket"] - dense_fresh, r["ticket"] - dense_theta0, r["ticket"] - r["random"]

    def winning(row: str, sentence: str, paper_row: str) -> None:
        g = gains(row)
        if g is None:
            return
        beats_dense = [x > 0 for x in g[:2]]
        holds = (True if all(beats_dense) else None if any(beats_dense) else False) if g[2] > 0 else False
        p = PAPER[paper_row]
        claims.append(Claim.check(
            sentence, f"ticket − dense: {g[0]:+.1f} (fresh init), {g[1]:+.1f} (theta0); ticket − random: {g[2]:+.1f}",
            f"{p['ticket'] - p['dense']:+.2f} vs dense, {p['ticket'] - p['random']:+.2f} vs random", holds,
            applicable))

    winning("new", "On new data the ticket keeps its lead", "new")
    winning("flipped", "Reversing the signal (spatial structure kept, positions changed) leaves it winning",
            "flipped")
    g_new, g_shuf, g_flip = gains("new"), gains("shuffled"), gains("flipped")
    if None not in (g_new, g_shuf, g_flip):
        # the ticket's loss of advantage over the dense net (theta0: the same init) on shuffled vs new / flipped
        drop_new, drop_flip = g_new[1] - g_shuf[1], g_flip[1] - g_shuf[1]
        p = PAPER
        paper_drop = (p["new"]["ticket"] - p["new"]["dense"]) - (p["shuffled"]["ticket"] - p["shuffled"]["dense"])
        paper_flip = ((p["flipped"]["ticket"] - p["flipped"]["dense"])
                      - (p["shuffled"]["ticket"] - p["shuffled"]["dense"]))
        claims.append(Claim.check(
            f"Permuting the positions hurts it clearly more (its lead over dense shrinks ≥ {CLEARLY} point more "
            "than on new data and than on flipped data)",
            f"lead over dense (theta0) shrinks by {drop_new:+.1f} vs new data, {drop_flip:+.1f} vs flipped",
            f"{paper_drop:+.2f} vs new data, {paper_flip:+.2f} vs flipped (dense: fresh init)",
            drop_new >= CLEARLY and drop_flip >= CLEARLY, applicable))
        claims.append(Claim.check(
            f"Shuffled inputs: the ticket's advantage over dense vanishes (≤ {VANISHES} point)",
            f"ticket − dense on shuffled: {g_shuf[0]:+.1f} (fresh init), {g_shuf[1]:+.1f} (theta0)",
            f"{p['shuffled']['ticket'] - p['shuffled']['dense']:+.2f}",
            g_shuf[0] <= VANISHES and g_shuf[1] <= VANISHES, applicable))
    g_re = gains("reinit")
    if g_re is not None:
        p = PAPER["reinit"]
        claims.append(Claim.check(
            "A new init with the mask kept still beats the baselines (dense and random mask, new inits)",
            f"ticket mask, new init − dense: {g_re[0]:+.1f}; − random mask: {g_re[2]:+.1f}",
            f"{p['ticket'] - p['dense']:+.2f} vs dense, {p['ticket'] - p['random']:+.2f} vs random",
            g_re[0] > 0 and g_re[2] > 0, applicable))
    t3, r3 = adjacency_values["ticket"][3], adjacency_values["random"][3]
    if t3 and r3:
        ratio = _mean(t3) / max(_mean(r3), 1e-12)
        paper_ratio = PAPER_ADJACENCY["ticket"][3] / PAPER_ADJACENCY["random"][3]
        claims.append(Claim.check(
            f"The ticket's surviving first-layer weights are adjacent far more often than a random mask's "
            f"(p(3 adjacent) ≥ {FAR_MORE:.0f}x)",
            f"{ratio:.1f}x (ticket {_mean(t3):.5f}, random {_mean(r3):.5f})",
            f"{paper_ratio:.0f}x ({PAPER_ADJACENCY['ticket'][3]} vs {PAPER_ADJACENCY['random'][3]})",
            ratio >= FAR_MORE, applicable))
    return claims


# -- the study -----------------------------------------------------------------------------------------------------
class Lottery(Study):
    """Lottery tickets, paper Fig. 3 c-g and section F. Search per trial t (seed t): `configs/lottery.yaml`
    (residual MLP 40-500-500-10, Adam 2e-2, batch 100, layerwise magnitude pruning of weights and biases,
    rewinding to theta0) on the paper's linear schedule of sparsity k/99, scoring the weights of step 1000 of
    each round, every round of 1501 steps, up to round k = 91 (91.9%, the paper's "92%"; the later rounds do not
    change its ticket). Analysis of the 91.9% ticket with section F's protocol: new data (seed 43, 4000/1000),
    6000 steps of batch 500, Adam 2e-2, evaluation every 100 steps; dense, ticket and random mask (same
    layerwise sparsity, uniformly random) from theta0, dense also from a fresh init (torch seed 42 + t, the
    notebook's dense); columns shuffled
    (`np.random.seed(0); permutation(40)`), flipped, chunks (20:30, 30:40, 0:10, 10:20); reinit: ticket and
    random masks on the fresh init. Final test accuracy (%), mean ± sample std over 3 trials."""

    name = "lottery"
    title = "Lottery tickets: the 92% ticket on new data, permuted inputs and a new init (paper Fig. 3, section F)"
    seeds = (0, 1, 2)
    quick_seeds = (0,)

    def __init__(self, artifacts: str | Path | None = None) -> None:
        self.artifacts = artifacts  # None: experiments/results/lottery/[quick/]artifacts

    def _artifacts(self, quick: bool) -> str:
        if self.artifacts is not None:
            return str(self.artifacts)
        # the path is part of the stored search runs' configs (and so of their keys) until they are migrated
        return str(Path("experiments/results") / self.name / ("quick" if quick else "") / "artifacts")

    def runs(self, quick: bool, seeds: Sequence[int]) -> list[Run]:
        protocol = QUICK if quick else FULL
        searches = {t: search_config(t, protocol, self._artifacts(quick)) for t in seeds}
        runs = [Run({"stage": "search", "seed": t}, searches[t], SEARCH_TASK) for t in seeds]
        cells = []  # the most telling cells first
        for columns in ("new", "shuffled", "flipped", "reinit", "chunks"):  # reinit: fresh init, new data
            if columns == "reinit":
                cells += [("ticket", "fresh", "new"), ("random", "fresh", "new")]
                continue
            cells += [("ticket", "theta0", columns), ("dense", "theta0", columns), ("dense", "fresh", columns),
                      ("random", "theta0", columns)]
        for t in seeds:  # trial by trial: a worker trains trial 0's cells while another still searches trial 2
            for model, init, columns in cells:
                config = analysis_config(searches[t], t, model, init, columns, protocol)
                tags = {"stage": "analysis", "model": model, "init": init, "columns": columns, "seed": t}
                runs.append(Run(tags, config, ANALYSIS_TASK))
        return runs

    def protocol(self, quick: bool) -> str:
        text = super().protocol(quick)
        if quick:
            text += (" Quick protocol: search rounds k = 0, 45, 90, 91 of 30 steps (scored at step 20), analysis "
                     "of 60 steps, evaluation every 20, 1 trial.")
        return text

    def table(self, results: Results, quick: bool) -> str:
        cells = table_cells(results)
        lines = ["## Section F: final test accuracy (%) of the 92% ticket, measured vs paper", "",
                 ("| condition | dense, fresh init | dense, theta0 | ticket | random mask | paper dense | "
                 "paper ticket | paper random |"), "|---|---|---|---|---|---:|---:|---:|"]
        for row in ROWS:
            c, p = cells[row], PAPER[row]
            theta0 = "(= fresh init: the reinit row's new inits)" if row == "reinit" else fmt(c["dense (theta0)"])
            lines.append(f"| {ROW_LABELS[row]} | {fmt(c['dense (fresh)'])} | {theta0} | {fmt(c['ticket'])} | "
                         f"{fmt(c['random'])} | {p['dense']} | {p['ticket']} | {p['random']} |")
        lines += ["", ("Ticket and random mask start from theta0 (the search's initialization) in the first four "
                  "rows and from the fresh init (seed 42 + trial) in the reinit row; the reinit row's dense is the "
                  "fresh-init dense net on new data. The paper printed the mean of 2 trials."), ""]
        adj = adjacency_stats(results)
        lines += ["## First-layer adjacency at the analysis round", "",
                  ("Fraction of windows of w adjacent input weights that are all kept, per first-layer unit, mean "
                  "over the 500 units."), "",
                  ("| w | ticket, trial 0 | ticket, mean over trials | random, trial 0 | random, mean over trials | "
                  "ticket / random (mean) | paper ticket | paper random |"), "|---:|---:|---|---:|---|---:|---:|---:|"]
        for w in WINDOWS:
            t, r = adj["ticket"][w], adj["random"][w]
            if not t:
                continue
            ratio = f"{_mean(t) / _mean(r):.1f}x" if _mean(r) else "∞"
            lines.append(f"| {w} | {t[0]:.5f} | {fmt(t, 5)} | {r[0]:.5f} | {fmt(r, 5)} | {ratio} | "
                         f"{PAPER_ADJACENCY['ticket'][w]} | {PAPER_ADJACENCY['random'][w]} |")
        searches = results.select(stage="search")
        if searches:
            lines += ["", ("Corrected for density (the ticket keeps fewer first-layer weights than the random mask, as "
                      "biases are ranked with the weights of their layer): p(w adjacent) / density^w, which is 1 for "
                      "independent survival, mean over trials."), "",
                      "| w | ticket | random | ticket / random |", "|---:|---:|---:|---:|"]
            for w in WINDOWS:
                enrichment = {kind: _mean([r["result"]["adjacency"][kind][str(w)]
                                           / r["result"]["first_layer_density"][kind] ** w for r in searches])
                              for kind in ("ticket", "random")}
                ratio = f"{enrichment['ticket'] / enrichment['random']:.1f}x" if enrichment["random"] else "∞"
                lines.append(f"| {w} | {enrichment['ticket']:.2f} | {enrichment['random']:.2f} | {ratio} |")
            s = searches[0]["result"]
            density = [r["result"]["first_layer_density"]["ticket"] for r in searches]
            lines += ["", (f"Sparsity of the analysis round: {100 * s['sparsity']:.2f}% overall (every layer "
                      f"{100 * s['history'][-1]['target_sparsity']:.1f}%, weight and bias ranked together); "
                      f"first-layer weight density {fmt(density, 4)} (ticket) and "
                      f"{fmt([r['result']['first_layer_density']['random'] for r in searches], 4)} (random)."), ""]
            ks = schedule_ks((QUICK if quick else FULL)["stride"])
            shown = [i for i, k in enumerate(ks) if k % TABLE_EVERY == 0 or i == len(ks) - 1]
            lines += [f"## The search: final test accuracy (%) of every {TABLE_EVERY}th round and the last, mean over "
                      "trials (every round: `search.png`)", "",
                      "| round k | sparsity % | ticket search |", "|---:|---:|---|"]
            for i in shown:
                values = search_finals(searches, i)
                lines.append(f"| {ks[i]} | {100 * s['history'][i]['sparsity']:.1f} | {fmt(values)} |")
        return "\n".join(lines)

    def claims(self, results: Results, quick: bool) -> list[Claim]:
        claims = []
        searches = results.select(stage="search")
        if searches:  # REFERENCE section 4, on the search's own rounds (batch 100, each round's last step)
            dense = [100 * r["result"]["history"][0]["final"] for r in searches]
            ticket = [100 * r["result"]["history"][-1]["final"] for r in searches]
            gain = _mean(ticket) - _mean(dense)
            claims.append(Claim.check(
                f"Search: the 92% ticket beats the dense network by ≥ {SEARCH_GAIN:.0f} points",
                f"{_mean(ticket):.1f} vs {_mean(dense):.1f} ({gain:+.1f})", "75.0 vs 65.6 (+9.4)",
                gain >= SEARCH_GAIN, not quick))
        return claims + section_f_claims(table_cells(results), adjacency_stats(results), applicable=not quick)

    def figures(self, results: Results, out: Path) -> list[str]:
        from matplotlib.figure import Figure

        names = []
        analysis = results.select(stage="analysis")
        if analysis:
            fig = Figure(figsize=(15, 3.6))
            axes = fig.subplots(1, len(ROWS), sharey=True)
            styles = {("dense", "fresh"): ("0.5", ":"), ("dense", "theta0"): ("k", "-"),
                      ("ticket", "theta0"): ("C0", "-"), ("random", "theta0"): ("C3", "-")}
            for ax, row in zip(axes, ROWS):
                columns = "new" if row == "reinit" else row
                for (model, init), (color, style) in styles.items():
                    if row == "reinit":
                        if model == "dense" and init == "theta0":
                            continue
                        init = "fresh"
                    records = results.select(stage="analysis", model=model, init=init, columns=columns)
                    if not records:
                        continue
                    steps = [h["step"] for h in records[0]["result"]["history"]]
                    acc = np.array([[100 * h["acc"] for h in r["result"]["history"]] for r in records])
                    ax.plot(steps, acc.mean(0), style, color=color, label=f"{model} ({init})")
                ax.set(title=ROW_LABELS[row], xlabel="step")
                ax.grid(alpha=0.3)
            axes[0].set_ylabel("test accuracy (%), mean over trials")
            axes[0].legend(fontsize=7)
            fig.tight_layout()
            save_figure(fig, out / "analysis_curves.png", dpi=110)
            names.append("analysis_curves.png")
        searches = results.select(stage="search")
        if searches:
            first = searches[0]["result"]
            fig = Figure(figsize=(10, 4.2))
            for ax, kind in zip(fig.subplots(1, 2), ("ticket", "random")):
                mask = np.array([[c == "1" for c in row] for row in first["first_layer"][kind]])
                rows = np.argsort(-mask.sum(1), kind="stable")[:80]
                ax.imshow(mask[rows], cmap="Greys", aspect="auto", interpolation="nearest")
                ax.set_title(f"{kind}: p(3 adjacent) = {adjacency(mask, 3):.4f}", fontsize=9)
                ax.set_xlabel("input position")
            fig.axes[0].set_ylabel("80 first-layer units with most survivors")
            fig.suptitle(f"first-layer masks of trial 0 at {100 * first['sparsity']:.1f}% sparsity (black = kept)")
            fig.tight_layout()
            save_figure(fig, out / "masks.png", dpi=110)
            names.append("masks.png")
            fig = Figure(figsize=(6.5, 4))
            ax = fig.subplots()
            sparsities = [100 * record["sparsity"] for record in first["history"]]
            for r in searches:
                finals = [np.nan if h["final"] is None else 100 * h["final"] for h in r["result"]["history"]]
                ax.plot(sparsities[:len(finals)], finals, color="C0", alpha=0.35, lw=0.8)
            means = [_mean(search_finals(searches, i)) or np.nan for i in range(len(sparsities))]
            ax.plot(sparsities, means, color="C0", lw=2, label=f"ticket search, mean of {len(searches)} trials")
            ax.axhline(75.0, color="0.5", ls=":", label="paper: 92% ticket (75.0)")
            ax.axhline(65.6, color="0.5", ls="--", label="paper: dense (65.6)")
            ax.set(xlabel="sparsity (%)", ylabel="test accuracy (%) at the end of the round",
                   title="the search: each trained round of the k/99 schedule")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
            fig.tight_layout()
            save_figure(fig, out / "search.png", dpi=110)
            names.append("search.png")
        return names
