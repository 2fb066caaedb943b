"""Training loop: ``python -m models.train --config FILE`` or ``train(config)`` in process.

AdamW, linear warm-up then cosine decay, gradient clipping, fixed seeds, early stopping on a
leave-last-item-out validation set, an atomic checkpoint every epoch and exact resume after kill -9
(each epoch's data order and dropout are seeded from (seed, epoch), not from the process history),
warm start into a grown vocabulary, progress lines, MLflow metrics when a run is active. Under
``torchrun --nproc-per-node N`` it runs DDP on gloo: every rank reads the whole store, draws the same
global batches and trains its share of each (models/distributed.py), so ``batch_size`` is the global
batch whatever N and N processes take the same steps as one; only rank 0 logs and checkpoints.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from models.checkpoint import load_checkpoint, save_atomic, warm_start_state
from models.churn import censored_batch, censored_gap_nll, churn_time_split
from models.data import (
    SequenceStore,
    length_bucketed_batches,
    load_train_store,
    make_batch,
    observation_end,
    open_shards,
    query_vocabulary,
    split_last_item,
)
from models.distributed import all_reduce, loss_scale, rank_share, setup
from models.evaluate import rank_targets
from models.metrics import ranking_report
from models.model import Batch, CoreModel, ModelConfig, full_softmax_loss, gap_loss, sampled_softmax_loss
from models.selection import churn_readout, churn_validation, search_rows_mask, selection_score

MODEL_FIELDS = ("max_len", "d_model", "n_layers", "n_heads", "mlp_ratio", "dropout", "attn_dropout", "n_ngram_buckets",
                "l2_norm", "temperature", "tie_items")


@dataclass
class TrainConfig:
    """Defaults are the nightly pipeline's: small and fast on 2 CPU cores. Benchmarks override them."""
    shards_dir: str
    out_dir: str
    epochs: int = 8
    batch_size: int = 64             # the global batch: under torchrun each rank trains its share of it
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_frac: float = 0.05
    min_lr_frac: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0
    loss: str = "full"               # "full" softmax or "sampled"
    n_negatives: int = 256
    negative_sampler: str = "uniform"  # or "popularity" (with logQ correction)
    gap_loss_weight: float = 0.1
    censored_gap_weight: float = 0.0  # censored last gaps (models/churn.py); = gap_loss_weight: exact likelihood
    feature_dropout: float = 0.1     # per sequence, blank event types / gaps so absent fields work
    crop: str = "last"               # "last": most recent max_len events; "random": random window end;
                                     # "windows": the whole history as consecutive max_len windows
    patience: int = 3                # epochs without validation improvement before stopping
    hold_out_last_item: bool = True  # False: a final refit on every event, the validation item included
                                     # (warm-start it from the validation-chosen best.pt); no validation,
                                     # no early stopping, the last epoch is kept
    val_metric: str = "ndcg@10"      # the selection metric when select_weights is None
    select_weights: dict | None = None  # epoch choice on several tasks: models/selection.py (ALL_TASKS)
    exclude_seen: bool = True        # validation ranks as recommend(exclude_seen=...) serves
    churn_horizon_days: float = 14.0  # churn validation / calibration horizon (a gap-bucket edge)
    auto_dropout: bool = False       # dropout from the data's density (dropout_for_density), not ``dropout``
    val_max_users: int | None = None
    eval_batch_size: int = 256
    warm_start: str | None = None    # a previous version's best.pt / out_dir
    resume: bool = True              # continue from out_dir/checkpoint.pt when present
    threads: int | None = None
    bf16: bool = False               # autocast matmuls to bfloat16 (fast on CPUs with AMX)
    log_every: int = 50
    max_minutes: float | None = None  # stop after the epoch that crosses this wall-time budget
    verify_shards: bool = True
    # model
    max_len: int = 50
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 1
    mlp_ratio: int = 4
    dropout: float = 0.2
    attn_dropout: float = 0.0
    n_ngram_buckets: int = 4096
    l2_norm: bool = False
    temperature: float = 0.05
    tie_items: bool = False

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown training config keys: {sorted(unknown)}")
        return cls(**d)

    def model_config(self, n_items: int) -> ModelConfig:
        return ModelConfig(n_items=n_items, **{k: getattr(self, k) for k in MODEL_FIELDS})


