"""axe-core in the browser tests: the accessibility rules of WCAG 2.x A and AA, run on
the page as it is shown, with the violations named by rule and element.

axe-core comes from npm (package.json pins it; `make install` runs npm ci). Its source
is run with ``page.evaluate``, which goes through DevTools and not through the page, so
the screens' Content-Security-Policy (``script-src 'self'``) stays as it is: no script
tag is added and nothing is loosened for the test.

    from .accessibility import assert_no_serious_violations
    assert_no_serious_violations(page)            # serious and critical ones fail
    axe_violations(page, impacts=("moderate", "serious", "critical"))  # to look at
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

AXE_JS = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA (axe's tags for them).
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa")
SERIOUS = ("serious", "critical")


@cache
def _axe_source() -> str:
    if not AXE_JS.exists():
        raise AssertionError(f"{AXE_JS} is missing: run `make install` (npm ci)")
    return AXE_JS.read_text(encoding="utf-8")


def _inject(page) -> None:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # An expression, not a function: the whole file runs as it would from a <script>.
        page.evaluate(_axe_source())
    if not page.evaluate("() => typeof window.axe === 'object'"):
        raise AssertionError("axe-core did not load into the page")


def axe_violations(
    page, impacts: tuple[str, ...] = SERIOUS, *, include: str | None = None
) -> list[dict]:
    """The page's WCAG 2.x A/AA violations of the given impacts, as axe reports them,
    each with ``nodes`` reduced to ``{target, html, summary}``. ``include``: a CSS
    selector to check only that part of the page."""
    _inject(page)
    results = page.evaluate(
        """async ([tags, include]) => {
          const context = include ? {include: [include]} : document;
          const result = await axe.run(context, {
            runOnly: {type: "tag", values: tags},
            resultTypes: ["violations"],
          });
          return result.violations.map((v) => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            helpUrl: v.helpUrl,
            nodes: v.nodes.map((n) => ({
              target: n.target, html: n.html, summary: n.failureSummary,
            })),
          }));
        }""",
        [list(WCAG_TAGS), include],
    )
    return [v for v in results if v["impact"] in impacts]


def describe(violations: list[dict]) -> str:
    """One paragraph per rule: what it asks, and each element that breaks it."""
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            summary = " ".join((node.get("summary") or "").split())
            lines.append(f"    {target}\n      {node['html'][:200]}\n      {summary[:300]}")
    return "\n".join(lines)


def assert_no_serious_violations(page, *, include: str | None = None, where: str = "") -> None:
    """Fails, naming each rule and element, if axe finds a serious or critical
    violation of WCAG 2.x A/AA on the page (or on ``include``)."""
    found = axe_violations(page, SERIOUS, include=include)
    if found:
        label = f" on {where}" if where else ""
        raise AssertionError(
            f"axe-core found {len(found)} serious/critical violation(s){label}"
            f" at {page.url}:\n{describe(found)}"
        )
