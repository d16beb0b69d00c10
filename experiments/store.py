"""``RunStore``: one JSON file per finished run, named by the run's key, and its artifacts beside it; all written
atomically.

Only finished runs are ever written, so a sweep killed at any moment leaves a store that holds exactly the runs
that finished; running the study again runs only the others. A run's artifacts are written before its record, so
a stored run always has the artifacts its record lists.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mnist1d_hf.atomic import write_file, write_text

from .runs import Run, Upstream


class RunStore:
    """The finished runs of one study under ``root/runs/``: ``<key>.json`` and the folder ``<key>/`` of its
    artifacts. ``also``: stores read when this one does not hold a run (an ad-hoc report reads the canonical
    store's runs without writing there)."""

    def __init__(self, root: Path, also: tuple[RunStore, ...] = ()) -> None:
        self.root = Path(root)
        self.folder = self.root / "runs"
        self.also = also

    def path(self, run: Run) -> Path:
        return self.folder / f"{run.key}.json"

    def artifact_folder(self, run: Run) -> Path:
        return self.folder / run.key

    def _holder(self, run: Run) -> RunStore | None:
        """The store whose own folder holds ``run``: this one, or one it reads through."""
        if self.path(run).is_file():
            return self
        return next((holder for store in self.also if (holder := store._holder(run)) is not None), None)

    def has(self, run: Run) -> bool:
        return self._holder(run) is not None

    def get(self, run: Run) -> dict[str, Any] | None:
        """The stored record of ``run``, or None if it has not finished."""
        holder = self._holder(run)
        if holder is None:
            return None
        path = holder.path(run)
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"stored run {path} is not valid JSON ({err}); delete it to run it again") from err

    def lost_artifacts(self, run: Run) -> list[str]:
        """The artifacts the stored record of ``run`` lists that are not in the store (a store copied without
        them): such a run is incomplete and runs again. Empty if it is not stored."""
        holder = self._holder(run)
        return [] if holder is None else holder._absent(run, holder.get(run))

    def _absent(self, run: Run, record: dict[str, Any]) -> list[str]:
        """The artifacts ``record`` lists that this store's folder of ``run`` does not hold."""
        return [name for name in record.get("artifacts", []) if not (self.artifact_folder(run) / name).is_file()]

    def upstream(self, run: Run) -> Upstream | None:
        """What a run that needs ``run`` receives: its result and its artifacts; None if it is not stored, or if
        an artifact its record lists is missing (then it must run again)."""
        holder = self._holder(run)
        if holder is None:
            return None
        record = holder.get(run)
        if holder._absent(run, record):
            return None
        artifacts = {name: (holder.artifact_folder(run) / name).read_bytes() for name in record.get("artifacts", [])}
        return Upstream(record["result"], artifacts)

    def put(self, run: Run, result: dict[str, Any], seconds: float, study: str,
            population: dict[str, Any] | None = None, artifacts: dict[str, bytes] | None = None,
            provenance: dict[str, Any] | None = None, received: Sequence[Upstream] = ()) -> dict[str, Any]:
        """Record a finished run and return the record.

        ``population`` says which seeds it trained with, if it was a member of a population job (``seconds`` is
        then its share of the job's time); ``artifacts`` are files kept beside it; ``provenance`` the code and
        environment that made it; ``received`` what it was handed of the runs it needs (their digests are kept
        as ``upstream_sha256``, see ``outdated``).
        """
        record = {"key": run.key, "study": study, "tags": run.tags, "task": run.task, "config": run.config,
                  "result": result, "seconds": round(seconds, 3),
                  "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        if run.needs:
            record["needs"] = [needed.key for needed in run.needs]
        if received:
            if len(received) != len(run.needs):
                raise ValueError(f"run {run.label} needs {len(run.needs)} runs but received {len(received)}")
            record["upstream_sha256"] = {needed.key: got.digest() for needed, got in zip(run.needs, received)}
        if artifacts:
            record["artifacts"] = sorted(artifacts)
            for name, data in artifacts.items():
                if Path(name).name != name or name.startswith("."):
                    raise ValueError(f"artifact name {name!r} is invalid: allowed a plain file name")
                write_file(self.artifact_folder(run) / name, lambda tmp, data=data: tmp.write_bytes(data))
        if population is not None:
            record["population"] = population
        if provenance is not None:
            record["provenance"] = provenance
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text(self.path(run), json.dumps(record, indent=1))
        return record
