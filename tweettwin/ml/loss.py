"""Causal-LM loss without materialising the full vocabulary logits.

With a 49k vocabulary the LM head + cross-entropy is about a third of a training step on CPU.
``linear_cross_entropy`` computes logits chunk by chunk in the compute dtype, turns them into
the gradient (softmax - one-hot) right away, and keeps only the small gradients of the hidden
states and the head weight for the backward pass: no 2048 x 49k fp32 logits, no separate
log-softmax backward. Positions without a label (padding) never reach the head.
"""

from __future__ import annotations

import torch
from torch import nn

IGNORE = -100


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets, dtype, chunk_rows):
        n = targets.numel()
        ctx.weight_dtype = weight.dtype
        w = weight.to(dtype)
        need_w = weight.requires_grad
        need_h = hidden.requires_grad
        grad_h = torch.empty_like(hidden) if need_h else None
        grad_w = None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, n, chunk_rows):
            h = hidden[start : start + chunk_rows].to(dtype)
            t = targets[start : start + chunk_rows]
            rows = torch.arange(len(t), device=t.device)
            logits = (h @ w.t()).float()
            if not (need_h or need_w):  # evaluation: the exact log-probabilities only
                total -= torch.log_softmax(logits, dim=-1)[rows, t].sum()
                continue
            # One fused softmax pass instead of logsumexp + subtract + exp + scale: on CPU these
            # element-wise passes over the rows x 49k logits cost as much as a matmul.
            probs = torch.softmax(logits, dim=-1)
            total -= probs[rows, t].clamp_min(1e-45).log().sum()
            probs[rows, t] -= 1.0  # the gradient of the logits, times n
            g = probs.to(dtype)
            if need_h:
                grad_h[start : start + chunk_rows] = (g @ w).div_(n)
            if need_w:  # 1/n goes on the small factor, not the rows x 49k one
                part = (g.t() @ (h / n)).float()
                grad_w = part if grad_w is None else grad_w.add_(part)
        ctx.save_for_backward(grad_h, grad_w)
        return total / n

    @staticmethod
    def backward(ctx, grad_out):
        grad_h, grad_w = ctx.saved_tensors
        one = bool(grad_out == 1)  # the usual case: skip a pass over the 49k x d head gradient
        gh = grad_h if grad_h is None or one else grad_h * grad_out
        gw = grad_w if grad_w is None or one else grad_w * grad_out
        gw = gw.to(ctx.weight_dtype) if gw is not None else None
        return gh, gw, None, None, None


def linear_cross_entropy(hidden, weight, targets, dtype=torch.bfloat16, chunk_rows: int = 1024):
    """Mean cross-entropy of ``hidden @ weight.T`` vs ``targets`` (IGNORE rows dropped)."""
    hidden = hidden.reshape(-1, hidden.shape[-1])
    targets = targets.reshape(-1)
    keep = targets != IGNORE
    if not bool(keep.all()):
        hidden, targets = hidden[keep], targets[keep]
    if torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad):
        return _LinearCrossEntropy.apply(hidden, weight, targets, dtype, chunk_rows)
    with torch.no_grad():  # evaluation: skip the gradient work
        return _LinearCrossEntropy.forward(
            _NoCtx(), hidden.detach(), weight.detach(), targets, dtype, chunk_rows
        )


class _NoCtx:
    def save_for_backward(self, *tensors):
        pass


def split_model(model):
    """(body, head) of a causal LM (also inside a peft wrapper): body gives hidden states."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(base, base.base_model_prefix), base.get_output_embeddings()


class PostLM(nn.Module):
    """Wraps a causal LM so that ``forward`` returns the loss (one module for DDP to wrap).

    ``fused=True`` uses ``linear_cross_entropy``; ``fused=False`` is the plain transformers loss
    (kept to compare against). ``detach_inputs=True`` feeds the body detached input embeddings:
    with the lower layers frozen, the backward pass then ends at the first trained layer, while a
    tied embedding still learns through its other role, the LM head."""

    def __init__(self, model, fused: bool = True, dtype=torch.bfloat16, detach_inputs=False):
        super().__init__()
        self.model, self.fused, self.dtype = model, fused, dtype
        self.detach_inputs = detach_inputs

    def forward(self, input_ids, labels, attention_mask=None):
        if not self.fused:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, labels=labels
            ).loss
        body, head = split_model(self.model)
        if self.detach_inputs:
            embeds = body.get_input_embeddings()(input_ids).detach()
            out = body(inputs_embeds=embeds, attention_mask=attention_mask)
        else:
            out = body(input_ids=input_ids, attention_mask=attention_mask)
        hidden = out.last_hidden_state
        return linear_cross_entropy(hidden[:, :-1], head.weight, labels[:, 1:], dtype=self.dtype)


@torch.no_grad()
def held_out_loss(accelerator, net, batches, dtype) -> float:
    """Token-level mean loss over the whole validation split (each post scored as S text S)."""
    net.eval()
    inner = accelerator.unwrap_model(net)
    total = torch.zeros(2, dtype=torch.float64, device=accelerator.device)
    for ids, mask, labels in batches[accelerator.process_index :: accelerator.num_processes]:
        ids, mask, labels = (t.to(accelerator.device) for t in (ids, mask, labels))
        with torch.autocast(
            accelerator.device.type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16
        ):
            loss = inner(ids, labels=labels, attention_mask=mask)
        n = int((labels[:, 1:] != -100).sum())
        total += torch.tensor([loss.item() * n, n], dtype=torch.float64, device=accelerator.device)
    if accelerator.num_processes > 1:
        total = accelerator.reduce(total, "sum")
    return float(total[0] / total[1])
