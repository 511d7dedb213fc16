"""The documentation as a product: the README stays short enough to read in one sitting, every link
in it and in docs/ leads somewhere a reader can follow (a file of this repository, or a public web
page), and the docs speak of what the software does, not of the tracker's numbered tickets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
MAX_README_BYTES = 15_000
# Inline links and images: [text](target) or ![alt](target "title"); the text may span lines.
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_ISSUE = re.compile(r"\bissue\s*#?\s*\d+", re.IGNORECASE)


def _markdown_files() -> list[Path]:
    return [README, REPO / "BENCHMARKS.md", *sorted((REPO / "docs").glob("*.md"))]


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are code, not links."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def links(text: str) -> list[str]:
    """The targets of the inline markdown links and images in `text`, outside code."""
    return _LINK.findall(_prose(text))


def link_problem(source: Path, target: str) -> str | None:
    """Why `target`, linked from `source`, is not a link a reader can follow, or None.

    http(s) URLs may point anywhere public; every other target must be a relative path (an
    optional #fragment after it) to a file inside this repository."""
    if re.match(r"https?://", target):
        return None
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", target):
        return "only http(s) URLs may point outside the repository"
    path = target.split("#", 1)[0]
    if not path:
        return None   # a fragment within the same page
    if path.startswith("/"):
        return "an absolute path points outside the repository; use a relative one"
    if ".." in Path(path).parts:
        return "climbs out of its folder; name the file in words instead (a copy of one page may sit elsewhere)"
    resolved = (source.parent / path).resolve()
    if not resolved.is_relative_to(REPO):
        return "leads out of the repository"
    if not resolved.exists():
        return "no such file in the repository"
    return None


def test_readme_is_short() -> None:
    size = len(README.read_bytes())
    assert size <= MAX_README_BYTES, f"README.md is {size} bytes; keep it under {MAX_README_BYTES}"


@pytest.mark.parametrize("doc", _markdown_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_links_stay_in_the_repository_or_are_public_urls(doc: Path) -> None:
    bad = [f"{target}: {why}" for target in links(doc.read_text(encoding="utf-8"))
           if (why := link_problem(doc, target)) is not None]
    assert not bad, f"{doc.relative_to(REPO)}: " + "; ".join(bad)


def test_no_numbered_issues_in_the_docs() -> None:
    docs = [README, REPO / "BENCHMARKS.md", *sorted((REPO / "docs").rglob("*.md"))]
    found = [f"{d.relative_to(REPO)}: {m.group(0)!r}" for d in docs if d.exists()
             for m in _ISSUE.finditer(d.read_text(encoding="utf-8"))]
    assert not found, "; ".join(found)


def test_the_link_checker_itself() -> None:
    text = ("[a](docs/ray.md) ![b](docs/report.png) [c](https://docs.aws.amazon.com/x) [d](#top) "
            "`[e](nowhere.md)`\n```\n[f](nowhere.md)\n```\n[g](../outside.md) [h](file:///etc/passwd) "
            "[i](docs/missing.md) [j](/etc/passwd)")
    found = links(text)
    assert found == ["docs/ray.md", "docs/report.png", "https://docs.aws.amazon.com/x", "#top",
                     "../outside.md", "file:///etc/passwd", "docs/missing.md", "/etc/passwd"]
    problems = {t: link_problem(README, t) for t in found}
    assert [t for t, why in problems.items() if why is None] == [
        "docs/ray.md", "docs/report.png", "https://docs.aws.amazon.com/x", "#top"]
    # A climb inside the repository is refused too: docs/x.md → ../README.md resolves here, but the page
    # reads as a link out wherever it is copied or rendered on its own.
    assert link_problem(REPO / "docs" / "x.md", "../README.md") is not None
    assert _ISSUE.search("see Issue #12") and _ISSUE.search("issue 7") and not _ISSUE.search("issues")
