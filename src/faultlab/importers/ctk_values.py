"""Chaos Toolkit's ``configuration`` and ``secrets``, and its ``${name}`` substitution.

Chaos Toolkit substitutes ``$name`` and ``${name}`` (Python's ``string.Template``, unknown
names left as written, ``$$`` a literal ``$``) from the configuration first, then from the
secrets; a string that is one reference only takes the value's own type. The converter does
the same at conversion time, with one exception: a value Chaos Toolkit reads from the
environment at run time and that has no default (an ``env`` secret, an ``env``
configuration without ``default``) stays a reference, written ``${env:NAME}`` in the
converted file, so faultlab reads it when the run starts and masks it in every output.
In the values handed back such a reference is a placeholder (:data:`MARK`), turned into
``${env:NAME}`` when the file is written (:func:`render`), after every other ``${`` has been
escaped as ``$${`` (faultlab would read it as a variable).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from string import Template
from typing import Any

__all__ = ["CODE", "MARK", "Values", "has_secret", "render"]

#: a secret read from the environment at run time, in a converted value: MARK + NAME + END
MARK, END = "\ue000", "\ue001"
#: CODE + NAME: a program of :mod:`.ctk_code`, written ``${NAME}`` (a var of the file)
CODE = "\ue002"
_MARKED = re.compile(f"{MARK}([^{END}]*){END}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: (path, message): a note about what was not converted, or converted differently
Note = Callable[[tuple[str | int, ...], str], None]


def has_secret(value: Any) -> bool:
    if isinstance(value, str):
        return MARK in value
    if isinstance(value, dict):
        return any(has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(has_secret(v) for v in value)
    return False


def render(value: str) -> str:
    """A converted string as the faultlab file writes it: ``${`` escaped, secrets as
    ``${env:NAME}``, programs as ``${NAME}``."""
    if value.startswith(CODE):
        return "${" + value[len(CODE):] + "}"
    return _MARKED.sub(lambda m: "${env:" + m.group(1) + "}", value.replace("${", "$${"))


def _env_ref(key: str) -> str:
    return f"{MARK}{key}{END}"


@dataclass
class Values:
    """The configuration and the secrets of one experiment, resolved."""

    configuration: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, doc: dict[str, Any], unconverted: Note, note: Note) -> Values:
        out = cls()
        config = doc.get("configuration")
        if isinstance(config, dict):
            for key, value in config.items():
                resolved = _entry(("configuration", key), value, unconverted, note,
                                  secret=False)
                if resolved is not _SKIP:
                    out.configuration[str(key)] = resolved
        elif config is not None:
            unconverted(("configuration",), "is not a mapping of names to values; not converted")
        secrets = doc.get("secrets")
        if isinstance(secrets, dict):
            for scope, entries in secrets.items():
                if not isinstance(entries, dict):
                    unconverted(("secrets", scope), "a secrets scope is a mapping of names to "
                         "values; not converted")
                    continue
                kept: dict[str, Any] = {}
                for key, value in entries.items():
                    resolved = _entry(("secrets", scope, key), value, unconverted, note,
                                      secret=True)
                    if resolved is not _SKIP:
                        kept[str(key)] = resolved
                out.secrets[str(scope)] = kept
        elif secrets is not None:
            unconverted(("secrets",), "is not a mapping of scopes; not converted")
        return out

    def mapping(self, scopes: Any) -> dict[str, Any]:
        """The names a provider may use: the configuration, then the secrets of the scopes it
        lists (all of them when it lists none)."""
        chosen = ([str(s) for s in scopes if str(s) in self.secrets]
                  if isinstance(scopes, list) else list(self.secrets))
        out: dict[str, Any] = {}
        for scope in reversed(chosen):
            out.update(self.secrets[scope])
        out.update(self.configuration)
        return out

    def scoped_secrets(self, scopes: Any) -> dict[str, dict[str, Any]]:
        """The secrets a python function is given (those of the scopes its provider lists,
        as Chaos Toolkit gives them)."""
        if isinstance(scopes, list):
            return {str(s): self.secrets[str(s)] for s in scopes if str(s) in self.secrets}
        return {}

    def substitute(self, value: Any, mapping: dict[str, Any]) -> Any:
        """``value`` (a string, list or mapping, keys too) with ``${name}`` substituted as
        Chaos Toolkit does."""
        if isinstance(value, str):
            return _substitute(value, mapping)
        if isinstance(value, list):
            return [self.substitute(v, mapping) for v in value]
        if isinstance(value, dict):
            return {str(self.substitute(str(k), mapping)): self.substitute(v, mapping)
                    for k, v in value.items()}
        return value


_SKIP = object()


def _entry(path: tuple[str | int, ...], value: Any, unconverted: Note, note: Note, *,
           secret: bool) -> Any:
    if not isinstance(value, dict) or "type" not in value:
        return value
    kind = value.get("type")
    if kind == "env":
        key = value.get("key")
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            unconverted(path, "an env value needs key: the environment variable's name; not "
                 "converted")
            return _SKIP
        if value.get("env_var_type") not in (None, "str"):
            unconverted(path, f"env_var_type {value.get('env_var_type')!r} is not converted: the "
                 "value is read as text")
        if "default" in value and value["default"] is not None and not secret:
            note(path, f"reads ${key} in Chaos Toolkit; converted with its default "
                 f"{value['default']!r} (edit the file, or give the value by hand, to use "
                 "another)")
            return value["default"]
        return _env_ref(key)
    what = "secret" if secret else "configuration value"
    if kind == "probe":
        unconverted(path, "a configuration value from a probe (dynamic configuration) is not "
             "converted; write its value in the file")
    else:
        unconverted(path, f"a {what} of type {kind!r} is not supported (only env and inline "
             "values are)")
    return _SKIP


class _Template(Template):
    braceidpattern = r"[^}]+"  # Chaos Toolkit users write ${any.thing}; the value decides


def _substitute(text: str, mapping: dict[str, Any]) -> Any:
    whole = re.fullmatch(r"\$\{([^}]+)\}|\$([_a-z][_a-z0-9]*)", text, re.I)
    if whole:
        name = whole.group(1) or whole.group(2)
        if name in mapping:
            return mapping[name]
    rendered = {k: v if isinstance(v, str) else str(v) for k, v in mapping.items()}
    return _Template(text).safe_substitute(rendered)
