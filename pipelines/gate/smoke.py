"""Load-and-predict in a clean process: the gate's proof that consumers can use a version.

``python -m pipelines.gate.smoke MODEL_URI HISTORIES_JSON`` loads the pyfunc by URI the way a
downstream consumer would, asks for top-k items for each history, checks the answers and prints one
JSON line. :func:`run_smoke_check` starts that process and reads the line back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence


def recommendation_problems(histories: Sequence[Sequence[str]], answers: Sequence[Sequence[str]],
                            k: int) -> list[str]:
    """What is wrong with a batch of answers (empty when every answer is k distinct unseen items)."""
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
        if seen:
            problems.append(f"history {i}: recommends items already in the history: {sorted(seen)[:3]}")
    return problems


def run_smoke_check(model_uri: str, histories: Sequence[Sequence[str]], k: int = 10,
                    timeout_s: float = 300) -> tuple[bool, str]:
    """(ok, detail) from a fresh Python process that loads ``model_uri`` and predicts."""
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.gate.smoke", model_uri, json.dumps([list(h) for h in histories]),
         str(k)],
        capture_output=True, text=True, timeout=timeout_s, env=env,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return False, f"exit {proc.returncode}: " + " | ".join(tail)
    report = json.loads(lines[-1])
    if report["problems"]:
        return False, "; ".join(report["problems"][:5])
    return True, f"{len(histories)} histories, top-{k} each, {report['seconds']:.1f} s in a new process"


def _main(argv: list[str]) -> int:
    import time

    start = time.perf_counter()
    model_uri, histories, k = argv[0], json.loads(argv[1]), int(argv[2])
    import mlflow.pyfunc
    import pandas as pd

    model = mlflow.pyfunc.load_model(model_uri)
    out = model.predict(pd.DataFrame({"history": histories}), params={"k": k})
    answers = [list(items) for items in out["items"]]
    problems = recommendation_problems(histories, answers, k)
    print(json.dumps({"problems": problems, "seconds": time.perf_counter() - start,
                      "example": answers[0] if answers else []}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
