"""Experiments of other tools as faultlab experiments: Chaos Toolkit's
(:func:`import_chaostoolkit`; docs/chaostoolkit.md). Each returns a :class:`Conversion` (the
file text, and every construct it could not convert, named with where it was) or raises
:class:`~faultlab.canvas.importers.common.ImportFileError` with located one-line problems."""

from faultlab.importers.chaostoolkit import Conversion, ImportFileError, Options, convert
from faultlab.importers.ctk_io import import_chaostoolkit, read_chaostoolkit, write_atomically

__all__ = ["Conversion", "ImportFileError", "Options", "convert", "import_chaostoolkit",
           "read_chaostoolkit", "write_atomically"]
