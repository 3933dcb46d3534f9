"""Load the ``*.dashboard.py`` modules of this directory and list their queries.

Examples
--------
>>> sorted(load_dashboards())
['model', 'overview']
>>> substitute('x{model="$model",version="${version}"}', {"model": "m", "version": "1.0.0"})
'x{model="m",version="1.0.0"}'
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from grafanalib.core import Dashboard

DASHBOARD_DIR = Path(__file__).parent
SUFFIX = ".dashboard.py"


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARD_DIR.glob(f"*{SUFFIX}"))


def load_dashboard(path: Path) -> Dashboard:
    """The ``dashboard`` variable of one ``*.dashboard.py`` module (grafanalib's convention)."""
    name = path.name[: -len(SUFFIX)]
    spec = importlib.util.spec_from_file_location(f"grafana._dashboard_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    board = getattr(module, "dashboard", None)
    if not isinstance(board, Dashboard):
        raise TypeError(f"{path} must define `dashboard` as a grafanalib Dashboard, got {board!r}")
    return board


def load_dashboards() -> dict[str, Dashboard]:
    """Name (file name without ``.dashboard.py``) -> dashboard."""
    return {p.name[: -len(SUFFIX)]: load_dashboard(p) for p in dashboard_files()}


def panel_queries(board: Dashboard) -> list[tuple[str, str]]:
    """``(panel title, expr)`` of every Prometheus target of every panel."""
    out = []
    for panel in board._iter_panels():
        for target in getattr(panel, "targets", []):
            if target.expr:
                out.append((panel.title, target.expr))
    return out


def variables(board: Dashboard) -> list[str]:
    return [t.name for t in board.templating.list]


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace ``$name`` and ``${name}`` template variables as Grafana does for single values."""
    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError(f"no value for template variable {name!r} in {expr!r}")
        return values[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, expr)
