"""PNG plots of a report, drawn with matplotlib's Agg backend (the `report` extra)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def write_plots(report: dict[str, Any], folder: Path) -> list[Path]:
    """Write the report's plots into `folder`; without matplotlib, log a warning and write none."""
    try:
        # Figure with the Agg canvas avoids pyplot: no global figure state and a faster import.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        logger.warning("matplotlib is not installed, so no plots were written; install it with: "
                       "pip install 'ctiforge[report]'")
        return []
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def new_axes(width: float) -> tuple[Any, Any]:
        figure = Figure(figsize=(width, 4))
        FigureCanvasAgg(figure)
        return figure, figure.add_subplot()

    for name, task in report["tasks"].items():
        breakdowns = task.get("breakdowns") or {}
        if breakdowns.get("top_gold_cwes"):
            written.append(_bars(new_axes, breakdowns["top_gold_cwes"], folder / f"{name}-top-cwes.png",
                                 f"{name}: accuracy (strict) for the most frequent gold CWEs"))
        if breakdowns.get("by_source"):
            written.append(_bars(new_axes, breakdowns["by_source"], folder / f"{name}-by-source.png",
                                 f"{name}: accuracy (strict) by question source"))
        if breakdowns.get("letters"):
            written.append(_letters(new_axes, breakdowns["letters"], folder / f"{name}-letters.png",
                                    f"{name}: predicted answer letters against gold"))
    return written


def _bars(new_axes: Any, rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    figure, axes = new_axes(max(6, 0.45 * len(rows) + 2))
    labels = [f"{row['group']}\n(n={row['n']})" for row in rows]
    axes.bar(range(len(rows)), [row["accuracy"] for row in rows], color="#3b6ea5")
    axes.set_xticks(range(len(rows)), labels, rotation=60 if len(rows) > 6 else 0, ha="right" if len(rows) > 6 else "center",
                    fontsize=8)
    axes.set_ylim(0, 1)
    axes.set_ylabel("accuracy")
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path


def _letters(new_axes: Any, letters: dict[str, dict[str, float]], path: Path, title: str) -> Path:
    keys = sorted(set(letters["predicted"]) | set(letters["gold"]))
    figure, axes = new_axes(6)
    positions = range(len(keys))
    axes.bar([p - 0.2 for p in positions], [letters["predicted"].get(k, 0) for k in keys], width=0.4, label="predicted")
    axes.bar([p + 0.2 for p in positions], [letters["gold"].get(k, 0) for k in keys], width=0.4, label="gold")
    axes.set_xticks(list(positions), keys)
    axes.set_ylabel("items per trial")
    axes.set_title(title, fontsize=10)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path
