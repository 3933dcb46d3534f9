"""predwatch overview: every model at once (throughput, p95, alerts firing, drift status, lag)."""

from grafana.panels import (
    GREEN_RED,
    build_dashboard,
    histogram_quantile,
    layout,
    row,
    stat,
    state_timeline,
    timeseries,
)
from grafana.promql import selector
from streams import metric_names as mn

UID = "predwatch-overview"
P95 = selector(mn.PROM_LATENCY_QUANTILE, quantile="0.95")

dashboard = build_dashboard(
    "predwatch / overview",
    UID,
    layout([
        row("Traffic"),
        [
            timeseries("Throughput by model (consumed)",
                       [(f"sum by (model) (rate({mn.PROM_EVENTS}[1m]))", "{{model}}")],
                       unit="ops", stacked=True,
                       description="Events accepted into windows per second, from the counter."),
            timeseries("Throughput by version (window)",
                       [(f"sum by (model, version) ({mn.PROM_THROUGHPUT})", "{{model}} {{version}}")],
                       unit="ops", description="Events per second over each key's window."),
        ],
        [
            timeseries("p95 latency by version (window)",
                       [(f"max by (model, version) ({P95})", "{{model}} {{version}}")], unit="s",
                       description="p95 of the latency window each worker keeps per key."),
            timeseries("p95 latency by model (histogram, 5m)",
                       [(histogram_quantile(mn.PROM_LATENCY, 0.95, by=("model",)), "{{model}}")],
                       unit="s", description="From monitor_latency_seconds, merged across workers."),
        ],
        row("Health"),
        [
            stat("Alerts firing", [(f"sum by (severity) ({mn.PROM_ALERTS_FIRING})", "{{severity}}")],
                 unit="none", thresholds=GREEN_RED, decimals=0),
            stat("Drift verdicts raised", [
                (f"sum by (model, version) ({mn.PROM_DRIFT_DETECTED})", "{{model}} {{version}}")],
                 unit="none", thresholds=GREEN_RED, decimals=0,
                 description="Field/test pairs whose calibrated drift test rejects the reference."),
            stat("Models held", [(f"sum({mn.PROM_MODELS})", "keys")], unit="none", decimals=0,
                 description="(model, version) keys held by all workers."),
        ],
        [
            timeseries("Alerts firing by model",
                       [(f"sum by (model, severity) ({mn.PROM_ALERTS_FIRING})",
                         "{{model}} {{severity}}")], unit="none", stacked=True),
            state_timeline("Drift status by model",
                           [(f"max by (model) ({mn.PROM_DRIFT_DETECTED})", "{{model}}")],
                           description="1 when any field of any version of the model drifts."),
            timeseries("Anomaly rate by version",
                       [(f"max by (model, version) ({mn.PROM_ANOMALY_RATE})",
                         "{{model}} {{version}}")], unit="percentunit"),
        ],
        row("Pipeline"),
        [
            timeseries("Consumer lag by topic",
                       [(f"sum by (topic) ({mn.PROM_CONSUMER_LAG})", "{{topic}}"),
                        (f"max by (topic) ({mn.PROM_CONSUMER_LAG})", "{{topic}} worst partition")],
                       unit="short"),
            timeseries("Invalid and dead-lettered events",
                       [(f"sum by (reason) (rate({mn.PROM_INVALID_EVENTS}[5m]))", "invalid {{reason}}"),
                        (f"sum by (reason) (rate({mn.PROM_DEADLETTER}[5m]))", "dead-letter {{reason}}")],
                       unit="ops"),
            timeseries("Evaluation", [
                (histogram_quantile(mn.PROM_EVALUATION_DURATION, 0.95, by=("instance",)),
                 "p95 tick {{instance}}"),
                (f"max by (model, version) (time() - {mn.PROM_LAST_EVALUATION})",
                 "age {{model}} {{version}}"),
            ], unit="s", description="Tick duration per worker and time since each key's last "
                                     "evaluation."),
        ],
    ]),
    description="All monitored models: traffic, latency, alerts, drift and the pipeline.",
)
