"""One gate decision, end to end, outside Dagster (the asset check calls it; tests may too).

lineage -> frozen evaluation set -> scores of challenger, incumbent, baselines and the ratchet's best
recent champion -> infra check in a clean process -> the rule -> one audit row. A rerun for the same
run chain and candidate finds its row and returns it instead of deciding twice.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipelines.gate import audit
from pipelines.gate.aliases import CHAMPION, version_for_alias
from pipelines.gate.decision import CHALLENGER, INCUMBENT, RATCHET, Decision, decide
from pipelines.gate.evaluation_set import EvaluationSetError, freeze
from pipelines.gate.lineage import lineage_problems
from pipelines.gate.report import decision_table, score_rows
from pipelines.gate.rules import rules_hash
from pipelines.gate.smoke import run_smoke_check
from pipelines.gate.tasks import EvaluationData

# fault injection for the crash-safety test: pause while scoring (after the challenger, before the
# incumbent, the ratchet, the infra check and the audit row), and say so in a file
SCORING_PAUSE_ENV, SCORING_MARKER_ENV = "COREBRAIN_TEST_PAUSE_IN_SCORING_S", "COREBRAIN_TEST_SCORING_MARKER"


def _pause_if_asked(version: str) -> None:
    if os.environ.get(SCORING_PAUSE_ENV):
        Path(os.environ[SCORING_MARKER_ENV]).write_text(version)
        time.sleep(float(os.environ[SCORING_PAUSE_ENV]))


@dataclass
class Candidate:
    version: str
    shards_dir: Path
    expected_tags: dict                  # lineage tags the version must carry (run, shards manifest)


@dataclass
class Outcome:
    row: dict
    decision: Decision | None = None     # None when an earlier attempt's row was reused
    table: str = ""
    reused: bool = False
    metrics: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.row["verdict"] == "pass"


def _load(uri: str):
    from models.evaluate import load_logged_model

    return load_logged_model(uri)


def judge(client, name: str, candidate: Candidate, rules: dict, *, home: Path, lake: Path, run_id: str,
          root_run_id: str, trigger: str, log: Callable[[str], None] = print) -> Outcome:
    existing = audit.gate_row_for(lake, root_run_id, candidate.version)
    if existing is not None:
        log(f"decision {existing['decision_id']} for version {candidate.version} already taken by this run "
            f"chain ({existing['verdict']}): reusing it")
        return Outcome(existing, reused=True)

    rh = rules_hash(rules)
    version = client.get_model_version(name, candidate.version)
    lineage = lineage_problems(version.tags, candidate.expected_tags)
    manifest = candidate.shards_dir / "manifest.json"
    want = candidate.expected_tags.get("shards_manifest_sha256")
    if not manifest.is_file():
        lineage.append(f"{candidate.shards_dir} has no manifest.json: the shards this run trained on are gone")
    elif want and hashlib.sha256(manifest.read_bytes()).hexdigest() != want:
        lineage.append(f"{candidate.shards_dir} was rewritten after this run trained on it (manifest sha256 "
                       "differs, another run?): rerun the nightly job")
    incumbent = version_for_alias(client, name, CHAMPION)
    incumbent_v = None if incumbent is None or str(incumbent.version) == candidate.version else str(incumbent.version)

    es = None
    if not lineage:
        try:
            es = freeze(candidate.shards_dir, home / "evaluations", rules)
        except EvaluationSetError as exc:
            lineage.append(str(exc))
    tasks, infra, notes, table = {}, [], [], ""
    decision = None
    if es is not None:
        data = EvaluationData(es, rules)
        log(f"evaluation set {es.sha256[:16]}: {es.meta['n_users']} users, {len(data.next_rows)} with a "
            f"next-item target ({es.meta['protocol']}), {int(data.churned.sum())} churned")
        per_model: dict[str, dict[str, np.ndarray]] = {}
        try:
            reader, ids = _load(f"models:/{name}/{candidate.version}")
            infra += [f"vocabulary: {p}" for p in data.vocabulary_problems(ids, reader.n_items)]
            if not infra:
                per_model[CHALLENGER] = data.score(reader)
                _pause_if_asked(candidate.version)
        except Exception as exc:  # noqa: BLE001 - an unloadable artifact is a verdict, not a crash
            infra.append(f"unloadable artifact: {type(exc).__name__}: {exc}")
        if CHALLENGER in per_model:
            for task, values in per_model[CHALLENGER].items():
                if not np.all(np.isfinite(values)):
                    infra.append(f"{task}: {int((~np.isfinite(values)).sum())} NaN or infinite scores")
        if incumbent_v is not None:
            try:
                reader_i, ids_i = _load(f"models:/{name}/{incumbent_v}")
                if data.vocabulary_problems(ids_i, reader_i.n_items):
                    raise ValueError("its vocabulary differs from the shards'")
                per_model[INCUMBENT] = data.score(reader_i)
            except Exception as exc:  # noqa: BLE001
                notes.append(f"incumbent v{incumbent_v} could not be scored ({exc}): floors and ratchet only")
        best = _ratchet(data, name, rules, lake, exclude={candidate.version, incumbent_v}, per_model=per_model,
                        log=log)
        if best is not None:
            notes.append(f"ratchet: best recent champion on this set is v{best}")
        infra += _infra(name, candidate.version, data, rules) if CHALLENGER in per_model else []
        if CHALLENGER not in per_model:  # nothing to score: placeholders keep the table honest
            per_model[CHALLENGER] = {k: np.full_like(v, np.nan) for k, v in data.score(None).items()}
        tasks = data.task_scores(per_model)
        decision = decide(tasks, rules, has_incumbent=INCUMBENT in per_model, has_ratchet=best is not None,
                          infra_problems=infra)
        decision.notes[:0] = notes
        table = decision_table(tasks, decision)
    if decision is None:  # lineage refused: nothing was scored
        decision = decide({}, rules, has_incumbent=incumbent_v is not None, lineage_problems=lineage)
    row = audit.new_row(
        kind="gate", verdict=decision.verdict, run_id=run_id, root_run_id=root_run_id, trigger=trigger,
        candidate=candidate.version, incumbent=incumbent_v,
        champion_after=candidate.version if decision.passed else incumbent_v,
        evaluation_sha256=es.sha256 if es else "", rules_sha256=rh, first_model=decision.first_model,
        failed_rules=[r.line() for r in decision.failed], notes=decision.notes, results=decision.rows(),
        scores=score_rows(tasks))
    audit.write_row(lake, home, row)
    log(decision.summary)
    return Outcome(row, decision, table, metrics=_metrics(tasks, decision))


def _ratchet(data: EvaluationData, name: str, rules: dict, lake: Path, *, exclude: set, per_model: dict,
             log) -> str | None:
    """Score the champions of the last N decisions; keep the best as ``ratchet`` when it beats the
    incumbent on the primary metric (else the incumbent comparison already covers it)."""
    versions = [v for v in audit.recent_champions(audit.read_rows(lake), int(rules["ratchet"]["last_n"]))
                if v not in exclude]
    floor = per_model[INCUMBENT]["next_item"].mean() if INCUMBENT in per_model else -math.inf
    best, best_value, best_scores = None, floor, None
    for v in versions:
        try:
            reader, ids = _load(f"models:/{name}/{v}")
            if data.vocabulary_problems(ids, reader.n_items):
                continue
            scores = data.score(reader)
        except Exception as exc:  # noqa: BLE001
            log(f"ratchet: v{v} could not be scored ({exc}); skipped")
            continue
        if scores["next_item"].mean() > best_value:
            best, best_value, best_scores = v, scores["next_item"].mean(), scores
    if best is not None:
        per_model[RATCHET] = best_scores
    return best


def _infra(name: str, version: str, data: EvaluationData, rules: dict) -> list[str]:
    """The clean-process check on a batch of real histories (repeated up to the batch size)."""
    n = int(rules["infra"]["batch_histories"])
    ids = data.item_ids
    rows = data.next_rows if len(data.next_rows) else data.churn_rows
    hist = [[ids[i] for i in data.store.items[data.store.offsets[r]:data.store.offsets[r + 1]] if 0 < i < len(ids)]
            for r in rows[:n]]
    hist = [h for h in hist if h] or [[]]
    batch = (hist * (n // len(hist) + 1))[:n]
    ok, detail = run_smoke_check(f"models:/{name}/{version}", batch, k=int(rules["k"]),
                                 vocabulary=[s for s in ids if s is not None],
                                 latency_budget_s=float(rules["infra"]["latency_budget_s"]),
                                 exclude_seen=bool(rules["tasks"]["next_item"]["exclude_seen"]))
    return [] if ok else [f"clean-process check: {detail}"]


def _metrics(tasks, decision: Decision) -> dict[str, float]:
    """A few numbers for the MLflow run: each model's overall value per task, each gated interval."""
    out = {}
    for name, task in tasks.items():
        for model in task.values:
            v = task.point(model)
            if math.isfinite(v):
                out[f"gate/{name}/{model}"] = v
    for r in decision.results:
        if r.gated and r.segment == "overall" and math.isfinite(r.estimate) and r.rule in (
                "non_inferiority", "ratchet", "min_improvement"):
            out[f"gate/{r.task}/{r.rule}/estimate"] = r.estimate
            if math.isfinite(r.lower):
                out[f"gate/{r.task}/{r.rule}/lower"] = r.lower
    return out
