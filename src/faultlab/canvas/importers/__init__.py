"""Importers: canvases from what teams already have (Backstage catalog files, OpenSLO
documents). See docs/canvas-import.md for what each maps to what, and what each source
cannot say.

Each returns :class:`Imported` (the canvas as commented YAML text, and notes) or raises
:class:`ImportFileError` with every problem of its input as one located line.
"""

from faultlab.canvas.importers.backstage import import_backstage
from faultlab.canvas.importers.common import Imported, ImportFileError, Note, Source, Text
from faultlab.canvas.importers.merge import merge_openslo
from faultlab.canvas.importers.openslo import import_openslo

__all__ = ["ImportFileError", "Imported", "Note", "Source", "Text", "import_backstage",
           "import_openslo", "merge_openslo"]
