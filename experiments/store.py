"""``RunStore``: one JSON file per finished run, named by the run's key, written atomically.

Only finished runs are ever written, so a sweep killed at any moment leaves a store that holds exactly the runs
that finished; running the study again runs only the others.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mnist1d_hf.atomic import write_text

from .runs import Run


class RunStore:
    """The finished runs of one study under ``root/runs/``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.folder = self.root / "runs"

    def path(self, run: Run) -> Path:
        return self.folder / f"{run.key}.json"

    def has(self, run: Run) -> bool:
        return self.path(run).is_file()

    def get(self, run: Run) -> dict[str, Any] | None:
        """The stored record of ``run``, or None if it has not finished."""
        path = self.path(run)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"stored run {path} is not valid JSON ({err}); delete it to run it again") from err

    def put(self, run: Run, result: dict[str, Any], seconds: float, study: str,
            population: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record a finished run and return the record; ``population`` says which seeds it trained with, if it
        was a member of a population job (``seconds`` is then its share of the job's time)."""
        record = {"key": run.key, "study": study, "tags": run.tags, "task": run.task, "config": run.config,
                  "result": result, "seconds": round(seconds, 3),
                  "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "machine": platform.machine(), "python": platform.python_version()}
        if population is not None:
            record["population"] = population
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text(self.path(run), json.dumps(record, indent=1))
        return record
