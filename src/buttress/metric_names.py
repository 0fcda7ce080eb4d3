"""Every Prometheus metric name buttress exports, in one place (see docs/metrics.md)."""

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
