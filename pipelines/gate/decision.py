"""The gate's rule, as a pure function: should this challenger become champion?

A challenger is promoted only when every rule passes:
- floor: it beats the popularity baseline on the same holdout (the first model must pass this too);
- non-inferiority: it is not worse than the current champion beyond a margin, on every metric;
- it loads and predicts in a clean process (checked by the caller, passed in as ``smoke_ok``).
Each rule leaves a line in ``reasons`` so that the audit trail says why, in numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

GATE_METRICS = ("hr@10", "ndcg@10")


@dataclass(frozen=True)
class GatePolicy:
    metrics: tuple[str, ...] = GATE_METRICS
    # absolute margin on each metric; a retrain on one more day is noisy on a small holdout
    non_inferiority_margin: float = 0.02
    min_holdout_users: int = 20


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        verdict = "PROMOTE" if self.promote else "KEEP CHAMPION"
        return f"{verdict}: " + "; ".join(self.reasons)


def decide(
    challenger: Mapping[str, float],
    popularity: Mapping[str, float],
    champion: Mapping[str, float] | None,
    *,
    holdout_users: int,
    smoke_ok: bool,
    smoke_detail: str = "",
    policy: GatePolicy = GatePolicy(),
) -> GateDecision:
    passed = True
    reasons: list[str] = []

    if holdout_users < policy.min_holdout_users:
        passed = False
        reasons.append(f"holdout too small: {holdout_users} users < {policy.min_holdout_users}")

    for metric in policy.metrics:
        ours, floor = challenger[metric], popularity[metric]
        ok = ours > floor
        passed &= ok
        reasons.append(f"floor {metric}: challenger {ours:.4f} {'>' if ok else '<='} popularity {floor:.4f}")

    if champion is None:
        reasons.append("no champion yet: floors decide")
    else:
        for metric in policy.metrics:
            ours, theirs = challenger[metric], champion[metric]
            ok = ours >= theirs - policy.non_inferiority_margin
            passed &= ok
            reasons.append(
                f"non-inferiority {metric}: challenger {ours:.4f} vs champion {theirs:.4f} "
                f"(margin {policy.non_inferiority_margin}) {'ok' if ok else 'WORSE'}"
            )

    reasons.append(f"load-and-predict in a clean process: {'ok' if smoke_ok else 'FAILED'}"
                   + (f" ({smoke_detail})" if smoke_detail else ""))
    passed &= smoke_ok
    return GateDecision(promote=bool(passed), reasons=reasons)
