"""Read one input file into a `Document`: its decoded text, exactly as it will be cited.

Offsets everywhere in the pipeline refer to `Document.text`, so nothing here normalises
the text: no newline conversion, no width folding, no stripping (a leading BOM is the one
thing removed, because it is an encoding mark, not content). For PDF, DOCX and HTML the
text is the one extracted from the file, and offsets refer to that extraction.

Plain-text encodings are detected in this order: a BOM (UTF-8, UTF-16 LE/BE), strict
UTF-8, GB18030 (a superset of GBK and GB2312) when it decodes cleanly and the result reads
as Chinese, and last charset-normalizer's best guess, accepted only if the result looks
like text. Anything else raises `UnreadableFileError` with a one-line reason.

Hostile input is bounded before it costs memory (see `rag.ingest.limits`): the size on
disk is checked before reading, a DOCX archive's inflated size before inflating, HTML
nesting before building a tree. A file name that is not valid UTF-8 (bytes from another
locale) gets an escaped source name, so it can be printed and stored.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import UnreadableFileError
from rag.ingest.limits import FILE_SIZE, INFLATED_SIZE, ReadLimits, limit_mb, megabytes
from rag.text import is_cjk, squeeze

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# C0 controls other than tab, newline, vertical tab, form feed, carriage return and escape.
_CONTROL_BYTES = frozenset(range(0x20)) - {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B}
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_MAX_CONTROL_SHARE = 0.01  # real text has none; a few stray ones are tolerated
_UNDECODABLE = "cannot decode as UTF-8, GB18030 or UTF-16 (save it as UTF-8 and retry)"
_BINARY = "binary file (not text)"


@dataclass(frozen=True)
class Document:
    """One readable input file."""

    source: str  # path relative to the ingest root, POSIX separators
    text: str  # decoded (or extracted) text; every offset refers to it
    encoding: str  # codec of a text file, or the container format ("pdf", "docx")
    sha256: str  # of the raw bytes, to detect changed files


def read_document(path: Path, root: Path, limits: ReadLimits | None = None) -> Document:
    """Read `path` (a file under `root`); raise `UnreadableFileError` if it is unusable."""
    limits = limits or ReadLimits()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = escape_name(suffix) or "(no suffix)"
        raise _unreadable(f"unsupported file type {shown}")
    data = _read_bounded(path, limits)
    if not data:
        raise _unreadable("empty file")
    text, encoding = _READERS[suffix](data, limits)
    if not squeeze(text):
        raise _unreadable("no text in file (only whitespace)")
    return Document(source_name(path, root), text, encoding, hashlib.sha256(data).hexdigest())


def _read_bounded(path: Path, limits: ReadLimits) -> bytes:
    """The file's bytes, refused before reading when over the size limit."""
    cap = limits.max_file_bytes
    try:
        with path.open("rb") as fh:
            data = fh.read(cap + 1)  # a file growing after a stat() is caught too
    except OSError as exc:
        raise _unreadable(f"cannot read file ({exc.strerror or exc})") from exc
    if len(data) > cap:
        try:
            size = megabytes(path.stat().st_size)
        except OSError:
            size = f"more than {megabytes(cap)}"
        raise _unreadable(FILE_SIZE.exceeded(f"file is {size}", limit_mb(limits.max_file_mb)))
    return data


def escape_name(name: str) -> str:
    """A file name as printable UTF-8: bytes that did not decode become \\xNN escapes."""
    # os.fsdecode maps undecodable bytes to lone surrogates (surrogateescape).
    raw = name.encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


def source_name(path: Path, root: Path) -> str:
    """The POSIX path of `path` relative to `root`, escaped if not valid UTF-8."""
    return escape_name(_relative(path, root))


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode the bytes of a text file; return (text, codec name)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decode_with_bom(data[len(bom) :], codec), codec
    if b"\x00" in data or _control_share(data) > _MAX_CONTROL_SHARE:
        raise _unreadable(_BINARY)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    else:
        if _reads_as_chinese(text):
            return text, "gb18030"
    return _guess(data)


