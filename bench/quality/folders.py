"""SKAB's files grouped by folder (valve1, valve2, other): the one grouping every benchmark's
per-folder figures use, so each folder found gets its own row or column, `other` too."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def folder_of(name: str | Path) -> str:
    """The folder a file sits in, relative to the data folder ("valve1", "other")."""
    return Path(name).parent.as_posix()


def by_folders(items: Iterable[T], name: Callable[[T], str | Path]) -> dict[str, list[T]]:
    """The items of each folder found, folders in sorted order, items in their given order."""
    groups: dict[str, list[T]] = {}
    for item in items:
        groups.setdefault(folder_of(name(item)), []).append(item)
    return {folder: groups[folder] for folder in sorted(groups)}


def listed(names: list[str]) -> str:
    """Names as a sentence lists them: "valve1 and valve2", "other, valve1 and valve2"."""
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
