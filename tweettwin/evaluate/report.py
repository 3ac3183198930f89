"""``report.html``: one self-contained page (plots as inline SVG, no scripts, no network) that
shows an eval.json: training curves, lengths real vs generated, style rates side by side, the
distribution scores read in plain words, memorization, and posts next to real ones."""

from __future__ import annotations

import html
import io
import math
from collections.abc import Mapping, Sequence

from tweettwin.evaluate.card import kernel_text

REAL, GENERATED = "#4c72b0", "#dd8452"


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: it sits inside HTML


def _figure(width: float = 5.2, height: float = 2.8):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig, ax = plt.subplots(figsize=(width, height))
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def loss_curve(evals: Sequence[Mapping]) -> str | None:
    points = [(e["step"], e["val_loss"]) for e in evals if "step" in e and "val_loss" in e]
    train = [(e["step"], e["train_loss"]) for e in evals if e.get("train_loss") is not None]
    if not points:
        return None
    fig, ax = _figure()
    if train:
        ax.plot(*zip(*train, strict=True), color=GENERATED, marker=".", label="training loss")
    ax.plot(*zip(*points, strict=True), color=REAL, marker="o", label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.legend(frameon=False)
    return _svg(fig)


def histogram(real: Sequence[float], generated: Sequence[float], label: str) -> str:
    fig, ax = _figure(4.2, 2.6)
    top = max([*real, *generated, 1])
    bins = min(30, int(top) + 1)
    ax.hist(real, bins=bins, range=(0, top), alpha=0.6, color=REAL, label="real", density=True)
    ax.hist(
        generated,
        bins=bins,
        range=(0, top),
        alpha=0.6,
        color=GENERATED,
        label="generated",
        density=True,
    )
    ax.set_xlabel(label)
    ax.set_yticks([])
    ax.legend(frameon=False)
    return _svg(fig)


def rate_bars(rates: Mapping[str, Mapping]) -> str:
    import numpy as np

    names = list(rates)
    y = np.arange(len(names))
    fig, ax = _figure(5.2, 0.42 * len(names) + 0.8)
    ax.barh(y - 0.2, [rates[n]["real"] for n in names], 0.4, color=REAL, label="real")
    ax.barh(
        y + 0.2, [rates[n]["generated"] for n in names], 0.4, color=GENERATED, label="generated"
    )
    ax.set_yticks(y, [rates[n]["label"] for n in names])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    return _svg(fig)


def readings(r: Mapping) -> list[tuple[str, str, str]]:
    """(score, value, what it means in plain words) for the headline numbers."""
    out = []
    ppl, base = r.get("perplexity"), r.get("base_perplexity")
    if ppl is not None:
        gain = (
            f"; the base model scores {base:,.1f}, so fine-tuning made held-out posts "
            f"{base / ppl:.1f}× less surprising"
            if base
            else ""
        )
        out.append(("Perplexity", f"{ppl:,.2f}", f"held-out posts, lower is better{gain}"))
    auc = r["classifier_auc"]
    ref = r["distribution"].get("reference")
    floor = (
        f"; {ref['posts']} of the person's own training posts score {ref['classifier_auc']:.0%} "
        "(what the person themself would score at this sample size)"
        if ref
        else ""
    )
    out.append(
        (
            "Classifier AUC",
            f"{auc:.3f}",
            f"shown one real and one generated post, a classifier picks the generated one "
            f"{auc:.0%} of the time (50% = it cannot tell them apart){floor}",
        )
    )
    out.append(("Fréchet distance", f"{r['distribution']['frechet_distance']:.4f}", _frechet(r)))
    kernel = r["distribution"].get("kernel_distance")  # eval.json files before it lack it
    if kernel is not None:
        out.append(("Kernel distance", kernel_text(kernel), _kernel(r)))
    real = r["diversity"]["real"]
    out.append(
        (
            "Distinct-2",
            f"{r['distinct_2']:.3f}",
            f"share of word pairs that are new across samples; the real posts: "
            f"{real['distinct_2']:.3f}",
        )
    )
    out.append(
        (
            "Self-BLEU",
            f"{r['self_bleu']:.3f}",
            f"how much samples repeat each other (0 = not at all); the real posts: "
            f"{real['self_bleu']:.3f}",
        )
    )
    dropped = r.get("guard_dropped")
    guard = f"; the guard dropped {dropped} of {r['samples']}" if dropped is not None else ""
    out.append(
        (
            "Copy rate",
            f"{r['copy_rate']:.1%}",
            f"of the posts users get repeat a training post or share an 8-word run with one"
            f" (guard off: {r['copy_rate_unguarded']:.1%}{guard})",
        )
    )
    return out


def _frechet(r: Mapping) -> str:
    dist = r["distribution"]
    fd, ref = dist["frechet_distance"], dist.get("reference")
    text = f"between real and generated post embeddings ({r['embedding']}), lower is closer; "
    if ref:  # like for like: as many real posts as generated ones, against the same held-out
        floor = ref["frechet_distance"]
        text += (
            f"{ref['posts']} of the person's own training posts are {floor:.4f} from the "
            "held-out ones"
        )
    else:
        floor = dist["frechet_distance_real_halves"]
        halves = r["validation_posts"] // 2
        text += f"two random halves of the real posts ({halves} each) are {floor:.4f} apart"
    if fd <= floor:
        return text + (
            ": at this sample size the distance cannot tell the two apart, read the "
            "classifier instead"
        )
    return text + f", so the generated posts sit {fd / floor:.2f}× that far from the real ones"


def _kernel(r: Mapping) -> str:
    text = (
        f"unbiased kernel two-sample distance (MMD²) between real and generated post embeddings "
        f"({r['embedding']}): 0 on average for posts from the same source, lower is closer"
    )
    ref = r["distribution"].get("reference") or {}
    if ref.get("kernel_distance") is not None:
        text += (
            f"; {ref['posts']} of the person's own training posts score "
            f"{kernel_text(ref['kernel_distance'])}"
        )
    return text


def style_readings(st: Mapping) -> list[str]:
    """The style section in plain words: typical lengths, then the habits that differ most."""
    out = []
    lengths = st.get("lengths", {})
    for key, unit in (("words", "words"), ("chars", "characters")):
        if key in lengths:
            real, gen = lengths[key]["real"], lengths[key]["generated"]
            out.append(
                f"Length in {unit}: real posts have a median of {_num(real['median'])} (nine in "
                f"ten at most {_num(real['p90'])}), generated ones {_num(gen['median'])} (at "
                f"most {_num(gen['p90'])})."
            )
    gaps = sorted(
        st.get("rates", {}).values(), key=lambda v: abs(v["real"] - v["generated"]), reverse=True
    )
    far = [g for g in gaps if abs(g["real"] - g["generated"]) >= 0.05][:3]
    if far:
        out.append(
            "Biggest differences in habits: "
            + "; ".join(
                f"{g['label']}: {g['real']:.0%} of real posts, {g['generated']:.0%} of generated"
                for g in far
            )
            + "."
        )
    elif gaps:
        out.append("Every habit below is within 5 points of the real posts' rate.")
    return out


def training_reading(r: Mapping) -> str | None:
    """Where training's own validation scores went, next to this eval's rescoring."""
    evals = [e for e in r["model"].get("training_evals") or [] if "val_loss" in e]
    if not evals:
        return None
    first, best = evals[0], min(evals, key=lambda e: e["val_loss"])
    text = (
        f"Validation loss went from {first['val_loss']:.2f} at step {first['step']} to "
        f"{best['val_loss']:.2f} at step {best['step']} (perplexity "
        f"{math.exp(first['val_loss']):,.1f} → {math.exp(best['val_loss']):,.1f})"
    )
    ppl, precision = r.get("perplexity"), r["model"].get("training_precision")
    if ppl is not None:
        text += f". This eval rescores the saved model in fp32: {ppl:,.2f}"
        if precision and precision != "fp32":
            text += (
                f" (training scored under {precision} autocast, which rounds more: the two "
                "differ by a percent or so)"
            )
    return text + "."


def _time_split(r: Mapping) -> str:
    """Where the eval's time went: `` (held-out loss 9 s, sampling 11 s, scoring 4 s)``."""
    timing = r.get("timing") or {}
    parts = [
        f"{label} {timing[key]:.0f} s"
        for key, label in (
            ("fit_s", "held-out loss"),
            ("sampling_s", "sampling"),
            ("scoring_s", "scoring"),
        )
        if isinstance(timing.get(key), (int, float))
    ]
    return f" ({', '.join(parts)})" if parts else ""


def _num(value: float) -> str:
    return f"{value:g}"


# Emoji fonts are named after the text fonts: posts carry emoji, and a browser that only falls
# back to its default font draws empty boxes for them.
CSS = """body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",
sans-serif,"Apple Color Emoji","Segoe UI Emoji","Noto Color Emoji","Twemoji Mozilla";
max-width:980px;margin:2em auto;padding:0 1em;color:#222}h1{font-size:1.6em}
h1 small{display:block;font-size:.55em;font-weight:normal;color:#666;overflow-wrap:anywhere}
h2{margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0}td,th{padding:.3em .6em;border-bottom:1px solid #eee;
text-align:left;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
.warn{background:#fff4e0;padding:.5em 1em}.reading{color:#444;max-width:48em}
.posts{table-layout:fixed;width:100%}.posts td{font-size:.93em;overflow-wrap:anywhere}
svg{max-width:100%;height:auto}"""


def _table(rows: Sequence[Sequence], head: Sequence[str] | None = None, cls: str = "") -> str:
    e = html.escape
    top = "<tr>" + "".join(f"<th>{e(str(h))}</th>" for h in head) + "</tr>" if head else ""
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class=n>{e(str(c))}</td>"
            if isinstance(c, (int, float))
            else f"<td>{e(str(c))}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table class='{cls}'>{top}{body}</table>"


def render_report(r: Mapping) -> str:
    """The whole page for one eval result (the eval.json object)."""
    e = html.escape
    parts = [f"<h1>How close is the twin? <small>{e(str(r['model']['path']))}</small></h1>"]
    parts += [f"<p class=warn>⚠ {e(w)}</p>" for w in r.get("warnings", [])]
    parts.append(
        f"<p>{r['samples']} generated posts (unprompted, copy guard on) against "
        f"{r['validation_posts']} held-out real posts; {r['seconds']:.0f} s{_time_split(r)}.</p>"
    )
    parts.append("<h2>Scores</h2>" + _table(readings(r), ("score", "value", "reading")))
    curve = loss_curve(r["model"].get("training_evals") or [])
    if curve:
        said = training_reading(r)
        parts.append(
            "<h2>Training</h2>" + (f"<p class=reading>{e(said)}</p>" if said else "") + curve
        )
    parts += _style_sections(r["style"])
    parts.append(_distribution_section(r))
    parts.append("<h2>Memorization</h2>" + _memo_table(r["memorization"]))
    ex = r["examples"]
    parts.append(
        "<h2>Posts</h2>"
        + f"<p class=reading>The first {len(ex['generated'])} generated posts next to the first "
        f"{len(ex['real'])} held-out ones; eval.json has the numbers behind every section.</p>"
        + _table(
            list(_zip_long(ex["generated"], ex["real"], fill="")),
            ("generated", "real (held out)"),
            "posts",
        )
    )
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>tweettwin eval</title>"
        f"<style>{CSS}</style><body>{''.join(parts)}</body></html>\n"
    )


