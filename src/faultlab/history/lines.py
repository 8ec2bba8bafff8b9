"""Lines of a history, read lazily: the one place history files are opened.

Every reader consumes ``(number, text)`` pairs from :func:`file_lines` or :func:`text_lines`,
so a file is read only as far as its reader gets (a reader that stops at an early mistake
never reads the rest) and line numbers mean the same in every format. Lines end at ``\\n``,
``\\r\\n`` or a lone ``\\r`` (as in editors); a UTF-8 byte-order mark at the start is skipped.
Bytes that are not UTF-8 are a problem located at their line and column; a line longer than
:data:`MAX_LINE_BYTES` is a problem too, so a file with no line breaks (or ``/dev/zero``)
cannot exhaust memory, and a named pipe with no writer reads as empty rather than hanging.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from faultlab.history.errors import HistoryError, HistoryProblem

__all__ = ["MAX_LINE_BYTES", "file_blocks", "file_lines", "text_blocks", "text_lines"]

MAX_LINE_BYTES = 64 << 20
_BREAK = re.compile(r"\r\n|\r|\n")
_BLOCK = 1 << 18


def _cannot(file: str, reason: str, line: int = 1, column: int = 1, hint: str = ""
            ) -> HistoryError:
    return HistoryError([HistoryProblem(file, line, column, f"cannot read the history: {reason}",
                                        hint or "give the path of a history file")])


def file_lines(path: str | Path, file: str | None = None) -> Iterator[tuple[int, str]]:
    """The lines of the file at ``path``; raises :class:`HistoryError`, never ``OSError``."""
    for number, lines in file_blocks(path, file):
        yield from enumerate(lines, number)


def text_blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    """The lines of ``text`` as :func:`file_blocks` gives a file's (one block)."""
    lines = [line for _, line in text_lines(text)]
    if lines:
        yield 1, lines


def file_blocks(path: str | Path, file: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """The lines of the file at ``path`` in blocks: ``(number of the first, lines)``, about
    a megabyte each (a reader may then work on a block at once: one regular expression
    over many lines); same lines, numbers and errors as :func:`file_lines`."""
    name = str(path) if file is None else file
    try:
        # Non-blocking open, then blocking reads: a named pipe nobody writes to reads as
        # empty instead of hanging in open(); pipes with a writer stream as usual.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as handle:
            yield from _lines(handle, name)
    except OSError as exc:  # opening it: reading errors are located by _lines
        raise _cannot(name, exc.strerror or str(exc)) from None


def _lines(handle: io.BufferedReader, name: str) -> Iterator[tuple[int, list[str]]]:
    """Blocks of whole lines split at once when they are plain (``\n`` only, UTF-8); any
    other block goes line by line, so problems are located as precisely either way."""
    number = 0
    rest = b""
    while True:
        try:
            block = handle.read1(_BLOCK)  # what is there: a pipe's lines come as written
        except OSError as exc:
            raise _cannot(name, exc.strerror or str(exc), number + 1) from None
        if not block:
            break
        cut = block.rfind(b"\n") + 1
        if not cut:
            rest += block
            if len(rest) > MAX_LINE_BYTES:
                break  # the line-by-line reader below reports it
            continue
        whole, rest = rest + block[:cut], block[cut:]
        text = None
        if b"\r" not in whole and len(whole) <= MAX_LINE_BYTES:
            with contextlib.suppress(UnicodeDecodeError):
                text = whole.decode("utf-8")
        if text is None:
            for numbered, line in _line_by_line(io.BytesIO(whole), name, number):
                yield numbered, [line]
                number = numbered
            continue
        pieces = text.split("\n")
        pieces.pop()  # after the last break
        if number == 0 and pieces:
            pieces[0] = pieces[0].removeprefix("\ufeff")
        if pieces:
            yield number + 1, pieces
        number += len(pieces)
    if rest:
        for numbered, line in _line_by_line(io.BytesIO(rest), name, number):
            yield numbered, [line]


def _line_by_line(handle: BinaryIO, name: str, number: int) -> Iterator[tuple[int, str]]:
    while True:
        try:
            raw = handle.readline(MAX_LINE_BYTES + 1)
        except OSError as exc:
            raise _cannot(name, exc.strerror or str(exc), number + 1) from None
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES:
            raise _cannot(name, f"line {number + 1} is longer than {MAX_LINE_BYTES >> 20} MiB",
                          number + 1, hint="each operation or event is one line of ordinary size")
        for piece in raw.splitlines() or [b""]:
            number += 1
            try:
                text = piece.decode("utf-8")
            except UnicodeDecodeError as exc:
                column = len(piece[:exc.start].decode("utf-8", "replace")) + 1
                raise HistoryError([HistoryProblem(
                    name, number, column, f"not UTF-8 text: byte 0x{piece[exc.start]:02x}",
                    "histories are UTF-8 text files")]) from None
            yield number, (text.removeprefix("\ufeff") if number == 1 else text)


def text_lines(text: str) -> Iterator[tuple[int, str]]:
    """The lines of ``text``, numbered as :func:`file_lines` numbers a file's."""
    start, number = 0, 0
    for brk in _BREAK.finditer(text):
        number += 1
        line = text[start:brk.start()]
        yield number, (line.removeprefix("\ufeff") if number == 1 else line)
        start = brk.end()
    if start < len(text):
        yield number + 1, text[start:].removeprefix("\ufeff") if number == 0 else text[start:]
