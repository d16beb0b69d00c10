"""What populations save: K = 8 CNN seeds trained at once vs 8 sequential single runs, K = 1 vs ``Classifier``, and
a double-descent point's seeds (each with its own batch order) as one population vs its single runs.

Every side runs the Table 1 CNN protocol exactly as the ``table1`` study does: ``configs/cnn.yaml`` (Adam lr 1e-2,
batch 100, ordered cycling batches, loss and accuracy on the full test split and the full training set every 250
steps) through the runner's ``fit`` task (LightningCLI in-process, no logger or checkpoints), here for
``--steps`` steps:

- ``population``: one run of ``population_config(cnn.yaml, seeds 0-7)`` (``PopulationClassifier``);
- ``sequential``: 8 single runs of ``cnn.yaml`` with ``seed_everything: k``, one after the other;
- ``population_k1`` vs ``classifier``: one seed either way (the cost of the vectorized path itself).

The two sides of each comparison alternate over the repetitions (the machine is shared); the results file
(``bench/results/population.json``) holds every timing, the per-repetition ratios and their medians, and each
seed's final test accuracy on both sides (they agree: member k is the single run with seed k). Targets:
population / sequential <= 0.35, and population_k1 / classifier about 1 (no regression).

The double-descent comparison (``--only double_descent``) times the study's own jobs: the MLP of width
``--dd-width`` on the noisy curve, seeds 0 to ``--dd-seeds`` - 1 (each seed is ``seed_everything`` S and the data
module's batch-order seed S), ``--dd-steps`` steps, evaluated after the last; ``plan`` makes the population job
(each member on its own seed's batches) and each side runs its jobs in this process exactly as a runner's worker
does (``backends.execute``). It records each seed's final test and train error on both sides.

The lottery comparisons (``--only lottery``) ask whether the lottery study's runs would gain from populations
before any is built: its trials train the residual MLP 40-500-500-10, whose steps may be bound by arithmetic on
this CPU rather than by per-step overhead. ``lottery_analysis`` times section F's retraining shape (batch 500,
evaluation every 100 steps on the new data's test split; dense masks, the fresh inits of trials 0-2: seeds 42-44)
and ``lottery_search`` one round of a search (batch 100, evaluation every 79 steps; seeds 0-2), each for
``--lottery-steps`` steps, as one population of the three seeds vs three single runs. Neither side carries a
ticket (a population has no per-member ``LoadTicket`` or ``LotteryTicket`` yet): this is the training a ticket
would ride on.

    python bench/population.py [--steps 2000] [--repeats 3] [--members 8] [--threads 1]
    python bench/population.py --only double_descent [--dd-width 47] [--dd-seeds 3] [--dd-steps 20000]
    python bench/population.py --only lottery [--lottery-steps 1000]
"""

from __future__ import annotations

import json
import os
import statistics
from datetime import datetime, timezone
from typing import Any

from alternating import alternate, bench_parser, parse_and_configure, timed
from experiments.backends import execute
from experiments.double_descent.protocol import CURVE, point_config
from experiments.lottery.protocol import FRESH_SEED, FULL, analysis_config, search_config
from experiments.runner import plan, split
from experiments.runs import Run, fit_run, load_config, override
from experiments.tasks import fit
from lightning_modules.population import member_metrics, population_config
from results_file import RESULTS, write_results


def cnn_config(steps: int, eval_every: int) -> dict[str, Any]:
    config = override(load_config("configs/cnn.yaml"), **{"trainer.max_steps": steps,
                                                           "trainer.val_check_interval": eval_every})
    return fit_run({}, config).config


def population_run(members: int, steps: int, eval_every: int) -> list[float]:
    """One population of seeds 0 to ``members`` - 1; each member's final test accuracy (%)."""
    final = fit(population_config(cnn_config(steps, eval_every), range(members)))["final"]
    return [100 * member_metrics(final, k)["val/acc"] for k in range(members)]


def single_runs(members: int, steps: int, eval_every: int) -> list[float]:
    """``members`` single runs one after the other, run k with ``seed_everything: k``; final test accuracies."""
    return [100 * fit(override(cnn_config(steps, eval_every), seed_everything=seed))["final"]["val/acc"]
            for seed in range(members)]


def double_descent_runs(width: int, seeds: int, steps: int) -> list[Run]:
    """The noisy MLP curve's runs at ``width`` for seeds 0 to ``seeds`` - 1, as the study declares them."""
    return [Run({"seed": seed}, point_config(CURVE["mlp_noisy"], width, seed, steps)) for seed in range(seeds)]


