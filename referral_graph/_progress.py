"""The command line's progress bar over named steps (shared by the CLI's modules)."""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["Progress"]


class Progress:
    """A step-by-step progress bar (tqdm) over named pipeline steps, on standard error.

    Shown only when standard error is a terminal and `enabled`; calling it with a
    step's name moves the bar on and names the step.

    Examples
    --------
    >>> progress = Progress(2, enabled=False, desc="report")
    >>> progress("reading"); progress("writing"); progress.close()
    """

    def __init__(self, total: int, *, enabled: bool, desc: str) -> None:
        self.bar: Any = None
        self.started = time.perf_counter()
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                desc=desc,
                unit="step",
                leave=False,
                file=sys.stderr,
                bar_format="{desc}: {n_fmt}/{total_fmt} {postfix} [{elapsed}]",
            )
        self._first = True

    def __call__(self, step: str) -> None:
        if self.bar is None:
            return
        if not self._first:
            self.bar.update(1)
        self._first = False
        self.bar.set_postfix_str(step)

    def close(self) -> None:
        """Fill the bar and remove it."""
        if self.bar is not None:
            self.bar.update(self.bar.total - self.bar.n)
            self.bar.close()