@dataclass
class TrainResult:
    out_dir: str
    best_path: str
    checkpoint_path: str
    metrics_path: str
    best_epoch: int
    epochs_run: int
    n_items: int
    val: dict
    stopped_early: bool
    history: list = field(default_factory=list)
    train_stats: dict = field(default_factory=dict)


# the documented grid: sparse catalogues (few events per item) need more regularisation
DENSITY_DROPOUT = ((20.0, 0.5), (60.0, 0.35), (float("inf"), 0.2))


def dropout_for_density(events_per_item: float) -> float:
    """Dropout for a catalogue with ``events_per_item`` training item events per item (DENSITY_DROPOUT)."""
    return next(d for limit, d in DENSITY_DROPOUT if events_per_item < limit)


class LossModule(nn.Module):
    """forward(batch) -> (loss, item loss, tokens): DDP only syncs gradients through forward()."""

    def __init__(self, model: CoreModel, cfg: TrainConfig, sampling_probs: torch.Tensor | None):
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.sampling_probs = sampling_probs

    def forward(self, b: Batch, generator: torch.Generator | None = None,
                censored: tuple[Batch, torch.Tensor] | None = None, norm: tuple[int, int, float] | None = None):
        """``norm``: (item targets, observed gaps) of the whole global batch and this rank's weight
        (the world size, 0 for a padding share) under DDP (models/distributed.py); None in one process."""
        cfg = self.cfg
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            h = self.model.hidden(b)
        h = h.float()
        m = b.target_items > 0
        hi, ti = h[m], b.target_items[m]
        n_item, n_gap = int(m.sum()), int((b.target_gaps > 0).sum())
        if norm is not None and n_item == 0:
            item = h.sum() * 0.0                    # an empty mean is nan, and this share adds nothing
        elif cfg.loss == "full":
            item = full_softmax_loss(self.model, hi, ti, bf16=cfg.bf16)
        else:
            item = sampled_softmax_loss(self.model, hi, ti, cfg.n_negatives, generator, self.sampling_probs)
        item_w = gap_w = 1.0
        n_obs = max(n_gap, 1)
        if norm is not None:
            item_w, gap_w = loss_scale(n_item, norm[0], norm[2]), loss_scale(n_gap, norm[1], norm[2])
            n_obs = max(norm[1], 1) / norm[2] if norm[2] else 1.0   # a padding share has no censored term
        total = item * item_w if norm is not None else item
        if cfg.gap_loss_weight > 0:
            g = b.target_gaps > 0
            gap = gap_loss(self.model, h[g], b.target_gaps[g])
            total = total + cfg.gap_loss_weight * (gap * gap_w if norm is not None else gap)
        if censored is not None and cfg.censored_gap_weight > 0:
            total = total + cfg.censored_gap_weight * self.censored_loss(b, *censored, n_obs=n_obs)
        return total, item.detach(), n_item

    def censored_loss(self, b: Batch, cb: Batch, elapsed: torch.Tensor, n_obs: float) -> torch.Tensor:
        """Sum of -log S(elapsed) after each user's final event (``cb``: whole histories, see
        ``censored_term_batch``), over the batch's observed gap count ``n_obs`` (under DDP: the global
        count over the world size), so that a censored gap weighs as much as an observed one in the
        gap loss's mean."""
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cfg.bf16):
            hc = self.model.last_hidden(cb)
        return censored_gap_nll(self.model, hc.float(), elapsed).sum().float() / n_obs


# ---- helpers -------------------------------------------------------------------------------------

def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up to cfg.lr, then cosine decay to cfg.lr * min_lr_frac."""
    warm = max(1, int(total * cfg.warmup_frac))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    t = min(1.0, (step - warm) / max(1, total - warm))
    return cfg.lr * (cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))


def _feature_dropout(b: Batch, p: float, gen: torch.Generator, n_global: int | None = None,
                     take: np.ndarray | None = None) -> None:
    """Blank whole sequences' event types / gaps with probability ``p``. Under DDP the draws are made
    for the ``n_global`` rows of the global batch (identically on every rank) and this rank keeps
    the positions ``take``, so the masks and ``gen``'s state match one process."""
    if p <= 0:
        return
    B = b.items.shape[0] if n_global is None else n_global
    drop_t = torch.rand(B, 1, generator=gen) < p
    drop_g = torch.rand(B, 1, generator=gen) < p
    if take is not None:
        drop_t, drop_g = drop_t[take], drop_g[take]
    b.types = b.types.masked_fill(drop_t, 0)
    b.gaps = b.gaps.masked_fill(drop_g, 0)


