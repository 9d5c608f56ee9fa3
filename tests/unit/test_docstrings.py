"""Every public name has a docstring: the API reference (docs/reference/, mkdocstrings) is
generated from them, and a name without one shows up there bare.

Public means: every class and function in ``__all__`` of ``resilient_s3``,
``resilient_s3.testing`` and ``resilient_s3.uppy``, and for classes every public method and
property they have, inherited ones included when resilient-s3 defines them (a private base
class's ``close`` is the public class's ``close`` in the reference). Members that Python,
``Exception`` or ``Enum`` define are not ours to document.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
from collections.abc import Iterator
from types import ModuleType

import pytest

import resilient_s3
import resilient_s3.testing

uppy: ModuleType | None
try:
    import resilient_s3.uppy as uppy_module
except ImportError:  # the uppy extra (Starlette) is not installed
    uppy = None
else:
    uppy = uppy_module

MODULES: list[ModuleType] = [resilient_s3, resilient_s3.testing]
if uppy is not None:
    MODULES.append(uppy)

VALUES = {"MAX_OBJECT_SIZE", "MAX_PARTS", "MAX_PART_SIZE", "MIN_PART_SIZE", "__version__"}
"""Public names that are values, not classes or functions: a value carries no docstring of
its own (docs/reference/configuration.md describes S3's limits)."""

PENDING: set[str] = set()
"""Public names still without a docstring: each is an expected failure until it gets one
(strict: a docstring added makes its test pass, and the name must then leave this list)."""


def documented(obj: object) -> bool:
    doc = obj.__doc__ if inspect.isclass(obj) else inspect.getdoc(obj)
    if not doc or not doc.strip():
        return False
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
        # A dataclass without a docstring gets its signature as one: "Name(field: type, ...)".
        return not doc.startswith(f"{obj.__name__}(")
    return True


def _own_doc(member: object) -> object:
    """What carries a member's docstring: the function, or the property's getter."""
    if isinstance(member, staticmethod | classmethod):
        return member.__func__
    if isinstance(member, property):
        return member.fget
    if isinstance(member, functools.cached_property):
        return member.func
    return member


def _is_ours(klass: type) -> bool:
    return klass.__module__.split(".")[0] == "resilient_s3"


def public_members(cls: type) -> Iterator[tuple[str, object]]:
    """The public methods and properties of ``cls`` that resilient-s3 defines."""
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        owner = next((klass for klass in cls.__mro__ if name in vars(klass)), None)
        if owner is None or not _is_ours(owner):
            continue
        member = vars(owner)[name]
        if isinstance(member, enum.Enum):
            continue  # an enum's members: values, documented by the enum
        if inspect.isfunction(_own_doc(member)):  # a method, or a property's getter
            yield name, member


def public_names() -> Iterator[tuple[str, object]]:
    for module in MODULES:
        for name in module.__all__:
            if module is resilient_s3 and name in VALUES:
                continue
            obj = getattr(module, name)
            qualified = f"{module.__name__}.{name}"
            yield qualified, obj
            if inspect.isclass(obj):
                for member_name, member in public_members(obj):
                    yield f"{qualified}.{member_name}", _own_doc(member)


NAMES = dict(public_names())


def _params() -> list[object]:
    return [
        pytest.param(
            name,
            id=name,
            marks=[pytest.mark.xfail(strict=True, reason="docstring pending")]
            if name in PENDING
            else [],
        )
        for name in NAMES
    ]


@pytest.mark.parametrize("name", _params())
def test_public_name_has_a_docstring(name: str) -> None:
    assert documented(NAMES[name]), f"{name} has no docstring"


def test_pending_names_exist() -> None:
    """A name listed as pending that is no longer public leaves the list too."""
    assert sorted(PENDING - set(NAMES)) == []


@pytest.mark.parametrize("module", MODULES, ids=[m.__name__ for m in MODULES])
def test_public_modules_have_docstrings(module: ModuleType) -> None:
    assert documented(module)


@pytest.mark.parametrize("module", MODULES, ids=[m.__name__ for m in MODULES])
def test_every_public_name_is_a_class_or_function(module: ModuleType) -> None:
    """Values in ``__all__`` are listed in VALUES; anything else must be checked above."""
    others = {
        name
        for name in module.__all__
        if not (inspect.isclass(getattr(module, name)) or callable(getattr(module, name)))
    }
    expected = VALUES if module is resilient_s3 else set()
    assert others == expected


def test_the_uppy_backend_is_checked() -> None:
    if uppy is None:
        pytest.skip("resilient_s3.uppy needs the uppy extra (Starlette): pip install -e '.[uppy]'")
    assert {"resilient_s3.uppy.uppy_app", "resilient_s3.uppy.signer"} <= set(NAMES)