def _style_sections(st: Mapping) -> list[str]:
    """Lengths and rates side by side, then the top words and hashtags, real vs generated."""
    values = st.get("values", {})
    hists = [
        histogram(values[k]["real"], values[k]["generated"], f"post length ({k})")
        for k in ("words", "chars")
        if k in values
    ]
    words, tags = st["top_words"], st["top_hashtags"]
    said = "".join(f"<p class=reading>{html.escape(t)}</p>" for t in style_readings(st))
    return [
        "<h2>Style</h2>"
        + said
        + "<div class=grid>"
        + "".join(hists)
        + rate_bars(st["rates"])
        + "</div>",
        "<div class=grid>"
        + _table(_counted_pairs(words), ("top words, real", "generated"))
        + _table(_counted_pairs(tags) or [("none", "none")], ("top hashtags, real", "generated"))
        + "</div>",
    ]


def _counted_pairs(top: Mapping) -> list[tuple[str, str]]:
    """Rows of ``word (count)``, real next to generated."""
    return [
        (f"{a[0]} ({a[1]})" if a else "", f"{b[0]} ({b[1]})" if b else "")
        for a, b in _zip_long(top["real"], top["generated"])
    ]


def distribution_reading(r: Mapping) -> str:
    """Which of the classifier's inputs gives the generated posts away."""
    dist = r["distribution"]
    emb, sty = dist["auc_embedding_only"], dist["auc_style_only"]
    text = (
        f"On what the posts say ({r['embedding']} embedding) the classifier reaches {emb:.2f}; "
        f"on their surface habits alone (lengths, hashtags, emoji, capitals) {sty:.2f}. "
    )
    if abs(emb - sty) < 0.05:
        return text + "Both give the generated posts away about equally."
    which = "what they say" if emb > sty else "how they look"
    return text + f"The generated posts are told apart mostly by {which}."


