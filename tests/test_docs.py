"""The code in the documentation runs.

Every fenced ``python`` block of ``README.md`` and ``docs/**/*.md`` is executed: the blocks of one page in
order, in one namespace, in a temporary working folder that holds what the examples name (small trained
models from ``tests/assets/legacy_v1/`` at the paths a user's own runs would have). Nothing is downloaded:
the autouse fixture of ``conftest.py`` sets the Hugging Face libraries offline and points the caches at a
temporary folder.

Other blocks (``bash``, ``yaml``, ``text``) are not run. A ``python`` block is skipped only when the line
before its fence is an HTML comment ``<!-- no-test: the reason -->``.
"""

from __future__ import annotations

import re
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

from textrnn.inference import registry

REPO = Path(__file__).resolve().parents[1]
LEGACY = REPO / "tests" / "assets" / "legacy_v1"
NO_TEST = re.compile(r"^<!--\s*no-test:(?P<reason>.*?)-->\s*$")
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
NEVER_SKIPPED = ("docs/guide/tutorial.md",)  # pages whose every block must run

# path in the examples -> what stands there (a file or folder of the legacy assets, or the repository's own)
WORKSPACE = {
    "runs/sst2_bilstm_glove/version_0/checkpoints/last.ckpt": LEGACY / "classifier.ckpt",
    "runs/shakespeare_char_cpu/version_0/checkpoints/last.ckpt": LEGACY / "char_lm.ckpt",
    "models/sst2": LEGACY / "classifier_folder",
    "models/shakespeare": LEGACY / "char_lm_folder",
}
LINKED = {"data": REPO / "data"}  # read-only inputs, linked rather than copied


@dataclass(frozen=True)
class Block:
    """One fenced block of a page."""

    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip: str | None  # the no-test reason, if any

    @property
    def runs(self) -> bool:
        return self.lang == "python" and self.skip is None


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, in order; an unclosed fence runs to the end, as in Markdown."""
    found: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        lang = (opening["info"].strip().split() or [""])[0].strip("{}.").lower()
        previous = next((line.strip() for line in reversed(lines[:i]) if line.strip()), "")
        marker = NO_TEST.match(previous)
        body, j = [], i + 1
        while j < len(lines):
            closing = FENCE.match(lines[j])
            if closing and closing["fence"][0] == fence[0] and len(closing["fence"]) >= len(fence):
                if not closing["info"].strip():
                    break
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j].lstrip())
            j += 1
        skip = marker["reason"].strip() if marker else None
        found.append(Block(i + 1, lang, "\n".join(body) + "\n", skip))
        i = j + 1
    return found


def _pages() -> list[Path]:
    return sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])


def _name(page: Path) -> str:
    return page.relative_to(REPO).as_posix()


def _runnable_pages() -> list[Path]:
    return [page for page in _pages() if any(b.runs for b in blocks(page.read_text(encoding="utf-8")))]


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """A working folder laid out as after the user's own training runs, entered for the test."""
    for relative, source in WORKSPACE.items():
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copyfile(source, target)
    for relative, source in LINKED.items():
        (tmp_path / relative).symlink_to(source, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


class ExampleFailed(AssertionError):
    """A documented example raised."""


def run_blocks(text: str, name: str) -> int:
    """Run the python blocks of a page in order, in one namespace; return how many ran.

    Raises:
        ExampleFailed: Naming the page and line of the block that raised, with its traceback.
    """
    namespace: dict = {"__name__": "__main__"}
    ran = 0
    for block in blocks(text):
        if not block.runs:
            continue
        where = f"{name}:{block.line}"
        try:
            exec(compile(block.code, where, "exec"), namespace)  # the documentation's own code
        except Exception as err:
            raise ExampleFailed(f"the python block at {where} raised:\n{traceback.format_exc()}") from err
        ran += 1
    return ran


@pytest.mark.parametrize("page", _runnable_pages(), ids=_name)
def test_page_examples_run(page: Path, workspace: Path, monkeypatch) -> None:
    monkeypatch.setattr(registry, "TASKS", dict(registry.TASKS))  # a page may register a task of its own
    try:
        assert run_blocks(page.read_text(encoding="utf-8"), _name(page)) > 0
    except ExampleFailed as err:
        pytest.fail(str(err), pytrace=False)


def test_skip_markers_have_reasons_and_precede_python_blocks() -> None:
    problems = []
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        skipped = [b for b in blocks(text) if b.skip is not None]
        for block in skipped:
            if not block.skip:
                problems.append(f"{_name(page)}:{block.line}: a no-test marker without a reason")
            if block.lang != "python":
                problems.append(f"{_name(page)}:{block.line}: a no-test marker before a {block.lang!r} block")
            if _name(page) in NEVER_SKIPPED:
                problems.append(f"{_name(page)}:{block.line}: every example of this page must run")
        markers = sum(1 for line in text.splitlines() if NO_TEST.match(line.strip()))
        if markers != len(skipped):
            stray = markers - len(skipped)
            problems.append(f"{_name(page)}: {stray} no-test marker(s) not just before a fence")
    assert not problems, "\n".join(problems)


def test_the_examples_name_only_what_the_workspace_has(workspace: Path) -> None:
    """The paths the examples load are the ones the workspace lays out, so a renamed path fails here first."""
    for relative in [*WORKSPACE, *LINKED]:
        assert (workspace / relative).exists(), relative


def test_blocks_are_found_as_markdown_reads_them() -> None:
    page = "\n".join(
        [
            "Intro.",
            "```python",
            "x = 1",
            "```",
            "",
            "<!-- no-test: needs the network -->",
            "",
            "```python",
            "download()",
            "```",
            "- a list item:",
            "",
            "    ```python",
            "    y = x + 1",
            "    ```",
            "````markdown",
            "```python",
            "not code",
            "```",
            "````",
            "```bash",
            "make test",
            "```",
        ]
    )
    found = blocks(page)
    assert [(b.line, b.lang, b.skip) for b in found] == [
        (2, "python", None),
        (8, "python", "needs the network"),
        (13, "python", None),
        (16, "markdown", None),
        (21, "bash", None),
    ]
    assert found[2].code == "y = x + 1\n"
    assert [b.code for b in found if b.runs] == ["x = 1\n", "y = x + 1\n"]


def test_blocks_share_a_namespace_and_a_raising_block_fails_its_page() -> None:
    page = "```python\nx = 41\n```\n\n```python\nx += 1\nassert x == 42\n```\n"
    assert run_blocks(page, "page.md") == 2
    broken = page + "\n```python\nraise ValueError('broken example')\n```\n"
    with pytest.raises(ExampleFailed, match=r"page\.md:10 raised:(.|\n)*broken example"):
        run_blocks(broken, "page.md")
