"""Fast batched sampling of many posts from one prompt, on CPU.

``transformers``' ``generate()`` spends most of a decode step in Python and per-layer module
overhead (PERF-NOTES §3: ~5 s for 10 x 60 tokens in bf16). For Llama-architecture models (SmolLM2
is one) :class:`LeanLlama` runs the same maths with a handful of fused ops per layer: stacked
q/k/v and gate/up weights in bf16, a preallocated KV cache, SDPA with grouped heads, and one
compact sampling step (temperature, top-k, then top-p). Every row shares the prompt, so the prompt
is prefilled once and there is no padding. Rows that reach a stop token leave the batch.

Other architectures fall back to ``model.generate`` (:func:`sample` picks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class SamplingOptions:
    temperature: float = 1.0  # 0 = greedy
    top_k: int = 50  # 0 = off
    top_p: float = 0.95  # 1.0 = off
    max_new_tokens: int = 64


# ----------------------------------------------------------------------------------- sampling step


def pick_tokens(
    logits: torch.Tensor, opts: SamplingOptions, generator: torch.Generator | None
) -> torch.Tensor:
    """Choose one token per row of ``logits`` [B, V]: greedy, or temperature + top-k + top-p."""
    if opts.temperature <= 0:
        return logits.argmax(-1)
    logits = logits.float() / opts.temperature
    k = opts.top_k if 0 < opts.top_k < logits.shape[-1] else 0
    if k:
        vals, idx = logits.topk(k, dim=-1)  # sorted, descending
    else:
        vals, idx = logits.sort(dim=-1, descending=True)
    probs = vals.softmax(-1)
    if opts.top_p < 1.0:
        # drop a token when the tokens before it already cover top_p (the first one always stays)
        drop = probs.cumsum(-1) - probs > opts.top_p
        probs = probs.masked_fill(drop, 0.0)
    choice = torch.multinomial(probs, 1, generator=generator)
    return idx.gather(-1, choice).squeeze(-1)


# -------------------------------------------------------------------------------- lean Llama path


def supports_lean(model) -> bool:
    """True when ``model`` is a plain Llama decoder that :class:`LeanLlama` reproduces exactly."""
    cfg = getattr(model, "config", None)
    return (
        cfg is not None
        and getattr(cfg, "model_type", None) == "llama"
        and getattr(cfg, "hidden_act", "silu") == "silu"
        and not getattr(cfg, "attention_bias", False)
        and not getattr(cfg, "mlp_bias", False)
        and getattr(cfg, "pretraining_tp", 1) == 1
        and hasattr(getattr(model, "model", None), "rotary_emb")
    )


def _can_pack(dtype: torch.dtype) -> bool:
    """oneDNN prepacked bf16 weights: ~1.6x faster small-batch matmuls than F.linear on CPU
    (measured on 2 AVX512-BF16 cores), and no slow first calls. Checked once on a tiny matrix."""
    if dtype != torch.bfloat16 or not torch.backends.mkldnn.is_available():
        return False
    try:
        w = torch.randn(8, 16).to(dtype)
        x = torch.randn(3, 16).to(dtype)
        packed = torch.ops.mkldnn._reorder_linear_weight(w, 16)
        out = torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")
        return bool(torch.allclose(out.float(), F.linear(x, w).float(), atol=1e-2))
    except (AttributeError, RuntimeError):
        return False


class LeanLlama:
    """Inference-only copy of a ``LlamaForCausalLM``'s weights with a minimal decode loop."""

    def __init__(self, model, dtype: torch.dtype = torch.bfloat16) -> None:
        cfg = model.config
        self.dtype = dtype
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.eps = cfg.rms_norm_eps
        self.max_positions = cfg.max_position_embeddings
        self._rotary = model.model.rotary_emb

        self._packed = _can_pack(dtype)

        def w(t: torch.Tensor) -> torch.Tensor:
            t = t.detach().to(dtype).contiguous()
            return torch.ops.mkldnn._reorder_linear_weight(t, 16) if self._packed else t

        with torch.no_grad():
            self.embed = model.model.embed_tokens.weight.detach().to(dtype).contiguous()
            self.lm_head = w(model.lm_head.weight)
            self.norm = model.model.norm.weight.detach().to(dtype).contiguous()
            self.layers = []
            for layer in model.model.layers:
                at, mlp = layer.self_attn, layer.mlp
                self.layers.append(
                    (
                        layer.input_layernorm.weight.detach().to(dtype).contiguous(),
                        w(torch.cat([at.q_proj.weight, at.k_proj.weight, at.v_proj.weight])),
                        w(at.o_proj.weight),
                        layer.post_attention_layernorm.weight.detach().to(dtype).contiguous(),
                        w(torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight])),
                        w(mlp.down_proj.weight),
                    )
                )
        self._cos_sin_len = 0

    # ---- helpers

    def _rope_tables(self, length: int) -> None:
        if length <= self._cos_sin_len:
            return
        pos = torch.arange(length).unsqueeze(0)
        probe = torch.empty(0, dtype=torch.float32)
        with torch.no_grad():
            cos, sin = self._rotary(probe, pos)
        self._cos, self._sin = cos[0].to(self.dtype), sin[0].to(self.dtype)  # [T, D]
        self._cos_sin_len = length

    @staticmethod
    def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        rot = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return torch.addcmul(x * cos, rot, sin)

    def _linear(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if self._packed:
            return torch.ops.mkldnn._linear_pointwise(x, weight, None, "none", [], "")
        return F.linear(x, weight)

    def _norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        # fp32 statistics like LlamaRMSNorm, so logits match the reference model
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return weight * xf.to(self.dtype)

    def _mlp(self, x: torch.Tensor, ln2, w_gu, w_down) -> torch.Tensor:
        gate, up = self._linear(self._norm(x, ln2), w_gu).chunk(2, dim=-1)
        return x + self._linear(F.silu(gate) * up, w_down)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self._linear(self._norm(x, self.norm), self.lm_head)

    # ---- forward passes

    @torch.inference_mode()
    def prefill(self, ids: Sequence[int], batch: int, capacity: int) -> torch.Tensor:
        """Run the prompt once, fill a KV cache for ``batch`` rows; last logits [V] (fp32)."""
        T = len(ids)
        H, KV, D = self.n_heads, self.n_kv, self.head_dim
        self._rope_tables(capacity)
        cos, sin = self._cos[:T], self._sin[:T]
        # cache: [layers, k/v, batch, kv heads, positions, head dim]
        # fp32: attention over the cache is a few tiny batched matmuls, faster in fp32 than bf16
        self.cache = torch.empty(len(self.layers), 2, batch, KV, capacity, D, dtype=torch.float32)
        self.length = T
        x = self.embed[torch.as_tensor(list(ids))]  # [T, hidden]
        for i, (ln1, w_qkv, w_o, ln2, w_gu, w_down) in enumerate(self.layers):
            qkv = self._linear(self._norm(x, ln1), w_qkv).view(T, H + 2 * KV, D).transpose(0, 1)
            q = self._rotate(qkv[:H], cos, sin)
            k = self._rotate(qkv[H : H + KV], cos, sin)
            v = qkv[H + KV :]
            self.cache[i, 0, :, :, :T] = k
            self.cache[i, 1, :, :, :T] = v
            rep = H // KV
            att = F.scaled_dot_product_attention(
                q, k.repeat_interleave(rep, 0), v.repeat_interleave(rep, 0), is_causal=True
            )
            x = x + self._linear(att.transpose(0, 1).reshape(T, H * D), w_o)
            x = self._mlp(x, ln2, w_gu, w_down)
        return self._logits(x[-1:])[0].float()

    @torch.inference_mode()
    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed one token per row (all rows at the same position); return logits [B, V] (fp32)."""
        B, t = tokens.shape[0], self.length
        H, KV, D = self.n_heads, self.n_kv, self.head_dim
        G = H // KV
        scale = D**-0.5
        cos, sin = self._cos[t], self._sin[t]
        x = self.embed[tokens]  # [B, hidden]
        for i, (ln1, w_qkv, w_o, ln2, w_gu, w_down) in enumerate(self.layers):
            qkv = self._linear(self._norm(x, ln1), w_qkv).view(B, H + 2 * KV, D)
            qk = self._rotate(qkv[:, : H + KV], cos, sin)
            kv = self.cache[i, :, :, :, : t + 1]
            kv[0, :, :, t] = qk[:, H:]
            kv[1, :, :, t] = qkv[:, H + KV :]
            # one query position: the G query heads sharing a KV head act as G "positions", no mask
            q = qk[:, :H].view(B, KV, G, D).float()
            # plain fp32 matmuls: faster than SDPA's CPU kernel or bf16 bmm at this size
            att = torch.matmul(q, kv[0].transpose(-1, -2)).mul_(scale).softmax(-1)
            att = torch.matmul(att, kv[1]).to(self.dtype)
            x = x + self._linear(att.reshape(B, H * D), w_o)
            x = self._mlp(x, ln2, w_gu, w_down)
        self.length = t + 1
        return self._logits(x).float()

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Drop finished rows from the KV cache."""
        self.cache = self.cache.index_select(2, rows)

    def forward_logits(self, ids: Sequence[int]) -> torch.Tensor:
        """Logits [T, V] of a whole sequence via prefill + steps (tests compare with HF)."""
        ids = list(ids)
        out = [self.prefill(ids[:1], 1, len(ids))]
        for tok in ids[1:]:
            out.append(self.step(torch.tensor([tok]))[0])
        return torch.stack(out)


# ----------------------------------------------------------------------------------------- driver


def _lean_sample(lean: LeanLlama, prompt_ids, n, opts, stop_ids, generator, on_token):
    capacity = len(prompt_ids) + opts.max_new_tokens
    last = lean.prefill(prompt_ids, n, capacity).expand(n, -1)
    rows = list(range(n))  # original sample index of each live row
    out: list[list[int]] = [[] for _ in range(n)]
    stop = torch.tensor(sorted(stop_ids))
    for step in range(opts.max_new_tokens):
        tokens = pick_tokens(last, opts, generator)
        ended = torch.isin(tokens, stop)
        for row, tok, end in zip(rows, tokens.tolist(), ended.tolist(), strict=True):
            if not end:
                out[row].append(tok)
        if on_token:
            on_token(len(rows))
        if ended.any():
            live = (~ended).nonzero().squeeze(-1)
            if live.numel() == 0:
                break
            rows = [rows[j] for j in live.tolist()]
            tokens = tokens[live]
            lean.keep_rows(live)
        if step + 1 < opts.max_new_tokens:
            last = lean.step(tokens)
    return out


def _hf_sample(model, prompt_ids, n, opts, stop_ids, seed):
    ids = torch.tensor([list(prompt_ids)] * n)
    if seed is not None:
        torch.manual_seed(seed)
    greedy = opts.temperature <= 0
    kwargs = (
        {}
        if greedy
        else {"temperature": opts.temperature, "top_k": opts.top_k or None, "top_p": opts.top_p}
    )
    with torch.inference_mode():
        seqs = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=not greedy,
            max_new_tokens=opts.max_new_tokens,
            eos_token_id=sorted(stop_ids),
            pad_token_id=min(stop_ids),
            **kwargs,
        )
    out = []
    for seq in seqs[:, ids.shape[1] :].tolist():
        cut = next((i for i, t in enumerate(seq) if t in stop_ids), len(seq))
        out.append(seq[:cut])
    return out


