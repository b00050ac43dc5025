"""When to say "the articles do not say": a threshold on the best evidence sentence.

The score is the evidence score of the best sentence among the retrieved passages
(dense cosine + weighted lexical overlap, see rag.evidence). Thresholds are per
language because an English question cannot overlap lexically with Chinese text, and
were calibrated on the dev half of the gold set (`rag eval --calibrate`, docs/quality.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.evidence import Scored
from rag.text import Lang


@dataclass(frozen=True)
class Calibration:
    threshold_zh: float = 0.95
    threshold_en: float = 0.86
    # Below this the LLM is not even asked (it would only be tempted to guess); between
    # the floor and the threshold the LLM decides, told to answer NO_ANSWER if unsure.
    llm_floor_zh: float = 0.90
    llm_floor_en: float = 0.83

    def threshold(self, lang: Lang, *, llm: bool = False) -> float:
        if llm:
            return self.llm_floor_zh if lang == "zh" else self.llm_floor_en
        return self.threshold_zh if lang == "zh" else self.threshold_en


def answerability(query: str, scored: Sequence[Scored], calibration: Calibration) -> float:
    """The feature the thresholds apply to: the best evidence sentence's score."""
    return scored[0].score if scored else float("-inf")


def answerable(
    best: Scored | None, lang: Lang, calibration: Calibration, *, llm: bool = False
) -> bool:
    return best is not None and best.score >= calibration.threshold(lang, llm=llm)
