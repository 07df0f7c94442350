"""Typed settings: one frozen dataclass per command, each default and range written once.

A settings class is a frozen dataclass of `Settings` whose fields are declared with `setting`
(default, help) and typed with their range (`Annotated[int, Meta(ge=1, le=1000)]`) or their
choices (a StrEnum). The command line builds its options from those fields
(`shared.settings_options`), so click's defaults and ranges are the dataclass's; a bundle's
recorded settings are read back through the same types (msgspec). Pure: no click.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import operator
import types
import typing
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin

import msgspec

from shared.wire import DataError

Meta = msgspec.Meta
S = TypeVar("S", bound="Settings")
BOUNDS = {"ge": (">=", operator.ge), "gt": (">", operator.gt), "le": ("<=", operator.le),
          "lt": ("<", operator.lt)}


def setting(default: Any = dataclasses.MISSING, *, help: str, show_default: bool = True,
            factory: Any = dataclasses.MISSING, hidden: bool = False) -> Any:
    """A settings field: its default (or `factory`) and the help its option shows."""
    info = {"help": help, "show_default": show_default, "hidden": hidden}
    return dataclasses.field(default=default, default_factory=factory, metadata=info)


def field_types(cls: type) -> dict[str, Any]:
    """Each field's type with its Annotated range, resolved."""
    return resolved_types(cls)


@functools.cache
def resolved_types(cls: type) -> dict[str, Any]:
    """field_types, worked out once per class."""
    return typing.get_type_hints(cls, include_extras=True)


def unwrap(kind: Any) -> tuple[Any, msgspec.Meta | None, bool]:
    """The base type, its range (or None) and whether None is allowed, of a field's type."""
    optional = False
    if get_origin(kind) in (Union, types.UnionType):
        args = [a for a in get_args(kind) if a is not type(None)]
        optional, kind = True, args[0]
    meta = None
    if get_origin(kind) is typing.Annotated:
        kind, *extras = get_args(kind)
        meta = next((m for m in extras if isinstance(m, msgspec.Meta)), None)
    return kind, meta, optional


def out_of_range(value: Any, meta: msgspec.Meta | None) -> str | None:
    """What a number breaks of its range (`>= 1`), or None (NaN breaks every bound)."""
    if meta is None or not isinstance(value, int | float) or isinstance(value, bool):
        return None
    broken = [f"{sign} {bound}" for key, (sign, holds) in BOUNDS.items()
              if (bound := getattr(meta, key)) is not None and not holds(value, bound)]
    return " and ".join(broken) or None


class Settings:
    """The behaviour every settings dataclass shares: ranges checked, built from options or a
    recorded dict, written as a JSON-ready dict."""

    label: ClassVar[str] = "settings"

    def check_ranges(self) -> None:
        """A DataError naming the first setting outside its range (`--epochs must be >= 1`)."""
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            broken = out_of_range(value, unwrap(field_types(type(self))[f.name])[1])
            if broken:
                raise DataError(f"--{f.name.replace('_', '-')} must be {broken}, got {value}")

    @classmethod
    def from_click(cls: type[S], **values: Any) -> S:
        """The settings from parsed options (their names are the fields'): choices as enums,
        lists as tuples; options not given keep the field's default."""
        kinds = field_types(cls)
        given: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name not in values or (values[f.name] is None and f.default is not None):
                continue
            base, _, _ = unwrap(kinds[f.name])
            value = values[f.name]
            if isinstance(base, type) and issubclass(base, enum.Enum) and value is not None:
                value = base(value)
            elif get_origin(base) is tuple and value is not None:
                value = tuple(value)
            given[f.name] = value
        return cls(**given)

    @classmethod
    def from_dict(cls: type[S], raw: Any) -> S:
        """Settings as recorded (`to_dict`), checked: a DataError says what is wrong."""
        try:
            return msgspec.convert(raw, cls)
        except msgspec.ValidationError as exc:
            raise DataError(f"{cls.label}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (choices as their text, tuples as lists)."""
        return msgspec.to_builtins(self)
