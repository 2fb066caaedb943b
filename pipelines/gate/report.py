"""The champion-vs-challenger table (tasks x segments, with intervals) and flat score rows (pure)."""

from __future__ import annotations

import math

import numpy as np

from pipelines.gate.decision import CHALLENGER, INCUMBENT, OVERALL, Decision, TaskScores


def _fmt(x: float, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:+.4f}" if signed else f"{x:.4f}"


def score_rows(tasks: dict[str, TaskScores]) -> list[dict]:
    """task x segment x model point values, for the audit row's ``scores``."""
    out = []
    for name, task in tasks.items():
        masks = {OVERALL: None, **task.segments}
        for segment, mask in masks.items():
            n = task.n if mask is None else int(mask.sum())
            if n == 0:
                continue
            for model in task.values:
                out.append({"task": name, "segment": segment, "model": model, "metric": task.metric,
                            "value": task.point(model, mask), "n": n})
            for metric, values in task.reported.items():
                for model, v in values.items():
                    vv = v if mask is None else v[mask]
                    out.append({"task": name, "segment": segment, "model": model, "metric": metric,
                                "value": float(np.mean(vv)) if len(vv) else float("nan"), "n": n})
    return out


def decision_table(tasks: dict[str, TaskScores], decision: Decision) -> str:
    """Markdown: one line per task and segment: users, challenger, incumbent, baseline, the paired
    difference with its interval, and the rule's state (gated / reported)."""
    comparisons = {(r.task, r.segment): r for r in decision.results if r.rule == "non_inferiority"}
    lines = ["| task | segment | users | challenger | incumbent | baseline | challenger - incumbent [lower, upper] | rule |",
             "|---|---|---|---|---|---|---|---|"]
    for name, task in tasks.items():
        for segment, mask in {OVERALL: None, **task.segments}.items():
            n = task.n if mask is None else int(mask.sum())
            if n == 0:
                continue
            inc = task.point(INCUMBENT, mask) if INCUMBENT in task.values else float("nan")
            r = comparisons.get((name, segment))
            if r is None:
                interval, state = "-", "floors only" if INCUMBENT not in task.values else "-"
            else:
                interval = f"{_fmt(r.estimate, True)} [{_fmt(r.lower, True)}, {_fmt(r.upper, True)}]"
                state = ("pass" if r.passed else "FAIL") if r.gated else "reported"
            lines.append(f"| {name} ({task.metric}) | {segment} | {n} | {_fmt(task.point(CHALLENGER, mask))} | "
                         f"{_fmt(inc)} | {task.baseline} {_fmt(task.point(task.baseline, mask))} | {interval} | {state} |")
    failed = decision.failed
    lines.append("")
    lines.append(f"**verdict: {decision.verdict}**" + (" (first model: floors only)" if decision.first_model else ""))
    for r in failed:
        lines.append(f"- failed: {r.line()}")
    return "\n".join(lines)
