"""Zero-shot churn: "no event in the next H days" read from the time-gap head of the same model.

The gap head gives P(bucket) for the gap from a user's last event to their next one. From it, a
survival curve S(x) = P(gap >= x) (log-linear inside each bucket), and the churn probability at a
cutoff, given the time already elapsed since the last event e:
    P(no event in [cutoff, cutoff + H)) = S(e + H) / S(e).
No churn labels are used in training.

Training sees a gap only once the next event has happened, so a user who went silent before the end of
the training window never shows the head a long gap (right-censoring). ``censored_gap_nll`` is the
missing likelihood term: for each user's final event before the window end, -log S(window end - last ts),
"the next gap is at least this long".
"""

from __future__ import annotations

import numpy as np
import torch

from models.data import SequenceStore, make_batch
from models.inference import inference_batch
from models.model import Batch, CoreModel
from models.tokens import DAY, GAP_EDGES, N_GAP_BUCKETS

# lower / upper edge (seconds) of each bucket 1..N-1 (bucket 0, unknown, gets a dummy [1, 1) range)
_LO = torch.tensor([1.0, 1.0] + GAP_EDGES.astype(float).tolist(), dtype=torch.float64)
_HI = torch.tensor([1.0] + GAP_EDGES.astype(float).tolist() + [float("inf")], dtype=torch.float64)
assert len(_LO) == len(_HI) == N_GAP_BUCKETS


def _survival_weights(x_seconds: torch.Tensor) -> torch.Tensor:
    """(B, N_GAP_BUCKETS) share of each bucket at or above x: 1 above, 0 below, log-linear inside
    (the open last bucket counts whole), 0 for bucket 0 (unknown). S(x) = sum_k P(k) * w_k(x)."""
    x = x_seconds.double().clamp(min=1.0)[:, None]
    lo, hi = _LO[None], _HI[None]
    above = (lo >= x).double()                                        # whole bucket at or above x
    inside = (lo < x) & (x < hi)
    span = (torch.log(hi) - torch.log(lo.clamp(min=1.0))).clamp(min=1e-9)
    frac = torch.where(torch.isinf(hi), 1.0, (torch.log(hi) - torch.log(x)) / span)
    w = above + inside.double() * frac.clamp(0, 1)
    w[:, 0] = 0.0
    return w


def survival(probs: torch.Tensor, x_seconds: torch.Tensor) -> torch.Tensor:
    """S(x) = P(gap >= x) from bucket probabilities (B, N_GAP_BUCKETS) at x (B,) seconds."""
    return (probs.double() * _survival_weights(x_seconds)).sum(1)


def log_survival(gap_logits: torch.Tensor, x_seconds: torch.Tensor) -> torch.Tensor:
    """log S(x) from the gap head's raw logits (B, N_GAP_BUCKETS), differentiable and finite: a
    log-sum-exp over log P(k) + log w_k(x); the open last bucket always has w = 1, so S > 0."""
    logits = gap_logits.double().clone()
    logits[:, 0] = float("-inf")                                      # bucket 0 (unknown) is never predicted
    logp = logits.log_softmax(-1)
    return (logp + _survival_weights(x_seconds).log()).logsumexp(-1)


def censored_gap_nll(model: CoreModel, h: torch.Tensor, elapsed_seconds: torch.Tensor) -> torch.Tensor:
    """(B,) -log P(next gap >= elapsed) at states ``h`` (B, d) whose next event had not happened
    ``elapsed_seconds`` later, when observation ended: the right-censored gap's likelihood term."""
    return -log_survival(model.gap_head(h).float(), elapsed_seconds)


def churn_probability(probs: torch.Tensor, elapsed_seconds: torch.Tensor, horizon_days: float = 14) -> torch.Tensor:
    """P(no event within ``horizon_days`` after the cutoff | already ``elapsed_seconds`` without one)."""
    e = elapsed_seconds.double().clamp(min=0)
    s_now = survival(probs, e)
    s_later = survival(probs, e + horizon_days * DAY)
    return (s_later / s_now.clamp(min=1e-12)).clamp(0, 1)


