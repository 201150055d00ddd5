"""Progress of a batch job: a bar with rate and ETA on a terminal (``rich``), plain
periodic lines otherwise (logs, CI, cron)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Progress", "format_seconds"]


def format_seconds(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class Progress:
    """``mode``: ``"bar"``, ``"log"``, ``"none"`` or ``"auto"`` (a bar when ``stream`` is a
    terminal and rich is installed, else log lines every ``every`` seconds)."""

    def __init__(
        self,
        total: int,
        done: int = 0,
        *,
        label: str = "batch",
        mode: str = "auto",
        every: float = 10.0,
        stream: TextIO | None = None,
    ) -> None:
        self.total, self.start_done, self.done = total, done, done
        self.errors = 0
        self.label, self.every = label, every
        self.stream = stream if stream is not None else sys.stderr
        self.t0 = self._last = time.monotonic()
        self._bar: Any = None
        if mode == "auto":
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "log"
        if mode == "bar":
            try:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
                from rich.progress import Progress as RichProgress
            except ImportError:
                mode = "log"
            else:
                self._bar = RichProgress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]} rows/s"),
                    TextColumn("errors {task.fields[errors]}"),
                    TextColumn("ETA"),
                    TimeRemainingColumn(),
                    console=Console(file=self.stream),
                    transient=False,
                )
                self._task = self._bar.add_task(label, total=total, completed=done, rate="-", errors=0)
                self._bar.start()
        self.mode = mode

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.t0
        return (self.done - self.start_done) / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else None

    def advance(self, n: int, errors: int = 0) -> None:
        self.done += n
        self.errors += errors
        if self._bar is not None:
            self._bar.update(self._task, advance=n, rate=f"{self.rate:.2f}", errors=self.errors)
        elif self.mode == "log" and time.monotonic() - self._last >= self.every:
            self._line()

    def _line(self) -> None:
        self._last = time.monotonic()
        pct = 100.0 * self.done / self.total if self.total else 100.0
        print(
            f"{self.label}: {self.done}/{self.total} rows ({pct:.1f} %), {self.rate:.2f} rows/s, "
            f"ETA {format_seconds(self.eta)}, errors {self.errors}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.mode == "log":
            self._line()
