"""The documentation as a reader follows it: README and docs/ link only to files and headings
that exist, docs/ files stay reference-sized, and the dated results live in bench/RESULTS.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "bench" / "RESULTS.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings (code blocks left out)."""
    text = FENCE.sub("", path.read_text())
    return {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_reaches_a_file_and_heading(page):
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"^[a-z]+:", target):
            continue
        name, _, anchor = target.partition("#")
        path = (page.parent / name).resolve() if name else page
        missing = anchor and path.suffix == ".md" and anchor not in anchors(path)
        if not path.exists() or missing:
            broken.append(target)
    assert not broken, broken


@pytest.mark.parametrize("page", sorted((REPO / "docs").glob("*.md")), ids=lambda p: p.name)
def test_reference_pages_stay_short_and_link_to_the_results_log(page):
    lines = page.read_text().splitlines()
    assert len(lines) <= 320, f"{page.name}: {len(lines)} lines (reference text: about 300 at most)"
    if page.name in ("quality.md", "performance.md"):
        assert "../bench/RESULTS.md" in page.read_text()
