"""The operations around a linearizability violation, as a timeline a person can follow.

One lane per process; each operation a bar from its invocation to its completion. The
checker's longest linearizable prefix is drawn neutral, the operation whose completion came
before it could be placed (``must_complete``) red, the other operations that could not go
next (``stuck``) orange, everything else concurrent white. An ``info`` operation (outcome
unknown) may take effect at any time after its invocation, so it is drawn open to the right
edge, dashed. A dashed red line marks the moment ``must_complete`` completed, with the model
state the prefix left.

Only a window is drawn: operations of the violation's partition that overlap the span from
the earliest of the prefix's last few operations to the latest stuck operation's end, at
most :data:`MAX_OPS` of them (the stuck ones and the prefix's tail always, then the nearest
in time to ``must_complete``). The SVG is written here, not by the page's script: it has its
own time axis (milliseconds around one moment, not the run's seconds) and must read without
JavaScript; every text in it comes from files and is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from faultlab.record import Violation
from faultlab.report.text import esc

if TYPE_CHECKING:  # the history readers load only for a report that shows operations
    from faultlab.history import Op

__all__ = ["MAX_OPS", "TAIL", "Window", "op_label", "op_text", "render_timeline",
           "select_window"]

MAX_OPS = 40
TAIL = 10  # prefix operations that anchor the window's start

W, LEFT, RIGHT, TOP, ROW, BOTTOM = 1100, 64, 16, 30, 24, 40
CHAR = 6.4  # width of a character of the 11px labels, for fitting them
# role -> (fill, stroke, legend text)
ROLES = {"prefix": ("#d0d7de", "#8c959f", "linearized (end of the longest linearizable prefix)"),
         "other": ("#ffffff", "#8c959f", "not linearized"),
         "stuck": ("#ffa94d", "#e8590c", "could not go next (stuck)"),
         "must": ("#e03131", "#a51d24", "had to complete first, could not be placed")}


def _value(v: Any, limit: int = 28) -> str:
    if isinstance(v, tuple | list):
        text = "[" + ", ".join(_value(x, limit) for x in v) + "]"
    elif isinstance(v, frozenset | set):
        text = "{" + ", ".join(sorted(_value(x, limit) for x in v)) + "}"
    elif isinstance(v, dict):
        text = "{" + ", ".join(f"{_value(k, limit)}: {_value(x, limit)}"
                               for k, x in v.items()) + "}"
    else:
        text = repr(v)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def op_label(op: Op) -> str:
    from faultlab.history import Outcome

    """``write 3``, ``read → 7``, ``cas 1→2``, ``read → ?`` (outcome unknown)."""
    if op.f in ("read", "dequeue"):
        seen = "?" if op.outcome is not Outcome.OK else _value(op.value)
        return f"{op.f} → {seen}"
    if op.f == "cas" and isinstance(op.value, tuple) and len(op.value) == 2:
        return f"cas {_value(op.value[0])}→{_value(op.value[1])}"
    return op.f if op.value is None else f"{op.f} {_value(op.value)}"


def _secs(ns: int | None, origin_ns: int) -> str:
    return "never" if ns is None else f"{(ns - origin_ns) / 1e9:.3f} s"


def op_text(op: Op, origin_ns: int) -> str:
    """``#4 p1 read → 1 (ok) 0.070 s – 0.090 s``, times since the history's first op."""
    key = f" key {_value(op.key)}" if op.key is not None else ""
    return (f"#{op.index} p{op.process} {op_label(op)}{key} ({op.outcome.value}) "
            f"{_secs(op.invoke_ns, origin_ns)} – {_secs(op.complete_ns, origin_ns)}")


def _open(op: Op) -> bool:
    from faultlab.history import Outcome

    return op.outcome is Outcome.INFO or op.complete_ns is None


def _end(op: Op) -> int:
    return op.invoke_ns if op.complete_ns is None else op.complete_ns


class Window(msgspec.Struct, frozen=True):
    ops: list[Op]  # in index order
    start_ns: int
    end_ns: int
    overlapping: int  # how many operations overlapped the span before the cap
    roles: dict[int, str]


