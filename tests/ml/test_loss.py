"""The fused LM-head loss equals the plain cross-entropy, in value and in gradients."""

import pytest
import torch
import torch.nn.functional as F

from tweettwin.ml.loss import IGNORE, linear_cross_entropy


def _case(seed=0, rows=37, dim=16, vocab=101):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(rows, dim, generator=g)
    weight = torch.randn(vocab, dim, generator=g) * 0.3
    targets = torch.randint(0, vocab, (rows,), generator=g)
    targets[::5] = IGNORE  # padding rows never count
    return hidden, weight, targets


def _grads(loss_fn, hidden, weight, targets, scale):
    h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    loss = loss_fn(h, w, targets)
    (loss * scale).backward()
    return loss.detach(), h.grad, w.grad


@pytest.mark.parametrize("chunk_rows", [1024, 8])  # one chunk, several chunks
@pytest.mark.parametrize("scale", [1.0, 0.25])  # backward with grad_out == 1 and not
def test_fused_loss_and_gradients_match_plain_cross_entropy(chunk_rows, scale):
    hidden, weight, targets = _case()
    fused = _grads(
        lambda h, w, t: linear_cross_entropy(h, w, t, dtype=torch.float32, chunk_rows=chunk_rows),
        hidden,
        weight,
        targets,
        scale,
    )
    plain = _grads(
        lambda h, w, t: F.cross_entropy(h @ w.t(), t, ignore_index=IGNORE),
        hidden,
        weight,
        targets,
        scale,
    )
    for got, want in zip(fused, plain, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_bf16_compute_stays_close_and_keeps_the_weight_dtype():
    hidden, weight, targets = _case(seed=1)
    loss, gh, gw = _grads(
        lambda h, w, t: linear_cross_entropy(h, w, t, dtype=torch.bfloat16),
        hidden,
        weight,
        targets,
        1.0,
    )
    want, want_gh, want_gw = _grads(
        lambda h, w, t: F.cross_entropy(h @ w.t(), t, ignore_index=IGNORE),
        hidden,
        weight,
        targets,
        1.0,
    )
    assert gw.dtype == weight.dtype and gh.dtype == hidden.dtype
    assert abs(loss.item() - want.item()) < 0.05 * want.item()
    assert F.cosine_similarity(gw.flatten(), want_gw.flatten(), dim=0) > 0.99
    assert F.cosine_similarity(gh.flatten(), want_gh.flatten(), dim=0) > 0.99


def test_evaluation_without_gradients_gives_the_exact_mean_loss():
    hidden, weight, targets = _case(seed=2)
    with torch.no_grad():
        got = linear_cross_entropy(hidden, weight, targets, dtype=torch.float32, chunk_rows=8)
    want = F.cross_entropy(hidden @ weight.t(), targets, ignore_index=IGNORE)
    torch.testing.assert_close(got, want)
