"""Options that were renamed: a config written before the rename gets one line naming the new option.

jsonargparse refuses an unknown option with a message that depends on where it was given (a config file, the
command line, a dict) and, inside a class path, runs to several lines of union subtypes. ``renamed_option``
recognises the old names in those messages; ``build_cli`` turns them into a ``ConfigError`` that says what to
write instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Renamed:
    """An option's old and new names, why it changed, and the ways jsonargparse reports the old one."""

    old: str
    new: str
    why: str
    reported: tuple[str, ...]  # regular expressions over jsonargparse's message

    def message(self) -> str:
        return f"{self.old} was renamed {self.new}: {self.why}"


RENAMED = (
    Renamed("data.seed", "data.shuffle_seed",
            "it seeds only the shuffles of training rows (each epoch's batch order when not ordered, and the "
            "rows the holdout takes); the data's own seed is data.overrides.seed, the init's seed_everything",
            (r"does not accept option 'data\.seed'", r"Group 'data' does not accept option 'seed'",
             r"unrecognized arguments:.*--data\.seed\b")),
    Renamed("PoolingCNN's option variant", "pooling",
            "the same values (no_pool, stride_2, max_pool, avg_pool, l2_pool); variant names the dataset "
            "(data.variant)",
            (r"class_path '[\w.]*PoolingCNN': Option 'variant' is not accepted",)),
)


def renamed_option(error_message: str) -> Renamed | None:
    """The renamed option that ``error_message`` (jsonargparse's, for an unknown option) complains about."""
    text = " ".join(error_message.split())
    return next((r for r in RENAMED if any(re.search(p, text) for p in r.reported)), None)
