"""A Griffe extension for the API reference: resilient-s3's docstrings, written in reST's
inline style, read as the site's Markdown.

- ``:class:`X```, ``:meth:`X.y```, ``:func:``, ``:attr:``, ``:data:``, ``:exc:``, ``:mod:``
  become links to X's entry in the reference when it has one, else code (``~`` shows the
  last name only). Names are read as a reader of the public API would: a name
  ``resilient_s3`` (or ``resilient_s3.testing``, ``resilient_s3.uppy``) exports, then a member
  of the class the docstring belongs to. The links are "optional" autorefs: one whose target
  is not rendered (a private helper) is plain code, not a warning.
- A paragraph ending in ``::`` ends in ``:``; the indented block after it is code either way.
- A list right after a line of text gets the blank line Markdown needs before it.

Loaded by mkdocstrings (``extensions:`` in mkdocs.yml); nothing of the library imports it.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

PUBLIC_MODULES = ("resilient_s3.testing", "resilient_s3.uppy", "resilient_s3")
"""Where public names live, the most specific first."""

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|exc|mod|obj):`(?P<target>[^`]+)`")
_LITERAL_INTRO = re.compile(r"(?<=\S)::(?=\n\n[ \t]+\S)")
_LONE_LITERAL_INTRO = re.compile(r"^[ \t]*::[ \t]*\n(?=\n[ \t]+\S)", flags=re.M)
_LIST_AFTER_TEXT = re.compile(r"^(?P<text>[ \t]*[^\s\-*].*)\n(?P<item>[ \t]*[-*] \S)", flags=re.M)


class ReSTRoles(griffe.Extension):
    """Rewrites the docstrings of a loaded package (see the module's docstring)."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.path != "resilient_s3":
            return
        public = _public_paths(pkg)
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = _markdown(obj.docstring.value, obj, pkg, public)


def _public_paths(pkg: griffe.Module) -> dict[str, str]:
    """The public path of every exported object, by its canonical path."""
    public: dict[str, str] = {}
    for module_path in PUBLIC_MODULES:
        module = pkg if module_path == pkg.path else pkg[module_path.partition(".")[2]]
        for name in map(str, module.exports or ()):
            try:
                canonical = _canonical(module[name])
            except (griffe.AliasResolutionError, griffe.CyclicAliasError, KeyError):
                continue
            public.setdefault(canonical, f"{module_path}.{name}")
    return public


def _canonical(obj: griffe.Object | griffe.Alias) -> str:
    return obj.final_target.path if isinstance(obj, griffe.Alias) else obj.path


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias and isinstance(member, griffe.Object):
            found.extend(_walk(member))
    return found


def _markdown(text: str, obj: griffe.Object, pkg: griffe.Module, public: dict[str, str]) -> str:
    def link(match: re.Match[str]) -> str:
        target = match["target"].strip()
        short = target.startswith("~")
        name = target.lstrip("~.")
        shown = name.rsplit(".", 1)[-1] if short else name
        identifier = _identifier(name, obj, pkg, public)
        if identifier is None:
            return f"`{shown}`"
        return f'<autoref identifier="{identifier}" optional><code>{shown}</code></autoref>'

    text = _ROLE.sub(link, text)
    text = _LONE_LITERAL_INTRO.sub("", text)
    text = _LITERAL_INTRO.sub(":", text)
    return _LIST_AFTER_TEXT.sub(_blank_line_before_list, text)


def _blank_line_before_list(match: re.Match[str]) -> str:
    return f"{match['text']}\n\n{match['item']}"


def _identifier(
    name: str, obj: griffe.Object, pkg: griffe.Module, public: dict[str, str]
) -> str | None:
    """The reference's identifier for ``name`` as written in ``obj``'s docstring."""
    head, _, rest = name.partition(".")
    if head == pkg.path:
        return _public_name(name, public)
    module_path = obj.module.path
    for candidate in PUBLIC_MODULES:
        module = pkg if candidate == pkg.path else pkg[candidate.partition(".")[2]]
        in_scope = module_path == candidate or module_path.startswith(f"{candidate}.")
        exported = {str(export) for export in module.exports or ()}
        if head in exported and (in_scope or candidate == pkg.path):
            return f"{candidate}.{name}"
    owner = obj if obj.is_class else obj.parent if obj.parent is not None else obj
    owner_public = public.get(owner.path) if owner.is_class else None
    if owner_public is not None and head in owner.all_members:
        return f"{owner_public}.{name}"
    if head in obj.module.members:
        try:
            canonical = _canonical(obj.module.members[head])
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
        return _public_name(f"{canonical}.{rest}" if rest else canonical, public)
    return None


def _public_name(path: str, public: dict[str, str]) -> str | None:
    """``path``'s public spelling, if it is (or lies inside) an exported object."""
    if path in public.values():
        return path
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        exported = public.get(".".join(parts[:cut]))
        if exported is not None:
            return ".".join([exported, *parts[cut:]])
    return None
