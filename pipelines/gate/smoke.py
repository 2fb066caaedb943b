"""Infra check in a clean process: the gate's proof that consumers can use the exact version.

``python -m pipelines.gate.smoke MODEL_URI REQUEST_JSON_FILE`` loads the pyfunc by URI the way a
downstream consumer would and, in that fresh process: predicts on the model's logged input example
(when it has one), then on a batch of histories (the gate sends 1,000), checks shapes, that every id
returned is in the vocabulary, that no score is NaN, (for a model that serves ``task=churn``) that
probabilities are in [0, 1], and that the batch took less than the latency budget; prints one JSON
line. :func:`run_smoke_check` starts that process and reads the line back.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence


def recommendation_problems(histories: Sequence[Sequence[str]], answers: Sequence[Sequence[str]],
                            k: int, vocabulary: set[str] | None = None,
                            scores: Sequence[Sequence[float]] | None = None,
                            exclude_seen: bool = True) -> list[str]:
    """What is wrong with a batch of answers (empty when every answer is k distinct items from the
    vocabulary, unseen when ``exclude_seen``, with finite scores)."""
    problems = []
    if len(answers) != len(histories):
        return [f"{len(answers)} answers for {len(histories)} histories"]
    for i, (history, items) in enumerate(zip(histories, answers, strict=True)):
        items = list(items)
        if len(items) != k:
            problems.append(f"history {i}: {len(items)} items, expected {k}")
        if len(set(items)) != len(items):
            problems.append(f"history {i}: repeated items")
        seen = set(history) & set(items)
        if exclude_seen and seen:
            problems.append(f"history {i}: recommends items already in the history: {sorted(seen)[:3]}")
        if vocabulary is not None:
            unknown = [x for x in items if x not in vocabulary]
            if unknown:
                problems.append(f"history {i}: ids not in the vocabulary: {unknown[:3]}")
        if scores is not None and any(not math.isfinite(float(s)) for s in scores[i]):
            problems.append(f"history {i}: NaN or infinite scores")
        if len(problems) >= 10:
            break
    return problems


def probability_problems(values: Sequence[float]) -> list[str]:
    bad = [v for v in values if not (isinstance(v, int | float) and math.isfinite(v) and 0.0 <= v <= 1.0)]
    return [f"{len(bad)} churn probabilities outside [0, 1] or NaN (e.g. {bad[:3]})"] if bad else []


def run_smoke_check(model_uri: str, histories: Sequence[Sequence[str]], k: int = 10, *,
                    vocabulary: Sequence[str] | None = None, latency_budget_s: float = 0.0,
                    exclude_seen: bool = True, timeout_s: float = 300) -> tuple[bool, str]:
    """(ok, detail) from a fresh Python process that loads ``model_uri`` and predicts."""
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    request = {"histories": [list(h) for h in histories], "k": k, "vocabulary": list(vocabulary or []),
               "latency_budget_s": latency_budget_s, "exclude_seen": exclude_seen}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(request, handle)
    try:
        proc = subprocess.run([sys.executable, "-m", "pipelines.gate.smoke", model_uri, handle.name],
                              capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return False, f"the clean process did not finish within {timeout_s:.0f} s"
    finally:
        os.unlink(handle.name)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return False, f"cannot load or predict (exit {proc.returncode}): " + " | ".join(tail)
    report = json.loads(lines[-1])
    if report["problems"]:
        return False, "; ".join(report["problems"][:5])
    return True, (f"input example + {len(histories)} histories, top-{k} each, batch {report['batch_seconds']:.2f} s"
                  f" (budget {latency_budget_s or 'none'}), {report['seconds']:.1f} s in a new process")


def _input_example(model_uri: str):
    from mlflow.models import Model

    try:
        return Model.load(model_uri).load_input_example()
    except Exception:  # noqa: BLE001 - an absent or unreadable example is reported, not fatal
        return None


def _main(argv: list[str]) -> int:
    import time

    start = time.perf_counter()
    model_uri, request = argv[0], json.loads(open(argv[1]).read())
    histories, k = request["histories"], int(request["k"])
    vocabulary = set(request["vocabulary"]) or None
    import mlflow.pyfunc
    import pandas as pd

    model = mlflow.pyfunc.load_model(model_uri)
    problems: list[str] = []
    example = _input_example(model_uri)
    if example is not None:
        try:
            out = model.predict(example, params={"k": k})
            if len(out) != len(example):
                problems.append(f"input example: {len(out)} answers for {len(example)} rows")
        except Exception as exc:  # noqa: BLE001
            problems.append(f"input example: predict raised {type(exc).__name__}: {exc}")
    t0 = time.perf_counter()
    out = model.predict(pd.DataFrame({"history": histories}), params={"k": k})
    batch_seconds = time.perf_counter() - t0
    answers = [list(items) for items in out["items"]]
    scores = [list(s) for s in out["scores"]] if "scores" in out.columns else None
    problems += recommendation_problems(histories, answers, k, vocabulary, scores, request["exclude_seen"])
    budget = float(request.get("latency_budget_s") or 0)
    if budget and batch_seconds > budget:
        problems.append(f"{len(histories)} histories took {batch_seconds:.2f} s, over the budget of {budget} s")
    params = model.metadata.get_params_schema() if model.metadata else None
    if params is not None and "task" in [p.name for p in params.params]:
        try:
            churn = model.predict(pd.DataFrame({"history": histories[:100]}), params={"task": "churn"})
            column = next((c for c in churn.columns if "prob" in c or "churn" in c), churn.columns[0])
            problems += probability_problems([float(v) for v in churn[column]])
        except Exception as exc:  # noqa: BLE001
            problems.append(f"task=churn: predict raised {type(exc).__name__}: {exc}")
    print(json.dumps({"problems": problems, "seconds": time.perf_counter() - start,
                      "batch_seconds": batch_seconds, "example": answers[0] if answers else []}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
