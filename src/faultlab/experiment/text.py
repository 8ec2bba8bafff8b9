"""Text in experiment files that reaches the operating system or the wire: paths,
environment entries, header fields, process names, API tokens.

Each type refuses what would make it fail there (NUL, ``=`` in an environment key, a line
break in a header). Messages never repeat such values whole: they may come from
``${env:...}``, which is a secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["ApiToken", "EnvKey", "EnvValue", "FilePath", "HeaderName", "HeaderValue",
           "ProcessName"]


# --- text that reaches the operating system or the wire ------------------------------------

def _text_check(what: str, *, empty: bool = False, forbid: str = "\x00",
                hint: str = "remove it", extra: Callable[[str], str | None] | None = None
                ) -> AfterValidator:
    """A check of a string: it is not empty (unless ``empty``) and holds none of
    ``forbid``. The message names the character, never the value (it may be a secret)."""
    table = {ord(c): None for c in forbid}

    def check(value: str) -> str:
        if not value and not empty:
            raise ValueError(f"{what} is empty")
        if value.translate(table) != value:
            bad = next(c for c in value if c in forbid)
            raise ValueError(f"{what} cannot contain {_char_name(bad)}; {hint}")
        if extra is not None and (problem := extra(value)):
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def _char_name(c: str) -> str:
    names = {"\x00": "a NUL character", "\r": "a carriage return (CR)",
             "\n": "a line feed (LF)", "=": "'='", "\t": "a tab", "/": "'/'"}
    return names.get(c, f"the control character U+{ord(c):04X}")


_C0 = "".join(chr(i) for i in range(32)) + "\x7f"

#: a path given to the OS (a working directory, a pid file)
FilePath = Annotated[str, _text_check("a path")]
#: the name of an environment variable: what ``execve`` can pass
EnvKey = Annotated[str, _text_check("an environment variable's name", forbid="\x00=",
                                    hint="a name is letters, digits and _, e.g. LOG_LEVEL")]
EnvValue = Annotated[str, _text_check("an environment variable's value", empty=True)]
#: a process's command name (as in ``/proc/PID/comm`` or the base name of its program)
ProcessName = Annotated[str, _text_check("a process name", forbid="\x00/",
                                         hint="give the command name (a path: use pidfile)")]

# RFC 7230's token: the characters of a header field's name
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _header_name_problem(value: str) -> str | None:
    if _TOKEN.fullmatch(value):
        return None
    bad = next((c for c in value if not _TOKEN.fullmatch(c)), "")
    return (f"{value[:60]!r} is not a header name: {bad!r} is not allowed in one; "
            "use letters, digits and !#$%&'*+-.^_`|~ (e.g. X-Request-Id)")


HeaderName = Annotated[str, _text_check("a header name", extra=_header_name_problem)]
#: a header field's value: one line (a CR or LF would inject headers; HTAB is allowed)
HeaderValue = Annotated[str, _text_check("a header value", empty=True,
                                         forbid=_C0.replace("\t", ""),
                                         hint="a header is one line of text; remove it")]


def _token_problem(value: str) -> str | None:
    if all("!" <= c <= "~" for c in value):
        return None
    return "an API token is visible ASCII characters, without spaces"


#: a bearer token sent to a proxy server's API
ApiToken = Annotated[str, _text_check("an API token", extra=_token_problem)]