def errors(result: dict[str, Any]) -> list[float]:
    """Final test error and train error (%) of one run's result."""
    return [100 * result["final"]["val/error"], 100 * result["final"]["train_eval/error"]]


def dd_population(width: int, seeds: int, steps: int) -> list[list[float]]:
    """The point's seeds as the runner's population job; each member's [test error, train error] (%)."""
    [job] = plan(double_descent_runs(width, seeds, steps), populations=True)
    if job.seeds is None or len(job.members) != seeds:
        raise RuntimeError(f"the double-descent point did not become one population: {job.label}")
    finished, _ = execute(job.task, job.config)
    return [errors(result) for _, result in split(job, finished.result)]


def dd_single_runs(width: int, seeds: int, steps: int) -> list[list[float]]:
    """The point's seeds as single runs, one after the other; each run's [test error, train error] (%)."""
    return [errors(execute(run.task, run.config)[0].result) for run in double_descent_runs(width, seeds, steps)]


def lottery_config(stage: str, steps: int) -> tuple[dict[str, Any], list[int]]:
    """The dense form of a lottery stage's training, ``steps`` steps long, and the seeds of trials 0-2."""
    if stage == "analysis":
        config = analysis_config(search_config(0, FULL), 0, "dense", "fresh", "new", FULL)["cli"]
        seeds = [FRESH_SEED + trial for trial in range(3)]
    else:
        config, seeds = fit_run({}, search_config(0, FULL)["cli"]).config, [0, 1, 2]
    config = override(config, **{"trainer.max_steps": steps, "trainer.callbacks": []})
    return config, seeds


def lottery_population(stage: str, steps: int) -> list[float]:
    """A lottery stage's three seeds as one population; each member's final test accuracy (%)."""
    config, seeds = lottery_config(stage, steps)
    final = fit(population_config(config, seeds))["final"]
    return [100 * member_metrics(final, k)["val/acc"] for k in range(len(seeds))]


def lottery_single_runs(stage: str, steps: int) -> list[float]:
    """A lottery stage's three seeds as single runs, one after the other; their final test accuracies (%)."""
    config, seeds = lottery_config(stage, steps)
    return [100 * fit(override(config, seed_everything=seed))["final"]["val/acc"] for seed in seeds]


class Log:
    """Every side's final accuracies, and the progress line of each timed side."""

    def __init__(self) -> None:
        self.accuracies: dict[str, list[list[float]]] = {}

    def describe(self, name: str, seconds: float, accuracies: list[float]) -> str:
        self.accuracies.setdefault(name, []).append(accuracies)
        return (f"{name:13s} {seconds:7.1f} s  final test accuracy per seed "
                f"{', '.join(f'{a:.1f}' for a in accuracies)} %")

    def describe_errors(self, name: str, seconds: float, per_seed: list[list[float]]) -> str:
        self.accuracies.setdefault(name, []).append(per_seed)
        return (f"{name:13s} {seconds:7.1f} s  final test / train error per seed "
                f"{', '.join(f'{test:.2f} / {train:.2f}' for test, train in per_seed)} %  load {load()}")


