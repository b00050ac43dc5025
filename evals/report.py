"""Write an evaluation run to disk: results.json, report.md and PNG charts."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rag.evals.metrics import GoldItem, percentiles
from rag.evals.run import (
    BUDGET,
    ItemResult,
    answer_summary,
    group_by,
    hit_curve,
    retrieval_summary,
    to_json,
)

SPLITS = ("all", "test", "dev")


def _subset(
    results: Sequence[ItemResult], items: Sequence[GoldItem], split: str
) -> tuple[list[ItemResult], list[GoldItem]]:
    if split == "all":
        return list(results), list(items)
    pairs = [(r, i) for r, i in zip(results, items, strict=True) if i.split == split]
    return [r for r, _ in pairs], [i for _, i in pairs]


def summarise(
    results: Sequence[ItemResult],
    items: Sequence[GoldItem],
    configs: Sequence[str],
    modes: Sequence[str],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split in SPLITS:
        rs, its = _subset(results, items, split)
        block: dict[str, Any] = {
            "retrieval": {},
            "answers": {},
            "n": len(its),
            "splits": sorted({i.split for i in its}),
        }
        for name in configs:
            block["retrieval"][name] = {
                "overall": retrieval_summary(rs, name),
                "by_lang": {
                    g: retrieval_summary(v[0], name)
                    for g, v in group_by(rs, its, lambda r: r.lang).items()
                },
                "by_kind": {
                    g: retrieval_summary(v[0], name)
                    for g, v in group_by(rs, its, lambda r: r.kind).items()
                    if g != "unanswerable"
                },
            }
        for mode in modes:
            block["answers"][mode] = {
                "overall": answer_summary(rs, its, mode),
                "by_lang": {
                    g: answer_summary(*v, mode)
                    for g, v in group_by(rs, its, lambda r: r.lang).items()
                },
                "by_kind": {
                    g: answer_summary(*v, mode)
                    for g, v in group_by(rs, its, lambda r: r.kind).items()
                },
                "by_type": {
                    g: answer_summary(*v, mode)
                    for g, v in group_by(rs, its, lambda r: r.type or "untyped").items()
                },
                "by_lang_type": {
                    g: answer_summary(*v, mode)
                    for g, v in group_by(
                        rs, its, lambda r: f"{r.lang} {r.type or 'untyped'}"
                    ).items()
                },
            }
        block["retrieval_latency_ms"] = percentiles([r.retrieval_ms for r in rs])
        out[split] = block
    return out


def _fmt(v: float | None, pct: bool = True) -> str:
    if v is None:
        return "–"
    return f"{v * 100:.1f}" if pct else f"{v:.0f}"


def _retrieval_table(block: dict[str, Any], configs: Sequence[str], group: str | None) -> str:
    cols = ["hit@1", "hit@5", "hit@10", "mrr@10", f"hit@{BUDGET}ch"]
    lines = []
    if group is None:
        lines.append("| config | n | " + " | ".join(cols) + " |")
        lines.append("|---" * (len(cols) + 2) + "|")
        for name in configs:
            s = block["retrieval"][name]["overall"]
            lines.append(
                f"| {name} | {s['n']:.0f} | " + " | ".join(_fmt(s[c]) for c in cols) + " |"
            )
        return "\n".join(lines)
    groups = sorted({g for name in configs for g in block["retrieval"][name][group]})
    lines.append("| config | " + " | ".join(f"{g} hit@5 / MRR" for g in groups) + " |")
    lines.append("|---" * (len(groups) + 1) + "|")
    for name in configs:
        cells = []
        for g in groups:
            s = block["retrieval"][name][group].get(g)
            cells.append(f"{_fmt(s['hit@5'])} / {_fmt(s['mrr@10'])} (n={s['n']:.0f})" if s else "–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _answer_table(block: dict[str, Any], mode: str, group: str | None) -> str:
    cols = [
        "key_fact_recall",
        "citation_precision",
        "citation_recall",
        "refusal_precision",
        "refusal_recall",
        "false_refusal_rate",
        "short_exact",
    ]
    head = (
        "| "
        + ("group" if group else "mode")
        + " | n | "
        + " | ".join(cols)
        + " | short chars (median) | p50 ms | p95 ms |"
    )
    lines = [head, "|---" * (len(cols) + 5) + "|"]
    rows = (
        [(mode, block["answers"][mode]["overall"])]
        if group is None
        else sorted(block["answers"][mode][group].items())
    )
    for label, s in rows:
        if not s:
            continue
        lines.append(
            f"| {label} | {s['n']:.0f} | "
            + " | ".join(_fmt(s[c]) for c in cols)
            + f" | {_fmt(s['short_median_chars'], pct=False)}"
            + f" | {s['latency_p50_ms']:.0f} | {s['latency_p95_ms']:.0f} |"
        )
    return "\n".join(lines)


def _params_lines(meta: dict[str, Any]) -> list[str]:
    """The parameters the answers ran with (rag.params.Params), one line per stage."""
    params = meta.get("params")
    if not params:
        return []
    lines = [f"- store: `{meta.get('store', '?')}`; parameters (rag.params.Params):"]
    for stage, values in params.items():
        shown = ", ".join(f"{k}={v}" for k, v in values.items())
        lines.append(f"  - `{stage}`: {shown}")
    return lines


def markdown(
    summary: dict[str, Any], configs: Sequence[str], modes: Sequence[str], meta: dict[str, Any]
) -> str:
    parts = [
        "# Evaluation report",
        "",
        f"- gold set: `{meta['gold']}` ({meta['n_items']} items)",
        f"- index: `{meta['index']}` ({meta['n_chunks']} chunks), model `{meta['model']}`",
        f"- answer modes evaluated: {', '.join(modes)}"
        + ("" if "llm" in modes else " (no LLM configured: extractive mode only)"),
        f"- run: {meta['date']}, {meta['seconds']:.0f} s, Python {platform.python_version()}",
        f"- command: `{meta['command']}`",
        *_params_lines(meta),
        "",
        "Retrieval figures count an answerable item as a hit when one of its evidence strings "
        "lies inside a retrieved passage (whitespace-insensitive). "
        f"`hit@{BUDGET}ch`: the evidence ends within the first {BUDGET} characters of ranked "
        "context, which is fair across chunk sizes. All percentages.",
        "",
    ]
    titles = {("dev", "test"): "all items (dev + test)", ("dev",): "dev split",
              ("test",): "held-out test split"}  # fmt: skip
    for split in ("test", "all"):
        block = summary[split]
        if split == "test" and (block.get("n") == 0 or summary["all"].get("splits") == ["test"]):
            continue  # a run of one split: its block is the "all" one below
        default = ("test",) if split == "test" else ("dev", "test")  # files without "splits"
        title = titles.get(tuple(block.get("splits", default)), "all items")
        parts += [
            f"## Retrieval — {title}",
            "",
            _retrieval_table(block, configs, None),
            "",
            "By question language:",
            "",
            _retrieval_table(block, configs, "by_lang"),
            "",
            "By question kind:",
            "",
            _retrieval_table(block, configs, "by_kind"),
            "",
        ]
        for mode in modes:
            parts += [
                f"## Answers ({mode} mode) — {title}",
                "",
                _answer_table(block, mode, None),
                "",
                "By language:",
                "",
                _answer_table(block, mode, "by_lang"),
                "",
                "By kind:",
                "",
                _answer_table(block, mode, "by_kind"),
                "",
                "By language and expected answer type:",
                "",
                _answer_table(block, mode, "by_lang_type"),
                "",
            ]
    parts += [
        "## Charts",
        "",
        "![hit@k](hit_at_k.png)",
        "",
        "![by language](by_language.png)",
        "",
        "![latency](latency.png)",
        "",
    ]
    return "\n".join(parts)


def charts(
    results: Sequence[ItemResult],
    summary: dict[str, Any],
    configs: Sequence[str],
    modes: Sequence[str],
    out: Path,
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # no display here; must precede pyplot
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in configs:
        ax.plot(range(1, 11), hit_curve(results, name), marker="o", label=name)
    ax.set(
        xlabel="k", ylabel="hit@k", title="Evidence in the top k passages (all items)", ylim=(0, 1)
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out / "hit_at_k.png"))

    fig, ax = plt.subplots(figsize=(7, 4))
    langs = sorted(summary["all"]["retrieval"][configs[0]]["by_lang"])
    width = 0.8 / len(configs)
    for j, name in enumerate(configs):
        vals = [summary["all"]["retrieval"][name]["by_lang"][lang]["hit@5"] for lang in langs]
        ax.bar([i + j * width for i in range(len(langs))], vals, width, label=name)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(langs))], langs)
    ax.set(ylabel="hit@5", title="hit@5 by question language", ylim=(0, 1))
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3)
    paths.append(_save(fig, out / "by_language.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist([r.retrieval_ms for r in results], bins=30, alpha=0.6, label="retrieval")
    for mode in modes:
        ax.hist(
            [r.answers[mode]["ms"] for r in results if mode in r.answers],
            bins=30,
            alpha=0.6,
            label=f"ask ({mode})",
        )
    ax.set(xlabel="milliseconds", ylabel="questions", title="Latency per question")
    ax.legend()
    paths.append(_save(fig, out / "latency.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def write(
    out: Path,
    results: Sequence[ItemResult],
    items: Sequence[GoldItem],
    configs: Sequence[str],
    modes: Sequence[str],
    meta: dict[str, Any],
) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    meta = {**meta, "date": time.strftime("%Y-%m-%d %H:%M")}
    summary = summarise(results, items, configs, modes)
    payload = {"meta": meta, "summary": summary, "items": to_json(results)}
    (out / "results.json").write_text(json.dumps(payload, ensure_ascii=False, indent=1), "utf-8")
    (out / "report.md").write_text(markdown(summary, configs, modes, meta), "utf-8")
    charts(results, summary, configs, modes, out)
    return summary


def console_summary(summary: dict[str, Any], configs: Sequence[str], modes: Sequence[str]) -> str:
    """A few lines for the terminal: retrieval per config, answers per mode (all items)."""
    block = summary["all"]
    lines = ["retrieval (all answerable items)       hit@1  hit@5  mrr@10   zh hit@5  en hit@5"]
    for name in configs:
        s = block["retrieval"][name]
        by = s["by_lang"]
        lines.append(
            f"  {name:<36} {_fmt(s['overall']['hit@1']):>5}  {_fmt(s['overall']['hit@5']):>5}  "
            f"{_fmt(s['overall']['mrr@10']):>6}   {_fmt(by.get('zh', {}).get('hit@5')):>8}  "
            f"{_fmt(by.get('en', {}).get('hit@5')):>8}"
        )
    for mode in modes:
        a = block["answers"][mode]["overall"]
        lines.append(
            f"answers ({mode}): key facts {_fmt(a['key_fact_recall'])}%, citation precision "
            f"{_fmt(a['citation_precision'])}%, refusal P/R {_fmt(a['refusal_precision'])}/"
            f"{_fmt(a['refusal_recall'])}%, false refusals {_fmt(a['false_refusal_rate'])}%, "
            f"short answers exact {_fmt(a['short_exact'])}%, p50 {a['latency_p50_ms']:.0f} ms"
        )
    return "\n".join(lines)


def shapes_markdown(
    summaries: Mapping[str, dict[str, Any]],
    configs: Sequence[str],
    modes: Sequence[str],
    meta: dict[str, Any],
    split: str = "all",
) -> str:
    """One table per metric family, a row per (shape, config): the shapes side by side."""
    lines = [
        "# Retrieval and answers on every corpus shape",
        "",
        f"Gold set {meta.get('gold', '')}, split {split}; command `{meta.get('command', '')}`. "
        "Each shape is the same text packaged differently (rag.evals.shapes); answerable items "
        "whose evidence does not survive a shape are left out of that shape.",
        "",
        "| shape | config | n | hit@1 | hit@5 | mrr@10 | zh hit@1 | zh mrr@10 "
        "| en hit@1 | en hit@5 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for shape, summary in summaries.items():
        block = summary[split]
        for name in configs:
            s = block["retrieval"][name]
            o, zh, en = s["overall"], s["by_lang"].get("zh", {}), s["by_lang"].get("en", {})
            lines.append(
                f"| {shape} | {name} | {o['n']:.0f} | {_fmt(o['hit@1'])} | {_fmt(o['hit@5'])} | "
                f"{_fmt(o['mrr@10'])} | {_fmt(zh.get('hit@1'))} | {_fmt(zh.get('mrr@10'))} | "
                f"{_fmt(en.get('hit@1'))} | {_fmt(en.get('hit@5'))} |"
            )
    for mode in modes:
        lines += [
            "",
            f"Answers ({mode}):",
            "",
            "| shape | n | key facts | citation precision | refusal recall | false refusals |",
            "|---|---|---|---|---|---|",
        ]
        for shape, summary in summaries.items():
            a = summary[split]["answers"][mode]["overall"]
            lines.append(
                f"| {shape} | {a['n']:.0f} | {_fmt(a['key_fact_recall'])} | "
                f"{_fmt(a['citation_precision'])} | {_fmt(a['refusal_recall'])} | "
                f"{_fmt(a['false_refusal_rate'])} |"
            )
    return "\n".join(lines) + "\n"
