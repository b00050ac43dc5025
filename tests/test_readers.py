"""Reading files into Documents: encodings, formats, and the failures users see."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import pytest

from rag.errors import UnreadableFileError
from rag.ingest.readers import SUPPORTED_SUFFIXES, Document, read_document

CHINESE = "浙江省杭州市今日发布重要新闻，经济持续向好。\r\n第二段：宁波舟山港货物吞吐量再创新高。\n"


def write(root: Path, name: str, data: bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def read(root: Path, name: str, data: bytes) -> Document:
    return read_document(write(root, name, data), root)


def test_utf8_text_is_kept_verbatim_with_relative_source_and_hash(tmp_path: Path) -> None:
    data = CHINESE.encode("utf-8")
    doc = read(tmp_path, "news/2024/a.txt", data)
    assert doc.text == CHINESE  # "\r\n" and the trailing newline are not normalised
    assert doc.encoding == "utf-8"
    assert doc.source == "news/2024/a.txt"
    assert doc.sha256 == hashlib.sha256(data).hexdigest()


def test_gbk_bytes_decode_as_gb18030(tmp_path: Path) -> None:
    doc = read(tmp_path, "gbk.txt", CHINESE.encode("gbk"))
    assert doc.text == CHINESE
    assert doc.encoding == "gb18030"


def test_gb18030_only_characters(tmp_path: Path) -> None:
    text = "䶮是一个不在GBK里的字。浙江日报报道了这条新闻。"
    doc = read(tmp_path, "gb18030.txt", text.encode("gb18030"))
    assert doc.text == text


@pytest.mark.parametrize(("codec", "bom"), [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
def test_utf16_with_bom(tmp_path: Path, codec: str, bom: bytes) -> None:
    doc = read(tmp_path, f"{codec}.txt", bom + CHINESE.encode(codec))
    assert doc.text == CHINESE  # the BOM is gone, nothing else changed
    assert doc.encoding == codec


def test_utf8_with_bom_drops_only_the_bom(tmp_path: Path) -> None:
    doc = read(tmp_path, "bom.txt", b"\xef\xbb\xbf" + CHINESE.encode("utf-8"))
    assert doc.text == CHINESE
    assert not doc.text.startswith("\ufeff")
    assert doc.encoding == "utf-8-sig"


def test_markdown_is_read_as_text_with_heading_marks_kept(tmp_path: Path) -> None:
    text = "# 标题\n\n正文第一句。\n"
    doc = read(tmp_path, "note.md", text.encode("utf-8"))
    assert doc.text == text


def test_binary_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match=r"^binary file \(not text\)$"):
        read(tmp_path, "bin.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)


def test_control_characters_without_nul_are_binary(tmp_path: Path) -> None:
    data = bytes([0x01, 0x02, 0x03, 0x41, 0x42, 0x05, 0x06]) * 50
    with pytest.raises(UnreadableFileError, match="binary"):
        read(tmp_path, "ctl.txt", data)


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match=r"^empty file$"):
        read(tmp_path, "empty.txt", b"")


def test_whitespace_only_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match="only whitespace"):
        read(tmp_path, "blank.txt", b" \n\r\n\t \n")


def test_random_high_bytes_cannot_be_decoded(tmp_path: Path) -> None:
    rnd = random.Random(7)
    data = bytes(rnd.randrange(0x80, 0x100) for _ in range(600))
    with pytest.raises(UnreadableFileError, match="cannot decode as UTF-8, GB18030 or UTF-16"):
        read(tmp_path, "noise.txt", data)


def test_invalid_utf8_and_gb18030_with_nonsense_is_rejected(tmp_path: Path) -> None:
    # Truncated multi-byte sequences everywhere: valid in no supported encoding.
    data = "浙江".encode()[:-1] * 200 + b"\xff\xfe\xfd" * 100
    with pytest.raises(UnreadableFileError, match="cannot decode"):
        read(tmp_path, "broken.txt", data)


def test_latin1_falls_back_to_a_charset_guess(tmp_path: Path) -> None:
    text = (
        "Le café est très bon. Nous avons mangé une crème brûlée délicieuse à Paris, "
        "près de la Seine, avec des amis venus de Lyon et de Marseille.\n"
    )
    doc = read(tmp_path, "fr.txt", text.encode("latin-1"))
    assert doc.encoding not in ("utf-8", "gb18030", "utf-16-le", "utf-16-be")
    assert "Nous avons mang" in doc.text and "Paris" in doc.text
    assert "\ufffd" not in doc.text


def test_unsupported_suffix(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match=r"^unsupported file type \.xyz$"):
        read(tmp_path, "data.xyz", b"hello")
    assert ".xyz" not in SUPPORTED_SUFFIXES


def test_html_body_text_with_title_first_and_blocks_on_lines(tmp_path: Path) -> None:
    html = """<!doctype html><html><head><title>网站 - 标题</title>
    <style>p { color: red }</style><script>var x = "脚本";</script></head>
    <body><nav>首页 | 新闻</nav>
    <h1>浙江发布  新闻</h1>
    <p>第一段<b>加粗</b>文字。</p><div>第二段<br>换行后的文字。</div>
    <ul><li>条目一</li><li>条目二</li></ul>
    <script>document.write("不要")</script><!-- 注释 -->
    </body></html>"""
    doc = read(tmp_path, "page.html", html.encode("utf-8"))
    lines = doc.text.split("\n")
    assert lines[0] == "浙江发布 新闻"
    assert "第一段加粗文字。" in lines
    assert "第二段" in lines and "换行后的文字。" in lines
    assert "条目一" in lines and "条目二" in lines
    for absent in ("脚本", "color", "首页", "不要", "注释"):
        assert absent not in doc.text


def test_html_title_becomes_the_article_title(tmp_path: Path) -> None:
    from rag.ingest.parse import parse_document

    html = "<html><head><title>站点</title></head><body><h1>湖州首次颁发生态鼎</h1>"
    html += "<p>本报湖州9月4日电 4日,湖州召开推进大会。</p><p>长兴县捧获冠军鼎。</p></body></html>"
    parsed = parse_document(read(tmp_path, "a.html", html.encode("utf-8")))
    assert [a.title for a in parsed.articles] == ["湖州首次颁发生态鼎"]
    assert parsed.articles[0].meta.date == "9月4日"
    assert parsed.chunks[0].text == "本报湖州9月4日电 4日,湖州召开推进大会。\n长兴县捧获冠军鼎。"


def test_html_without_h1_takes_the_title_element(tmp_path: Path) -> None:
    html = "<html><head><title>只有标题</title></head><body><p>正文。</p></body></html>"
    doc = read(tmp_path, "page.htm", html.encode("gbk"))
    assert doc.text == "只有标题\n正文。"


def test_docx_paragraphs_are_joined_with_newlines(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    for paragraph in ("标题行", "第一段正文。", "第二段正文。"):
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    doc = read(tmp_path, "report.docx", buffer.getvalue())
    assert doc.text == "标题行\n第一段正文。\n第二段正文。"
    assert doc.encoding == "docx"


def test_invalid_docx_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match="not a valid DOCX"):
        read(tmp_path, "fake.docx", b"PK but not really a zip file")


def _pdf(text: str | None) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure()
    if text:
        figure.text(0.1, 0.5, text)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="pdf")
    plt.close(figure)
    return buffer.getvalue()


def test_pdf_text_is_extracted(tmp_path: Path) -> None:
    doc = read(tmp_path, "paper.pdf", _pdf("Hello PDF world. Second sentence here."))
    assert "Hello PDF world." in doc.text
    assert doc.encoding == "pdf"


def test_pdf_without_text_is_reported_as_scanned(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match=r"^PDF has no extractable text \(scanned\?\)$"):
        read(tmp_path, "scan.pdf", _pdf(None))


def test_corrupt_pdf_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match="not a readable PDF"):
        read(tmp_path, "broken.pdf", b"%PDF-1.4 garbage without any objects")


def test_file_outside_root_is_named_by_its_file_name(tmp_path: Path) -> None:
    path = write(tmp_path / "elsewhere", "x.txt", "正文。".encode())
    doc = read_document(path, tmp_path / "root")
    assert doc.source == "x.txt"