def _decode_with_bom(payload: bytes, codec: str) -> str:
    # utf-8-sig would strip the BOM itself; the payload no longer has one.
    name = "utf-8" if codec == "utf-8-sig" else codec
    try:
        text = payload.decode(name)
    except UnicodeDecodeError as exc:
        raise _unreadable(f"invalid {codec} despite its byte-order mark") from exc
    if _CONTROL_CHARS.search(text):
        raise _unreadable(_BINARY)
    return text


def _control_share(data: bytes) -> float:
    sample = data[:65536]
    if not sample:
        return 0.0
    return sum(1 for b in sample if b in _CONTROL_BYTES) / len(sample)


def _reads_as_chinese(text: str) -> bool:
    """GB18030 maps almost any byte pair to some character; real Chinese uses common ones."""
    wide = [c for c in text if ord(c) > 0x7F]
    if not wide:
        return True
    cjk = [c for c in wide if is_cjk(c)]
    if len(cjk) < 0.7 * len(wide):
        return False
    sample = cjk[:5000]
    # GB2312 holds the 6,763 everyday characters; random bytes rarely land there.
    return sum(1 for c in sample if _in_gb2312(c)) >= 0.9 * len(sample)


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _guess(data: bytes) -> tuple[str, str]:
    from charset_normalizer import from_bytes  # only needed for unusual files

    for match in from_bytes(data):
        codec = match.encoding
        # Without a BOM, UTF-16/32 guesses only fit NUL-free bytes by producing nonsense.
        if codec.startswith(("utf_16", "utf_32")):
            continue
        text = str(match)
        if _looks_like_text(text):
            return text, codec
    raise _unreadable(_UNDECODABLE)


def _looks_like_text(text: str) -> bool:
    if _CONTROL_CHARS.search(text):
        return False
    visible = squeeze(text)
    letters = sum(1 for c in visible if c.isalnum())
    return bool(visible) and letters >= 0.6 * len(visible)


def _read_text(data: bytes, limits: ReadLimits) -> tuple[str, str]:
    return decode_text(data)


def _read_html(data: bytes, limits: ReadLimits) -> tuple[str, str]:
    from rag.ingest.html import html_to_text

    markup, encoding = decode_text(data)
    return html_to_text(markup, limits.max_depth), encoding


def _read_pdf(data: bytes, limits: ReadLimits) -> tuple[str, str]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise _unreadable("PDF is password-protected")
        pages = [page.extract_text() or "" for page in reader.pages]
    except UnreadableFileError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise _unreadable(f"not a readable PDF ({type(exc).__name__})") from exc
    text = "\n".join(pages)
    if not squeeze(text):
        raise _unreadable("PDF has no extractable text (scanned?)")
    return text, "pdf"


def _read_docx(data: bytes, limits: ReadLimits) -> tuple[str, str]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import XMLSyntaxError

    _check_inflated_size(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, XMLSyntaxError) as exc:
        raise _unreadable("not a valid DOCX file") from exc
    return "\n".join(p.text for p in document.paragraphs), "docx"


def _check_inflated_size(data: bytes, limits: ReadLimits) -> None:
    """Refuse a zip bomb before inflating anything.

    The declared sizes are what zipfile inflates to: it stops at a member's declared size
    (and then fails its CRC check), so a member lying about its size cannot exceed it.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _unreadable("not a valid DOCX file") from exc
    if inflated > limits.max_inflated_bytes:
        found = f"DOCX content inflates to {megabytes(inflated)}"
        raise _unreadable(INFLATED_SIZE.exceeded(found, limit_mb(limits.max_inflated_mb)))


_READERS: dict[str, Callable[[bytes, ReadLimits], tuple[str, str]]] = {
    ".txt": _read_text,
    ".md": _read_text,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        # Not under the root (a file named directly): its name is the best stable key.
        return path.name


def _unreadable(reason: str) -> UnreadableFileError:
    # The reason alone: the ingest reports it next to the file's path.
    return UnreadableFileError(reason)
