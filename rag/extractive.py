"""The offline answer: the best supporting sentences, each followed by its citation.

No LLM, so nothing is invented: every sentence of the answer is a sentence of an
article, cited with its exact offsets. When the best evidence scores below the
calibrated threshold the answer is a refusal that lists the closest passages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rag.evidence import Scored
from rag.reading import Pick, is_question
from rag.text import Lang, join_lines, squeeze
from rag.types import Citation, Passage


@dataclass(frozen=True)
class ExtractiveParams:
    """How much to quote. On the dev split a runner-up sentence was evidence only ~1 time
    in 5, so a second one must score almost as well as the best (within `margin`) and a
    third never paid: 3 sentences/0.06 gave key-fact recall 80.2% at citation precision
    65.6%, 2/0.02 gives 78.2% at 74.6% (`python -m rag.evals.tune evidence`)."""

    max_sentences: int = 2  # two facts of a multi-part question; more only dilutes
    max_chars: int = 320  # non-space characters over all chosen sentences
    margin: float = 0.02  # a further sentence must score within this of the best


def choose(scored: Sequence[Scored], params: ExtractiveParams) -> list[Scored]:
    """Best sentence, then near-best ones that add something, within the length budget."""
    # A sentence that asks ('衢州是怎么做到的?') never answers, though it is the most
    # similar to the question: prefer the statements around it.
    statements = [s for s in scored if not is_question(s.sentence.text)]
    scored = statements or list(scored)
    if not scored:
        return []
    best = scored[0]
    chosen = [best]
    used = len(squeeze(best.sentence.text))
    for cand in scored[1:]:
        if len(chosen) == params.max_sentences or cand.score < best.score - params.margin:
            break
        size = len(squeeze(cand.sentence.text))
        if used + size > params.max_chars or _repeats(cand, chosen):
            continue
        chosen.append(cand)
        used += size
    return chosen


def continued(
    chosen: Sequence[Scored],
    scored: Sequence[Scored],
    document: Callable[[str], str],
    max_chars: int,
) -> list[Scored]:
    """Each chosen sentence with the sentence right after it in its passage, as one quote
    (a reason or a description): news prose names the subject in one sentence and says
    why or what in the next (「…有一间名叫“暖心坊”的工坊…」 then 「原来…」). Within the
    length budget; never a sentence already chosen or one that asks."""
    out: list[Scored] = []
    used = sum(len(squeeze(c.sentence.text)) for c in chosen)
    taken = {(c.sentence.source, c.sentence.start) for c in chosen}
    for c in chosen:
        s = c.sentence
        nxt = min(
            (
                o.sentence
                for o in scored
                if o.sentence.passage_id == s.passage_id and o.sentence.start >= s.end
            ),
            key=lambda o: o.start,
            default=None,
        )
        if nxt is None or (nxt.source, nxt.start) in taken or is_question(nxt.text):
            out.append(c)
            continue
        doc = document(s.source)
        size = len(squeeze(nxt.text))
        if doc[s.end : nxt.start].strip() or used + size > max_chars:
            out.append(c)
            continue
        used += size
        taken.add((nxt.source, nxt.start))
        quote = join_lines(doc[s.start : nxt.end])
        out.append(replace(c, sentence=replace(s, end=nxt.end, text=quote)))
    return out


def _repeats(cand: Scored, chosen: Sequence[Scored]) -> bool:
    """Same text (a syndicated copy) or an overlapping span of the same file."""
    text = squeeze(cand.sentence.text)
    for c in chosen:
        other = squeeze(c.sentence.text)
        if text in other or other in text:
            return True
        same_file = c.sentence.source == cand.sentence.source
        if (
            same_file
            and c.sentence.start < cand.sentence.end
            and cand.sentence.start < c.sentence.end
        ):
            return True
    return False


def citations_for(chosen: Sequence[Scored]) -> list[Citation]:
    return [
        Citation(
            n=i,
            source=s.sentence.source,
            title=s.sentence.title,
            quote=s.sentence.text,
            start=s.sentence.start,
            end=s.sentence.end,
            passage_id=s.sentence.passage_id,
            supported=True,  # the quote is the answer itself
            meta=s.sentence.meta,
        )
        for i, s in enumerate(chosen, start=1)
    ]


def typed_answer(picks: Sequence[Pick], lang: Lang) -> tuple[str, list[Citation], str]:
    """'长兴县[1]' first, then the sentence it comes from; one citation per part.

    For an English question the fact is rendered in English where the type allows it
    ('2.94 trillion yuan (2.94万亿元) [1]'); the quote stays the Chinese original.
    """
    citations = citations_for([p.scored for p in picks])
    facts = []
    for i, p in enumerate(picks, start=1):
        span = p.span.text if p.span else squeeze(p.sentence.text)
        if lang == "zh":
            facts.append(f"{span}[{i}]")
        elif p.english and p.english != span:
            facts.append(f"{p.english} ({span}) [{i}]")
        else:
            facts.append(f"{span} [{i}]")
    if lang == "zh":
        head = "；".join(facts)
        body = "\n".join(f"原文[{i}]：{p.sentence.text}" for i, p in enumerate(picks, start=1))
    else:
        head = "; ".join(facts)
        body = "\n".join(
            f"Source [{i}] (Chinese): {p.sentence.text}" for i, p in enumerate(picks, start=1)
        )
    shorts = [p.short for p in picks if p.short]
    short = ("；" if lang == "zh" else "; ").join(shorts)
    return f"{head}\n{body}", citations, short


def answer_text(chosen: Sequence[Scored], lang: Lang) -> str:
    if lang == "zh":
        return "".join(f"{s.sentence.text}[{i}]" for i, s in enumerate(chosen, start=1))
    quoted = " ".join(f"{s.sentence.text} [{i}]" for i, s in enumerate(chosen, start=1))
    return f"The articles say (quoted in the original Chinese): {quoted}"


def refusal_text(passages: Sequence[Passage], lang: Lang, related: int = 3) -> str:
    titles = list(dict.fromkeys(f"{p.title or p.source}（{p.source}）" for p in passages))
    if lang == "zh":
        head = "语料中没有找到能回答这个问题的内容。"
        tail = "以下文章可能相关：\n" + "\n".join(f"- {t}" for t in titles[:related])
    else:
        head = "The articles do not contain an answer to this question."
        tail = "Related articles:\n" + "\n".join(f"- {t}" for t in titles[:related])
    return head if not titles else f"{head}\n{tail}"
