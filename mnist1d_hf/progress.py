"""Progress bars for long generation, quiet for the small datasets that take a blink."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from tqdm import autonotebook, std
from tqdm.auto import tqdm

FILE_INTERVAL = 30.0  # seconds between updates when stderr is a file: a line now and then, not a redrawn bar


@contextmanager
def progress_bar(total: int, desc: str, show: bool | None, threshold: int) -> Iterator[tqdm]:
    """A tqdm bar over ``total`` examples; ``show=None`` shows it only from ``threshold`` examples up.

    Redirected to a file, a text bar updates every ``FILE_INTERVAL`` seconds instead of ten times a second."""
    disable = (total < threshold) if show is None else not show
    to_a_file = autonotebook.tqdm is std.tqdm and not sys.stderr.isatty()  # a text bar (not a notebook's)
    with tqdm(total=total, desc=desc, unit="ex", unit_scale=True, disable=disable, leave=False,
              mininterval=FILE_INTERVAL if to_a_file else 0.1) as bar:
        yield bar
