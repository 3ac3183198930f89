"""Fast batched sampling of many posts from one prompt, on CPU.

``transformers``' ``generate()`` spends most of a decode step in Python and per-layer module
overhead (PERF-NOTES §3). For Llama-architecture models (SmolLM2 is one) :class:`LeanLlama` runs
the same maths with a handful of fused ops per layer: stacked q/k/v and gate/up weights (stored
as ``ml/linear.py`` chooses: fp16, prepacked bf16 or plain), RMSNorm gains folded into the next
matmul, a KV cache per call, SDPA for the prompt, and one compact sampling step (temperature,
top-k, then top-p). Every row shares the prompt, so the prompt is prefilled once and there is no
padding. Rows that reach a stop token leave the batch.

Thread safety: the weights are read-only after construction and every call owns its KV cache
(:class:`DecodeState`) and its ``torch.Generator``, so one sampler serves concurrent callers.
Other architectures fall back to a plain forward loop over ``model`` with a per-call cache.
"""

from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from tweettwin.generate_options import SAMPLING_DEFAULTS
from tweettwin.ml.folder_llama import FolderLlama
from tweettwin.ml.linear import fp16_available, make_linear, packed_available

# Rows decoded together. Larger batches amortise reading the weights, but the KV cache grows
# with them; -n 100000 is drawn in batches of this size, so memory stays flat.
MAX_BATCH = 32


@dataclass(frozen=True)
class SamplingOptions:
    temperature: float = SAMPLING_DEFAULTS["temperature"]  # 0 = greedy
    top_k: int = SAMPLING_DEFAULTS["top_k"]  # 0 = off
    top_p: float = SAMPLING_DEFAULTS["top_p"]  # 1.0 = off
    max_new_tokens: int = SAMPLING_DEFAULTS["max_new_tokens"]
    min_p: float = SAMPLING_DEFAULTS["min_p"]  # 0.0 = off


# One decode step of a batch, per live row: (sample index, token id or None, done). None: the
# row drew a stop token (not part of the sample); done with a token: the row is at full length.
Step = list[tuple[int, int | None, bool]]


# ----------------------------------------------------------------------------------- sampling step


def pick_tokens(
    logits: torch.Tensor, opts: SamplingOptions, generator: torch.Generator | None
) -> torch.Tensor:
    """Choose one token per row of ``logits`` [B, V]: greedy, or temperature + top-k + top-p
    (min-p is cut from the model's logits before, see :func:`cut_min_p`)."""
    k = opts.top_k if 0 < opts.top_k < logits.shape[-1] else 0
    if opts.temperature <= 0 or k == 1:  # top-1 is greedy: argmax breaks ties to the lowest id
        return logits.argmax(-1)
    logits = logits.float() / opts.temperature
    if not k and opts.top_p >= 1.0:  # plain sampling: no need to sort the vocabulary
        return draw(logits.softmax(-1), generator)
    if k:
        vals, idx = logits.topk(k, dim=-1)  # sorted, descending
    else:
        # stable: among tied logits (common in bf16) the lowest id first, as argmax picks
        vals, idx = logits.sort(dim=-1, descending=True, stable=True)
    probs = vals.softmax(-1)
    if opts.top_p < 1.0:
        # drop a token when the tokens before it already cover top_p (the first one always stays)
        drop = probs.cumsum(-1) - probs > opts.top_p
        probs = probs.masked_fill(drop, 0.0)
    return idx.gather(-1, draw(probs, generator).unsqueeze(-1)).squeeze(-1)


def cut_min_p(logits: torch.Tensor, opts: SamplingOptions) -> torch.Tensor:
    """The model's ``logits`` [B, V] without the tokens whose odds at the sampling temperature
    are under ``min_p`` times the likeliest token's. Cut before a post's first token is swapped
    for the posts' starts (ml/post_start.py), which are drawn as given, rare starts included."""
    if opts.min_p <= 0 or opts.temperature <= 0:
        return logits
    # no sort: p_i >= min_p * p_max at temperature T  <=>  logit_i >= max logit + T * log(min_p)
    floor = logits.amax(-1, keepdim=True) + opts.temperature * math.log(opts.min_p)
    return logits.masked_fill(logits < floor, -math.inf)


