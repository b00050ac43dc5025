"""The chat page in a real browser: Debian's Chromium driven by Playwright.

The app runs in this process on a free localhost port, on a copy of the demo index (the
upload test adds a file to it). Screenshots are saved to artifacts/ui/.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag import Assistant
from rag.config import EmbedSettings, Settings
from rag.embed import SentenceTransformerEmbedder
from rag.text import squeeze

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# A conversation whose second question only makes sense after the first.
FIRST = "热电厂原计划什么时候停止供热？"
FOLLOW_UP = "后来缩短到几天？"
FOLLOW_UP_FACT = "6天"

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ANSWER_TIMEOUT = 120_000  # ms; the first question loads the model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(
    demo_index: Path,
    tmp_path_factory: pytest.TempPathFactory,
    embed_settings: EmbedSettings,
    embedder: SentenceTransformerEmbedder,
) -> Iterator[str]:
    from rag.ui.app import launch

    index = tmp_path_factory.mktemp("ui") / "index"
    shutil.copytree(demo_index, index)
    port = free_port()
    demo = launch(
        Assistant(Settings(index=index, embed=embed_settings), embedder=embedder),
        port=port,
        block=False,
        quiet=True,
    )
    yield f"http://127.0.0.1:{port}"
    demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "run `make browser` (installs Debian's chromium)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, app_url: str) -> Iterator[Any]:
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.goto(app_url)
    pg.wait_for_selector("#question textarea", timeout=60_000)
    yield pg
    pg.close()


def ask(page: Any, question: str) -> None:
    page.fill("#question textarea", question)
    page.click("#ask")


def last_bot_message(page: Any) -> str:
    return str(page.locator('#chat [data-testid="bot"]').last.inner_text())


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# Records every text the last answer bubble and the sources panel show, so a test can
# assert on the states the page passed through (a status line, partial text).
RECORD_STATES = """() => {
  window.ragStates = [];
  const seen = () => {
    const bots = document.querySelectorAll('#chat [data-testid="bot"]');
    const bot = bots.length ? bots[bots.length - 1].innerText : '';
    const src = document.querySelector('#sources')?.innerText || '';
    const last = window.ragStates[window.ragStates.length - 1];
    if (!last || last.bot !== bot || last.src !== src) window.ragStates.push({bot, src});
  };
  new MutationObserver(seen).observe(document.body,
    {subtree: true, childList: true, characterData: true});
}"""


def wait_for_answers(page: Any, n: int) -> None:
    """Until the n-th answer is complete (its sources panel is filled in)."""
    page.wait_for_function(
        f"""() => document.querySelectorAll('#chat [data-testid="bot"]').length >= {n}
            && document.querySelector('#sources .rag-badge')""",
        timeout=ANSWER_TIMEOUT,
    )


def test_chinese_question_streams_a_cited_answer_and_opens_its_source(page: Any) -> None:
    page.evaluate(RECORD_STATES)
    ask(page, "绍兴的网上轻纺城去年撮合业务量达到多少？")
    page.wait_for_selector("#sources .rag-cite", timeout=ANSWER_TIMEOUT)
    final = last_bot_message(page)
    assert "[1]" in final
    states = page.evaluate("window.ragStates")
    before_final = [s for s in states if s["bot"] and s["bot"] != final]
    assert any("Searching and reading" in s["bot"] for s in before_final), states
    assert any("Finding the sentences" in s["src"] for s in states), "sources panel said so"
    shown = [s["bot"] for s in states]
    first = next(i for i, bot in enumerate(shown) if bot.strip())
    assert all(bot.strip() for bot in shown[first:]), f"an empty answer bubble: {shown}"
    assert "Searching and reading" in shown[first], "the status line comes first"
    quote = page.inner_text("#sources .rag-cite >> nth=0 >> .rag-quote")
    source = page.inner_text("#sources .rag-cite >> nth=0 >> code")
    original = (ROOT / "data" / "corpus" / source).read_text("utf-8")
    assert squeeze(quote) and squeeze(quote) in squeeze(original), "quote really is in the file"
    assert "311亿" in quote
    shot(page, "answer")

    label = page.inner_text("#citations label >> nth=0")
    meta = page.inner_text("#sources .rag-cite >> nth=0 >> .rag-meta")
    assert label.startswith("[1] ") and label.split(" · ")[1] in meta, (label, meta)
    page.click("#citations label >> nth=0")
    page.wait_for_selector("#context mark", timeout=30_000)
    assert squeeze(page.inner_text("#context mark")) == squeeze(quote)
    context = page.inner_text("#context")
    assert len(squeeze(context)) > len(squeeze(quote)), "surrounding article text is shown"
    shot(page, "citation-opened")


def test_out_of_corpus_question_is_shown_as_a_refusal(page: Any) -> None:
    ask(page, "2030年火星基地的建设进展如何？")
    page.wait_for_selector("#sources .rag-refusal", timeout=ANSWER_TIMEOUT)
    assert "语料中没有找到" in last_bot_message(page)
    assert "🚫" in last_bot_message(page)
    assert page.locator("#sources .rag-related li").count() >= 1
    assert page.locator("#sources .rag-cite").count() == 0
    shot(page, "refusal")


def test_english_follow_up_and_an_error_keep_the_page_usable(page: Any) -> None:
    ask(page, "   ")
    page.wait_for_function(
        "() => document.querySelector('#chat')?.innerText.includes('question is empty')",
        timeout=ANSWER_TIMEOUT,
    )
    assert "Traceback" not in page.inner_text("#chat")
    ask(page, "What was the matchmaking business volume of Shaoxing's online China Textile City?")
    page.wait_for_selector("#sources .rag-cite", timeout=ANSWER_TIMEOUT)
    assert "311" in last_bot_message(page)
    shot(page, "english")


def test_two_turn_conversation_keeps_both_turns_and_the_context(page: Any) -> None:
    ask(page, FIRST)
    wait_for_answers(page, 1)
    page.wait_for_selector("#sources .rag-cite", timeout=ANSWER_TIMEOUT)
    first = last_bot_message(page)
    ask(page, FOLLOW_UP)
    page.wait_for_function(
        """() => document.querySelectorAll('#chat [data-testid="bot"]').length >= 2
            && document.querySelector('#sources .rag-cite')""",
        timeout=ANSWER_TIMEOUT,
    )
    users = page.locator('#chat [data-testid="user"]').all_inner_texts()
    bots = page.locator('#chat [data-testid="bot"]').all_inner_texts()
    assert [u.strip() for u in users] == [FIRST, FOLLOW_UP]
    assert len(bots) == 2 and bots[0] == first, "the first turn is still shown"
    assert FOLLOW_UP_FACT in bots[1] and "🚫" not in bots[1], bots[1]
    shot(page, "two-turns")


def test_upload_while_an_answer_streams_then_the_header_after_reload(
    page: Any, tmp_path: Path
) -> None:
    doc = tmp_path / "舟山新闻.txt"
    doc.write_text(
        "舟山建成国内首座海上风电制氢平台\n\n本报舟山6月3日电 舟山岱山海域的海上风电制氢平台"
        "日前建成投用，每天可制取绿氢约2.4吨。\n",
        encoding="utf-8",
    )
    assert "5 files" in page.inner_text("#header")
    page.click("text=Add documents")
    page.set_input_files("#upload input[type=file]", [str(doc)])
    page.click("#add")  # the upload runs (embedding, commit) ...
    ask(page, "绍兴的网上轻纺城去年撮合业务量达到多少？")  # ... while this is answered
    page.wait_for_selector("#sources .rag-cite", timeout=ANSWER_TIMEOUT)
    assert "311亿" in last_bot_message(page)
    page.wait_for_function(
        "() => document.querySelector('#upload-summary')?.innerText.includes('Added 1 file')",
        timeout=ANSWER_TIMEOUT,
    )
    summary = page.inner_text("#upload-summary")
    assert "uploads/舟山新闻.txt" in summary
    assert "The index now holds 6 files" in summary
    shot(page, "upload")
    page.reload()
    page.wait_for_selector("#question textarea", timeout=60_000)
    # The header is re-read by the page's load event, which may still be pending when the
    # textarea appears (its timer, "0.1s", shows in the header): wait for that event to end,
    # then assert what it rendered.
    page.wait_for_function(
        r"() => !/^\s*\d+(\.\d+)?s\b/.test(document.querySelector('#header').innerText)",
        timeout=60_000,
    )
    assert "6 files" in page.inner_text("#header"), "a fresh page load shows the new header"
    ask(page, "舟山的海上风电制氢平台每天能制取多少绿氢？")
    page.wait_for_selector("#sources .rag-cite", timeout=ANSWER_TIMEOUT)
    assert "2.4吨" in last_bot_message(page)
    assert "uploads/舟山新闻.txt" in page.inner_text("#sources")
    shot(page, "after-reload")