class Sampler:
    """Samples ``n`` continuations of one prompt from a causal LM (lean path when supported)."""

    def __init__(
        self, model, *, dtype: torch.dtype | None = None, lean: bool | None = None
    ) -> None:
        self.model = model
        self.dtype = dtype or next(model.parameters()).dtype  # compute in the weights' dtype
        use_lean = supports_lean(model) if lean is None else lean
        self.lean = LeanLlama(model, self.dtype) if use_lean else None

    @property
    def path(self) -> str:
        return "lean-llama" if self.lean else "hf-generate"

    def sample(
        self,
        prompt_ids: Sequence[int],
        n: int,
        opts: SamplingOptions,
        stop_ids: Iterable[int],
        *,
        seed: int | None = None,
        on_token: Callable[[int], None] | None = None,
    ) -> list[list[int]]:
        """Return ``n`` lists of new token ids, each cut before its first stop token."""
        if not prompt_ids:
            raise ValueError("prompt_ids must hold at least one token (start with the separator)")
        stop_ids = set(stop_ids)
        max_len = getattr(self.model.config, "max_position_embeddings", None) or math.inf
        room = int(min(opts.max_new_tokens, max_len - len(prompt_ids)))
        if room <= 0:
            return [[] for _ in range(n)]
        opts = SamplingOptions(opts.temperature, opts.top_k, opts.top_p, room)
        if self.lean is None:
            return _hf_sample(self.model, prompt_ids, n, opts, stop_ids, seed)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        return _lean_sample(self.lean, prompt_ids, n, opts, stop_ids, generator, on_token)