DRAW_BLOCK = 1024  # vocabulary entries per block of the two-level running sum in draw()


def draw(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One index per row of ``probs`` [B, V] (rows need not sum to 1), by inverse CDF: one
    uniform number per row. ``torch.multinomial`` draws an exponential variate for every one of
    the 49k vocabulary entries instead: 10 ms of a 25 ms decode step (profiled, 2 Zen 5 cores).

    The running sum is two-level: per-block sums pick the block, then a running sum inside that
    block alone picks the entry. A float64 cumsum over all 49k entries was 6-8% of decoding."""
    B, V = probs.shape
    nb = -(-V // DRAW_BLOCK)
    padded = F.pad(probs, (0, nb * DRAW_BLOCK - V)) if V % DRAW_BLOCK else probs
    blocks = padded.reshape(B, nb, DRAW_BLOCK)
    sums = blocks.sum(-1, dtype=torch.float64)  # float64: exact enough for 49k small terms
    cdf = sums.cumsum(-1)
    total = cdf[:, -1:]
    if not bool(((total > 0) & total.isfinite()).all()):
        raise RuntimeError("sampling probabilities must be finite with a positive sum per row")
    u = torch.rand(total.shape, generator=generator, dtype=cdf.dtype) * total
    # u < total, so the block found has cdf[b] > u >= cdf[b - 1]: a positive sum
    u = torch.minimum(u, _below(total))
    block = torch.searchsorted(cdf, u, right=True)  # [B, 1]
    before = torch.where(block > 0, cdf.gather(-1, (block - 1).clamp(min=0)), 0.0)
    inner = blocks[torch.arange(B), block[:, 0]].double().cumsum(-1)  # [B, DRAW_BLOCK]
    # the same argument inside the block: the entry found has probs > 0, never a banned token
    rest = torch.minimum(u - before, _below(inner[:, -1:]))
    return block[:, 0] * DRAW_BLOCK + torch.searchsorted(inner, rest, right=True)[:, 0]


def _below(x: torch.Tensor) -> torch.Tensor:
    """The largest float below each (positive) entry of ``x``."""
    return x.nextafter(torch.zeros_like(x))


# -------------------------------------------------------------------------------- lean Llama path


def supports_lean(model) -> bool:
    """True when ``model`` is a plain Llama decoder that :class:`LeanLlama` reproduces exactly
    (a :class:`~tweettwin.ml.folder_llama.FolderLlama` always is: it loads no other kind)."""
    if isinstance(model, FolderLlama):
        return True
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


def weight_layout(dtype: torch.dtype, quantize: bool) -> str:
    """How LeanLlama stores its matmul weights (see ml/linear.py); ``quantize``: fp16 weights."""
    if quantize and fp16_available():
        return "fp16"
    return "packed" if packed_available(dtype) else "dense"


@dataclass
class DecodeState:
    """One call's KV cache: [layers, k/v, rows, kv heads, positions, head dim], fp32 (attention
    over the cache is a few tiny batched matmuls, faster in fp32 than bf16), and its length."""

    cache: torch.Tensor
    length: int
    posts_vocab: bool = False  # logits over LeanLlama.vocab only (its rows, in that order)


def _build_all(jobs: Sequence) -> list:
    """Run the weight-packing thunks ``jobs`` on the intra-op threads, side by side: fbgemm packs
    one fp16 matrix on one thread at ~50M weights a second (2.5 s for SmolLM2-135M, longer than
    sampling 10 posts), and packing two at a time took 1.7x less (2 threads, Intel Xeon)."""
    workers = min(torch.get_num_threads(), len(jobs))
    if workers <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda job: job(), jobs))


def llama_parts(model):
    """``(config, weight by its transformers name, rotary embedding)`` of a
    ``LlamaForCausalLM`` or a :class:`~tweettwin.ml.folder_llama.FolderLlama`."""
    if isinstance(model, FolderLlama):
        return model.config, model.weights.__getitem__, model.rotary
    named = dict(model.named_parameters())
    named["lm_head.weight"] = model.lm_head.weight  # a tied head is listed once, as the embedding
    return model.config, named.__getitem__, model.model.rotary_emb


class LeanLlama:
    """Inference-only copy of a Llama model's weights with a minimal decode loop."""

    def __init__(
        self,
        model,
        dtype: torch.dtype = torch.bfloat16,
        quantize: bool = False,
        vocab: torch.Tensor | None = None,
    ) -> None:
        """``model``: a ``LlamaForCausalLM`` or a ``FolderLlama``. ``vocab``: sorted token ids;
        a second LM head over those rows alone lets a call sample among them (see
        :class:`Sampler`) at a fraction of the full head's cost."""
        cfg, weight, self._rotary = llama_parts(model)
        self.layout = weight_layout(dtype, quantize)
        # fp16-weight matmuls take and return fp32: the rest of the step runs in fp32 with them
        self.dtype = torch.float32 if self.layout == "fp16" else dtype
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.eps = cfg.rms_norm_eps
        self.max_positions = cfg.max_position_embeddings
        self._rope_lock = threading.Lock()
        self._rope = (0, None, None)  # (length, cos, sin), replaced whole when it grows

        def w(*parts: torch.Tensor, gain: torch.Tensor | None = None):
            # a thunk packing ``parts`` stacked by rows, with the preceding RMSNorm gain folded
            # into the columns (W (g * x) = (W g) x); the fp32 copy is made where it is packed
            def build():
                x = torch.cat([p.detach().float() for p in parts])
                if gain is not None:
                    x = x * gain.detach().float()
                return make_linear(x, self.layout, self.dtype)

            return build

        with torch.no_grad():
            self.embed = weight("model.embed_tokens.weight").detach().to(self.dtype).contiguous()
            self.vocab = vocab
            final, head = weight("model.norm.weight"), weight("lm_head.weight")
            # with a vocab head serving most calls, the full head is built on first use
            self._full_head = w(head, gain=final)
            self._head_lock = threading.Lock()
            vocab_head = w(head[vocab], gain=final) if vocab is not None else None
            jobs = [vocab_head or self._full_head]  # the head this LeanLlama samples with
            for i in range(cfg.num_hidden_layers):

                def at(name: str, i: int = i) -> torch.Tensor:
                    return weight(f"model.layers.{i}.{name}.weight")

                # 1/sqrt(head_dim) folded into q (RoPE is linear): no scaling op per step
                q_scaled = at("self_attn.q_proj").float() * self.head_dim**-0.5
                ln1, ln2 = at("input_layernorm"), at("post_attention_layernorm")
                jobs += [
                    w(q_scaled, at("self_attn.k_proj"), at("self_attn.v_proj"), gain=ln1),
                    w(at("self_attn.o_proj")),
                    w(at("mlp.gate_proj"), at("mlp.up_proj"), gain=ln2),
                    w(at("mlp.down_proj")),
                ]
            head, *built = _build_all(jobs)
            self.vocab_head = head if vocab is not None else None
            self._lm_head = head if vocab is None else None  # else packed by .lm_head on first use
            self.layers = [tuple(built[i : i + 4]) for i in range(0, len(built), 4)]

    @property
    def lm_head(self):
        """The LM head over the whole vocabulary (built once, on first use, when a vocab head
        was given: fbgemm packs fp16 weights at ~50M a second, and the head is 28M of them)."""
        if self._lm_head is None:
            with self._head_lock:
                if self._lm_head is None:
                    with torch.no_grad():
                        self._lm_head = self._full_head()
        return self._lm_head

    # ---- helpers

    def _rope_tables(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        have, cos, sin = self._rope
        if length <= have:
            return cos, sin
        with self._rope_lock:  # grown once per longer length; readers keep their own tuple
            if length > self._rope[0]:
                length = max(length, 2 * self._rope[0])
                pos = torch.arange(length).unsqueeze(0)
                with torch.no_grad():
                    c, s = self._rotary(torch.empty(0, dtype=torch.float32), pos)
                # rotate_half(x) * sin == roll(x, D/2) * (sin with its first half negated)
                half = s.shape[-1] // 2
                s = torch.cat((-s[..., :half], s[..., half:]), dim=-1)
                self._rope = (length, c[0].to(self.dtype), s[0].to(self.dtype))  # [T, D]
            return self._rope[1], self._rope[2]

    @staticmethod
    def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        # RoPE with the sign folded into ``sin`` (see _rope_tables): three ops, the same sums
        return torch.addcmul(x * cos, x.roll(x.shape[-1] // 2, -1), sin)

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        # fp32 statistics like LlamaRMSNorm, so logits match the reference model (gain folded)
        return F.rms_norm(x.float(), (x.shape[-1],), eps=self.eps).to(self.dtype)

    def _mlp(self, x: torch.Tensor, w_gu, w_down) -> torch.Tensor:
        gate, up = w_gu(self._norm(x)).chunk(2, dim=-1)
        return x + w_down(F.silu(gate) * up)

    def _logits(self, x: torch.Tensor, posts_vocab: bool = False) -> torch.Tensor:
        head = self.vocab_head if posts_vocab else self.lm_head
        return head(self._norm(x)).float()

    # ---- forward passes

    @torch.inference_mode()
    def prefill(
        self,
        ids: Sequence[int],
        batch: int,
        capacity: int,
        *,
        every_position: bool = False,
        posts_vocab: bool = False,
    ) -> tuple[torch.Tensor, DecodeState]:
        """Run the prompt once; the last logits [V] (fp32; [T, V] with ``every_position``, for
        held-out loss) and a KV cache for ``batch`` rows. ``posts_vocab``: this call's logits
        cover ``self.vocab`` only."""
        T = len(ids)
        H, KV, D = self.n_heads, self.n_kv, self.head_dim
        cos, sin = self._rope_tables(capacity)
        cos, sin = cos[:T], sin[:T]
        cache = torch.empty(len(self.layers), 2, batch, KV, capacity, D, dtype=torch.float32)
        x = self.embed[torch.as_tensor(list(ids))]  # [T, hidden]
        for i, (w_qkv, w_o, w_gu, w_down) in enumerate(self.layers):
            qkv = w_qkv(self._norm(x)).view(T, H + 2 * KV, D).transpose(0, 1)
            q = self._rotate(qkv[:H], cos, sin)
            k = self._rotate(qkv[H : H + KV], cos, sin)
            v = qkv[H + KV :]
            cache[i, 0, :, :, :T] = k
            cache[i, 1, :, :, :T] = v
            rep = H // KV
            att = F.scaled_dot_product_attention(
                q,
                k.repeat_interleave(rep, 0),
                v.repeat_interleave(rep, 0),
                is_causal=True,
                scale=1.0,
            )
            x = x + w_o(att.transpose(0, 1).reshape(T, H * D))
            x = self._mlp(x, w_gu, w_down)
        last = x if every_position else x[-1:]
        logits = self._logits(last, posts_vocab)
        return (logits if every_position else logits[0]), DecodeState(cache, T, posts_vocab)

    @torch.inference_mode()
    def step(self, state: DecodeState, tokens: torch.Tensor) -> torch.Tensor:
        """Feed one token per row (all rows at the same position); return logits [B, V] (fp32)."""
        B, t = tokens.shape[0], state.length
        H, KV, D = self.n_heads, self.n_kv, self.head_dim
        G = H // KV
        cos, sin = self._rope_tables(t + 1)
        cos, sin = cos[t], sin[t]
        x = self.embed[tokens]  # [B, hidden]
        for i, (w_qkv, w_o, w_gu, w_down) in enumerate(self.layers):
            qkv = w_qkv(self._norm(x)).view(B, H + 2 * KV, D)
            qk = self._rotate(qkv[:, : H + KV], cos, sin)
            kv = state.cache[i, :, :, :, : t + 1]
            kv[0, :, :, t] = qk[:, H:]
            kv[1, :, :, t] = qkv[:, H + KV :]
            # one query position: the G query heads sharing a KV head act as G "positions", no mask
            q = qk[:, :H].view(B, KV, G, D).float()
            # plain fp32 matmuls: faster than SDPA's CPU kernel or bf16 bmm at this size
            att = torch.matmul(q, kv[0].transpose(-1, -2)).softmax(-1)
            att = torch.matmul(att, kv[1]).to(self.dtype)
            x = x + w_o(att.reshape(B, H * D))
            x = self._mlp(x, w_gu, w_down)
        state.length = t + 1
        return self._logits(x, state.posts_vocab)

    @staticmethod
    def keep_rows(state: DecodeState, rows: torch.Tensor) -> None:
        """Drop finished rows from the KV cache."""
        state.cache = state.cache.index_select(2, rows)

    def forward_logits(self, ids: Sequence[int]) -> torch.Tensor:
        """Logits [T, V] of a whole sequence via prefill + steps (tests compare with HF)."""
        ids = list(ids)
        first, state = self.prefill(ids[:1], 1, len(ids))
        out = [first]
        for tok in ids[1:]:
            out.append(self.step(state, torch.tensor([tok]))[0])
        return torch.stack(out)


# ----------------------------------------------------------------------------------------- driver


def _ban(logits: torch.Tensor, ban: torch.Tensor | None) -> torch.Tensor:
    return logits if ban is None else logits.index_fill(-1, ban, float("-inf"))


@dataclass(frozen=True)
class Runs:
    """Each row writes ``warm_up`` posts and then one more, ``sep``-separated, and ends at its
    last ``sep``. The last post ends at ``max_post`` tokens (the separator is forced next); a
    warm-up post that reaches it ends the row (a rambling warm-up is a poor context). Every post
    in the run starts as the first does (ban or start distribution; see ml/chain.py)."""

    sep: int
    warm_up: int
    max_post: int


def _start(logits: torch.Tensor, ban, first) -> torch.Tensor:
    """Logits for a post's first token: ``first`` (drawn from instead of the model's, see
    ml/post_start.py) or the model's without ``ban``."""
    return _ban(logits, ban) if first is None else first.expand_as(logits)


def _start_after(logits: torch.Tensor, tokens: torch.Tensor, ban, first, runs: Runs | None):
    """``logits`` with the rows whose last token was the run's separator set to start a post."""
    if (ban is None and first is None) or runs is None:
        return logits
    after = tokens == runs.sep
    if not after.any():
        return logits
    return torch.where(after[:, None], _start(logits, ban, first), logits)


def _ends(tokens: torch.Tensor, stop: torch.Tensor, runs: Runs | None, seps, lengths):
    """The step's tokens (a run's post at ``max_post`` gets the separator) and the rows that
    end with them: a stop token, or a run's last separator. ``seps`` counts each row's
    separators and ``lengths`` the tokens of its current post; both are updated here."""
    if runs is None:
        return tokens, torch.isin(tokens, stop)
    long = lengths >= runs.max_post
    tokens = torch.where(long, runs.sep, tokens)
    at_sep = tokens == runs.sep
    seps += at_sep
    lengths.add_(1).masked_fill_(at_sep, 0)
    rambled = long & (seps <= runs.warm_up)  # the forced separator would end a warm-up
    return tokens, torch.isin(tokens, stop) | (seps > runs.warm_up) | rambled


def _lean_batch(
    lean: LeanLlama, prompt_ids, n, opts, stop, generator, ban=None, runs=None, vocab=None,
    first=None,
) -> Iterator[Step]:  # fmt: skip
    capacity = len(prompt_ids) + opts.max_new_tokens
    posts_vocab = vocab is not None  # the lean's own vocab: its head covers those rows
    logits, state = lean.prefill(prompt_ids, n, capacity, posts_vocab=posts_vocab)
    if posts_vocab:  # logits are over the vocab's rows: bans and starts become row positions
        ban = _positions(vocab, ban)
        first = None if first is None else first[vocab]
    last = _start(cut_min_p(logits, opts), ban, first).expand(n, -1)
    rows = list(range(n))  # sample index of each live row
    seps, lengths = torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=torch.long)
    for step in range(opts.max_new_tokens):
        picked = pick_tokens(last, opts, generator)
        picked = vocab[picked] if posts_vocab else picked
        tokens, ended = _ends(picked, stop, runs, seps, lengths)
        full = step + 1 == opts.max_new_tokens
        yield [
            (row, None if end else tok, end or full)
            for row, tok, end in zip(rows, tokens.tolist(), ended.tolist(), strict=True)
        ]
        if ended.any():
            live = (~ended).nonzero().squeeze(-1)
            if live.numel() == 0:
                return
            rows = [rows[j] for j in live.tolist()]
            tokens, seps, lengths = tokens[live], seps[live], lengths[live]
            lean.keep_rows(state, live)
        if step + 1 < opts.max_new_tokens:
            logits = cut_min_p(lean.step(state, tokens), opts)
            last = _start_after(logits, tokens, ban, first, runs)


def _positions(vocab: torch.Tensor, ids: torch.Tensor | None) -> torch.Tensor | None:
    """Where ``ids`` sit in the sorted ``vocab`` (ids outside it are dropped)."""
    if ids is None:
        return None
    at = torch.searchsorted(vocab, ids).clamp(max=len(vocab) - 1)
    return at[vocab[at] == ids]


def _hf_batch(
    model, prompt_ids, n, opts, stop, generator, ban=None, runs=None, vocab=None, first=None
) -> Iterator[Step]:
    """Any causal LM: a forward loop with a cache of its own (no global RNG, no shared state);
    ``vocab``: sample among those token ids only (the others' logits masked)."""
    ids = torch.tensor([list(prompt_ids)] * n)
    done = torch.zeros(n, dtype=torch.bool)
    seps, lengths = torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=torch.long)
    # transformers 5 renamed past_key_values to cache (argument and output)
    name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    with torch.inference_mode():
        out = model(input_ids=ids, use_cache=True)
        tokens = ids[:, -1]
        if vocab is not None:  # the logits' columns outside ``vocab``, masked every step
            outside = torch.ones(out.logits.shape[-1], dtype=torch.bool)
            outside.index_fill_(0, vocab, False)
        for step in range(opts.max_new_tokens):
            logits = out.logits[:, -1].float()
            if vocab is not None:
                logits = logits.masked_fill(outside, float("-inf"))
            logits = cut_min_p(logits, opts)
            if step == 0:
                logits = _start(logits, ban, first)
            else:
                logits = _start_after(logits, tokens, ban, first, runs)
            tokens, ended = _ends(pick_tokens(logits, opts, generator), stop, runs, seps, lengths)
            live = (~done).nonzero().squeeze(-1).tolist()
            full = step + 1 == opts.max_new_tokens
            toks, ends = tokens.tolist(), ended.tolist()
            yield [(r, None if ends[r] else toks[r], ends[r] or full) for r in live]
            done |= ended
            if done.all() or full:
                return
            out = model(input_ids=tokens[:, None], use_cache=True, **{name: getattr(out, name)})


class Sampler:
    """Samples continuations of one prompt from a causal LM (lean path when supported)."""

    def __init__(
        self,
        model,
        *,
        dtype: torch.dtype | None = None,
        lean: bool | None = None,
        quantize: bool = False,
        vocab: Iterable[int] | None = None,
    ) -> None:
        """``vocab``: token ids a call may restrict its samples to (``stream(posts_vocab=True)``);
        the lean path then computes the LM head over those rows alone."""
        self.model = model
        self.dtype = dtype or next(model.parameters()).dtype  # compute in the weights' dtype
        self.head_rows = model.get_output_embeddings().weight.shape[0]  # the whole vocabulary
        self.vocab = None
        if vocab is not None:  # ids past the LM head's rows never occur
            ids = sorted({v for v in vocab if 0 <= v < self.head_rows})
            self.vocab = torch.tensor(ids, dtype=torch.long)
        use_lean = supports_lean(model) if lean is None else lean
        if not use_lean and isinstance(model, FolderLlama):
            raise ValueError("a FolderLlama samples on the lean path only (load with lean=False)")
        self.lean = LeanLlama(model, self.dtype, quantize, self.vocab) if use_lean else None
        if isinstance(model, FolderLlama):
            model.drop_layers()  # the lean copy is all that samples or scores from now on

    @property
    def path(self) -> str:
        if self.lean is None:
            return "hf-forward"
        return f"lean-llama/{self.lean.layout}/{str(self.lean.dtype).removeprefix('torch.')}"

    def room(self, prompt_len: int) -> int:
        """How many tokens fit after a prompt of ``prompt_len`` tokens in the model's context."""
        context = getattr(self.model.config, "max_position_embeddings", None)
        return 1 << 30 if context is None else context - prompt_len

    def stream(
        self,
        prompt_ids: Sequence[int],
        n: int,
        opts: SamplingOptions,
        stop_ids: Iterable[int],
        *,
        generator: torch.Generator | None = None,
        batch: int | None = None,
        first_ban: Sequence[int] | None = None,
        runs: Runs | None = None,
        posts_vocab: bool = False,
        starts: torch.Tensor | None = None,
    ) -> Iterator[Step]:
        """Decode steps of ``n`` samples, drawn ``batch`` rows at a time; sample indices count
        from 0 across batches; no sample starts with a token in ``first_ban``. ``starts``: log
        probabilities over token ids that a sample's first token (and each post's of a run) is
        drawn from instead of the model's, as given whatever the temperature (greedy ignores
        them). With ``runs``, a sample is a run of posts (:class:`Runs`); with ``posts_vocab``,
        every token is one of the sampler's ``vocab`` (which must hold the stop ids and every
        token ``starts`` allows). The caller checks that the prompt leaves room (see
        ``room``)."""
        if not prompt_ids:
            raise ValueError("prompt_ids must hold at least one token (start with the separator)")
        stop = torch.tensor(sorted(set(stop_ids)))
        ban = torch.tensor(sorted(set(first_ban)), dtype=torch.long) if first_ban else None
        batch = batch or MAX_BATCH
        run = _hf_batch if self.lean is None else _lean_batch
        target = self.model if self.lean is None else self.lean
        vocab = self.vocab if posts_vocab else None
        # pick_tokens divides by the temperature: scaled here, the starts are drawn as given
        first = None if starts is None or opts.temperature <= 0 else starts * opts.temperature
        for start in range(0, n, batch):
            rows = min(batch, n - start)
            args = (prompt_ids, rows, opts, stop, generator, ban, runs, vocab, first)
            for step in run(target, *args):
                yield [(start + r, tok, end) for r, tok, end in step]

    def sample(
        self,
        prompt_ids: Sequence[int],
        n: int,
        opts: SamplingOptions,
        stop_ids: Iterable[int],
        *,
        seed: int | None = None,
        batch: int | None = None,
    ) -> list[list[int]]:
        """Return ``n`` lists of new token ids, each cut before its first stop token (and at the
        model's context)."""
        room = self.room(len(prompt_ids))
        if room < 1:
            return [[] for _ in range(n)]
        opts = replace(opts, max_new_tokens=min(room, opts.max_new_tokens))
        generator = torch.Generator()
        generator.manual_seed(seed) if seed is not None else generator.seed()
        out: list[list[int]] = [[] for _ in range(n)]
        for step in self.stream(prompt_ids, n, opts, stop_ids, generator=generator, batch=batch):
            for row, tok, _ in step:
                if tok is not None:
                    out[row].append(tok)
        return out
