# The *.dashboard.py modules are loaded by grafana.dashboards (their names contain a dot, so they
# are not importable modules); keep pytest's --doctest-modules from trying to import them.
collect_ignore_glob = ["*.dashboard.py"]