def load() -> str:
    """The 1, 5 and 15 minute load averages (``uptime``): the machine is shared."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def summary(what: str, times: dict[str, list[float]], target: str, accuracies: dict[str, Any]) -> dict[str, Any]:
    ratios = times["ratio"]
    median = statistics.median(ratios)
    print(f"{what}, median of {len(ratios)}: {median:.3f} (all: {', '.join(f'{r:.3f}' for r in ratios)}; "
          f"target {target})", flush=True)
    return {"what": what, "target": target, "seconds": times,
            "median_seconds": {k: statistics.median(v) for k, v in times.items() if k != "ratio"},
            "median_ratio": median, "final_test_accuracy_percent": accuracies,
            "measured": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def main() -> None:
    parser = bench_parser(__doc__, repeats=3)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--only", choices=("population", "k1", "double_descent", "lottery"), default=None,
                        help="run one of the comparisons; the others' last measurements stay in the results file")
    parser.add_argument("--dd-width", type=int, default=47)
    parser.add_argument("--dd-seeds", type=int, default=3)
    parser.add_argument("--dd-steps", type=int, default=20_000)
    parser.add_argument("--lottery-steps", type=int, default=1000)
    args = parse_and_configure(parser)
    k, steps, every = args.members, args.steps, args.eval_every

    if args.only in (None, "population", "k1"):
        timed(population_run, 2, 50, 25)  # warm-up: imports, first-call allocations, vmap's first trace
        timed(single_runs, 1, 50, 25)
    log = Log()
    pick = lambda *names: {name: log.accuracies[name] for name in names}  # noqa: E731
    command = (f"python bench/population.py --steps {steps} --repeats {args.repeats} --members {k} "
               f"--threads {args.threads}")
    measured = {}
    if args.only in (None, "population"):
        many = alternate(("population", population_run, (k, steps, every)),
                         ("sequential", single_runs, (k, steps, every)), args.repeats, log.describe)
        measured["population_vs_sequential"] = summary(
            f"{k} CNN seeds: population / {k} sequential single runs, time", many, "<= 0.35",
            pick("population", "sequential")) | {"command": command, "members": k}
    if args.only in (None, "k1"):
        one = alternate(("population_k1", population_run, (1, steps, every)),
                        ("classifier", single_runs, (1, steps, every)), args.repeats, log.describe)
        measured["k1_vs_classifier"] = summary(
            "one CNN seed: PopulationClassifier(population=1) / Classifier, time", one, "about 1 (no regression)",
            pick("population_k1", "classifier")) | {"command": command + (" --only k1" if args.only else "")}
    if args.only in (None, "double_descent"):
        width, seeds, dd_steps = args.dd_width, args.dd_seeds, args.dd_steps
        timed(dd_population, width, seeds, 40)  # warm-up
        timed(dd_single_runs, width, seeds, 40)
        before = load()
        point = alternate(("population", dd_population, (width, seeds, dd_steps)),
                          ("single_runs", dd_single_runs, (width, seeds, dd_steps)), args.repeats,
                          log.describe_errors)
        measured["double_descent_point"] = summary(
            f"double descent, noisy MLP n={width}, seeds 0-{seeds - 1} (each its own batch order): the runner's "
            f"population job / {seeds} single runs, time", point, "< 1",
            {name: log.accuracies[name] for name in ("population", "single_runs")}) | {
            "command": f"python bench/population.py --only double_descent --dd-width {width} --dd-seeds {seeds} "
                       f"--dd-steps {dd_steps} --repeats {args.repeats} --threads {args.threads}",
            "protocol": f"configs/double_descent_mlp.yaml at hidden_size {width}, {dd_steps} steps, as the study "
                        "declares each seed; both sides in this process through backends.execute",
            "errors_are": "per repetition, per seed: [final test error %, final train error %]",
            "load_average_1_5_15_min": {"before": before, "after": load()}}
    if args.only in (None, "lottery"):
        for stage in ("analysis", "search"):
            log.accuracies.clear()
            timed(lottery_population, stage, 100)  # warm-up, through one evaluation
            timed(lottery_single_runs, stage, 100)
            before = load()
            sides = alternate(("population", lottery_population, (stage, args.lottery_steps)),
                              ("single_runs", lottery_single_runs, (stage, args.lottery_steps)), args.repeats,
                              log.describe)
            measured[f"lottery_{stage}"] = summary(
                f"lottery {stage} shape, dense residual MLP 40-500-500-10, 3 seeds: one population / 3 single runs, "
                "time", sides, "< 1 (would populations pay?)", pick("population", "single_runs")) | {
                "command": f"python bench/population.py --only lottery --lottery-steps {args.lottery_steps} "
                           f"--repeats {args.repeats} --threads {args.threads}",
                "protocol": f"experiments.lottery.protocol's {stage} config, dense, no ticket callback, "
                            f"{args.lottery_steps} steps, through experiments.tasks.fit",
                "load_average_1_5_15_min": {"before": before, "after": load()}}
    path = RESULTS / "population.json"
    earlier = json.loads(path.read_text()) if args.only and path.is_file() else {}
    kept = ("population_vs_sequential", "k1_vs_classifier", "double_descent_point", "lottery_analysis",
            "lottery_search")
    write_results("population", {
        "protocol": f"configs/cnn.yaml through experiments.tasks.fit, {steps} steps, evaluation every {every}",
        "repetitions": args.repeats, "steps": steps, "torch_threads": args.threads,
        **{name: earlier[name] for name in kept if name in earlier}, **measured})


if __name__ == "__main__":
    main()
