"""``Tiny``: a two-model, two-seed study of 12 steps for the runner's tests, and ``Waiting``, whose runs only wait.
A module of its own that imports no torch or Lightning, so that a driver process started by a test
(``test_ray_backend``, ``test_runner_signals``) starts in a second."""

from __future__ import annotations

from experiments.runner import Claim, Results, Study
from experiments.runs import Run, fit_run, load_config, override
from experiments.verdicts import HOLDS, Verdict

TINY = {"trainer.max_steps": 12, "trainer.val_check_interval": 6, "data.train_subset": 300}


class Tiny(Study):
    """A two-model, two-seed study of 12 steps, for testing the runner."""

    name = "tiny"
    title = "tiny"
    seeds = (0, 1)

    def __init__(self, bad: bool = False) -> None:
        self.bad = bad

    def runs(self, quick, seeds):
        runs = []
        for model in ("logistic", "mlp"):
            base = override(load_config(f"configs/{model}.yaml"), **TINY)
            if self.bad and model == "mlp":
                base = override(base, **{"data.batch_size": 0})
            runs += [fit_run({"model": model, "seed": s}, override(base, seed_everything=s)) for s in seeds]
        return runs

    def table(self, results: Results, quick: bool) -> str:
        acc = results.values(lambda r: 100 * r["final"]["val/acc"], model="logistic")
        return f"logistic accuracy: {', '.join(f'{a:.2f}' for a in acc)}"

    def claims(self, results, quick):
        return [Claim.judged("logistic learns something", Verdict(HOLDS, "x"), "y", applicable=not quick)]


WAIT = "tests.tiny_study:wait"


def wait(config: dict) -> dict:
    """Waits ``config["seconds"]`` behind a progress bar, as a training run's worker does, using no CPU."""
    import time

    from tqdm import tqdm

    for _ in tqdm(range(config["seconds"]), disable=True):
        time.sleep(1)
    return {"waited": config["seconds"]}


class Waiting(Study):
    """Runs that outlast any test: a sweep that is surely mid-run when a test signals it, at no CPU cost."""

    name = "waiting"
    title = "waiting"
    seeds = (0, 1, 2, 3)

    def runs(self, quick, seeds):
        return [Run({"seed": s}, {"seed": s, "seconds": 600}, WAIT) for s in seeds]

    def table(self, results: Results, quick: bool) -> str:
        return f"{len(results.records)} runs"

    def claims(self, results, quick):
        return []
