"""predwatch model: one (model, version) in detail, chosen with the `model` and `version` variables."""

from grafana.panels import (
    GREEN_RED,
    build_dashboard,
    histogram_quantile,
    layout,
    query_variable,
    row,
    stat,
    state_timeline,
    timeseries,
)
from grafana.promql import selector
from streams import metric_names as mn

UID = "predwatch-model"
KEY = {"model": "$model", "version": "$version"}
ACCURACY_TITLES = {mn.MAE: "MAE", mn.RMSE: "RMSE", mn.R2: "R²", mn.MAPE: "MAPE"}
ACCURACY_UNITS = {mn.MAE: "short", mn.RMSE: "short", mn.R2: "none", mn.MAPE: "percentunit"}
DRIFT_TITLES = {"ks_stat": "KS statistic", "ks_pvalue": "KS p-value", "psi": "PSI",
                "chi2_pvalue": "Chi² p-value (categorical fields)", "zscore": "Mean shift (z-score)"}


def _drift_score(stat_name: str):
    return timeseries(f"Drift: {DRIFT_TITLES[stat_name]}",
                      [(selector(mn.PROM_DRIFT_SCORE, **KEY, test=stat_name), "{{field}}")],
                      unit="none")


dashboard = build_dashboard(
    "predwatch / model",
    UID,
    layout([
        row("Latency and throughput"),
        [
            timeseries("Latency quantiles (window)",
                       [(selector(mn.PROM_LATENCY_QUANTILE, **KEY), "p{{quantile}}"),
                        (selector(mn.PROM_LATENCY_MEAN, **KEY), "mean")], unit="s"),
            timeseries("Latency quantiles (histogram, 5m)",
                       [(histogram_quantile(mn.PROM_LATENCY, q, **KEY), f"p{q}")
                        for q in (0.5, 0.95, 0.99)], unit="s"),
            timeseries("Throughput",
                       [(f"sum(rate({selector(mn.PROM_EVENTS, **KEY)}[1m]))", "consumed"),
                        (f"sum({selector(mn.PROM_THROUGHPUT, **KEY)})", "window")], unit="ops"),
        ],
        row("Drift"),
        [
            state_timeline("Drift verdicts",
                           [(selector(mn.PROM_DRIFT_DETECTED, **KEY), "{{field}} {{test}}")],
                           description="Calibrated, multiple-testing corrected tests per field."),
            _drift_score("psi"),
            _drift_score("ks_stat"),
        ],
        [_drift_score("ks_pvalue"), _drift_score("chi2_pvalue"), _drift_score("zscore")],
        row("Anomalies"),
        [
            timeseries("Anomaly rate", [(selector(mn.PROM_ANOMALY_RATE, **KEY), "rate")],
                       unit="percentunit"),
            timeseries("Anomaly score", [(selector(mn.PROM_ANOMALY_SCORE, **KEY), "score")],
                       unit="none"),
            stat("Concept-drift detections (1h)",
                 [(f"sum(increase({selector(mn.PROM_CONCEPT_DRIFT, **KEY)}[1h]))", "detections")],
                 unit="none", thresholds=GREEN_RED, decimals=0),
        ],
        row("Accuracy"),
        [stat(ACCURACY_TITLES[m], [(selector(mn.PROM_ACCURACY, **KEY, metric=m), m)],
              unit=ACCURACY_UNITS[m], decimals=3) for m in mn.ACCURACY_METRICS],
        [timeseries("Accuracy over time",
                    [(selector(mn.PROM_ACCURACY, **KEY, metric=m), ACCURACY_TITLES[m])
                     for m in (mn.MAE, mn.RMSE)], unit="short"),
         timeseries("R² and MAPE", [(selector(mn.PROM_ACCURACY, **KEY, metric=m), ACCURACY_TITLES[m])
                                    for m in (mn.R2, mn.MAPE)], unit="none")],
        row("Alerts"),
        [
            stat("Alerts firing",
                 [(f"sum by (severity) ({selector(mn.PROM_ALERTS_FIRING, **KEY)})", "{{severity}}")],
                 unit="none", thresholds=GREEN_RED, decimals=0),
            timeseries("Alert transitions (1h)",
                       [(f"sum by (severity, status) (increase({selector(mn.PROM_ALERTS, **KEY)}[1h]))",
                         "{{severity}} {{status}}")], unit="none"),
            stat("Since last evaluation",
                 [(f"max(time() - {selector(mn.PROM_LAST_EVALUATION, **KEY)})", "age")], unit="s",
                 thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 120}]),
        ],
    ]),
    description="One model version: latency, throughput, drift per field, anomalies, accuracy, alerts.",
    variables=[
        query_variable("model", "model", mn.PROM_EVENTS),
        query_variable("version", "version", mn.PROM_EVENTS, depends_on=("model",)),
    ],
)
