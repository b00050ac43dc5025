"""`ask()`: question in, cited answer out — extractively or through an LLM.

    >>> from rag import ask
    >>> a = ask("湖州首次颁发的生态鼎中，哪个县捧获了生态文明冠军鼎？", index="data/index")
    >>> a.text, [c.quote for c in a.citations]

`ask_stream()` yields text deltas and finally the `Answer` (whose text, with renumbered
markers, replaces what was streamed).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

from rag import english, evidence, extractive, question, reading, translate
from rag.cite import cite
from rag.config import Settings, load_settings
from rag.embed import Embedder, SentenceTransformerEmbedder
from rag.errors import ConfigError, InvalidQuestionError, LLMError
from rag.index import MANIFEST, Index, read_manifest
from rag.llm import ChatModel, Message, make_chat_model
from rag.params import Params
from rag.prompt import NO_ANSWER, answer_messages, rewrite_messages
from rag.question import Question
from rag.refusal import answerable
from rag.retrieve import Hit, Rerank, Retriever, to_passage
from rag.store import Store
from rag.text import Lang, detect_lang, join_lines
from rag.types import Answer, Citation, Passage

log = logging.getLogger(__name__)

AskMode = Literal["auto", "llm", "extractive"]
History = Sequence[Message] | Sequence[tuple[str, str]] | None
MAX_QUESTION_CHARS = 1000  # longer input is truncated for retrieval (with a notice)
MAX_K = 50


@dataclass(frozen=True)
class Prepared:
    """A validated question and what retrieval found for it."""

    question: str  # as asked (possibly truncated)
    query: str  # standalone form used for retrieval
    index: Store  # the index version this question is answered from, start to end
    lang: Lang
    hits: list[Hit]
    passages: list[Passage]
    scored: list[evidence.Scored]
    notices: list[str] = field(default_factory=list)

    @cached_property
    def asked(self) -> Question:
        """The analysed question (as asked: a follow-up's standalone form also holds the
        previous question); an English one with its Chinese constraints. Once per question:
        the reading stage, the metadata reader and the untyped order all use it."""
        asked = question.analyse(self.question)
        if asked.lang != "en":
            return asked
        return english_constraints(asked, self.index.vocabulary)


def validate(question: object) -> tuple[str, list[str]]:
    if not isinstance(question, str):
        raise InvalidQuestionError(f"the question must be text, got {type(question).__name__}")
    text = question.strip()
    if not text:
        raise InvalidQuestionError("the question is empty: type a question about the articles")
    if not any(ch.isalnum() for ch in text):
        # Only punctuation, symbols, emoji or control characters: nothing to search for.
        raise InvalidQuestionError(
            "the question has no words (only punctuation, symbols or control characters): "
            "ask a question about the articles in words"
        )
    if len(text) <= MAX_QUESTION_CHARS:
        return text, []
    notice = (
        f"The question was {len(text):,} characters long; only the first "
        f"{MAX_QUESTION_CHARS:,} were used."
    )
    return text[:MAX_QUESTION_CHARS], [notice]


def validate_k(k: object) -> int:
    # bool is an int in Python; True passages makes no sense.
    if isinstance(k, bool) or not isinstance(k, int):
        raise ConfigError(f"k must be a whole number between 1 and {MAX_K}, got {k!r}")
    if not 1 <= k <= MAX_K:
        raise ConfigError(f"k must be between 1 and {MAX_K}, got {k}")
    return k


def validate_mode(mode: object) -> AskMode:
    if mode not in ("auto", "llm", "extractive"):
        raise ConfigError(f"mode must be auto, llm or extractive, got {mode!r}")
    return mode


def validate_index(index: object) -> str | Path | None:
    if index is not None and not isinstance(index, str | Path):
        raise ConfigError(f"index must be a directory path, got {type(index).__name__}")
    return index


def check_arguments(
    question: object, index: object, k: object, mode: object, history: object
) -> None:
    """Every argument of `ask()` checked before anything loads (the model takes seconds)."""
    validate(question)
    validate_index(index)
    validate_k(k)
    validate_mode(mode)
    normalise_history(history)


def content_text(content: object) -> str | None:
    """A message's text, whether its content is a string or a list of parts.

    Gradio 6 and the OpenAI protocol both allow `[{"type": "text", "text": ...}, ...]`;
    non-text parts (files, images) are ignored. None when there is no text at all.
    """
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list | tuple):
        return None
    texts = [
        part if isinstance(part, str) else part.get("text")
        for part in content
        if isinstance(part, str) or (isinstance(part, dict) and part.get("type", "text") == "text")
    ]
    joined = "".join(t for t in texts if isinstance(t, str))
    return joined or None


_HISTORY_SHAPE = (
    'history must be a list of {"role": "user"|"assistant", "content": text} messages '
    "or of (user, assistant) pairs"
)


def normalise_history(history: object) -> list[Message]:
    if history is None:
        return []
    if not isinstance(history, list | tuple):
        raise InvalidQuestionError(f"{_HISTORY_SHAPE}, got {type(history).__name__}")
    out: list[Message] = []
    for turn in history:
        if isinstance(turn, dict):
            role, raw = turn.get("role"), turn.get("content")
            if not isinstance(role, str) or "content" not in turn:
                raise InvalidQuestionError(f"{_HISTORY_SHAPE}; got the message {turn!r:.80}")
            # Content may be text or a list of parts (Gradio 6, the OpenAI protocol); other
            # roles and non-text parts (a chat page's attachments) carry no question.
            content = content_text(raw)
            if role in ("user", "assistant") and content:
                out.append({"role": "user" if role == "user" else "assistant", "content": content})
        elif isinstance(turn, list | tuple) and len(turn) == 2:
            user, bot = turn
            if not all(x is None or isinstance(x, str) for x in (user, bot)):
                raise InvalidQuestionError(f"{_HISTORY_SHAPE}; got the pair {turn!r:.80}")
            if user:
                out.append({"role": "user", "content": user})
            if bot:
                out.append({"role": "assistant", "content": bot})
        else:
            raise InvalidQuestionError(f"{_HISTORY_SHAPE}; got {type(turn).__name__} {turn!r:.80}")
    return out


_FOLLOW_UP = re.compile(
    r"^(那|那么|还有|另外|此外|它|其|该|这|那个|这个|他们|她们|它们|and |what about|how about)"
    r"|(它|其|该|这些|那些|他们|她们|它们|呢)|\b(it|its|they|them|their|that|this|there|those)\b",
    re.IGNORECASE,
)


def heuristic_rewrite(question: str, history: Sequence[Message]) -> str:
    """Without an LLM: a short or anaphoric follow-up borrows the previous question."""
    previous = [m["content"] for m in history if m["role"] == "user"]
    if not previous:
        return question
    short = len(question) < 12 if detect_lang(question) == "zh" else len(question.split()) < 6
    if short or _FOLLOW_UP.search(question):
        return f"{_topic(previous[-1])} {question}"
    return question


# What a Chinese question asks, as opposed to what it is about.
_ZH_QUESTION_WORDS = re.compile(
    r"什么时候|什么|多少|哪些|哪个|哪里|哪儿|几|如何|怎么样|怎么|怎样|为什么|是否|吗|呢|[？?]"
)


def _topic(question: str) -> str:
    """The previous question without its interrogatives: borrowing 「什么时候」 from it
    would dilute the follow-up's own question words in the lexical evidence score."""
    if detect_lang(question) != "zh":
        return question
    return _ZH_QUESTION_WORDS.sub("", question).strip() or question