@torch.no_grad()
def churn_scores(model: CoreModel, store: SequenceStore, rows: np.ndarray, cutoff_ts: int,
                 horizon_days: float = 14, batch_size: int = 256) -> torch.Tensor:
    """Churn probability of users ``rows`` at unix time ``cutoff_ts`` (histories end before it)."""
    model.eval()
    rows = np.asarray(rows, dtype=np.int64)
    out = torch.empty(len(rows), dtype=torch.float64)
    last_ts = store.extra["last_ts"]
    known = store.extra["last_ts_known"]
    for s in range(0, len(rows), batch_size):
        r = rows[s:s + batch_size]
        probs = model.gap_probs(model.last_hidden(inference_batch(model, store, r)))
        elapsed = torch.as_tensor(np.where(known[r], cutoff_ts - last_ts[r], 0), dtype=torch.float64)
        out[s:s + batch_size] = churn_probability(probs, elapsed, horizon_days)
    return out


def censored_batch(store: SequenceStore, rows: np.ndarray, max_len: int,
                   observation_end: int) -> tuple[Batch, torch.Tensor] | None:
    """Users ``rows``' last ``max_len`` events and the time from their last event to
    ``observation_end`` (inputs for ``censored_gap_nll``); None when no user qualifies.

    Users whose last timestamp is unknown, or not before ``observation_end``, are left out: their
    censored gap says nothing."""
    rows = np.asarray(rows, dtype=np.int64)
    rows = rows[store.lengths[rows] > 0]
    elapsed = observation_end - store.extra["last_ts"][rows]
    keep = store.extra["last_ts_known"][rows] & (elapsed > 0)
    if not keep.any():
        return None
    return (make_batch(store, rows[keep], max_len, train=False),
            torch.as_tensor(elapsed[keep], dtype=torch.float64))


def churn_time_split(store: SequenceStore, observation_end: int, horizon_days: float = 14,
                     ) -> tuple[SequenceStore, np.ndarray, np.ndarray, int] | None:
    """Churn labels from inside a training window, for validation and calibration.

    The cutoff is ``horizon_days`` before ``observation_end``: each user's events before it are the
    history, the label is 1 when the user has no event in [cutoff, observation_end). Users without a
    known timestamp, or with no event before the cutoff, are left out. Returns (histories cut at the
    cutoff, rows, labels, cutoff) or None when there is nothing to label (no timestamps, or a window
    shorter than the horizon). The model has trained on the gaps these labels come from, so the
    split measures fit and calibrates, while the gate's holdout (after the window) judges."""
    if store.ts is None or not store.ts_known.any():
        return None
    cutoff = int(observation_end - horizon_days * DAY)
    before = store.ts_known & (store.ts < cutoff)
    row_of = np.repeat(np.arange(store.n_users), store.lengths)
    n_before = np.bincount(row_of, weights=before, minlength=store.n_users).astype(np.int64)
    all_known = np.bincount(row_of, weights=~store.ts_known, minlength=store.n_users) == 0
    rows = np.flatnonzero((n_before > 0) & all_known)
    if len(rows) == 0 or store.ts[store.ts_known].min() >= cutoff:
        return None
    cut = store.truncate(np.where(all_known, n_before, 0))
    last = cut.offsets[1:] - 1
    cut.extra = dict(cut.extra)
    cut.extra["last_ts"] = np.where(cut.lengths > 0, cut.ts[np.maximum(last, 0)], 0) if len(cut.ts) else np.zeros(0)
    cut.extra["last_ts_known"] = cut.lengths > 0
    labels = (n_before[rows] == store.lengths[rows]).astype(np.int64)
    return cut, rows, labels, cutoff