def select_window(v: Violation, ops: dict[int, Op]) -> Window | None:
    """The operations to draw for ``v``, or ``None`` when the history lacks its ops."""
    from faultlab.history import Outcome

    focus_ids = list(dict.fromkeys(
        ([v.must_complete] if v.must_complete is not None else []) + [s.op for s in v.stuck]))
    focus = [ops[i] for i in focus_ids if i in ops]
    if not focus:
        return None
    key = focus[0].key
    tail = [ops[i] for i in v.prefix if i in ops][-TAIL:]
    start = min(op.invoke_ns for op in tail + focus)
    end = max(_end(op) for op in focus)

    def relevant(op: Op) -> bool:  # what the checker looked at: not failed, not unknown reads
        return (op.is_client and op.key == key and op.outcome is not Outcome.FAIL
                and not (op.outcome is Outcome.INFO and op.f == "read"))

    overlapping = [op for op in ops.values() if relevant(op) and op.invoke_ns <= end
                   and (_open(op) or _end(op) >= start)]
    must = {op.index for op in tail + focus}
    anchor = focus[0]

    def distance(op: Op) -> float:
        op_end = math.inf if _open(op) else _end(op)
        return max(0.0, op.invoke_ns - _end(anchor), anchor.invoke_ns - op_end)

    rest = sorted((op for op in overlapping if op.index not in must), key=distance)
    chosen = [op for op in overlapping if op.index in must]
    chosen += rest[:max(0, MAX_OPS - len(chosen))]
    roles = dict.fromkeys(v.prefix, "prefix")
    roles.update({s.op: "stuck" for s in v.stuck})
    if v.must_complete is not None:
        roles[v.must_complete] = "must"
    return Window(sorted(chosen, key=lambda op: op.index), start, end,
                  len({op.index for op in overlapping} | must), roles)


def _lanes(ops: Iterable[Op]) -> list[tuple[str, list[Op]]]:
    """Rows: one lane per process, split in sub-rows only where bars would overlap (an
    open-ended ``info`` operation followed by another of the same process)."""
    by_process: dict[str, list[Op]] = {}
    for op in sorted(ops, key=lambda o: (o.invoke_ns, o.index)):
        by_process.setdefault(str(op.process), []).append(op)
    rows = []
    for process in sorted(by_process, key=lambda p: (not p.isdigit(), int(p) if p.isdigit()
                                                     else 0, p)):
        sub: list[tuple[float, list[Op]]] = []
        for op in by_process[process]:
            slot = next((i for i, (free, _) in enumerate(sub) if free < op.invoke_ns), None)
            free = math.inf if _open(op) else float(_end(op))
            if slot is None:
                sub.append((free, [op]))
            else:
                sub[slot] = (free, [*sub[slot][1], op])
        rows += [(f"p{process}" if i == 0 else "", row) for i, (_, row) in enumerate(sub)]
    return rows


def _step(span: float, n: int) -> float:
    raw = span / max(1, n)
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * mag >= raw)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _title(op: Op, role: str, v: Violation, origin_ns: int) -> str:
    lines = [op_text(op, origin_ns)]
    if op.error:
        lines.append(f"error: {op.error}")
    if _open(op):
        lines.append("outcome unknown: it may take effect at any time after its invocation")
    reasons = [s.reason for s in v.stuck if s.op == op.index]
    if role == "must":
        lines.append("it completed before it could be linearized")
    if reasons:
        lines += [f"cannot go next: {r}" for r in reasons]
    if role == "prefix" and op.index in v.prefix:
        pos = v.prefix.index(op.index)
        nth = v.prefix_length - len(v.prefix) + pos + 1
        state = v.states[pos] if pos < len(v.states) else "?"
        lines.append(f"linearized {_ordinal(nth)} of {v.prefix_length}; state after it: {state}")
    return "\n".join(lines)


def render_timeline(v: Violation, win: Window, origin_ns: int, check: str) -> str:
    rows = _lanes(win.ops)
    span = max(win.end_ns - win.start_ns, 1_000_000)
    lo = min([win.start_ns, *(op.invoke_ns for op in win.ops)])
    lo = max(lo, win.start_ns - span // 2)
    hi = max([win.end_ns, *(_end(op) for op in win.ops if not _open(op))])
    hi = min(hi, win.end_ns + span // 2)
    pad = max((hi - lo) * 0.03, 1.0)
    lo_f, hi_f = lo - pad, hi + pad
    pw = W - LEFT - RIGHT
    height = TOP + ROW * len(rows) + BOTTOM

    def x(ns: float) -> float:
        return LEFT + (ns - lo_f) / (hi_f - lo_f) * pw

    out = [f'<svg class="op-timeline" data-check="{esc(check)}" data-ops="{len(win.ops)}" '
           f'viewBox="0 0 {W} {height}" width="100%" role="img" '
           f'style="max-width:{W}px;display:block;font-size:11px" '
           f'aria-label="operations around the violation">']
    step = _step((hi_f - lo_f) / 1e9, 8)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    axis_y = TOP + ROW * len(rows)
    t = math.ceil((lo_f - origin_ns) / 1e9 / step) * step
    while origin_ns + t * 1e9 <= hi_f:
        tx = x(origin_ns + t * 1e9)
        out.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{TOP - 4}" y2="{axis_y + 4}" '
                   'stroke="#eaeef2"/>'
                   f'<text x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle" '
                   f'fill="#656d76">{t:.{decimals}f} s</text>')
        t += step
    out.append(f'<text x="{LEFT + pw / 2:.0f}" y="{height - 6}" text-anchor="middle" '
               'fill="#656d76">seconds since the first operation of the history</text>')
    for i, (label, row) in enumerate(rows):
        y = TOP + i * ROW
        if label:
            out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y}" y2="{y}" '
                       'stroke="#d0d7de"/>'
                       f'<text x="{LEFT - 8}" y="{y + 16}" text-anchor="end" '
                       f'fill="#1f2328" font-weight="600">{esc(label)}</text>')
        for k, op in enumerate(row):
            out.append(_bar(op, row[k - 1] if k else None, row[k + 1] if k + 1 < len(row)
                            else None, y, x, v, win, origin_ns))
    out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{axis_y}" y2="{axis_y}" '
               'stroke="#8c959f"/>')
    out.append(_marker(v, win, x, axis_y))
    out.append("</svg>")
    return "".join(out)


