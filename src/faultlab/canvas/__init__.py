"""The canvas: a model of a system (:mod:`.model`) that faultlab analyses, draws and turns
into experiments. See docs/canvas.md."""
