"""Keeping secrets out of everything buttress prints, logs or stores.

``mask_url`` strips the password from a DSN or URL (as restic's ``StripPassword`` does);
``redact`` removes known secret shapes (API tokens, passwords in URLs, bearer headers) from
free text before it reaches a log line or an error message.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["MASK", "mask_url", "redact", "redact_tokens"]

MASK = "***"

# user:password@ inside any scheme://... URL
_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]+)@"
)
# buttress API tokens: bt_<id>_<secret>
_TOKEN = re.compile(r"\bbt_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{20,}")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',]+")
_KV_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api_key)=([^\s&;]+)")


def mask_url(url: str) -> str:
    """Return ``url`` with its password (if any) replaced by ``***``.

    ``postgresql://app:s3cret@db:5432/app`` becomes ``postgresql://app:***@db:5432/app``;
    a ``password=`` query parameter is masked too. Text that is not a URL is returned with
    the same rules applied by :func:`redact`.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    if not parts.scheme or parts.password is None:
        return redact(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:{MASK}@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return redact(urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)))


def redact(text: str) -> str:
    """Remove every known secret shape from ``text``."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _TOKEN.sub(lambda m: m[0][:11] + "_" + MASK, text)
    text = _BEARER.sub(lambda m: m[1] + MASK, text)
    return _KV_SECRET.sub(lambda m: f"{m[1]}={MASK}", text)


# anything shaped like an API token, wherever it sits (no word boundary needed: a request id
# "xbt_..." or a path segment carries the secret just the same)
_TOKEN_SHAPED = re.compile(r"bt_([A-Za-z0-9]{8})_[A-Za-z0-9]{8,}")


def redact_tokens(text: str) -> str:
    """Mask every API-token-shaped string in ``text`` (``bt_<id>_***``), whatever it is part of:
    request ids, paths, query strings, error messages."""
    return _TOKEN_SHAPED.sub(lambda m: f"bt_{m[1]}_{MASK}", text)
