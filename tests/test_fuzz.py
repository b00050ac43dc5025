"""Property-based fuzzing of everything that touches untrusted input before the model.

Readers get arbitrary bytes under every supported suffix (and markup, zip archives and
PDF-looking headers built to reach the parsers' inner paths); the cleaner, segmenter and
chunker get arbitrary Unicode — surrogates, bidi and zero-width marks, control characters,
combining marks — and arbitrarily nested markup. The properties: no exception escapes
except `UnreadableFileError` (the project's own, which the ingest turns into a skip
reason), and every chunk that is kept satisfies the offset invariant of
`tests/test_ingest_invariants.py`.

Budget: about a minute in CI. `pytest tests/test_fuzz.py --hypothesis-show-statistics`
prints the examples each property ran; their total is in docs/benchmarks.md.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ingest_invariants import check_document

from rag.errors import UnreadableFileError
from rag.ingest.chunk import ChunkParams
from rag.ingest.html import html_to_text
from rag.ingest.limits import ReadLimits
from rag.ingest.parse import parse_document
from rag.ingest.readers import SUPPORTED_SUFFIXES, Document, decode_text, read_document

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SMALL = ReadLimits(max_file_mb=0.05, max_inflated_mb=0.05, max_depth=40)

# Characters that break naive text code: lone surrogates, bidi controls, zero-width
# characters, C0/C1 controls, combining marks, full-width forms, line separators, BOMs.
_HOSTILE = st.sampled_from(
    list("\ud800\udfff\u200e\u200f\u202a\u202b\u202e\u2066\u2069\u200b\u200c\u200d\u2060")
    + list("\ufeff\x00\x01\x07\x0b\x0c\x1b\x7f\x85\x9f\u2028\u2029\u0301\u0308\u20dd")
    + list("\u3000\uff01\uff1f\u3002\uff0c\u201c\u201d\u2026\r\n\t ")
)
_NEWS = st.sampled_from(list("浙江省杭州湖州记者报道经济。！？；，、（）“”《》0123456789abcZ"))
TEXT = st.text(alphabet=st.one_of(_HOSTILE, _NEWS, st.characters()), min_size=0, max_size=400)
TAGS = st.sampled_from(["div", "p", "span", "b", "h1", "li", "table", "td", "pre", "script"])


@st.composite
def markup(draw: st.DrawFn, depth: int = 0) -> str:
    """Nested, unbalanced or truncated HTML with hostile text in it."""
    pieces = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 5 if depth < 6 else 2))
        if kind == 0:
            pieces.append(draw(TEXT))
        elif kind == 1:
            pieces.append(draw(st.sampled_from(["<br>", "<!--x", "-->", "<![CDATA[", "&#0;"])))
        elif kind == 2:
            pieces.append("<" + draw(TAGS) * draw(st.integers(1, 2)))  # a broken tag
        else:
            tag = draw(TAGS)
            inner = draw(markup(depth + 1))
            close = draw(st.sampled_from([f"</{tag}>", "", "</div>"]))
            pieces.append(f"<{tag}>{inner}{close}")
    return "".join(pieces)


DEEP = st.builds(lambda tag, n, t: f"<{tag}>" * n + t, TAGS, st.integers(1, 3000), TEXT)


@st.composite
def archives(draw: st.DrawFn) -> bytes:
    """Zip files that look like DOCX: real member names, arbitrary or hostile content."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in draw(
            st.lists(
                st.sampled_from(
                    ["[Content_Types].xml", "_rels/.rels", "word/document.xml", "x.bin"]
                ),
                unique=True,
            )
        ):
            text = TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))  # lone surrogates too
            z.writestr(name, draw(st.one_of(st.binary(max_size=300), text)))
    data = buf.getvalue()
    cut = draw(st.integers(0, len(data)))
    return data if draw(st.booleans()) else data[:cut]  # sometimes truncated


PDFISH = st.builds(
    lambda body, tail: b"%PDF-1.4\n" + body + tail,
    st.binary(max_size=300),
    st.sampled_from([b"", b"\n%%EOF", b"trailer<</Root 1 0 R>>\n%%EOF", b"xref\n0 1\n"]),
)
RAW = st.one_of(
    st.binary(max_size=600),
    TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
    TEXT.map(lambda t: t.encode("gb18030", "replace")),
    TEXT.map(lambda t: t.encode("utf-16", "surrogatepass")),
)


def _check_read(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"f{suffix}"
        path.write_bytes(data)
        try:
            doc = read_document(path, Path(tmp), SMALL)
        except UnreadableFileError as exc:
            assert str(exc) and "\n" not in str(exc), "a one-line reason"
            return
    assert doc.text.strip()
    doc.text.encode("utf-8")  # storable: no lone surrogates come out of a reader
    parsed = parse_document(doc, ChunkParams())
    check_document(doc.text, parsed, ChunkParams())


@FUZZ
@given(data=RAW, suffix=st.sampled_from(SUPPORTED_SUFFIXES))
def test_readers_on_arbitrary_bytes(data: bytes, suffix: str) -> None:
    _check_read(data, suffix)


@settings(FUZZ, max_examples=100)
@given(data=archives())
def test_docx_reader_on_zip_archives(data: bytes) -> None:
    _check_read(data, ".docx")


@settings(FUZZ, max_examples=60)
@given(data=PDFISH)
def test_pdf_reader_on_pdf_like_bytes(data: bytes) -> None:
    _check_read(data, ".pdf")


@FUZZ
@given(data=st.one_of(markup(), DEEP).map(lambda m: m.encode("utf-8", "surrogatepass")))
def test_html_reader_on_nested_markup(data: bytes) -> None:
    _check_read(data, ".html")


@settings(FUZZ, max_examples=100)
@given(page=st.one_of(markup(), DEEP))
def test_html_to_text_any_depth_within_the_limit_never_recurses(page: str) -> None:
    # The limit raised far above Python's recursion limit: the walk itself must cope.
    try:
        text = html_to_text(page, max_depth=100_000)
    except UnreadableFileError:
        raise AssertionError("no nesting in these pages exceeds the limit") from None
    assert isinstance(text, str)


@FUZZ
@given(data=RAW)
def test_decode_text_decodes_or_explains(data: bytes) -> None:
    try:
        text, codec = decode_text(data)
    except UnreadableFileError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(text, str) and codec
    text.encode("utf-8")


@settings(FUZZ, max_examples=600)
@given(text=TEXT, max_chars=st.sampled_from([1, 7, 60, 400]), overlap=st.integers(0, 2))
def test_clean_segment_chunk_keep_the_offset_invariant(
    text: str, max_chars: int, overlap: int
) -> None:
    params = ChunkParams(max_chars, overlap)
    parsed = parse_document(Document("fuzz.txt", text, "utf-8", "0"), params)
    check_document(text, parsed, params)
