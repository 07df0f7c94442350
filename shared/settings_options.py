"""Click options built from a settings dataclass (`shared.settings`), and the decorator that hands
the command one settings value instead of one parameter per option.

Each field becomes `--field-name` with the field's default, range and help: an int with a range is
an IntRange, a float a FiniteRange (no NaN, no infinity), a StrEnum a Choice of its values; other
types take a click type from `types`. A new setting is one field: its option follows.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Callable, Mapping
from typing import Any

import click

from shared.command_line import FiniteRange
from shared.settings import Settings, field_types, unwrap


def click_type(kind: Any, meta: Any, name: str, types: Mapping[str, click.ParamType]) -> Any:
    """The click type of a field: from `types` by name, else from its type and range."""
    if name in types:
        return types[name]
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return click.Choice([m.value for m in kind])
    if meta is None or kind not in (int, float):
        return None
    low = meta.ge if meta.ge is not None else meta.gt
    high = meta.le if meta.le is not None else meta.lt
    if kind is int:
        return click.IntRange(low, high, min_open=meta.gt is not None,
                              max_open=meta.lt is not None)
    return FiniteRange(low, high, min_open=meta.gt is not None, max_open=meta.lt is not None)


def options_of(cls: type[Settings], env_prefix: str | None = None,
               types: Mapping[str, click.ParamType] | None = None) -> list[Callable]:
    """One click option per field of `cls`, in field order (env var PREFIX_NAME if a prefix)."""
    options = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind, meta, _ = unwrap(field_types(cls)[f.name])
        factory = f.default_factory
        required = f.default is dataclasses.MISSING and not callable(factory)
        default = (f.default if f.default is not dataclasses.MISSING
                   else factory() if callable(factory) else None)
        name = f.name.replace("_", "-")
        extra: dict[str, Any] = ({"envvar": f"{env_prefix}_{f.name.upper()}", "show_envvar": True}
                                 if env_prefix else {})
        if isinstance(default, enum.Enum):
            default = default.value
        if not required:  # the locked click takes a default of None as a value given
            extra["default"] = default
        shown = f.metadata["show_default"] and default is not None
        options.append(click.option(
            f"--{name}", f.name, type=click_type(kind, meta, f.name, types or {}),
            required=required, show_default=shown,
            hidden=f.metadata["hidden"], help=f.metadata["help"], **extra))
    return options


def with_settings(cls: type[Settings], into: str = "settings", env_prefix: str | None = None,
                  types: Mapping[str, click.ParamType] | None = None) -> Callable:
    """Give the command `cls`'s options and call it with one `into=cls(...)` in their place."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names if name in kwargs}
            return command(*args, **{into: cls.from_click(**values)}, **kwargs)

        for option in reversed(options_of(cls, env_prefix, types)):
            wrapper = option(wrapper)
        return wrapper

    return decorate