class Assistant:
    """Holds the loaded store, the embedder, the LLM and the parameters of one
    configuration. `params` is every tuned value (rag.params); `rerank` re-orders the
    fused passages (rag.retrieve.Rerank) before they are read."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        chat: ChatModel | None = None,
        params: Params | None = None,
        rerank: Rerank | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder or SentenceTransformerEmbedder(settings.embed)
        self.chat = chat or (make_chat_model(settings.llm) if settings.llm else None)
        self.params = params or Params()
        self.retriever = Retriever(self.embedder, self.params.retrieval, rerank)
        self._index: Store | None = None
        self._stamp: tuple[int, int, int] | None = None  # manifest (inode, size, mtime)
        self._lock = threading.Lock()

    @property
    def index(self) -> Store:
        """The index, reloaded when a new version has been committed (e.g. an upload)."""
        with self._lock:
            if self.settings.store == "milvus":  # RAG_STORE=milvus (rag.milvus_store)
                from rag.milvus_store import MilvusStore

                m = self.settings.milvus
                store = (
                    self._index.current()
                    if isinstance(self._index, MilvusStore)
                    else MilvusStore.open(m.uri, m.token, self.params.bm25)
                )
                if store is not self._index:
                    e = self.embedder
                    store.check_model(e.model_id, e.checksum, e.backend)
                    self._index = store
                return store
            stamp = _manifest_stamp(self.settings.index)
            if self._index is not None and stamp == self._stamp:
                return self._index  # a stat() per question, not a JSON parse
            manifest = read_manifest(self.settings.index)
            if self._index is None or self._index.version != manifest.data_dir:
                index = Index.load(self.settings.index, self.params.bm25)
                embedder = self.embedder
                index.check_model(embedder.model_id, embedder.checksum, embedder.backend)
                self._index = index
            self._stamp = stamp
            return self._index

    def warm(self) -> None:
        """Load the index and the model and answer one question, so the next one is fast."""
        self.ask("预热 warm-up", k=1, mode="extractive")

    def reload(self) -> None:
        with self._lock:
            self._index = None
            self._stamp = None

    # -- the pipeline ------------------------------------------------------------------

    def prepare(
        self, question: str, k: int, history: History = None, *, index: Store | None = None
    ) -> Prepared:
        text, notices = validate(question)
        validate_k(k)
        turns = normalise_history(history)
        query = self.rewrite(text, turns) if turns else text
        index = index if index is not None else self.index
        hits = self.retriever.retrieve(index, query, k)
        passages = [to_passage(index.chunk(h.row), h.score) for h in hits]
        scored = self.score(index, query, evidence.candidates(index, hits))
        return Prepared(text, query, index, detect_lang(text), hits, passages, scored, notices)

    def rewrite(self, question: str, history: Sequence[Message]) -> str:
        if self.chat is not None:
            try:
                rewritten = "".join(self.chat.stream(rewrite_messages(question, history))).strip()
                if rewritten and len(rewritten) < 4 * MAX_QUESTION_CHARS:
                    return rewritten
            except LLMError as exc:
                log.warning("question rewrite failed, using the heuristic: %s", exc)
        return heuristic_rewrite(question, history)

    def score(
        self, index: Store, text: str, sentences: Sequence[evidence.Sentence]
    ) -> list[evidence.Scored]:
        if not sentences:
            return []
        vector: np.ndarray = self.embedder.embed([text], "query")[0]
        terms = evidence.query_terms(index, text)
        return evidence.score(vector, terms, sentences, self.params.evidence)

    def ask_stream(
        self,
        question: str,
        k: int = 5,
        mode: AskMode = "auto",
        history: History = None,
        *,
        index: Store | None = None,
    ) -> Iterator[str | Answer]:
        """Text deltas, then the final Answer. `index` pins the version to answer from
        (default: the current one, read once); a caller that shows the answer's sources
        later (the chat page's context view) passes the version it will read them from."""
        validate_k(k)
        use_llm = self._use_llm(mode)
        prep = self.prepare(question, k, history, index=index)
        if not use_llm:
            answer = self.extractive_answer(prep)
            yield from text_deltas(answer.text)
            yield answer
            return
        try:
            yield from self._llm_answer(prep)
        except LLMError as exc:
            log.warning("LLM failed, falling back to an extractive answer: %s", exc)
            notice = f"The LLM failed ({exc}); this is an extractive answer from the articles."
            yield self.extractive_answer(prep, [notice])

    def ask(
        self, question: str, k: int = 5, mode: AskMode = "auto", history: History = None
    ) -> Answer:
        final = None
        for event in self.ask_stream(question, k, mode, history):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def _use_llm(self, mode: AskMode) -> bool:
        validate_mode(mode)
        if mode == "llm" and self.chat is None:
            raise ConfigError(
                "mode 'llm' needs an LLM: set OPENAI_API_KEY (and OPENAI_BASE_URL, RAG_LLM_MODEL "
                "for other endpoints), or use mode 'extractive'"
            )
        return mode == "llm" or (mode == "auto" and self.chat is not None)

    # -- the two ways of answering -----------------------------------------------------

    def extractive_answer(self, prep: Prepared, notices: Sequence[str] = ()) -> Answer:
        notes = [*prep.notices, *notices]
        meta = self.read_meta(prep)
        if meta is not None:
            return meta
        result = self.read(prep)
        if not result.answered:
            return self._refusal(prep, notes)
        if all(p.span is None for p in result.picks):
            # No typed fact asked for: the best sentences themselves are the answer.
            asked = prep.asked
            order = reading.untyped_order(
                asked, reading.fitting_sentences(asked, prep.scored), self.params.reading
            )
            chosen = extractive.choose(order, self.params.extractive)
            chosen = extractive.continued(
                chosen, prep.scored, prep.index.document, self.params.extractive.max_chars
            )
            text, citations, short = (
                extractive.answer_text(chosen, prep.lang),
                extractive.citations_for(chosen),
                None,
            )
        else:
            text, citations, short = extractive.typed_answer(result.picks, prep.lang)
        return Answer(
            text=text,
            mode="extractive",
            answered=True,
            notice=" ".join(notes) or None,
            citations=citations,
            passages=prep.passages,
            short=short,
        )

    def read_meta(self, prep: Prepared) -> Answer | None:
        """Which issue, publication or writer: answered from the article metadata."""
        asked = prep.asked
        sentences = [s.sentence for s in prep.scored]
        fact = reading.read_meta(asked, sentences, prep.index.document)
        if fact is None:
            return None
        doc = prep.index.document(fact.source)
        owner = next(s for s in sentences if s.source == fact.source)
        quote = join_lines(doc[fact.start : fact.end])
        citation = Citation(
            1, fact.source, owner.title, quote, fact.start, fact.end, owner.passage_id, True,
            owner.meta,
        )  # fmt: skip
        if prep.lang == "zh":
            head = f"{fact.short}[1]"
        elif fact.english:
            head = f"{fact.english} ({fact.short}) [1]"
        else:
            head = f"{fact.short} [1]"
        label = "原文[1]：" if prep.lang == "zh" else "Source [1] (Chinese): "
        return Answer(
            text=f"{head}\n{label}{quote}",
            mode="extractive",
            answered=True,
            notice=" ".join(prep.notices) or None,
            citations=[citation],
            passages=prep.passages,
            short=fact.english or fact.short,
        )

    def read(self, prep: Prepared) -> reading.Reading:
        """The reading stage on a prepared question (the type comes from the question as
        asked: a follow-up's standalone form also holds the previous question)."""
        return reading.read(
            prep.asked,
            prep.scored,
            self.params.reading,
            lambda scored: answerable(scored, prep.lang, self.params.calibration),
        )

    def _refusal(self, prep: Prepared, notes: Sequence[str], mode: str = "extractive") -> Answer:
        return Answer(
            text=extractive.refusal_text(prep.passages, prep.lang),
            mode="llm" if mode == "llm" else "extractive",
            answered=False,
            notice=" ".join(notes) or None,
            citations=[],
            passages=prep.passages,
        )

    def _llm_answer(self, prep: Prepared) -> Iterator[str | Answer]:
        assert self.chat is not None
        if not answerable(prep.scored, prep.lang, self.params.calibration, llm=True):
            yield self._refusal(prep, prep.notices, mode="llm")
            return
        # The standalone form: the answering call does not see the conversation.
        messages = answer_messages(prep.query, prep.passages, prep.lang)
        parts: list[str] = []
        yield from _hold_back_sentinel(self.chat.stream(messages), parts)
        raw = "".join(parts).strip()
        if raw.startswith(NO_ANSWER) or not raw:
            yield self._refusal(prep, prep.notices, mode="llm")
            return
        # Everything below uses the version retrieval used: an upload may have committed
        # a new one meanwhile, whose rows no longer match `prep.hits`.
        sentences = [evidence.candidates(prep.index, [h]) for h in prep.hits]
        cited = cite(
            raw,
            sentences,
            lambda text, sents: self.score(prep.index, text, sents),
            self.params.cite,
        )
        notes = list(prep.notices)
        if cited.unsupported_claims:
            notes.append(
                f"{cited.unsupported_claims} statement(s) of this answer could not be matched "
                "to a supporting sentence in the articles."
            )
        yield Answer(
            text=cited.text,
            mode="llm",
            answered=True,
            notice=" ".join(notes) or None,
            citations=cited.citations,
            passages=prep.passages,
        )


_CLAUSE_END = re.compile(r"(?<=[，。！？；：,.!?;:])")


def text_deltas(text: str) -> Iterator[str]:
    """An already complete answer as clause-sized deltas, so it streams like an LLM's."""
    for piece in _CLAUSE_END.split(text):
        if piece:
            yield piece


def _manifest_stamp(path: Path) -> tuple[int, int, int] | None:
    """Identity of the committed manifest; os.replace gives a new inode on every commit."""
    try:
        st = (path / MANIFEST).stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _hold_back_sentinel(stream: Iterator[str], parts: list[str]) -> Iterator[str]:
    """Stream deltas, but never a leading NO_ANSWER sentinel (a refusal is shown whole)."""
    buffer = ""
    streaming = False
    for delta in stream:
        parts.append(delta)
        if streaming:
            yield delta
            continue
        buffer += delta
        head = buffer.lstrip()
        if NO_ANSWER.startswith(head) or head.startswith(NO_ANSWER):
            continue  # may still be, or is, the sentinel
        streaming = True
        yield buffer


# -- the module-level API: settings resolved here, at the edge -------------------------

_assistants: dict[tuple[object, ...], Assistant] = {}
_assistants_lock = threading.Lock()


def _assistant(settings: Settings) -> Assistant:
    key = (settings.index.resolve(), settings.embed, settings.llm)
    with _assistants_lock:
        if key not in _assistants:
            _assistants[key] = Assistant(settings)
        return _assistants[key]


def ask(
    question: str,
    index: str | Path | None = None,
    k: int = 5,
    mode: AskMode = "auto",
    history: History = None,
) -> Answer:
    """Answer a question from the index, with verified sentence-level citations."""
    check_arguments(question, index, k, mode, history)
    return _assistant(load_settings(index=index)).ask(question, k, mode, history)


def ask_stream(
    question: str,
    index: str | Path | None = None,
    k: int = 5,
    mode: AskMode = "auto",
    history: History = None,
) -> Iterator[str | Answer]:
    """Like `ask`, but yields text deltas first and the final `Answer` last."""
    check_arguments(question, index, k, mode, history)
    return _assistant(load_settings(index=index)).ask_stream(question, k, mode, history)


_FIGURES = frozenset({"number", "percent", "rank", "date"})


def english_constraints(asked: Question, vocab: Collection[str]) -> Question:
    """An English question with what rag.translate finds of it in the articles' words:
    its Chinese keywords; the places it names, which constrain its answer as a Chinese
    question's do ('students of Deqing No. 4 Middle School': not a Quzhou figure), except
    the place a "which county" question asks within; the Chinese forms of each name the
    dictionary knows ('Australia' -> "澳大利亚|澳洲"), which the answer's article must
    name; what a "What is the X of Y?" asks about ('capital' -> "首都|…"), which the
    answer's passage must state; and whether no article shares a word with it."""
    keywords = tuple(translate.to_chinese(asked.text, vocab))
    places = () if asked.type == "place" else tuple(translate.places_in(asked.text, vocab))
    unmatched = translate.shares_no_word(asked.text, vocab)

    def constrained(q: Question) -> Question:
        names = tuple("|".join(sorted(f)) for f in translate.named_things(q.text, vocab))
        # A person the question names as the articles spell them ('Zhu Shijie' -> 竺士杰):
        # the answer's article must name them, as a Chinese question's person.
        names += tuple(
            n
            for n in translate.names_in(q.text, vocab)
            if (person := english.romanise_person(n)) and person in q.text
        )
        # A figure question names its measure (measure words, units); only the thing
        # 'how many' counts, when no unit table knows it ('bones'), is checked here.
        counts = q.type not in _FIGURES or (q.type == "number" and q.unit == question.COUNT)
        thing = "|".join(sorted(translate.asked_thing(q.text))) if counts else ""
        return replace(
            q,
            # A part's own words, so its sentences can be told from the other part's.
            keywords=keywords if q is asked else tuple(translate.to_chinese(q.text, vocab)),
            places=places,
            unmatched=unmatched,
            entities=names,
            thing=thing or None,
        )

    return replace(constrained(asked), parts=tuple(map(constrained, asked.parts)))
