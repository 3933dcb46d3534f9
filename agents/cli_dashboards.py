"""``predwatch dashboards export DIR``: dashboards, provisioning and Prometheus rules as files.

The lead's CLI registers :func:`dashboards_export` as the ``export`` command of a ``dashboards``
group, e.g. ``dashboards_app.command("export")(dashboards_export)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from grafana.export import DASHBOARDS_MOUNT, PROMETHEUS_URL, export
from streams.rules import default_rules, load_rules


def dashboards_export(
    dir: Annotated[Path, typer.Argument(help="Output directory (created if needed).")],
    rules: Annotated[Path | None, typer.Option(
        "--rules", help="Rules YAML to translate to Prometheus rules (default: the shipped rules).")] = None,
    prometheus_url: Annotated[str, typer.Option(
        help="URL Grafana uses to reach Prometheus.")] = PROMETHEUS_URL,
    dashboards_mount: Annotated[str, typer.Option(
        help="Where Grafana's container sees the dashboards/ folder.")] = DASHBOARDS_MOUNT,
    skip_untranslatable: Annotated[bool, typer.Option(
        help="Leave out rules on metrics Prometheus does not have instead of failing.")] = False,
) -> None:
    """Write Grafana dashboards JSON, provisioning files and Prometheus alerting rules to DIR."""
    rule_list = load_rules(rules) if rules is not None else default_rules()
    for path in export(dir, rules=rule_list, prometheus_url=prometheus_url,
                       dashboards_mount=dashboards_mount, skip_untranslatable=skip_untranslatable):
        typer.echo(str(path))
