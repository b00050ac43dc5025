"""Hostile inputs: peak memory and time to the first committed batch, before/after.

    python -m rag.evals.bench_hostile                        # this checkout only
    python -m rag.evals.bench_hostile --before /tmp/rag-old  # and an older source tree
                                                             # (e.g. `git archive REV | tar -x`)

Generates its inputs in a temporary directory (nothing is committed): a DOCX whose
`word/document.xml` inflates to 200 MB, a 30 MB Chinese text built from the demo corpus,
and a small text as the baseline. Each case runs `rag ingest` in a subprocess; its RSS is
sampled every 50 ms, and the first `manifest.json` to appear marks the first commit. A case
that neither ends nor commits within `--timeout` seconds is stopped. Prints Markdown.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import psutil

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx_bomb(path: Path, inflated_mb: int = 200) -> None:
    """A valid DOCX whose document.xml is `inflated_mb` MB of one paragraph's padding."""
    head = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W}"><w:body>'
    para = "<w:p><w:r><w:t>浙江新闻。</w:t></w:r></w:p>"
    tail = "</w:body></w:document>"
    pad = inflated_mb * (1 << 20) - len(head) - len(tail) - len(para)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        with z.open("word/document.xml", "w", force_zip64=True) as member:
            member.write((head + para).encode())
            block = b" " * (1 << 20)
            for _ in range(pad // len(block)):
                member.write(block)
            member.write(b" " * (pad % len(block)) + tail.encode())
    path.write_bytes(buf.getvalue())


def big_text(path: Path, mb: int = 30) -> None:
    """`mb` MB of UTF-8 Chinese news: the demo corpus repeated, each copy numbered."""
    corpus = "\n\n".join(p.read_text("utf-8") for p in sorted(CORPUS.glob("*.txt")))
    target = mb * (1 << 20)
    with path.open("w", encoding="utf-8") as fh:
        written, n = 0, 0
        while written < target:
            n += 1
            piece = f"\n\n第{n}辑\n\n" + corpus.replace("。", f"。（{n}）", 3)
            fh.write(piece)
            written += len(piece.encode())


@dataclass(frozen=True)
class Run:
    peak_mb: float
    seconds: float
    first_commit: float | None  # seconds from start to the first manifest.json
    exit_code: int | None  # None: stopped at the timeout
    last_line: str


def run_ingest(src: Path | None, file: Path, extra: list[str], timeout: float) -> Run:
    """`rag ingest FILE` into a fresh index, from `src` (another source tree) or this one."""
    work = Path(tempfile.mkdtemp(prefix="rag-hostile-"))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    if src is not None:
        env["PYTHONPATH"] = str(_link_tree(src, work / "src"))
    index = work / "index"
    cmd = [sys.executable, "-m", "rag.cli", "ingest", str(file), "--index", str(index)]
    cmd += ["--quiet", *extra]
    started = time.perf_counter()
    # cwd: `python -m` puts the working directory first on sys.path, before PYTHONPATH.
    proc = subprocess.Popen(
        cmd, env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    ps = psutil.Process(proc.pid)
    peak, first = 0, None
    try:
        while proc.poll() is None:
            elapsed = time.perf_counter() - started
            try:
                peak = max(peak, ps.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            if first is None and (index / "manifest.json").exists():
                first = elapsed
                if src is None and extra:
                    break  # the batch commit is what this case measures
            if elapsed > timeout:
                break
            time.sleep(0.05)
    finally:
        seconds = time.perf_counter() - started
        code = proc.poll()
        if code is None:
            proc.kill()
        out = proc.communicate()[0].decode("utf-8", "replace").strip().splitlines()
        shutil.rmtree(work, ignore_errors=True)
    last = next((line for line in reversed(out) if line.startswith(("error", "skipped", "  "))), "")
    return Run(peak / (1 << 20), seconds, first, code, last[:160])


def _link_tree(src: Path, dest: Path) -> Path:
    """The installed layout (rag/, rag/ingest, rag/ui, rag/evals) of a source checkout."""
    shutil.copytree(src / "rag", dest / "rag", symlinks=True)
    for name in ("ingest", "ui", "evals"):
        (dest / "rag" / name).symlink_to(src / name)
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, help="an older source tree to compare with")
    parser.add_argument("--timeout", type=float, default=420.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rag-hostile-in-"))
    try:
        bomb, big, small = tmp / "bomb.docx", tmp / "big.txt", tmp / "small.txt"
        docx_bomb(bomb)
        big_text(big)
        small.write_text(next(CORPUS.glob("000_*.txt")).read_text("utf-8")[:600], "utf-8")
        cases: list[tuple[str, Path | None, Path, list[str]]] = [
            ("baseline: 600-character text", None, small, []),
            ("DOCX inflating to 200 MB", None, bomb, []),
            ("30 MB text, default limits", None, big, []),
            ("30 MB text, --max-file-mb 40", None, big, ["--max-file-mb", "40"]),
        ]
        if args.before:
            cases[1:1] = [
                ("before: DOCX inflating to 200 MB", args.before, bomb, []),
                ("before: 30 MB text", args.before, big, []),
            ]
        rows = []
        for name, src, file, extra in cases:
            r = run_ingest(src, file, extra, args.timeout)
            rows.append((name, r))
            print(f"{name}: {r}", file=sys.stderr)
        base = rows[0][1].peak_mb
        print(
            f"inputs: bomb.docx {bomb.stat().st_size / 1024:.0f} KB, big.txt "
            f"{big.stat().st_size / (1 << 20):.1f} MB\n"
        )
        print("| case | peak RSS | over baseline | first commit | ended | outcome |")
        print("|---|---|---|---|---|---|")
        for name, r in rows:
            commit = f"{r.first_commit:.0f} s" if r.first_commit is not None else "none"
            ended = (
                f"exit {r.exit_code} after {r.seconds:.0f} s"
                if r.exit_code is not None
                else (f"stopped at {r.seconds:.0f} s")
            )
            print(
                f"| {name} | {r.peak_mb:.0f} MB | {r.peak_mb - base:+.0f} MB | {commit} | "
                f"{ended} | {r.last_line.strip()} |"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
