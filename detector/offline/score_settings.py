"""What `detector score` and `detector evaluate` may change of a bundle's own rule: the history
before the data, the threshold and the persistence rule (None: the bundle's). Pure: no click."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from detector.core.alarm import MAX_N, Persistence
from shared.settings import Meta, Settings, setting


@dataclass(frozen=True)
class ScoreSettings(Settings):
    """History and overrides of one scoring run."""

    label = "scoring settings"

    history: str | None = setting(
        None, help="A CSV of the readings just before DATA: history for the first windows and "
        "the persistence rule; not scored into the output.")
    threshold: Annotated[float, Meta(gt=0)] | None = setting(
        None, help="Use this threshold (a number > 0), not the bundle's. A threshold that "
        "follows the usual error moves alike: T0 by the same factor (docs/model.md).")
    persistence: Persistence | None = setting(
        None, help=f"Use this K/N rule (1 <= K <= N <= {MAX_N}), not the bundle's.")

    def __post_init__(self) -> None:
        self.check_ranges()