def _random_ends(store: SequenceStore, rows: np.ndarray, max_len: int, rng: np.random.Generator) -> np.ndarray:
    """Random window end for each user, uniform over [min(n, max_len + 1), n]: more of a long history seen."""
    n = store.lengths[rows]
    lo = np.minimum(n, max_len + 1)
    return lo + (rng.random(len(rows)) * (n - lo + 1)).astype(np.int64)


def _window_ends(store: SequenceStore, rows: np.ndarray, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Every user's whole history as consecutive training windows: (row, end) per window, newest first.

    A window ending at ``end`` predicts events end-max_len .. end-1, so the windows' targets tile each
    history exactly once; "last" trains only the newest window and never sees the rest of a long history.
    """
    n = store.lengths[rows]
    k = np.maximum(1, -(-(n - 1) // max_len))               # ceil((n - 1) / max_len) windows per user
    j = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)
    return np.repeat(rows, k), np.repeat(n, k) - j * max_len


def censored_term_batch(full: SequenceStore, rows: np.ndarray, newest: np.ndarray, max_len: int,
                        obs_end: int | None) -> tuple[Batch, torch.Tensor] | None:
    """Inputs of the censored gap term for the users ``rows[newest]`` (each user once per epoch).

    The censoring point is each user's last event in the *full* store (before ``split_last_item``):
    the gap after it is only known to be >= obs_end - its ts. The store the item loss trains on ends
    one item event earlier, and the gap after that event is observed (it is the validation event's),
    so censoring there would be wrong. The validation item is therefore an input of this term; its
    pairing with the history before it is never a target, so no item label leaks (with
    ``tie_items`` its shared row gets this term's small gradient as an input, like every other item).
    """
    if obs_end is None:
        return None
    return censored_batch(full, rows[newest], max_len, obs_end)


def _mlflow_log(metrics: dict, step: int) -> None:
    """Log to the active MLflow run (in process) or the run named by MLFLOW_RUN_ID (under torchrun).
    MLflow names cannot hold '@': 'val_ndcg@10' is logged as 'val_ndcg_at_10'."""
    metrics = {k.replace("@", "_at_"): float(v) for k, v in metrics.items()}
    try:
        if "mlflow" in sys.modules and sys.modules["mlflow"].active_run() is not None:
            sys.modules["mlflow"].log_metrics(metrics, step=step)
        elif os.environ.get("MLFLOW_RUN_ID"):
            from mlflow import MlflowClient

            client, run_id, ts = MlflowClient(), os.environ["MLFLOW_RUN_ID"], int(time.time() * 1000)
            for k, v in metrics.items():
                client.log_metric(run_id, k, v, timestamp=ts, step=step)
    except Exception as e:  # metrics are a convenience; never kill a training run over them
        print(f"[train] mlflow logging failed: {e}", flush=True)


def validate(model: CoreModel, store: SequenceStore, rows: np.ndarray, targets: np.ndarray,
             n_items: int, batch_size: int, exclude_seen: bool = True) -> dict:
    """Next-item HR/NDCG@{1,5,10,20} on the held-out items, and ``search_hr@10`` /
    ``search_ndcg@10`` on the users whose held-out item came right after a search (when any did)."""
    ranks = rank_targets(model, store, rows, targets, n_items, batch_size, exclude_seen=exclude_seen)
    hits = torch.stack([(ranks <= k).float().sum() for k in (1, 5, 10, 20)])
    gains = torch.stack([torch.where(ranks <= k, 1 / torch.log2(ranks.clamp(max=1e9) + 1), 0.0).sum()
                         for k in (1, 5, 10, 20)])
    sr = ranks[torch.as_tensor(search_rows_mask(store, rows), dtype=torch.bool)]
    search = torch.tensor([(sr <= 10).float().sum(),
                           torch.where(sr <= 10, 1 / torch.log2(sr.clamp(max=1e9) + 1), 0.0).sum(), float(len(sr))])
    agg = all_reduce(torch.cat([hits, gains, search, torch.tensor([float(len(ranks))])]).double())
    n = max(1.0, float(agg[-1]))
    out = {f"hr@{k}": float(agg[i]) / n for i, k in enumerate((1, 5, 10, 20))}
    out.update({f"ndcg@{k}": float(agg[4 + i]) / n for i, k in enumerate((1, 5, 10, 20))})
    if float(agg[10]) > 0:
        out.update({"search_hr@10": float(agg[8]) / float(agg[10]), "search_ndcg@10": float(agg[9]) / float(agg[10]),
                    "search_n": int(agg[10])})
    out["n"] = int(n)
    if not dist.is_initialized():
        out["mrr"] = ranking_report(ranks)["mrr"]
    return out


# ---- the loop ------------------------------------------------------------------------------------

def train(config: TrainConfig | dict, progress: Callable[[dict], None] | None = None) -> TrainResult:
    """Train; ``progress(record)`` (rank 0 only) gets each epoch's metrics as they are logged."""
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    owns_group = not dist.is_initialized()
    rank, world = setup()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path, best_path, metrics_path = out / "checkpoint.pt", out / "best.pt", out / "metrics.json"
    log = (lambda *a: print("[train]", *a, flush=True)) if rank == 0 else (lambda *a: None)

    shards = open_shards(cfg.shards_dir, verify=cfg.verify_shards)
    n_items = shards.n_items
    full = load_train_store(shards, n_ngram_buckets=cfg.n_ngram_buckets)   # every rank: the whole store
    if cfg.hold_out_last_item:
        store, val_rows, val_targets = split_last_item(full)
    else:
        store, val_rows, val_targets = full, np.zeros(0, np.int64), np.zeros(0, np.int64)
    if cfg.val_max_users and len(val_rows) > cfg.val_max_users:
        pick = np.sort(np.random.default_rng(cfg.seed).choice(len(val_rows), cfg.val_max_users, replace=False))
        val_rows, val_targets = val_rows[pick], val_targets[pick]
    n_val = len(val_rows)
    val_rows, val_targets = val_rows[rank::world], val_targets[rank::world]   # validate() sums over ranks
    train_rows = np.flatnonzero(store.lengths >= 2)
    counts = torch.from_numpy(store.item_counts(n_items))
    sampling = None
    if cfg.loss == "sampled" and cfg.negative_sampler == "popularity":
        sampling = (counts.double() + 1.0)
        sampling[0] = 0
        sampling = (sampling / sampling.sum()).float()

    obs_end = observation_end(shards.manifest, full) if cfg.censored_gap_weight > 0 else None
    weights = cfg.select_weights or {cfg.val_metric: 1.0}
    churn_obs_end = observation_end(shards.manifest, full)
    churn_split = (churn_time_split(full, churn_obs_end, cfg.churn_horizon_days)
                   if churn_obs_end is not None and "churn_auc" in weights else None)
    words, word_counts = query_vocabulary(full)
    torch.manual_seed(cfg.seed)
    if cfg.auto_dropout:
        per_item = float((store.items > 0).sum()) / max(n_items, 1)
        cfg = TrainConfig(**{**asdict(cfg), "dropout": dropout_for_density(per_item), "auto_dropout": False})
        log(f"auto dropout: {per_item:.0f} item events per item -> dropout {cfg.dropout}")
    mcfg = cfg.model_config(n_items)
    model = CoreModel(mcfg)
    start_epoch, step, best, best_epoch, bad_epochs, history = 0, 0, float("-inf"), -1, 0, []
    resumed = cfg.resume and ckpt_path.exists()
    if resumed:
        ck = load_checkpoint(ckpt_path)
        if ck["model_config"] != mcfg.to_dict():
            raise ValueError(f"{ckpt_path} was trained with a different model config; use a new out_dir "
                             "or resume=false")
        model.load_state_dict(ck["model"])
    elif cfg.warm_start:
        for note in warm_start_state(model, load_checkpoint(cfg.warm_start), shards.item_ids):
            log(note)

    lm = LossModule(model, cfg, sampling)
    net = nn.parallel.DistributedDataParallel(lm, find_unused_parameters=True) if world > 1 else lm
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n and "out_items" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n and "out_items" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98))
    if resumed:
        opt.load_state_dict(ck["optimizer"])
        start_epoch, step = ck["epoch"] + 1, ck["step"]
        best, best_epoch, bad_epochs, history = ck["best"], ck["best_epoch"], ck["bad_epochs"], ck["history"]
        log(f"resumed from {ckpt_path} after epoch {ck['epoch']} (step {step})")

    if cfg.crop not in ("last", "random", "windows"):
        raise ValueError(f"crop must be 'last', 'random' or 'windows', not {cfg.crop!r}")
    seq_rows, seq_ends = (_window_ends(store, train_rows, cfg.max_len) if cfg.crop == "windows"
                          else (train_rows, None))
    n_batches = len(range(0, len(seq_rows), cfg.batch_size))
    if n_batches == 0:
        before = "before the validation item" if cfg.hold_out_last_item else "(hold_out_last_item is off)"
        raise ValueError(f"nothing to train on in {cfg.shards_dir}: no user has two or more "
                         f"events {before} ({full.n_users} users read)")
    total_steps = max(1, n_batches * cfg.epochs)
    log(f"{len(seq_rows)} sequences on {world} rank(s), global batch {cfg.batch_size}, {n_items} items, "
        f"{n_val} validation users, "
        f"{n_batches} steps/epoch, {cfg.epochs} epochs max, {sum(p.numel() for p in model.parameters())} params")

    t_start, tokens_total, train_seconds, stopped_early = time.time(), 0, 0.0, False
    common = {"model_config": mcfg.to_dict(), "item_ids": shards.item_ids, "item_counts": counts.numpy(),
              "train_config": asdict(cfg), "shards_manifest": shards.manifest,
              "query_words": {"words": words, "counts": word_counts}}
    epoch = start_epoch - 1
    for epoch in range(start_epoch, cfg.epochs):
        if bad_epochs >= cfg.patience:
            stopped_early = True
            break
        # batch order, crops, feature dropout and sampled negatives: the same on every rank (rank 0's
        # seeds, so one process trains as before); model dropout: each rank its own
        rng = np.random.default_rng([cfg.seed, epoch, 0])
        torch.manual_seed(cfg.seed * 1_000_003 + epoch * 101 + rank)
        gen = torch.Generator().manual_seed(cfg.seed * 7919 + epoch * 13)
        ends = _random_ends(store, seq_rows, cfg.max_len, rng) if cfg.crop == "random" else seq_ends
        lengths = store.lengths[seq_rows] if ends is None else ends
        batches = length_bucketed_batches(np.minimum(lengths, cfg.max_len + 1), cfg.batch_size, rng)[:n_batches]
        net.train()
        t0, ep_tokens, loss_sum, loss_n = time.time(), 0, 0.0, 0
        for i, bidx in enumerate(batches):
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total_steps, cfg)
            norm, take = None, None
            if world > 1:
                take, live = rank_share(np.arange(len(bidx)), rank, world)
                bidx = bidx[take]
            rows = seq_rows[bidx]
            b = make_batch(store, rows, cfg.max_len, train=True, ends=None if ends is None else ends[bidx])
            if world > 1:
                n = torch.tensor([int((b.target_items > 0).sum()), int((b.target_gaps > 0).sum())] if live else [0, 0])
                n = all_reduce(n)
                norm = (int(n[0]), int(n[1]), float(world) if live else 0.0)
            _feature_dropout(b, cfg.feature_dropout, gen, None if take is None else len(batches[i]), take)
            newest = np.ones(len(rows), bool) if cfg.crop != "windows" else ends[bidx] == store.lengths[rows]
            cens = censored_term_batch(full, rows, newest, cfg.max_len, obs_end) if norm is None or norm[2] else None
            loss, item_loss, ntok = net(b, gen, cens, norm) if norm is not None else net(b, gen, cens)
            if norm is not None and not norm[2]:
                ntok = 0                            # a padding share: trained nothing
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            step += 1
            ep_tokens += ntok
            loss_sum += float(item_loss) * ntok
            loss_n += ntok
            if cfg.log_every and (i + 1) % cfg.log_every == 0:
                el = time.time() - t0
                tps = ep_tokens * world / max(el, 1e-9)
                eta = el / (i + 1) * (n_batches - i - 1)
                log(f"epoch {epoch} step {i + 1}/{n_batches} loss {loss_sum / max(loss_n, 1):.4f} "
                    f"tokens/s {tps:,.0f} lr {opt.param_groups[0]['lr']:.2e} eta {eta:.0f}s")
        ep_secs = time.time() - t0
        train_seconds += ep_secs
        agg = all_reduce(torch.tensor([loss_sum, float(loss_n)], dtype=torch.float64))
        train_loss = float(agg[0] / max(agg[1], 1))
        ep_tokens = int(agg[1])                     # every rank's targets
        tokens_total += ep_tokens
        val = (validate(model, store, val_rows, val_targets, n_items, cfg.eval_batch_size, cfg.exclude_seen)
               if len(val_rows) else {})
        if val and churn_split is not None and rank == 0:   # rank 0 holds every user
            val.update(churn_validation(model, churn_split, cfg.churn_horizon_days))
        score = selection_score(val, weights) if val else -train_loss
        if not math.isfinite(score):   # none of the weighted tasks has a label in this window
            score = val.get(cfg.val_metric, -train_loss)
        if world > 1:   # every rank takes rank 0's decision (churn AUC is not additive over ranks)
            score = float(all_reduce(torch.tensor([score if rank == 0 else 0.0], dtype=torch.float64))[0])
        if val:
            val["selection_score"] = score
        improved = score > best or not cfg.hold_out_last_item
        if improved:
            best, best_epoch, bad_epochs = score, epoch, 0
        else:
            bad_epochs += 1
        rec = {"epoch": epoch, "train_loss": train_loss, "epoch_seconds": ep_secs,
               "tokens_per_s": ep_tokens / max(ep_secs, 1e-9), **{f"val_{k}": v for k, v in val.items()}}
        history.append(rec)
        tasks = " ".join(f"{k} {val[k]:.4f}" for k in ("ndcg@10", "search_ndcg@10", "churn_auc") if k in val)
        verdict = (f"val {tasks} score {score:.4f} ({'best' if improved else f'no gain {bad_epochs}/{cfg.patience}'})"
                   if val else "no validation, kept")
        log(f"epoch {epoch} done: loss {train_loss:.4f} {verdict} {ep_secs:.0f}s "
            f"{rec['tokens_per_s']:,.0f} tokens/s")
        if rank == 0:
            _mlflow_log({"train_loss": train_loss, **{f"val_{k}": v for k, v in val.items() if k != "n"}}, epoch)
            if progress is not None:
                progress({**rec, "epochs": cfg.epochs, "improved": improved, "world_size": world})
            if improved:
                save_atomic({**common, "model": model.state_dict(), "epoch": epoch, "val": val}, best_path)
            save_atomic({**common, "model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                         "step": step, "best": best, "best_epoch": best_epoch, "bad_epochs": bad_epochs,
                         "history": history}, ckpt_path)
        if dist.is_initialized():
            dist.barrier()
        if cfg.max_minutes and (time.time() - t_start) / 60 > cfg.max_minutes:
            log(f"stopping: wall-time budget of {cfg.max_minutes} min reached")
            stopped_early = True
            break

    best_val = next((h for h in history if h["epoch"] == best_epoch), {})
    readout = {"kind": "none", "reason": "churn is not in select_weights"}
    if rank == 0 and best_path.exists():
        best_ckpt = load_checkpoint(best_path)
        split = churn_split if churn_split is not None else (
            churn_time_split(full, churn_obs_end, cfg.churn_horizon_days) if churn_obs_end is not None else None)
        best_model = CoreModel(mcfg)
        best_model.load_state_dict(best_ckpt["model"])
        readout = churn_readout(best_model, split, cfg.churn_horizon_days)
        save_atomic({**best_ckpt, "churn_readout": readout}, best_path)
        log(f"churn read-out: {readout['kind']} ({readout.get('reason', '')})")
    stats = {"train_seconds": train_seconds, "tokens": tokens_total,
             "tokens_per_s": tokens_total / max(train_seconds, 1e-9), "world_size": world,
             "peak_rss_mb": _peak_rss_mb(), "threads": torch.get_num_threads()}
    result = TrainResult(str(out), str(best_path), str(ckpt_path), str(metrics_path), best_epoch,
                         len(history), n_items, {k[4:]: v for k, v in best_val.items() if k.startswith("val_")},
                         stopped_early, history, stats)
    if rank == 0:
        metrics_path.write_text(json.dumps({"best_epoch": best_epoch, "val": result.val, "history": history,
                                            "train": stats, "stopped_early": stopped_early,
                                            "n_items": n_items, "config": asdict(cfg),
                                            "churn_readout": readout}, indent=2))
    if dist.is_initialized():
        dist.barrier()
        if owns_group:
            dist.destroy_process_group()
    return result


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.train", description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="JSON file with TrainConfig fields")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override config keys (JSON values)")
    args = ap.parse_args(argv)
    d = json.loads(Path(args.config).read_text())
    for kv in args.set:
        k, v = kv.split("=", 1)
        try:
            d[k] = json.loads(v)
        except json.JSONDecodeError:
            d[k] = v
    res = train(d)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"best_epoch": res.best_epoch, "val": res.val, "out_dir": res.out_dir}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
