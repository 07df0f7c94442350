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
    """GitHub's anchor of a heading: its text as rendered (links, code and emphasis marks
    gone, an underscore inside a word or code kept), lower case, punctuation but `-` and `_`
    dropped, each space a `-`."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    parts = re.split(r"`([^`]*)`", text)  # odd parts: code, kept as written
    text = "".join(part if i % 2 else re.sub(r"\*+|(?<!\w)_+|_+(?!\w)", "", part)
                   for i, part in enumerate(parts))
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings (code blocks left out); a heading's second
    namesake gets `-1`, its third `-2`, as GitHub numbers them."""
    text = FENCE.sub("", path.read_text())
    seen: dict[str, int] = {}
    found = set()
    for line in text.splitlines():
        if re.match(r"#{1,6} ", line):
            name = slug(line.lstrip("#"))
            found.add(f"{name}-{seen[name]}" if name in seen else name)
            seen[name] = seen.get(name, 0) + 1
    return found


@pytest.mark.parametrize(("heading", "anchor"), [
    ("Delivery guarantee: at least once", "delivery-guarantee-at-least-once"),
    ("`detector serve`: `/metrics`, `/healthz` and `/livez`",
     "detector-serve-metrics-healthz-and-livez"),
    ("The alert webhook receiver (`deploy/alertmanager/webhook_log.py`)",
     "the-alert-webhook-receiver-deployalertmanagerwebhook_logpy"),
    ("*Why* __not__ [the link](x.md)? `__init__`", "why-not-the-link-__init__"),
    ("Warm-up: windows rebuilt from the partition", "warm-up-windows-rebuilt-from-the-partition"),
])
def test_anchors_are_github_s(heading, anchor):
    assert slug(heading) == anchor


def test_a_repeated_heading_gets_a_number(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Notes\n\n## Notes\n\n```\n# Notes\n```\n\n## Notes\n#not-a-heading\n")
    assert anchors(page) == {"notes", "notes-1", "notes-2"}


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
