"""The studies runner: a study declares its runs, the paper's numbers, its claims and its figures; this module
runs what is missing from the store (in parallel, resumably) and writes the report from the store alone.

A study's outputs live in ``results/<study>/`` (``adhoc/<quick|seeds-...>/`` under it for the quick protocol or
other seeds): ``runs/`` (one JSON per finished run, its artifacts beside it), ``results.json`` (every run of the
protocol), ``table.md`` (measured next to the paper, each claim with its verdict), the figures and ``README.md``
(the page: the table and the figures).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from mnist1d_hf.atomic import write_text

from . import backends
from .runs import ROOT, Job, Run
from .provenance import code, describe, is_older, resolve
from .store import RunStore
from .verdicts import Verdict

RESULTS = ROOT / "results"
KEYS = RESULTS / "keys.json"  # the run keys of every study's declared protocol, recomputed by the tests
NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, checked: what it says, what we measured, what the paper measured, the verdict."""

    claim: str
    measured: str
    paper: str
    verdict: str

    @classmethod
    def judged(cls, claim: str, verdict: Verdict, paper: str, applicable: bool = True) -> Claim:
        """A claim judged by the one rule of ``verdicts``: the evidence (per-seed values, interval, n) is what
        was measured."""
        return cls(claim, verdict.evidence, paper, verdict.verdict if applicable else
                   f"{NOT_APPLICABLE} (quick protocol)")


class Results:
    """The stored records of a study's runs, selectable by tags."""

    def __init__(self, records: Sequence[dict[str, Any]]) -> None:
        self.records = list(records)

    def __len__(self) -> int:
        return len(self.records)

    def select(self, **tags: Any) -> list[dict[str, Any]]:
        """Records whose tags equal every given value, in seed order."""
        chosen = [r for r in self.records if all(r["tags"].get(k) == v for k, v in tags.items())]
        return sorted(chosen, key=lambda r: r["tags"].get("seed", 0))

    def values(self, read: Callable[[dict[str, Any]], float], **tags: Any) -> list[float]:
        """``read(result)`` of every selected run (one value per seed)."""
        return [read(r["result"]) for r in self.select(**tags)]

    def tag_values(self, name: str) -> list[Any]:
        """The distinct values of tag ``name``, in first-seen order."""
        seen: list[Any] = []
        for record in self.records:
            value = record["tags"].get(name)
            if value not in seen:
                seen.append(value)
        return seen


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def fmt(values: Sequence[float], digits: int = 1, notation: str = "f") -> str:
    """``mean ± std (n=k)``, or a dash when nothing was measured; ``notation="e"`` for values near zero."""
    if not values:
        return "—"
    mean, std = mean_std(values)
    return f"{mean:.{digits}{notation}} ± {std:.{digits}{notation}} (n={len(values)})"