def _bar(op: Op, before: Op | None, after: Op | None, y: int, x: Callable[[float], float],
         v: Violation, win: Window, origin_ns: int) -> str:
    before_end = None if before is None else _end(before)
    role = win.roles.get(op.index, "other")
    fill, stroke, _ = ROLES[role]
    x0 = max(x(op.invoke_ns), LEFT)
    x1 = W - RIGHT if _open(op) else min(max(x(_end(op)), x0 + 3), W - RIGHT)
    dash = ' stroke-dasharray="5 3" fill-opacity="0.55"' if _open(op) else ""
    width = "2" if role in ("must", "stuck") else "1"
    parts = [f'<g class="op op-{role}" data-op="{op.index}" data-role="{role}">'
             f"<title>{esc(_title(op, role, v, origin_ns))}</title>"
             f'<rect x="{x0:.1f}" y="{y + 4}" width="{x1 - x0:.1f}" height="16" rx="3" '
             f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"{dash}/>']
    if _open(op) and op.complete_ns is not None and x(op.complete_ns) < W - RIGHT:
        gx = x(op.complete_ns)  # where the client gave up waiting
        parts.append(f'<line x1="{gx:.1f}" x2="{gx:.1f}" y1="{y + 2}" y2="{y + 22}" '
                     f'stroke="{stroke}" stroke-width="1.5"/>')
    label = (f"#{op.index} " if role in ("must", "stuck") else "") + op_label(op)
    parts.append(_label(label, role, x0, x1, _open(op),
                        x(before_end) if before_end is not None else LEFT,
                        x(after.invoke_ns) if after is not None else W - RIGHT, y))
    parts.append("</g>")
    return "".join(parts)


def _label(label: str, role: str, x0: float, x1: float, open_: bool, left: float,
           right: float, y: int) -> str:
    """Inside the bar if it fits; else after it, or before it, in the free space of the
    lane; else cut to fit inside. Long labels are cut with an ellipsis, never overlap."""
    def text(at: float, chars: int, colour: str = "#1f2328", anchor: str = "start") -> str:
        shown = label if len(label) <= chars else label[:max(1, chars - 1)] + "…"
        return (f'<text x="{at:.1f}" y="{y + 16}" fill="{colour}" text-anchor="{anchor}">'
                f"{esc(shown)}</text>")

    inside = int((x1 - x0 - 8) // CHAR)
    colour = "#ffffff" if role == "must" else "#1f2328"
    if len(label) <= inside:
        return text(x0 + 4, inside, colour)
    want = min(len(label), 12)
    after, before = int((right - x1 - 8) // CHAR), int((x0 - left - 8) // CHAR)
    if not open_ and after >= want:
        return text(x1 + 4, after)
    if before >= want:
        return text(x0 - 4, before, anchor="end")
    return text(x0 + 4, inside, colour) if inside >= 3 else ""


def _marker(v: Violation, win: Window, x: Callable[[float], float], axis_y: int) -> str:
    must = next((op for op in win.ops if op.index == v.must_complete), None)
    if must is None or must.complete_ns is None:
        return ""
    mx = x(must.complete_ns)
    text = f"#{must.index} completed here · state after the prefix: {v.state}"
    anchor = "end" if mx > W * 0.6 else "start"
    tx = mx - 4 if anchor == "end" else mx + 4
    return (f'<g class="must-marker"><line x1="{mx:.1f}" x2="{mx:.1f}" y1="{TOP - 10}" '
            f'y2="{axis_y}" stroke="#cf222e" stroke-width="1.5" stroke-dasharray="4 3"/>'
            f'<text x="{tx:.1f}" y="{TOP - 14}" text-anchor="{anchor}" fill="#cf222e" '
            f'font-weight="600">{esc(text if len(text) <= 90 else text[:89] + "…")}</text>'
            "</g>")


def legend_html() -> str:
    items = [(f, s, t, "") for f, s, t in ROLES.values()]
    items.append(("#ffffff", "#8c959f", "outcome unknown (info): open to the right", "dashed"))
    return '<div class="legend op-legend">' + "".join(
        f'<span class="lg"><span style="display:inline-block;width:18px;height:10px;'
        f'background:{f};border:1.5px {"dashed" if d else "solid"} {s};border-radius:2px">'
        f"</span>{esc(t)}</span>" for f, s, t, d in items) + "</div>"
