"""Rows of the result table, the statistics behind them, and the machine they were measured on."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

NOT_APPLICABLE = "—"


@dataclass
class Row:
    """One line of the table. `measured` is what a reader sees; `values` keeps the numbers behind it
    (medians over rounds), so tests and later tooling need not parse text."""

    what: str
    measured: str
    target: str = NOT_APPLICABLE
    met: bool | None = None
    values: dict[str, float] = field(default_factory=dict)

    @property
    def met_text(self) -> str:
        return NOT_APPLICABLE if self.met is None else ("yes" if self.met else "no")


def median(values) -> float:
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else float("nan")


def percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


def at_most(what: str, value: float, limit: float, shown: str, target: str) -> Row:
    """A target row: met when value <= limit (a NaN, i.e. not measured, is never met)."""
    return Row(what, shown, target, bool(value <= limit), {"value": value, "limit": limit})


def at_least(what: str, value: float, limit: float, shown: str, target: str) -> Row:
    return Row(what, shown, target, bool(value >= limit), {"value": value, "limit": limit})


def judged_at(row: Row, size: int, required: int = 1_000_000) -> Row:
    """A target the issue sets at one size (1M items): below it the row is shown but not judged."""
    if size < required:
        row.met = None
        row.target += f", not judged at {items(size)}"
    return row


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds < 0.1 else f"{seconds * 1e3:.0f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def duration(seconds: float) -> str:
    """µs below a millisecond, else ms."""
    return us(seconds) if seconds < 1e-3 else ms(seconds)


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.0f} MiB" if n_bytes >= 2**20 else f"{n_bytes / 2**20:.2f} MiB"


def times(ratio: float) -> str:
    """A ratio, with a third decimal below 1 so that 0.698 is not shown as the 0.70 it misses."""
    return f"{ratio:.3f}×" if ratio < 1 else f"{ratio:.2f}×" if ratio < 10 else f"{ratio:,.0f}×"


def items(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else f"{n:,}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def machine_description() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{_cpu_model()}, {os.cpu_count()} cores, {_memory_gib():.1f} GiB memory, "
            f"Python {platform.python_version()} on {platform.system()} {platform.release()}; "
            f"load average at start {load}")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(title: str, machine: str, rows: list[Row], notes: list[str]) -> str:
    lines = [f"# {title}", "", f"Machine: {machine}", "",
             "| what | measured (median of rounds) | target | met |", "|---|---|---|---|"]
    lines += [f"| {_cell(r.what)} | {_cell(r.measured)} | {_cell(r.target)} | {r.met_text} |" for r in rows]
    if notes:
        lines += ["", "Notes:", *[f"- {note}" for note in notes]]
    return "\n".join(lines) + "\n"
