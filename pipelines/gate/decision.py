"""The gate's rule as pure functions: per-user scores of every model in, a verdict with reasons out.

For each task (next item: a per-user metric averaged over users; churn: AUC over users):
- floor: the challenger beats the task's baseline on the same users: for next item the paired-bootstrap
  lower bound of (challenger - popularity) per user is above ``floor.margin``; churn's AUC against recency
  and chance;
- non-inferiority: the paired-bootstrap lower bound of (challenger - incumbent) is above -margin,
  overall and per segment (segments under ``segments.min_users`` are reported, not gated);
- minimum improvement (optional, per task): the mean difference must exceed it to replace the
  incumbent, so an equal challenger keeps the incumbent;
- ratchet: also non-inferior to the best champion of the last N decisions (no walk downhill);
- the first model ever: floors only, and the decision says so.
Infra and lineage problems found by the caller fail the decision too. Every rule leaves a
``RuleResult`` (gated or reported) with its numbers, so the audit row says why.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from pipelines.gate.stats import Interval, auc, paired_mean_difference, paired_statistic_difference

CHALLENGER, INCUMBENT, RATCHET = "challenger", "incumbent", "ratchet"
OVERALL = "overall"


@dataclass
class TaskScores:
    """One task on one set of users: ``values[model]`` is a per-user metric ("mean" tasks) or a
    per-user score ("auc" tasks, with ``labels``); ``segments[name]`` a bool mask over these users."""

    kind: str                                   # "mean" | "auc"
    metric: str                                 # e.g. "ndcg@10", "auc"
    values: dict[str, np.ndarray]
    baseline: str                               # key of ``values`` holding the baseline
    labels: np.ndarray | None = None
    segments: dict[str, np.ndarray] = field(default_factory=dict)
    reported: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # extra metrics, not gated

    @property
    def n(self) -> int:
        return len(next(iter(self.values.values()))) if self.values else 0

    def point(self, model: str, mask: np.ndarray | None = None) -> float:
        v = self.values[model] if mask is None else self.values[model][mask]
        if self.kind == "mean":
            return float(v.mean()) if len(v) else float("nan")
        lab = self.labels if mask is None else self.labels[mask]
        return auc(v, lab)


@dataclass
class RuleResult:
    rule: str              # floor | non_inferiority | min_improvement | ratchet | min_users | infra | lineage
    task: str
    segment: str
    passed: bool
    gated: bool
    estimate: float = float("nan")
    lower: float = float("nan")
    upper: float = float("nan")
    threshold: float = float("nan")
    n: int = 0
    compared_to: str = ""
    detail: str = ""

    def line(self) -> str:
        state = "ok" if self.passed else ("FAILED" if self.gated else "below (reported only)")
        where = f"{self.task}/{self.segment}" if self.segment != OVERALL else self.task
        nums = ""
        if not math.isnan(self.estimate):
            point = self.rule in ("floor", "min_users") and math.isnan(self.lower)  # a level, not a difference
            nums = f" {self.estimate:.4f}" if point else f" {self.estimate:+.4f}"
            if not math.isnan(self.lower):
                nums += f" [{self.lower:+.4f}, {self.upper:+.4f}]"
            if not math.isnan(self.threshold):
                nums += f" vs {self.threshold:.4f}" if point else f" vs {self.threshold:+.4f}"
        return f"{self.rule} {where}{' vs ' + self.compared_to if self.compared_to else ''}:{nums} n={self.n} {state}" + (
            f" ({self.detail})" if self.detail else "")


@dataclass
class Decision:
    passed: bool
    first_model: bool
    results: list[RuleResult]
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "fail"

    @property
    def failed(self) -> list[RuleResult]:
        return [r for r in self.results if r.gated and not r.passed]

    @property
    def reasons(self) -> list[str]:
        return self.notes + [r.line() for r in self.results]

    @property
    def summary(self) -> str:
        head = "PROMOTE" if self.passed else "KEEP INCUMBENT"
        why = "; ".join(r.line() for r in self.failed) or "every gated rule passed"
        return f"{head}: " + "; ".join([*self.notes, why])

    def rows(self) -> list[dict]:
        return [asdict(r) for r in self.results]


def _interval(task: TaskScores, a: str, b: str, mask: np.ndarray | None, boot: dict) -> Interval:
    kw = {"resamples": int(boot["resamples"]), "confidence": float(boot["confidence"]), "seed": int(boot["seed"])}
    if task.kind == "mean":
        va, vb = task.values[a], task.values[b]
        if mask is not None:
            va, vb = va[mask], vb[mask]
        return paired_mean_difference(va, vb, **kw)
    idx_all = np.arange(task.n) if mask is None else np.flatnonzero(mask)
    sa, sb, lab = task.values[a][idx_all], task.values[b][idx_all], task.labels[idx_all]
    return paired_statistic_difference(lambda i: auc(sa[i], lab[i]), len(idx_all),
                                       other=lambda i: auc(sb[i], lab[i]), **kw)


def floor_result(name: str, task: TaskScores, rule: dict, boot: dict) -> RuleResult:
    """The absolute floor against the task's baseline. ``floor.margin`` (per-user "mean" tasks): the
    paired-bootstrap lower bound of mean(challenger - baseline) over the same users must exceed it,
    so a model no better than popularity cannot pass on a lucky point estimate. ``max_below`` /
    ``min_value`` (AUC tasks): a point comparison with the baseline and with chance."""
    floor = rule.get("floor") or {}
    if "margin" in floor:
        if task.kind != "mean":
            raise ValueError(f"tasks.{name}.floor.margin needs a per-user metric; use max_below / min_value")
        margin = float(floor["margin"])
        confidence = float(floor.get("confidence", boot["confidence"]))
        iv = _interval(task, CHALLENGER, task.baseline, None, {**boot, "confidence": confidence})
        ok = bool(iv.lower > margin) and not math.isnan(iv.lower)
        gated = bool(floor.get("gated", True))
        detail = (f"{confidence:.0%} paired lower bound of {task.metric} - {task.baseline} "
                  f"({task.point(task.baseline):.4f}) must exceed {margin:+.4f}"
                  + ("" if gated else f"; tasks.{name}.floor.gated is false: reported, not gated"))
        return RuleResult("floor", name, OVERALL, ok, gated, iv.estimate, iv.lower, iv.upper, margin, iv.n,
                          task.baseline, detail)
    ours, base = task.point(CHALLENGER), task.point(task.baseline)
    threshold = max(base - float(floor.get("max_below", 0.0)), float(floor.get("min_value", -math.inf)))
    ok = bool(ours > threshold) and not math.isnan(ours)
    detail = (f"{task.metric} must exceed max({task.baseline} {base:.4f} - {floor.get('max_below', 0.0)}, "
              f"{floor.get('min_value', '-inf')})")
    return RuleResult("floor", name, OVERALL, ok, True, estimate=ours, threshold=threshold, n=task.n,
                      compared_to=task.baseline, detail=detail)


def comparison_results(name: str, task: TaskScores, rule: dict, rules: dict, other: str,
                       rule_name: str) -> list[RuleResult]:
    """Non-inferiority (overall and per segment) of the challenger against ``other``."""
    boot, seg = rules["bootstrap"], rules["segments"]
    out = []
    margin = float(rule["non_inferiority_margin"])
    iv = _interval(task, CHALLENGER, other, None, boot)
    out.append(RuleResult(rule_name, name, OVERALL, bool(iv.lower > -margin), True, iv.estimate, iv.lower,
                          iv.upper, -margin, iv.n, other))
    for segment, mask in task.segments.items():
        n = int(mask.sum())
        big = n >= int(seg["min_users"])
        gated = big and task.kind == "mean"
        if n == 0:
            continue
        iv = _interval(task, CHALLENGER, other, mask, boot) if big else None
        if iv is None:  # too small for an interval worth the name: the point difference, reported
            diff = task.point(CHALLENGER, mask) - task.point(other, mask)
            out.append(RuleResult(rule_name, name, segment, True, False, diff, n=n, compared_to=other,
                                  detail=f"under {seg['min_users']} users: reported, not gated"))
            continue
        seg_margin = float(seg["non_inferiority_margin"])
        ok = bool(iv.lower > -seg_margin) if not math.isnan(iv.lower) else not gated
        out.append(RuleResult(rule_name, name, segment, ok, gated, iv.estimate, iv.lower, iv.upper,
                              -seg_margin, n, other, "" if gated else "reported, not gated for this task"))
    return out


def decide(tasks: dict[str, TaskScores], rules: dict, *, has_incumbent: bool, has_ratchet: bool = False,
           infra_problems: list[str] | None = None, lineage_problems: list[str] | None = None) -> Decision:
    """The verdict. ``tasks[name].values`` holds ``challenger``, the baseline, and ``incumbent`` /
    ``ratchet`` when those exist (``ratchet`` = the best champion of the last N decisions on these
    users, only when it is not the incumbent)."""
    results: list[RuleResult] = []
    notes: list[str] = []
    for problem in lineage_problems or []:
        results.append(RuleResult("lineage", "all", OVERALL, False, True, detail=problem))
    first = not has_incumbent
    if first:
        notes.append("first model: no incumbent, so floors only (no non-inferiority, improvement or ratchet)")
    primary = next(iter(tasks), None)
    if primary is not None:
        n = tasks[primary].n
        need = int(rules["min_eval_users"])
        results.append(RuleResult("min_users", primary, OVERALL, n >= need, True, float(n), threshold=float(need),
                                  n=n, detail=f"at least {need} users with a target; a shop where most next items are "
                                  "repeats may want tasks.next_item.exclude_seen: false"))
    for name, task in tasks.items():
        rule = rules["tasks"][name]
        if task.n == 0 or (task.kind == "auc" and (task.labels is None or len(set(task.labels.tolist())) < 2)):
            results.append(RuleResult("floor", name, OVERALL, True, False, n=task.n,
                                      detail="no labelled users of both kinds on this holdout: not judged"))
            continue
        judged = [floor_result(name, task, rule, rules["bootstrap"])]
        if not first and INCUMBENT in task.values:
            judged.extend(comparison_results(name, task, rule, rules, INCUMBENT, "non_inferiority"))
            if rule.get("min_improvement") is not None:
                diff = task.point(CHALLENGER) - task.point(INCUMBENT)
                need = float(rule["min_improvement"])
                judged.append(RuleResult("min_improvement", name, OVERALL, bool(diff > need), True, diff,
                                         threshold=need, n=task.n, compared_to=INCUMBENT,
                                         detail="an equal challenger keeps the incumbent"))
        if has_ratchet and RATCHET in task.values:
            judged.extend(r for r in comparison_results(name, task, rule, rules, RATCHET, "ratchet")
                          if r.segment == OVERALL)
        if task.n < int(rule.get("min_users", 0)):  # too few users for this task: every rule reported
            for r in judged:
                r.gated = False
                r.detail = (r.detail + "; " if r.detail else "") + (
                    f"{name} has {task.n} users, under tasks.{name}.min_users {rule['min_users']}: reported, not gated")
        results.extend(judged)
    for problem in infra_problems or []:
        results.append(RuleResult("infra", "all", OVERALL, False, True, detail=problem))
    if infra_problems == []:
        results.append(RuleResult("infra", "all", OVERALL, True, True, detail="load and predict in a clean process"))
    passed = all(r.passed for r in results if r.gated)
    return Decision(passed, first, results, notes)