class Study:
    """Base class of a study. Subclasses set ``name``, ``title``, ``seeds`` and implement ``runs``, ``table``,
    ``claims`` and ``figures``; everything else (store, workers, resume, report) is the runner's."""

    name: str = ""
    title: str = ""
    seeds: tuple[int, ...] = (0, 1, 2)
    quick_seeds: tuple[int, ...] = (0,)

    def runs(self, quick: bool, seeds: Sequence[int]) -> list[Run]:
        raise NotImplementedError

    def table(self, results: Results, quick: bool) -> str:
        """Markdown: the measured numbers next to the paper's."""
        raise NotImplementedError

    def claims(self, results: Results, quick: bool) -> list[Claim]:
        return []

    def figures(self, results: Results, out: Path) -> list[str]:
        """Draw the study's figures into ``out``; return their file names."""
        return []

    def protocol(self, quick: bool) -> str:
        """One paragraph on what was run (shown above the table)."""
        first = (self.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(line.strip() for line in first.splitlines())


def output_dir(study: Study, quick: bool = False, seeds: Sequence[int] | None = None,
               out: Path | None = None) -> Path:
    """Where a study's store and report go: ``out``; ``results/<study>/`` for its declared protocol (the
    canonical, committed report); ``results/<study>/adhoc/<quick|seeds-...>/`` (not committed) for the quick
    protocol or other seeds, so an ad-hoc run never writes over the canonical files."""
    if out is not None:
        return Path(out)
    root = RESULTS / study.name
    custom = seeds is not None and tuple(seeds) != tuple(study.quick_seeds if quick else study.seeds)
    if not quick and not custom:
        return root
    labels = (["quick"] if quick else []) + ([f"seeds-{'-'.join(str(s) for s in seeds)}"] if custom else [])
    return root / "adhoc" / "-".join(labels)


def open_store(study: Study, quick: bool = False, seeds: Sequence[int] | None = None,
               out: Path | None = None) -> RunStore:
    """The study's store for these options; an ad-hoc store reads the runs its protocol's store already holds."""
    folder = output_dir(study, quick, seeds, out)
    protocol = output_dir(study, quick)
    return RunStore(folder, also=(RunStore(protocol),) if folder != protocol else ())


def protocol_keys() -> dict[str, dict[str, str]]:
    """Every study's declared runs (its full protocol, its own seeds): run label -> key. A key hashes the declared
    protocol only, so these are the same on every machine; ``results/keys.json`` holds them."""
    from . import STUDIES, study

    keys: dict[str, dict[str, str]] = {}
    for name in STUDIES:
        runs = declared_runs(study(name), False, None)
        keys[name] = {run.label: run.key for run in runs}
        if len(keys[name]) != len(runs):
            raise ValueError(f"study {name!r} declares runs with the same tags: each run needs tags of its own")
    return keys


def declared_runs(study: Study, quick: bool, seeds: Sequence[int] | None) -> list[Run]:
    """The study's runs for ``seeds`` (default: its own seeds, or its quick seeds); no two may be identical."""
    runs = study.runs(quick, list(seeds) if seeds else list(study.quick_seeds if quick else study.seeds))
    keys = [run.key for run in runs]
    duplicated = {k for k in keys if keys.count(k) > 1}
    if duplicated:
        labels = [run.label for run in runs if run.key in duplicated]
        raise ValueError(f"study {study.name!r} declares identical runs: {labels}")
    return runs


def run_study(study: Study, quick: bool = False, seeds: Sequence[int] | None = None, workers: int | None = 1,
              out: Path | None = None, backend: str = "local", address: str | None = None,
              progress: bool = True, populations: bool = False, rerun_before: str | None = None) -> dict[str, int]:
    """Run every run of the study that the store does not hold yet, and the runs they need whose results or
    artifacts are not stored; return counts of run and skipped runs.

    Runs that need others start as soon as those are stored (stages in dependency order, in parallel within
    and across stages). With ``populations``, the missing seeds of each point train at once as one
    ``PopulationClassifier`` where the network allows it (see ``plan``); every seed is still stored as its own
    run, under its own key. ``rerun_before``: also run again the stored runs made by code older than that git
    commit.
    """
    stores = Stores(study, quick, seeds, out)
    runs = declared_runs(study, quick, seeds)
    if rerun_before:
        rerun_before = resolve(rerun_before)  # an unknown commit is refused before anything runs
    stale = (lambda run: is_older((stores.of(run).get(run) or {}).get("provenance"), rerun_before)) \
        if rerun_before else (lambda run: False)
    again = stores.runs_again(stale)
    missing = upstream_first([run for run in runs if again(run)],
                             lambda run: stores.of(run).upstream(run) is None or again(run))
    jobs = plan(missing, populations)
    declared = {run.key for run in runs}
    extra = sum(run.key not in declared for run in missing)
    outdated = sum(bool(stores.outdated(run)) for run in missing)
    print(f"{study.name}{' (quick)' if quick else ''}: {len(runs)} runs, {len(runs) - len(missing) + extra} "
          f"already in {stores.own.folder}, {len(missing)} to run"
          + (f" ({extra} needed by others)" if extra else "")
          + (f" ({outdated} made from an earlier result of a run they need)" if outdated else "")
          + f" as {len(jobs)} job(s)", flush=True)
    provenance = code()
    making = {run.key for run in missing}  # a run that needs one of these waits for its new result
    outcomes = _backend(backend, jobs, workers, address, stores.prepare(backend, making))  # a missing Ray fails here
    if jobs:
        stores.own.folder.mkdir(parents=True, exist_ok=True)  # so does an unwritable folder, before any training
    bar = _progress(len(missing), study.name, progress)
    try:
        for job, finished, seconds in outcomes:
            for run, result in split(job, finished.result):
                population = None if job.seeds is None else {"seeds": list(job.seeds), "seconds": seconds}
                stores.of(run).put(run, result, seconds / len(job.members), run.study or study.name,
                                   population=population, artifacts=finished.artifacts if job.seeds is None
                                   else None, provenance={**provenance, **finished.environment},
                                   received=job.upstream)
                making.discard(run.key)
                stores.forget(run)
                stores.clear_scratch(run)
            bar.set_postfix_str(f"{job.label} {seconds:.0f}s")
            bar.update(len(job.members))
    finally:
        bar.close()
    return {"ran": len(missing), "skipped": len(runs) - len(missing) + extra}


class Stores:
    """The store of each run of a sweep: the study's own, or another study's for a run declared there."""

    def __init__(self, study: Study, quick: bool, seeds: Sequence[int] | None, out: Path | None) -> None:
        self.quick = quick
        self.own = open_store(study, quick, seeds, out)
        self.name = study.name
        self._digests: dict[str, str | None] = {}

    def of(self, run: Run) -> RunStore:
        if run.study is None or run.study == self.name:
            return self.own
        from . import study as named_study

        return open_store(named_study(run.study), self.quick)

    def digest(self, run: Run) -> str | None:
        """The digest of what a run that needs ``run`` receives now (``Upstream.digest``); None if not stored."""
        if run.key not in self._digests:
            upstream = self.of(run).upstream(run)
            self._digests[run.key] = None if upstream is None else upstream.digest()
        return self._digests[run.key]

    def forget(self, run: Run) -> None:
        """Drop ``run``'s remembered digest: it has just been stored again."""
        self._digests.pop(run.key, None)

    def outdated(self, run: Run) -> list[Run]:
        """The runs ``run`` needs whose stored outcome is not the one it was made from: its record keeps the
        digest of what it received (``upstream_sha256``), and the needed run stored now gives another, or none.
        A run stored before digests were recorded is outdated by a needed run stored after it finished."""
        record = self.of(run).get(run) if run.needs else None
        if record is None:
            return []
        received = record.get("upstream_sha256")
        if received:
            return [needed for needed in run.needs if self.digest(needed) != received.get(needed.key)]
        later = [(needed, self.of(needed).get(needed)) for needed in run.needs]
        return [needed for needed, made in later if made is not None and made["finished"] > record["finished"]]

    def runs_again(self, stale: Callable[[Run], bool]) -> Callable[[Run], bool]:
        """Whether a sweep makes a run: it is not stored, or has lost an artifact, or ``stale`` (made by code
        older than asked), or outdated, or a run it needs is stored but made again in this sweep (then it is made
        again after it)."""
        decided: dict[str, bool] = {}

        def again(run: Run) -> bool:
            if run.key not in decided:
                store = self.of(run)
                decided[run.key] = (not store.has(run) or bool(store.lost_artifacts(run)) or stale(run)
                                    or bool(self.outdated(run))
                                    or any(self.of(needed).has(needed) and again(needed) for needed in run.needs))
            return decided[run.key]
        return again

    def prepare(self, backend: str, making: Collection[str] = ()) -> Callable[[Job], Job | None]:
        """The job with its needed runs' results and artifacts attached, or None while one is not stored or is
        still to be made in this sweep (``making``: the keys of the runs not stored yet by it)."""
        def ready(job: Job) -> Job | None:
            if any(run.key in making for run in job.needs):
                return None
            upstream = [self.of(run).upstream(run) for run in job.needs]
            if any(u is None for u in upstream):
                return None
            scratch = self.scratch(job.members[0]) if backend == "local" and job.seeds is None else None
            return replace(job, upstream=tuple(upstream), scratch=scratch)
        return ready

    def scratch(self, run: Run) -> str:
        """A folder beside the store where a run may keep files to resume from (not committed)."""
        return str(self.of(run).root / "partial" / run.key)

    def clear_scratch(self, run: Run) -> None:
        shutil.rmtree(self.scratch(run), ignore_errors=True)


def upstream_first(missing: Sequence[Run], unavailable: Callable[[Run], bool]) -> list[Run]:
    """``missing`` with the runs they need that are ``unavailable`` (not stored, or an artifact missing), each
    needed run placed before the first run that needs it; otherwise in the given order."""
    ordered: list[Run] = []
    seen: set[str] = set()

    def visit(run: Run, needed: bool) -> None:
        if run.key in seen or (needed and not unavailable(run)):
            return
        for upstream in run.needs:
            visit(upstream, True)
        seen.add(run.key)
        ordered.append(run)

    for run in missing:
        visit(run, False)
    return ordered


def plan(runs: Sequence[Run], populations: bool) -> list[Job]:
    """The jobs that execute ``runs``: with ``populations`` one population job for every group of
    runs that differ only by their seeds, each of the others a job of its own; without, one job per run.

    Runs pool when their task has a population form (``tasks.population_task``), they need the same runs, and
    their configs differ only in ``seed_everything`` and the data module's batch-order seed (each member then
    trains on its own single run's batches, ``lightning_modules.member_batches``), and ``population_config``
    accepts them: a network ``vmap`` can batch (the GRU's seeds stay separate runs), seeds that do not repeat,
    per-member batch orders only where the seed changes nothing but the training batches.
    """
    if not populations:
        return [Job.of(run) for run in runs]
    from lightning_modules.member_batches import BATCH_ORDER_SEED, batch_order_seed
    from lightning_modules.population import population_config

    from .tasks import population_task

    forms: dict[str, str | None] = {}
    groups: dict[str, list[Run]] = {}
    for run in runs:
        if run.task not in forms:
            forms[run.task] = population_task(run.task)
        data = run.config.get("data")
        poolable = forms[run.task] is not None and "seed_everything" in run.config and isinstance(data, dict)
        if not poolable:
            groups[run.key] = [run]
            continue
        rest = {**{k: v for k, v in run.config.items() if k != "seed_everything"},
                "data": {k: v for k, v in data.items() if k != BATCH_ORDER_SEED}}
        point = json.dumps({"task": run.task, "config": rest, "needs": [r.key for r in run.needs]}, sort_keys=True)
        groups.setdefault(point, []).append(run)
    jobs = []
    for group in groups.values():
        config = None
        if len(group) > 1:
            seeds = tuple(int(run.config["seed_everything"]) for run in group)
            batch_seeds = [batch_order_seed(run.config["data"]) for run in group]
            try:
                config = population_config(group[0].config, seeds,
                                           batch_seeds if len(set(batch_seeds)) > 1 else None)
            except ValueError:  # a network vmap cannot batch, a callback for one network, ...: separate runs
                config = None
        jobs += ([Job(forms[group[0].task], config, tuple(group), seeds)] if config
                 else [Job.of(run) for run in group])
    return jobs


def split(job: Job, result: dict[str, Any]) -> list[tuple[Run, dict[str, Any]]]:
    """Each run of a finished job with its own result: a population task returns ``{"members": [...]}``, one
    result per member in ``job.members`` order, each under a single run's names."""
    if job.seeds is None:
        return [(job.members[0], result)]
    members = result.get("members")
    if not isinstance(members, list) or len(members) != len(job.members):
        raise ValueError(f"population job {job.label} returned {len(members) if isinstance(members, list) else 'no'} "
                         f"member results: expected {len(job.members)}")
    return list(zip(job.members, members))


def _backend(name: str, jobs: list[Job], workers: int | None, address: str | None,
             prepare: Callable[[Job], Job | None]) -> Iterable[backends.Outcome]:
    if not jobs:
        return iter(())
    if name == "local":
        return backends.local(jobs, workers or os.cpu_count() or 1, prepare)
    if name == "ray":
        from . import ray_backend

        return ray_backend.run(jobs, address, workers, prepare)
    raise ValueError(f"backend={name!r} is invalid: allowed 'local' or 'ray'")


def _progress(total: int, name: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=name, unit="run", disable=not enabled or total == 0, file=sys.stderr)


def collect(study: Study, quick: bool = False, seeds: Sequence[int] | None = None,
            out: Path | None = None) -> tuple[Results, list[Run]]:
    """The stored records of the protocol's runs, and the runs not in the store."""
    store = open_store(study, quick, seeds, out)
    records, missing = [], []
    for run in declared_runs(study, quick, seeds):
        record = store.get(run)
        if record is None:
            missing.append(run)
        else:
            records.append(record)
    return Results(records), missing


def report(study: Study, quick: bool = False, seeds: Sequence[int] | None = None, out: Path | None = None) -> str:
    """Write ``results.json``, ``table.md``, the figures and the ``README.md`` page from the store alone; return
    the table."""
    root = output_dir(study, quick, seeds, out)
    results, missing = collect(study, quick, seeds, out)
    claims = study.claims(results, quick) if results.records else []
    lines = [f"# {study.title}{' (quick protocol)' if quick else ''}", "", study.protocol(quick), "",
             study.table(results, quick).rstrip(), ""]
    if claims:
        lines += ["## Claims", "", "| claim | measured | paper | verdict |", "|---|---|---|---|"]
        lines += [f"| {c.claim} | {c.measured} | {c.paper} | {c.verdict} |" for c in claims]
        lines.append("")
    seconds = sum(r["seconds"] for r in results.records)
    lines.append(f"{len(results)} runs ({seconds / 60:.1f} min of run time in total, one torch thread each)"
                 + (f"; {len(missing)} runs of the protocol not run yet." if missing else ".")
                 + f" Report: `{command('report', study, quick, seeds, out)}`.")
    lines += ["", f"Made by: {made_by(results.records)}."] if results.records else []
    text = "\n".join(lines) + "\n"
    root.mkdir(parents=True, exist_ok=True)
    figures = study.figures(results, root) if results.records else []
    write_text(root / "results.json", json.dumps(
        {"study": study.name, "quick": quick, "claims": [asdict(c) for c in claims], "figures": figures,
         "missing": [run.tags for run in missing], "runs": results.records}, indent=1))
    write_text(root / "table.md", text)
    write_text(root / "README.md", page(text, figures))
    return text


def page(table: str, figures: Sequence[str]) -> str:
    """The study's page (``README.md``, shown by GitHub for the folder): its table, then its figures."""
    head, _, rest = table.partition("\n")
    shown = "".join(f"![{Path(name).stem}]({name})\n\n" for name in figures)
    return f"{head}\n{rest}" + (f"\n## Figures\n\n{shown}" if shown else "")


def made_by(records: Sequence[dict[str, Any]]) -> str:
    """Which code made the runs: each commit (or unknown) with its number of runs, most runs first."""
    counts: dict[str, int] = {}
    for record in records:
        phrase = describe(record.get("provenance"))
        counts[phrase] = counts.get(phrase, 0) + 1
    return "; ".join(f"{phrase}: {n} run{'s' if n > 1 else ''}"
                     for phrase, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def command(verb: str, study: Study, quick: bool, seeds: Sequence[int] | None, out: Path | None) -> str:
    """The command line that makes this report again."""
    custom = seeds is not None and tuple(seeds) != tuple(study.quick_seeds if quick else study.seeds)
    return (f"python -m experiments {verb} {study.name}" + (" --quick" if quick else "")
            + (f" --seeds {' '.join(str(s) for s in seeds)}" if custom else "")
            + (f" --out {out}" if out is not None else ""))


def status(study: Study, quick: bool = False, seeds: Sequence[int] | None = None, out: Path | None = None) -> str:
    """Which runs of the protocol are stored, by which code, and which are missing."""
    results, missing = collect(study, quick, seeds, out)
    head = code()
    current = {"commit": head["commit"], "dirty": False}
    other = [r for r in results.records if describe(r.get("provenance")) != describe(current)]
    lines = [f"{study.name}{' (quick)' if quick else ''}: {len(results)} stored, {len(missing)} missing, "
             f"{len(other)} made by code other than the checkout's ({describe(current)}"
             + (", which has local changes" if head["dirty"] else "") + ")"]
    if results.records:
        lines.append(f"  made by: {made_by(results.records)}")
    lines += [f"  missing: {run.label}" for run in missing]
    stores = Stores(study, quick, seeds, out)
    for run in declared_runs(study, quick, seeds):
        lost = stores.of(run).lost_artifacts(run)
        if lost:
            lines.append(f"  incomplete: {run.label} (its record lists {', '.join(lost)}, which the store has "
                         "lost; `run` makes it again, and the runs that need it after it)")
        changed = stores.outdated(run)
        if changed:
            lines.append(f"  out of date: {run.label} (made from an earlier result of "
                         f"{', '.join(needed.label for needed in changed)}; `run` makes it again)")
    return "\n".join(lines)
