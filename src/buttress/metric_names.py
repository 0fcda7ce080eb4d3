"""Every Prometheus metric name buttress exports, in one place (the table is in docs/server.md)."""

from __future__ import annotations

PREFIX = "buttress"

BUILD_INFO = f"{PREFIX}_build_info"
START_TIME = f"{PREFIX}_start_time_seconds"
HTTP_REQUESTS = f"{PREFIX}_http_requests"  # counter: _total is added by prometheus_client
HTTP_REQUEST_DURATION = f"{PREFIX}_http_request_duration_seconds"
HTTP_IN_FLIGHT = f"{PREFIX}_http_requests_in_flight"
CATALOG_UP = f"{PREFIX}_catalog_up"
API_TOKENS_ACTIVE = f"{PREFIX}_api_tokens_active"
AUDIT_WRITE_ERRORS = f"{PREFIX}_audit_write_errors"

# resilience (buttress.resilience.instrumentation.prometheus)
RESILIENCE_CALLS = f"{PREFIX}_resilience_calls"  # counter{policy, outcome}
RESILIENCE_CALL_DURATION = f"{PREFIX}_resilience_call_duration_seconds"  # histogram{policy}
RESILIENCE_REJECTIONS = f"{PREFIX}_resilience_rejections"  # counter{policy, kind}
RESILIENCE_RETRIES = f"{PREFIX}_resilience_retries"  # counter{policy}
RESILIENCE_RETRY_GIVE_UPS = f"{PREFIX}_resilience_retry_give_ups"  # counter{policy, reason}
RESILIENCE_TIMEOUTS = f"{PREFIX}_resilience_timeouts"  # counter{policy}
RESILIENCE_FALLBACKS = f"{PREFIX}_resilience_fallbacks"  # counter{policy}
BREAKER_TRANSITIONS = (
    f"{PREFIX}_circuit_breaker_transitions"  # counter{policy, from_state, to_state}
)
BREAKER_STATE = f"{PREFIX}_circuit_breaker_state"  # gauge{policy, state}: 1 for the current state
BULKHEAD_ACTIVE = f"{PREFIX}_bulkhead_active_calls"  # gauge{policy}
BULKHEAD_QUEUED = f"{PREFIX}_bulkhead_queued_calls"  # gauge{policy}
RATE_LIMITER_KEYS = f"{PREFIX}_rate_limiter_keys"  # gauge{policy}
STATE_STORE_ERRORS = f"{PREFIX}_state_store_errors"  # counter{policy}: the store did not answer
STATE_STORE_MODE = f"{PREFIX}_state_store_mode"  # gauge{policy, mode}: 1 for the current mode

# backups (buttress.backup.metrics)
BACKUP_LAST_SUCCESS = f"{PREFIX}_backup_last_success_timestamp_seconds"  # gauge{target}
BACKUP_LAST_DURATION = f"{PREFIX}_backup_last_duration_seconds"  # gauge{target}: newest good run
BACKUP_LAST_SIZE = f"{PREFIX}_backup_last_size_bytes"  # gauge{target, kind=raw|stored}
BACKUP_LAST_VERIFIED = f"{PREFIX}_backup_last_verified"  # gauge{target, check}: 1 ok, 0 failed
BACKUP_RUNS = f"{PREFIX}_backup_runs"  # counter{target, status, trigger}
BACKUP_FAILURES = f"{PREFIX}_backup_failures"  # counter{target}
BACKUP_DURATION = f"{PREFIX}_backup_duration_seconds"  # histogram{target}
BACKUP_VERIFICATIONS = f"{PREFIX}_backup_verifications"  # counter{target, check, result}

# WAL archiving and point-in-time recovery (buttress.backup.wal.metrics), physical targets
WAL_ARCHIVE_LAG = f"{PREFIX}_wal_archive_lag_seconds"  # gauge{target}: now - newest ready_at
WAL_LAST_ARCHIVED = f"{PREFIX}_wal_last_archived_timestamp_seconds"  # gauge{target}
WAL_ARCHIVE_LAG_SEGMENTS = f"{PREFIX}_wal_archive_lag_segments"  # gauge{target}: spooled, not up
WAL_GAPS = f"{PREFIX}_wal_gaps"  # gauge{target}: segments missing after the oldest base backup
PITR_WINDOW = f"{PREFIX}_pitr_window_seconds"  # gauge{target}: newest - oldest recoverable point
PITR_OLDEST = f"{PREFIX}_pitr_oldest_timestamp_seconds"  # gauge{target}
PITR_NEWEST = f"{PREFIX}_pitr_newest_timestamp_seconds"  # gauge{target}

# health (buttress.health.metrics)
HEALTH_SCORE = f"{PREFIX}_health_score"  # gauge: 0-100
HEALTH_READY = f"{PREFIX}_health_ready"  # gauge: 1 when every critical check is up
HEALTH_CHECK_UP = f"{PREFIX}_health_check_up"  # gauge{check}
HEALTH_CHECK_STATUS = f"{PREFIX}_health_check_status"  # gauge{check, status}
HEALTH_CHECK_LATENCY = f"{PREFIX}_health_check_latency_seconds"  # gauge{check}

# degradation (buttress.degradation.metrics)
DEGRADATION_LEVEL = f"{PREFIX}_degradation_level"  # gauge: index of the level (0: normal)
DEGRADATION_LEVEL_INFO = f"{PREFIX}_degradation_level_info"  # gauge{level, automatic}: 1
DEGRADATION_OVERRIDE = f"{PREFIX}_degradation_override"  # gauge: 1 while an override holds
FEATURE_ENABLED = f"{PREFIX}_feature_enabled"  # gauge{feature}: 1 on, 0 off

# jobs and replicas (buttress.jobs.metrics)
LEADER = f"{PREFIX}_leader"  # gauge{replica}: 1 on the replica that leads (runs scheduled jobs)

# alerting (buttress.alerting.api)
ALERT_NOTIFICATIONS = f"{PREFIX}_alert_notifications"  # counter{status}: alerts on the webhook

# incidents (buttress.incidents.metrics)
INCIDENTS_OPEN = f"{PREFIX}_incidents_open"  # gauge{severity}: incidents not resolved/closed
INCIDENT_MTTA = f"{PREFIX}_incident_time_to_acknowledge_seconds"  # histogram{severity}
INCIDENT_MTTR = f"{PREFIX}_incident_time_to_resolve_seconds"  # histogram{severity}
# counter{severity,kind}: notifications the escalation decided (triggered, escalated, ...)
INCIDENT_ESCALATIONS = f"{PREFIX}_incident_escalations"
# counter{severity,target}: response targets breached (target: respond)
INCIDENT_BREACHES = f"{PREFIX}_incident_response_target_breaches"
# counter{channel, type, outcome}: outcome ok | failed | rejected (breaker open)
INCIDENT_NOTIFICATIONS = f"{PREFIX}_incident_notifications"
