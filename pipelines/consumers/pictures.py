"""The pictures people look at: pure plotting functions (matplotlib, Agg) that return PNG bytes, and
the markdown that shows a PNG in the Dagster UI (``MetadataValue.md`` with a data URI).

- ``item_map``        a 2-D map (PCA) of the item vectors, coloured by a label (category, palette)
- ``metric_history``  the champion's metric per task across nights (one line per task / metric)
- ``calibration``     predicted P(churn) against the observed rate, per bin, beside the diagonal
- ``gate_chart``      the gate's scores per task: challenger, champion and baselines side by side
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import numpy as np


def _figure(width: float = 6.0, height: float = 4.0):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt, plt.subplots(figsize=(width, height), dpi=80)


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown that embeds the PNG itself (no file server needed): what the asset page renders."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """(n, 2) projection on the two main axes of the centred vectors (zeros for < 2 vectors)."""
    v = np.asarray(vectors, np.float64)
    if v.ndim != 2 or len(v) < 2:
        return np.zeros((len(v), 2))
    v = v - v.mean(0)
    _, _, vt = np.linalg.svd(v, full_matrices=False)
    out = v @ vt[:2].T
    return out if out.shape[1] == 2 else np.column_stack([out, np.zeros(len(v))])


def item_map(vectors: np.ndarray, labels: Sequence[str | None], title: str = "item vectors") -> bytes:
    """Scatter of the items' 2-D PCA, one colour per label (None: grey, "unlabelled")."""
    xy = pca_2d(vectors)
    plt, (fig, ax) = _figure(6.5, 5.0)
    names = sorted({str(x) for x in labels if x is not None})
    cmap = plt.get_cmap("tab20" if len(names) > 10 else "tab10")
    lab = np.asarray([None if x is None else str(x) for x in labels], dtype=object)
    for i, name in enumerate(names):
        m = lab == name
        ax.scatter(xy[m, 0], xy[m, 1], s=14, color=cmap(i % cmap.N), label=name, alpha=0.8)
    m = np.asarray([x is None for x in lab], bool)
    if m.any():
        ax.scatter(xy[m, 0], xy[m, 1], s=10, color="lightgrey", label="unlabelled", alpha=0.6)
    ax.set_title(title)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    if names:
        ax.legend(fontsize=7, loc="best", markerscale=1.2, ncol=2 if len(names) > 8 else 1)
    return _png(plt, fig)


def metric_history(history: Mapping[str, Sequence[tuple[str, float]]], title: str = "champion per night") -> bytes:
    """One line per series ("task metric") over the nights' labels (in order)."""
    plt, (fig, ax) = _figure(6.5, 4.0)
    for name, points in sorted(history.items()):
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    ax.set_title(title)
    ax.set_xlabel("night (version)")
    ax.set_ylabel("score")
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    if history:
        ax.legend(fontsize=7)
    return _png(plt, fig)


def calibration(bins: Sequence[tuple[float, float, int]], title: str = "churn calibration") -> bytes:
    """Observed churn rate against the mean predicted probability per bin (``quality.reliability``)."""
    plt, (fig, ax) = _figure(4.5, 4.5)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    if bins:
        pred, obs, n = (np.asarray(x, np.float64) for x in zip(*bins, strict=True))
        ax.plot(pred, obs, marker="o", label="champion")
        for p, o, c in zip(pred, obs, n, strict=True):
            ax.annotate(str(int(c)), (p, o), fontsize=6, textcoords="offset points", xytext=(3, 3))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted P(churn)")
    ax.set_ylabel("observed churn rate")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left")
    return _png(plt, fig)


def gate_chart(scores: Sequence[Mapping], segment: str = "overall", title: str = "gate: champion vs challenger") -> bytes:
    """Grouped bars: per task and metric of ``segment``, one bar per model (challenger, incumbent, baselines)."""
    rows = [s for s in scores if s.get("segment") == segment]
    groups = sorted({(s["task"], s["metric"]) for s in rows})
    models = sorted({s["model"] for s in rows}, key=lambda m: (m != "challenger", m != "incumbent", m))
    value = {(s["task"], s["metric"], s["model"]): float(s["value"]) for s in rows}
    plt, (fig, ax) = _figure(6.5, 4.0)
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(groups))
    for j, model in enumerate(models):
        ys = [value.get((t, m, model), np.nan) for t, m in groups]
        ax.bar(x + j * width - 0.4 + width / 2, ys, width, label=model)
    ax.set_xticks(x, [f"{t}\n{m}" for t, m in groups], fontsize=8)
    ax.set_ylabel("score")
    ax.set_title(title)
    if models:
        ax.legend(fontsize=7)
    return _png(plt, fig)