def _distribution_section(r: Mapping) -> str:
    dist = r["distribution"]
    said = f"<p class=reading>{html.escape(distribution_reading(r))}</p>"
    return (
        "<h2>Real or generated?</h2>"
        + said
        + _table(
            [
                ("embedding + style features (headline)", dist["classifier_auc"]),
                (f"embedding only ({r['embedding']})", dist["auc_embedding_only"]),
                ("style features only", dist["auc_style_only"]),
            ],
            ("classifier input", "cross-validated ROC AUC"),
        )
    )


def _memo_table(memo: Mapping) -> str:
    rows = []
    for key, label in (("guarded", "guard on (what users get)"), ("unguarded", "guard off")):
        m = memo.get(key)
        if m:
            rows.append((label, f"{m['rate']:.1%}", m["verbatim"], m["runs"], m["of"]))
    table = _table(rows, ("samples", "copy rate", "verbatim", "8-word runs", "of"))
    table = f"<p class=reading>{html.escape(memo_reading(memo))}</p>" + table
    examples = memo.get("unguarded", memo["guarded"]).get("examples") or []
    if examples:
        table += "<p>Copies found with the guard off:</p>" + _table([(x,) for x in examples])
    return table


def memo_reading(memo: Mapping) -> str:
    """How often the posts users get repeat the training posts, and what the guard did."""
    on, off = memo["guarded"], memo.get("unguarded")
    copies = on["verbatim"] + on["runs"]
    text = (
        f"{copies or 'None'} of the {on['of']} posts users get "
        + ("repeat" if copies != 1 else "repeats")
        + " a training post word for word or share an 8-word run with one"
    )
    if off is not None:
        text += f"; without the copy guard {off['verbatim'] + off['runs']} of {off['of']} would"
    dropped = memo.get("guard_dropped")
    if dropped:
        text += f" (the guard dropped {dropped} and drew replacements)"
    return text + "."


def _zip_long(a: Sequence, b: Sequence, fill=None):
    from itertools import zip_longest

    return zip_longest(a, b, fillvalue=fill)
