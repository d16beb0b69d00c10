"""Progress bars for long generation, quiet for the small datasets that take a blink."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from tqdm.auto import tqdm


@contextmanager
def progress_bar(total: int, desc: str, show: bool | None, threshold: int) -> Iterator[tqdm]:
    """A tqdm bar over ``total`` examples; ``show=None`` shows it only from ``threshold`` examples up."""
    disable = (total < threshold) if show is None else not show
    with tqdm(total=total, desc=desc, unit="ex", unit_scale=True, disable=disable, leave=False) as bar:
        yield bar
