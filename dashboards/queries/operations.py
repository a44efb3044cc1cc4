"""PromQL of the Operations dashboard (ingest and API health from Prometheus)."""

from __future__ import annotations

from dashboards.promql import promql

INGEST = 'job="smartpole-ingest"'
RATE = "$__rate_interval"

WORKERS_UP = promql((f"sum(up{{{INGEST}}})", "workers up"))
SINCE_LAST_COMMIT = promql(
    (f"time() - max(smartpole_ingest_last_commit_timestamp_seconds{{{INGEST}}})", "since commit"),
    unit="s",
)
BACKLOG = promql(
    (f"sum by (instance) (smartpole_ingest_backlog_messages{{{INGEST}}})", "{{instance}}")
)
DATABASE_SIZE = promql(
    (f"max(smartpole_database_size_bytes{{{INGEST}}})", "database"),
    (f"max(smartpole_database_disk_capacity_bytes{{{INGEST}}}) > 0", "disk"),
    unit="bytes",
)
THROUGHPUT = promql(
    (f"sum(rate(smartpole_ingest_messages_received_total{{{INGEST}}}[{RATE}]))", "received"),
    (f"sum(rate(smartpole_ingest_readings_stored_total{{{INGEST}}}[{RATE}]))", "stored"),
    (f"sum(rate(smartpole_ingest_duplicates_total{{{INGEST}}}[{RATE}]))", "duplicates"),
    unit="ops",
)
QUARANTINED = promql(
    (
        f"sum by (reason) (rate(smartpole_ingest_quarantined_total{{{INGEST}}}[{RATE}])) > 0",
        "{{reason}}",
    ),
    unit="ops",
)
LAG = promql(
    (
        "histogram_quantile(0.5, sum by (le) "
        f"(rate(smartpole_ingest_lag_seconds_bucket{{{INGEST}}}[{RATE}])))",
        "p50",
    ),
    (
        "histogram_quantile(0.95, sum by (le) "
        f"(rate(smartpole_ingest_lag_seconds_bucket{{{INGEST}}}[{RATE}])))",
        "p95",
    ),
    unit="s",
)
COMMIT = promql(
    (
        "histogram_quantile(0.95, sum by (le) "
        f"(rate(smartpole_ingest_commit_duration_seconds_bucket{{{INGEST}}}[{RATE}])))",
        "commit p95",
    ),
    (
        f"sum(rate(smartpole_ingest_batch_size_messages_sum{{{INGEST}}}[{RATE}]))"
        f" / sum(rate(smartpole_ingest_batch_size_messages_count{{{INGEST}}}[{RATE}]))",
        "messages per batch",
    ),
)
RECONNECTS = promql(
    (f"sum(increase(smartpole_ingest_broker_reconnects_total{{{INGEST}}}[1h]))", "broker"),
    (f"sum(increase(smartpole_ingest_database_reconnects_total{{{INGEST}}}[1h]))", "database"),
    (f"min(smartpole_ingest_database_up{{{INGEST}}})", "database up (all workers)"),
)
API_REQUESTS = promql(
    (
        f'sum by (status) (rate(smartpole_api_requests_total{{job="smartpole-api"}}[{RATE}]))',
        "{{status}}",
    ),
    unit="reqps",
)
API_LATENCY = promql(
    (
        "histogram_quantile(0.95, sum by (le) "
        f'(rate(smartpole_api_request_seconds_bucket{{job="smartpole-api"}}[{RATE}])))',
        "p95",
    ),
    unit="s",
)

ALL = {
    name: value
    for name, value in dict(globals()).items()
    if name.isupper() and hasattr(value, "series")
}
