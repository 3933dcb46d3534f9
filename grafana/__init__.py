"""Dashboards, Prometheus rules and Grafana provisioning, generated from code.

- :mod:`grafana.promql` formats PromQL selectors from the names of :mod:`streams.metric_names`.
- :mod:`grafana.panels` holds the panel helpers every ``*.dashboard.py`` module builds from.
- ``overview.dashboard.py`` and ``model.dashboard.py`` each define ``dashboard`` (the grafanalib
  convention, so ``generate-dashboard`` works on them too); :mod:`grafana.dashboards` loads them.
- :mod:`grafana.prometheus_rules` turns the worker's :class:`streams.rules.Rule` list into
  Prometheus alerting rules.
- :mod:`grafana.export` writes all of it under one directory; ``grafana/generated/`` is that
  output, committed, and a test proves it is current.
"""
