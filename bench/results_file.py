"""Every benchmark writes what it measured to ``bench/results/<name>.json``: when, on what, every timing, the
medians and the ratios. The README's speed tables quote these files. No torch here: the generator bench uses it."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mnist1d_hf.atomic import write_text  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name: str, measurements: dict[str, Any]) -> Path:
    """Write ``measurements`` with the date and the machine to ``bench/results/<name>.json``; return the path."""
    record = {"benchmark": name, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": {"platform": platform.platform(), "processor": platform.machine(),
                          "cpus": os.cpu_count(), "python": platform.python_version()},
              **measurements}
    path = RESULTS / f"{name}.json"
    RESULTS.mkdir(exist_ok=True)
    write_text(path, json.dumps(record, indent=1))
    print(f"wrote {path}")
    return path
