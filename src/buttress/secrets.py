"""Keeping secrets out of everything buttress prints, logs or stores.

``mask_dsn`` (also ``mask_url``) masks the secrets of one connection string, following the
grammar of the library that reads it (as restic's ``StripPassword`` does):

- libpq keyword/value strings (``host=db user=app password = 'two words'``): whitespace around
  ``=``, single-quoted values with ``\\'`` and ``\\\\`` escapes, backslash escapes in unquoted
  values, empty values (``password=''``; and ``password= next`` whose value *is* ``next``, as
  libpq reads it), a ``dbname`` that is itself a connection string;
- URIs (``postgresql://``, ``postgres://``, ``mysql://``, ``mariadb://``, ``redis://``,
  ``rediss://``, ``mongodb://``, ``mongodb+srv://``, any ``scheme://``): the password of the
  user info (libpq ends it at the first ``@`` before a ``/``, urllib and PyMongo at the last
  ``@`` of the authority: the wider of the two is masked), several hosts (``h1:5432,h2``),
  and secret query parameters (``?password=``, ``sslpassword``, ``authMechanismProperties``),
  their names percent-decoded as libpq decodes them.

``redact`` removes the same shapes, API tokens and bearer values from free text (an error
message, a log line) before it is shown or stored.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = [
    "MASK",
    "is_secret_name",
    "mask_dsn",
    "mask_url",
    "redact",
    "redact_echo",
    "redact_tokens",
]

MASK = "***"

# a keyword whose value is a secret (libpq: password, sslpassword, oauth_client_secret)
_SECRET_NAME = re.compile(
    r"(?i)(password|passwd|pwd|secret|token|api_?key|authmechanismproperties)"
)
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")
# buttress API tokens: bt_<id>_<secret>
_TOKEN = re.compile(r"\bbt_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{20,}")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',]+")
# keyword = value in free text, the value read as libpq reads it: blanks after `=` skipped,
# then a quoted value (backslash escapes; unterminated: to the end) or an unquoted one (to a
# blank; a backslash escapes the next character, a blank included)
_KV_SECRET = re.compile(
    r"(?i)(?P<key>\b[\w.-]*(?:password|passwd|pwd|secret|token|api_?key))"
    r"(?P<eq>[ \t\n\r\v\f]*=[ \t\n\r\v\f]*)"
    r"(?P<value>'(?:[^'\\]|\\.?)*'?|(?:[^ \t\n\r\v\f\\]|\\.?)+)?",
    re.DOTALL,
)
_ISSPACE = " \t\n\r\v\f"  # C isspace() in the C locale, as libpq uses it


def _secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


# an environment variable or a parameter whose value is a secret: DB_PASS, API_TOKEN,
# AWS_SECRET_ACCESS_KEY, ssh_key, GITHUB_AUTH... (not PWD and OLDPWD: the working directory)
_SECRET_VARIABLE = re.compile(r"(?i)pass(?!age)|secret|token|key(?!board)|credential|auth(?!or)")


def is_secret_name(name: str) -> bool:
    """Whether an environment variable or a parameter named ``name`` holds a secret (its value
    is masked wherever it would be shown or stored)."""
    return bool(_SECRET_VARIABLE.search(name))


def mask_dsn(dsn: str) -> str:
    """Return ``dsn`` with every secret in it replaced by ``***``.

    ``postgresql://app:s3cret@db:5432/app`` becomes ``postgresql://app:***@db:5432/app``,
    ``host=db password = 'two words' dbname=app`` becomes ``host=db password = *** dbname=app``.
    Text that is neither a URI nor a keyword/value string gets :func:`redact`.
    """
    stripped = dsn.lstrip(_ISSPACE)
    if _SCHEME.match(stripped):
        return dsn[: len(dsn) - len(stripped)] + _mask_uri(stripped)
    if "=" in dsn:
        return redact(_mask_conninfo(dsn))
    return redact(dsn)


mask_url = mask_dsn
"""The former name of :func:`mask_dsn`."""


def _conninfo_value(text: str, i: int) -> tuple[int, bool]:
    """Where the value starting at ``text[i]`` ends (libpq's ``conninfo_parse``), and whether
    it ended well (a quoted value may be unterminated)."""
    n = len(text)
    if i < n and text[i] == "'":
        i += 1
        while i < n:
            if text[i] == "\\":
                i += 2
                continue
            if text[i] == "'":
                return i + 1, True
            i += 1
        return n, False
    while i < n and text[i] not in _ISSPACE:
        i += 2 if text[i] == "\\" else 1
    return min(i, n), True


def _unquote_conninfo(raw: str) -> str:
    body = raw[1:-1] if raw.startswith("'") else raw
    return re.sub(r"\\(.)", r"\1", body, flags=re.DOTALL)


def _mask_conninfo(text: str) -> str:
    """A libpq keyword/value string with its secret values masked. A word without ``=`` after
    a secret (``password=two words``, which libpq refuses) is taken as part of the secret."""
    out: list[str] = []
    i, n = 0, len(text)
    secret = False
    while i < n:
        if text[i] in _ISSPACE:
            out.append(text[i])
            i += 1
            continue
        start = i
        while i < n and text[i] != "=" and text[i] not in _ISSPACE:
            i += 1
        name = text[start:i]
        while i < n and text[i] in _ISSPACE:
            i += 1
        if i >= n or text[i] != "=":
            if not secret:
                out.append(text[start:i])
            continue
        i += 1
        while i < n and text[i] in _ISSPACE:
            i += 1
        out.append(text[start:i])
        end, ok = _conninfo_value(text, i)
        raw = text[i:end]
        secret = _secret_name(name)
        if secret or not ok:
            out.append(MASK)  # an unterminated quote: everything after it may be the secret
        elif name == "dbname" and ("=" in raw or _SCHEME.match(_unquote_conninfo(raw))):
            out.append(_mask_nested(raw))  # expanded by libpq as a connection string
        else:
            out.append(raw)
        i = end
    return "".join(out)


def _mask_nested(raw: str) -> str:
    inner = _unquote_conninfo(raw)
    masked = mask_dsn(inner)
    if masked == inner:
        return raw
    return "'" + masked.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _mask_uri(uri: str) -> str:
    """A URI with the password of its user info and its secret query parameters masked."""
    scheme_end = _SCHEME.match(uri)
    if scheme_end is None:  # the callers found a scheme; masking fails closed all the same
        return MASK
    head, rest = uri[: scheme_end.end()], uri[scheme_end.end() :]
    # libpq: the user info ends at the first "@" seen before any "/"; urllib and PyMongo: at
    # the last "@" of the authority. Mask the wider: a raw "@" or "/" in a password (which
    # one of them misreads) must not show what follows it.
    first_slash = rest.find("/")
    authority = rest if first_slash < 0 else rest[:first_slash]
    cut = authority.rfind("@")
    query_at = rest.find("?")
    before_query = rest if query_at < 0 else rest[:query_at]
    cut = max(cut, before_query.rfind("@"))
    if cut < 0 and query_at >= 0:
        # libpq reads "?" in a password as a password character ("u:pa?ss@h")
        first_at = rest.find("@")
        if first_at >= 0 and (first_slash < 0 or first_at < first_slash):
            cut = first_at
    if cut >= 0:
        userinfo, rest = rest[:cut], rest[cut:]
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + MASK
        head += userinfo
    return head + _mask_query(rest)


def _mask_query(rest: str) -> str:
    """The part after the user info: secret parameters of its query string masked (libpq
    splits the query on ``&`` only; names are percent-decoded before they are judged)."""
    q = rest.find("?")
    if q < 0:
        return rest
    params = []
    for param in rest[q + 1 :].split("&"):
        name, eq, _value = param.partition("=")
        if eq and _secret_name(unquote(name)):
            param = f"{name}={MASK}"
        params.append(param)
    return rest[: q + 1] + "&".join(params)


def _redact_uris(text: str) -> str:
    """Every ``scheme://`` in free text masked, each URI ending at a blank or a quote (or, when
    its user info has a password, at the ``@`` that ends it on the same line)."""
    out: list[str] = []
    pos = 0
    for match in _SCHEME.finditer(text):
        if match.start() < pos:
            continue
        end = match.end()
        while end < len(text) and text[end] not in _ISSPACE + "\"'`<>":
            end += 1
        piece = text[match.start() : end]
        userinfo = piece[match.end() - match.start() :]
        if ":" in userinfo.split("/", 1)[0] and "@" not in piece:
            # a password with a blank in it ("u:two words@h"): the URI goes on to its "@"
            line_end = text.find("\n", end)
            line_end = len(text) if line_end < 0 else line_end
            at = text.find("@", end, line_end)
            if at >= 0:
                end = at
                while end < len(text) and text[end] not in _ISSPACE + "\"'`<>":
                    end += 1
                piece = text[match.start() : end]
        out.append(text[pos : match.start()])
        out.append(_mask_uri(piece))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _mask_kv(match: re.Match[str]) -> str:
    value = match["value"] or ""
    if value.startswith(MASK):
        return match[0][: match.end("eq") - match.start()] + MASK + value[len(MASK) :]
    return f"{match['key']}{match['eq']}{MASK}"


def redact(text: str) -> str:
    """Remove every known secret shape from ``text``."""
    text = _redact_uris(text)
    text = _TOKEN.sub(lambda m: m[0][:11] + "_" + MASK, text)
    text = _BEARER.sub(lambda m: m[1] + MASK, text)
    return _KV_SECRET.sub(_mask_kv, text)


def redact_echo(message: str, dsn: str) -> str:
    """``message`` (a driver's error about ``dsn``) redacted, and each quoted fragment of it
    that the masked DSN does not show replaced by ``***``: libpq quotes the words it could not
    read (``missing "=" after "words"``), which may be pieces of a password."""
    shown = mask_dsn(dsn)

    def hide(match: re.Match[str]) -> str:
        fragment = match[2]
        return match[0] if not fragment or fragment in shown else f"{match[1]}{MASK}{match[1]}"

    return redact(re.sub(r"([\"'])(.*?)\1", hide, message))


# anything shaped like an API token, wherever it sits (no word boundary needed: a request id
# "xbt_..." or a path segment carries the secret just the same)
_TOKEN_SHAPED = re.compile(r"bt_([A-Za-z0-9]{8})_[A-Za-z0-9]{8,}")


def redact_tokens(text: str) -> str:
    """Mask every API-token-shaped string in ``text`` (``bt_<id>_***``), whatever it is part of:
    request ids, paths, query strings, error messages."""
    return _TOKEN_SHAPED.sub(lambda m: f"bt_{m[1]}_{MASK}", text)
