"""The catalogue as a static site (``index.html`` by family, one ``NAME.html`` per pattern)
and as the per-pattern sections of docs/patterns.md.

Self-contained: the run report's stylesheet inlined plus a few rules of its own, no script,
no request; links only between the site's own pages. Every text is escaped. The same
catalogue gives the same files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

from faultlab import __version__
from faultlab.patterns.model import Entry, Family
from faultlab.report.text import esc

__all__ = ["build_index", "build_page", "markdown_sections", "write_site"]

CSS = """
main { max-width: 980px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { margin: 8px 0 4px; font-size: 1.7rem; } h2 { margin: 28px 0 8px; font-size: 1.2rem; }
.lede { font-size: 1.05rem; margin: 6px 0 12px; }
.fam { display: inline-block; padding: 1px 10px; border-radius: 10px; font-size: 0.78rem;
  font-weight: 700; text-transform: uppercase; letter-spacing: 0.03em; }
.fam-reliability { background: #ddf4ff; color: #0969da; }
.fam-deployment { background: #fbefff; color: #8250df; }
.fam-foundational { background: #dafbe1; color: #1a7f37; }
.fam-observability { background: #fff8c5; color: #9a6700; }
.problem { border-left: 4px solid var(--bad); background: var(--bad-bg); padding: 8px 12px;
  border-radius: 4px; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 0 28px; }
@media (max-width: 720px) { .cols { grid-template-columns: 1fr; } }
ul { margin: 4px 0; padding-left: 20px; } li { margin: 3px 0; }
table.rules { width: 100%; border-collapse: collapse; font-size: 0.92rem; }
table.rules th, table.rules td { text-align: left; vertical-align: top; padding: 6px 8px;
  border-bottom: 1px solid var(--line); }
table.rules th { background: var(--soft); }
table.rules code { overflow-wrap: anywhere; }
@media (max-width: 720px) { main { padding: 12px; } table.rules { font-size: 0.82rem; }
  table.rules th, table.rules td { padding: 4px; } }
header.top { flex-wrap: wrap; }
.sev { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 0.78rem;
  font-weight: 700; text-transform: uppercase; }
.sev-error { background: var(--bad-bg); color: var(--bad); }
.sev-warning { background: var(--warn-bg); color: var(--warn); }
.sev-info { background: #ddf4ff; color: #0969da; }
.verify { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px;
  background: var(--soft); }
.verify dt { font-weight: 700; margin-top: 6px; } .verify dd { margin: 2px 0 0 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr));
  gap: 12px; }
.card { display: block; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
  color: inherit; text-decoration: none; }
.card:hover { border-color: #0969da; }
.card b { display: block; margin-bottom: 4px; color: #0969da; }
.card span { font-size: 0.9rem; color: var(--muted); }
.note { color: var(--muted); font-size: 0.9rem; }
footer { color: var(--muted); font-size: 0.85rem; margin-top: 32px; }
"""

_FINDS = {"missing": "missing", "misused": "misused", "verify": "a claim to verify"}


def _css() -> str:
    return (resources.files("faultlab.report") / "assets" / "report.css").read_text("utf-8")


def _document(title: str, body: str) -> str:
    return ("<!doctype html>\n<html lang=\"en\" data-ready=\"1\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{_css()}{CSS}</style></head><body>"
            "<header class=\"top\"><span class=\"brand\">faultlab patterns</span><nav>"
            "<a href=\"index.html\">catalogue</a></nav></header>"
            f"<main>{body}<footer>faultlab {esc(__version__)} · the patterns library "
            "(docs/patterns.md)</footer></main></body></html>\n")


def _list(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"


def _code(text: str) -> str:
    """Escaped text with `backticks` as <code>."""
    parts = esc(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _condition(entry: Entry) -> str | None:
    """The ``patterns verify`` condition whose oracle checks this pattern, if one does."""
    from faultlab.patterns.verify import VERIFIERS

    v = VERIFIERS.get(entry.name)
    return v.condition if v is not None else None


def _verified_html(entry: Entry) -> str:
    c = _condition(entry)
    return (f"<code>faultlab patterns verify</code> checks it in the running system (condition "
            f"<code>{esc(c)}</code>), by what reaches the callee" if c else
            "not by <code>faultlab patterns verify</code> yet")


def _verified_md(entry: Entry) -> str:
    c = _condition(entry)
    return (f"*Verified by* `faultlab patterns verify` (condition `{c}`)." if c else
            "*Not verified by* `faultlab patterns verify` *yet.*")


def build_page(entry: Entry, entries: Sequence[Entry]) -> str:
    titles = {e.name: e.title for e in entries}
    rules = "".join(
        f"<tr data-rule=\"{esc(r.id)}\"><td><code>{esc(r.id)}</code></td>"
        f"<td><span class=\"sev sev-{r.severity}\">{r.severity}</span></td>"
        f"<td>{_FINDS[r.finds]}</td><td>{_code(r.checks)}</td></tr>"
        for r in entry.static_rules)
    v = entry.verification
    generated = (f"<code>faultlab canvas generate</code> writes it for each "
                 f"<code>{esc(v.generator)}</code> finding" if v.generator else
                 "not generated yet")
    related = ", ".join(f"<a href=\"{esc(r)}.html\">{esc(titles.get(r, r))}</a>"
                        for r in entry.related) or "none"
    body = (
        f"<p><span class=\"fam fam-{entry.family}\">{entry.family}</span></p>"
        f"<h1>{esc(entry.title)}</h1><p class=\"lede\">{esc(entry.intent)}</p>"
        f"<p class=\"problem\"><b>Problem.</b> {esc(entry.problem)}</p>"
        "<div class=\"cols\"><section><h2>When to use</h2>"
        f"{_list(entry.when_to_use)}</section><section><h2>When not to use</h2>"
        f"{_list(entry.when_not_to_use)}</section><section><h2>Anti-patterns it answers</h2>"
        f"{_list(entry.anti_patterns)}</section><section><h2>Metrics that show it working</h2>"
        f"{_list(entry.metrics)}</section></div>"
        "<h2>Static rules: what <code>faultlab patterns check</code> looks for in a canvas"
        "</h2><table class=\"rules\"><thead><tr><th>rule</th><th>severity</th>"
        f"<th>a finding means</th><th>checks</th></tr></thead><tbody>{rules}</tbody></table>"
        "<h2>Verification</h2><dl class=\"verify\">"
        f"<dt>Experiment</dt><dd>{_code(v.experiment)}</dd>"
        f"<dt>Oracle</dt><dd>{_code(v.oracle)}</dd><dt>Generated</dt><dd>{generated}</dd>"
        f"<dt>Verified</dt><dd>{_verified_html(entry)}</dd></dl>"
        f"<h2>Related</h2><p>{related}</p><h2>References</h2>{_list(entry.references)}")
    return _document(f"{entry.title} · faultlab patterns", body)


def build_index(entries: Sequence[Entry]) -> str:
    sections = []
    for family in Family:
        members = [e for e in entries if e.family == family]
        if not members:
            continue
        cards = "".join(f"<a class=\"card\" href=\"{esc(e.name)}.html\" "
                        f"data-pattern=\"{esc(e.name)}\"><b>{esc(e.title)}</b>"
                        f"<span>{esc(e.intent)}</span></a>" for e in members)
        sections.append(f"<section data-family=\"{family}\"><h2><span class=\"fam "
                        f"fam-{family}\">{family}</span> {len(members)} patterns</h2>"
                        f"<div class=\"cards\">{cards}</div></section>")
    body = ("<h1>The patterns library</h1><p class=\"lede\">Each pattern with the canvas "
            "rules that show it missing or misused (<code>faultlab patterns check "
            "CANVAS</code>) and the experiment that checks it in the running system.</p>"
            + "".join(sections))
    return _document("faultlab patterns", body)


def write_site(entries: Sequence[Entry], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for e in entries:
        (out / f"{e.name}.html").write_text(build_page(e, entries), encoding="utf-8")
    index = out / "index.html"
    index.write_text(build_index(entries), encoding="utf-8")
    return index


def _md_list(items: Iterable[str]) -> str:
    return "".join(f"- {i}\n" for i in items)


def markdown_sections(entries: Sequence[Entry]) -> str:
    """One section per pattern, by family: the text of docs/patterns.md after its marker."""
    out: list[str] = []
    for family in Family:
        out.append(f"### {family.value.capitalize()}\n\n")
        for e in (e for e in entries if e.family == family):
            v = e.verification
            rules = "".join(f"| `{r.id}` | {r.severity} | {_FINDS[r.finds]} | "
                            f"{r.checks.replace('|', '/')} |\n" for r in e.static_rules)
            out.append(
                f"#### {e.title} (`{e.name}`)\n\n{e.intent}\n\n**Problem.** {e.problem}\n\n"
                f"**When to use**\n\n{_md_list(e.when_to_use)}\n"
                f"**When not to use**\n\n{_md_list(e.when_not_to_use)}\n"
                f"**Anti-patterns it answers**\n\n{_md_list(e.anti_patterns)}\n"
                f"**Metrics that show it working**\n\n{_md_list(e.metrics)}\n"
                "| rule | severity | a finding means | checks |\n|---|---|---|---|\n"
                f"{rules}\n**Verification.** {v.experiment} *Oracle:* {v.oracle} "
                + (f"*Generated by* `faultlab canvas generate` for `{v.generator}`. "
                   if v.generator else "*Not generated yet.* ")
                + f"{_verified_md(e)}\n\n"
                + (f"**Related:** {', '.join(f'`{r}`' for r in e.related)}\n\n"
                   if e.related else "")
                + f"**References**\n\n{_md_list(e.references)}\n")
    return "".join(out)
