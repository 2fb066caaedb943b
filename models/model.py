"""The core behaviour model: a causal transformer over event tokens.

Read top to bottom like nanoGPT:
  ModelConfig -> EventEmbedding (item + event type + query n-grams + time gap + position)
  -> Block x n_layers (pre-norm, SDPA causal attention, MLP) -> final LayerNorm
  -> heads: next item (scored against the output item table: the input item table itself when
     ``tie_items``, as SASRec does, or a separate one) and the time-gap bucket of the next event.

Every position is one event. Any input feature may be absent (id 0): an item-only history
(MovieLens) and a full clickstream (views, searches, carts, purchases with timestamps) use the same
network. Ids: item 0 = no item (padding or a search), event type 0 = unknown, gap bucket 0 = unknown,
n-gram 0 = padding.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.tokens import N_GAP_BUCKETS


@dataclass
class ModelConfig:
    n_items: int                 # item ids are 1..n_items; 0 is padding
    max_len: int = 50            # positions the model sees (most recent events)
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 1
    mlp_ratio: int = 4
    dropout: float = 0.2         # on embeddings and residual branches
    attn_dropout: float = 0.0    # on attention weights (any value > 0 leaves the fused SDPA kernel on CPU)
    n_event_types: int = 5       # 0 unknown, 1 view, 2 search, 3 add_to_cart, 4 purchase
    n_ngram_buckets: int = 4096  # hashed character n-grams of search queries (0 = padding)
    n_gap_buckets: int = N_GAP_BUCKETS
    l2_norm: bool = False        # cosine logits (L2-normalised hidden and item rows) / temperature
    temperature: float = 0.05
    tie_items: bool = False      # score next items against the input item table (SASRec) instead of a separate one

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Batch:
    """One padded batch, left-padded so that the most recent event is the last column."""
    items: torch.Tensor          # (B, L) int64, 0 = padding / no item
    types: torch.Tensor          # (B, L) int64, 0 = unknown
    gaps: torch.Tensor           # (B, L) int64, gap bucket from the previous event, 0 = unknown
    ngrams: torch.Tensor         # (B, L, G) int64 hashed n-gram ids, 0 = padding (G may be 0)
    valid: torch.Tensor          # (B, L) bool, True where an event is present
    target_items: torch.Tensor | None = None  # (B, L) next item id, 0 = ignore
    target_gaps: torch.Tensor | None = None   # (B, L) next gap bucket, 0 = ignore


class EventEmbedding(nn.Module):
    """Sum of the embeddings of every field of an event, plus a learned position."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.d_model
        self.item = nn.Embedding(cfg.n_items + 1, d, padding_idx=0)
        self.event_type = nn.Embedding(cfg.n_event_types, d, padding_idx=0)
        self.ngram = nn.Embedding(cfg.n_ngram_buckets, d, padding_idx=0)
        self.gap = nn.Embedding(cfg.n_gap_buckets, d, padding_idx=0)
        self.pos = nn.Embedding(cfg.max_len, d)
        self.scale = math.sqrt(d)
        self.max_len = cfg.max_len

    def forward(self, b: Batch) -> torch.Tensor:
        L = b.items.shape[1]
        x = self.item(b.items) * self.scale + self.event_type(b.types) + self.gap(b.gaps)
        if b.ngrams.shape[-1] > 0:
            g = self.ngram(b.ngrams)                                   # (B, L, G, d)
            n = (b.ngrams > 0).sum(-1, keepdim=True).clamp(min=1)      # mean over present n-grams
            x = x + g.sum(2) / n
        # positions count back from the most recent event (as SASRec's left padding does)
        pos = torch.arange(self.max_len - L, self.max_len, device=x.device)
        return x + self.pos(pos)[None]


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        assert cfg.d_model % cfg.n_heads == 0
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.n_heads = cfg.n_heads
        self.dropout = cfg.attn_dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        q, k, v = self.qkv(x).split(D, dim=2)
        q, k, v = (t.view(B, L, self.n_heads, D // self.n_heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, L, D))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model)
        self.out = nn.Linear(cfg.mlp_ratio * cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.gelu(self.fc(x)))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = MLP(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), mask))
        return x + self.drop(self.mlp(self.ln2(x)))


def attention_mask(valid: torch.Tensor) -> torch.Tensor:
    """(B, 1, L, L) bool: causal, never onto padding, but every position sees itself (no empty rows)."""
    L = valid.shape[1]
    causal = torch.ones(L, L, dtype=torch.bool, device=valid.device).tril()
    eye = torch.eye(L, dtype=torch.bool, device=valid.device)
    return ((causal[None] & valid[:, None, :]) | eye[None])[:, None]


class CoreModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = EventEmbedding(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.ln_f = nn.LayerNorm(cfg.d_model)
        # separate output item table, unless tied to the input one
        self.out_items = None if cfg.tie_items else nn.Embedding(cfg.n_items + 1, cfg.d_model)
        self.gap_head = nn.Linear(cfg.d_model, cfg.n_gap_buckets)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
            if m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()

    def hidden(self, b: Batch) -> torch.Tensor:
        """(B, L, d) contextual state after each event."""
        x = self.drop(self.embed(b))
        mask = attention_mask(b.valid)
        for block in self.blocks:
            x = block(x, mask)
        return self.ln_f(x)

    def output_items(self) -> torch.Tensor:
        """(n_items + 1, d) rows that next-item scores are taken against (row 0 = padding)."""
        return self.embed.item.weight if self.out_items is None else self.out_items.weight

    def item_logits(self, h: torch.Tensor, item_rows: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of items 1..n_items (or of the given item ids) for hidden states h (..., d)."""
        w = self.output_items()[1:] if item_rows is None else F.embedding(item_rows, self.output_items())
        if self.cfg.l2_norm:
            return F.normalize(h, dim=-1) @ F.normalize(w, dim=-1).transpose(-1, -2) / self.cfg.temperature
        return h @ w.transpose(-1, -2)

    def pair_logits(self, h: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Score of one item per hidden state: h (N, d), items (N,) -> (N,)."""
        w = F.embedding(items, self.output_items())
        if self.cfg.l2_norm:
            return (F.normalize(h, dim=-1) * F.normalize(w, dim=-1)).sum(-1) / self.cfg.temperature
        return (h * w).sum(-1)

    def last_hidden(self, b: Batch) -> torch.Tensor:
        """(B, d) state after each user's most recent event (the last column, by left padding)."""
        return self.hidden(b)[:, -1]

    def gap_probs(self, h: torch.Tensor) -> torch.Tensor:
        """P(time-gap bucket of the next event), bucket 0 (unknown) excluded."""
        logits = self.gap_head(h).float()
        unknown = torch.zeros(logits.shape[-1], dtype=torch.bool, device=h.device)
        unknown[0] = True
        return logits.masked_fill(unknown, float("-inf")).softmax(-1)


# ---- losses -------------------------------------------------------------------------------------

class ChunkedSoftmaxCE(torch.autograd.Function):
    """Mean cross-entropy of h @ w.T against targets, computed in row chunks and recomputed in the
    backward pass, so the (N, n_items) logits never exist in memory at once (the softmax backward over
    materialised logits is memory-bound on a CPU). ``mm_dtype`` bfloat16 runs the four matmuls in
    bfloat16 (AMX on recent Xeons) with the log-sum-exp and softmax in float32."""

    @staticmethod
    def forward(ctx, h, w, targets, chunk: int, mm_dtype):
        hm, wm = h.to(mm_dtype), w.to(mm_dtype)
        lse = torch.empty(h.shape[0], dtype=torch.float32, device=h.device)
        for s in range(0, h.shape[0], chunk):
            lse[s:s + chunk] = torch.logsumexp((hm[s:s + chunk] @ wm.T).float(), dim=1)
        target_logit = (h * w[targets]).sum(-1).float()
        ctx.save_for_backward(h, w, targets, lse)
        ctx.chunk, ctx.mm_dtype = chunk, mm_dtype
        return (lse - target_logit).mean()

    @staticmethod
    def backward(ctx, grad):
        h, w, targets, lse = ctx.saved_tensors
        hm, wm = h.to(ctx.mm_dtype), w.to(ctx.mm_dtype)
        scale = grad.float() / h.shape[0]
        gh = torch.empty_like(h)
        gw = torch.zeros(w.shape, dtype=torch.float32, device=w.device)
        for s in range(0, h.shape[0], ctx.chunk):
            hs = hm[s:s + ctx.chunk]
            p = (hs @ wm.T).float().sub_(lse[s:s + ctx.chunk, None]).exp_()   # softmax rows
            p[torch.arange(len(hs), device=h.device), targets[s:s + ctx.chunk]] -= 1.0
            p = p.mul_(scale).to(ctx.mm_dtype)
            gh[s:s + ctx.chunk] = (p @ wm).to(h.dtype)
            gw += (p.T @ hs).float()
        return gh, gw.to(w.dtype), None, None, None


def full_softmax_loss(model: CoreModel, h: torch.Tensor, targets: torch.Tensor, chunk: int = 1024,
                      bf16: bool = False) -> torch.Tensor:
    """Cross-entropy over the whole catalogue; h (N, d) and targets (N,) in 1..n_items."""
    w = model.output_items()[1:]
    if model.cfg.l2_norm:
        h, w = F.normalize(h, dim=-1) / model.cfg.temperature, F.normalize(w, dim=-1)
    return ChunkedSoftmaxCE.apply(h, w, targets - 1, chunk, torch.bfloat16 if bf16 else h.dtype)


def sampled_softmax_loss(model: CoreModel, h: torch.Tensor, targets: torch.Tensor, n_negatives: int,
                         generator: torch.Generator | None = None,
                         sampling_probs: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the positive and N negatives shared by the batch.

    Negatives are uniform over items, or drawn from ``sampling_probs`` (n_items + 1, row 0 zero),
    in which case logQ correction subtracts log q(item) from every logit so that the estimate stays
    consistent with the full softmax. Accidental hits (a negative equal to the positive) are masked.
    """
    n = model.cfg.n_items
    if sampling_probs is None:
        neg = torch.randint(1, n + 1, (n_negatives,), generator=generator, device=h.device)
    else:
        neg = torch.multinomial(sampling_probs, n_negatives, replacement=True, generator=generator)
    pos_logit = model.pair_logits(h, targets)[:, None]                          # (N, 1)
    neg_logit = model.item_logits(h, neg)                                       # (N, n_neg)
    if sampling_probs is not None:
        logq = sampling_probs.clamp(min=1e-12).log()
        pos_logit = pos_logit - logq[targets][:, None]
        neg_logit = neg_logit - logq[neg][None, :]
    neg_logit = neg_logit.masked_fill(neg[None, :] == targets[:, None], float("-inf"))
    logits = torch.cat([pos_logit, neg_logit], dim=1).float()
    return F.cross_entropy(logits, torch.zeros(len(h), dtype=torch.long, device=h.device))


def gap_loss(model: CoreModel, h: torch.Tensor, target_gaps: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the next event's time-gap bucket (0 = unknown is ignored)."""
    if not bool((target_gaps > 0).any()):
        return h.sum() * 0.0
    return F.cross_entropy(model.gap_head(h).float(), target_gaps, ignore_index=0)
