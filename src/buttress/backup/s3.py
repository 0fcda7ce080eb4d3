"""S3-compatible object storage as a backup destination (AWS S3, MinIO, Ceph RGW, moto...).

An object is uploaded in parts (multipart upload, ``concurrency`` parts in flight, so memory
stays at about ``part_size * (concurrency + 1)`` per destination) and appears under its key only
when the upload is completed: a crashed run leaves an unfinished multipart upload, never a
partial object, and never a manifest. Objects smaller than one part are sent in one PUT.

Every request is bounded: ``connect_timeout`` to connect, ``read_timeout`` for each socket
read or write, and ``object_deadline`` for the request with all its retries (botocore's standard
mode, backoff included): no attempt starts that could not end within the deadline, so a hung
endpoint fails the request, and the run with it, in well under a minute with the defaults
(5 s, 15 s, 45 s: two attempts of 15 s). A destination that timed out is not asked to abort its
unfinished upload (that would hang too): ``backup prune`` removes it later.

The client, its error translation and redaction are :mod:`buttress.platform.s3`'s (shared
with the health S3 check); boto3 is imported only when a destination is used
(``pip install 'buttress[s3]'``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

from buttress.backup.destinations import ObjectWriter
from buttress.backup.errors import BackupError
from buttress.errors import MissingDependencyError
from buttress.platform import s3
from buttress.platform.s3 import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, error_code

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_OBJECT_DEADLINE",
    "DEFAULT_READ_TIMEOUT",
    "S3DeadlineError",
    "S3Destination",
    "S3Options",
    "S3Settings",
    "error_code",
]

log = logging.getLogger("buttress.backup")

_MIN_PART = 5 << 20  # S3's smallest part (but the last)
DEFAULT_OBJECT_DEADLINE = 45.0
DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
_MAX_BACKOFF = 20.0  # botocore's standard retry mode waits at most this long between attempts


class S3DeadlineError(TimeoutError):
    """A request (with its retries) could not finish within ``object_deadline``."""


@dataclass(frozen=True)
class S3Options:
    """Where and how objects are stored.

    Args:
        bucket: an existing bucket.
        prefix: key prefix inside the bucket (``backups/prod``); no leading slash.
        endpoint_url: for S3-compatible services (``http://127.0.0.1:9000``); None for AWS.
        region: the bucket's region.
        access_key_id / secret_access_key: credentials; None: boto3's usual chain
            (``AWS_ACCESS_KEY_ID``... environment variables, profile, instance role).
        storage_class: ``STANDARD``, ``STANDARD_IA``, ``GLACIER_IR``...; None: the bucket's.
        part_size: bytes per multipart part (at least 5 MiB).
        concurrency: parts uploaded at once per object.
        max_attempts: attempts per request (boto3's standard retry mode, with backoff).
        connect_timeout: seconds to open a connection.
        read_timeout: seconds a socket read (or write) may wait.
        object_deadline: seconds one request on an object may take, all its attempts and
            backoff included; no attempt starts that could not end in time.

    .. versionchanged:: 0.x
        ``object_deadline``; shorter default timeouts (a hung endpoint held a backup, and the
        database's snapshot, for six minutes).
    """

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    storage_class: str | None = None
    part_size: int = 8 << 20
    concurrency: int = 4
    max_attempts: int = 5
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    object_deadline: float = DEFAULT_OBJECT_DEADLINE

    def __post_init__(self) -> None:
        if not self.bucket:
            raise ValueError("s3: bucket must not be empty")
        if self.part_size < _MIN_PART:
            raise ValueError(f"s3: part_size must be at least 5 MiB, got {self.part_size}")
        if self.concurrency < 1:
            raise ValueError("s3: concurrency must be >= 1")
        if self.max_attempts < 1:
            raise ValueError("s3: max_attempts must be >= 1")
        for name in ("connect_timeout", "read_timeout", "object_deadline"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"s3: {name} must be a finite number of seconds > 0, got {value}")

    def __repr__(self) -> str:  # never the secret key
        return f"S3Options(bucket={self.bucket!r}, prefix={self.prefix!r})"

    @property
    def endpoint(self) -> s3.S3Endpoint:
        """Where the service is and the credentials, as the shared client takes them."""
        return s3.S3Endpoint(
            self.endpoint_url, self.region, self.access_key_id, self.secret_access_key
        )


S3Settings = S3Options  # the name before the naming convention (docs/architecture.md)


class _Body:
    """A downloaded object's stream; transport errors become BackupError naming the key."""

    def __init__(self, dest: S3Destination, key: str, body: Any) -> None:
        self.dest, self.key, self.body = dest, key, body

    def read(self, n: int = -1) -> bytes:
        try:
            return bytes(self.body.read(None if n < 0 else n))
        except Exception as exc:  # noqa: BLE001  # botocore/urllib3 read errors, named below
            raise self.dest.error(exc, f"reading {self.key}") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.body.close()

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _S3Writer:
    """One object: a buffer, then parts in flight, then CompleteMultipartUpload (or one PUT)."""

    def __init__(self, dest: S3Destination, key: str) -> None:
        self.dest = dest
        self.key = key
        self.full_key = dest.full_key(key)
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[Future[str]] = []

    def _extra(self) -> dict[str, str]:
        sc = self.dest.settings.storage_class
        return {"StorageClass": sc} if sc else {}

    def write(self, data: bytes | memoryview) -> None:
        self.buffer += data
        size = self.dest.settings.part_size
        while len(self.buffer) >= size:
            part = bytes(self.buffer[:size])
            del self.buffer[:size]
            self._send(part)

    def _send(self, part: bytes) -> None:
        client = self.dest.client()
        bucket = self.dest.settings.bucket
        try:
            if self.upload_id is None:
                created = client.create_multipart_upload(
                    Bucket=bucket, Key=self.full_key, **self._extra()
                )
                self.upload_id = str(created["UploadId"])
            # keep at most `concurrency` parts in flight (memory stays bounded)
            in_flight = [f for f in self.parts if not f.done()]
            while len(in_flight) >= self.dest.settings.concurrency:
                in_flight[0].result()
                in_flight = [f for f in self.parts if not f.done()]
            for done in self.parts:
                if done.done():
                    done.result()  # re-raise a failed part now, not at commit
            number = len(self.parts) + 1
            self.parts.append(self.dest.pool().submit(self._upload, part, number))
        except Exception as exc:  # noqa: BLE001  # boto errors become ours, with the key
            self.abort()
            raise self.dest.error(exc, f"writing {self.key}") from None

    def _upload(self, part: bytes, number: int) -> str:
        response = self.dest.client().upload_part(
            Bucket=self.dest.settings.bucket,
            Key=self.full_key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=part,
        )
        return str(response["ETag"])

    def commit(self) -> None:
        client = self.dest.client()
        bucket = self.dest.settings.bucket
        try:
            if self.upload_id is None:
                client.put_object(
                    Bucket=bucket, Key=self.full_key, Body=bytes(self.buffer), **self._extra()
                )
                return
            if self.buffer:
                self._send(bytes(self.buffer))
                self.buffer.clear()
            tags = [f.result() for f in self.parts]
            client.complete_multipart_upload(
                Bucket=bucket,
                Key=self.full_key,
                UploadId=self.upload_id,
                MultipartUpload={
                    "Parts": [{"ETag": tag, "PartNumber": i + 1} for i, tag in enumerate(tags)]
                },
            )
        except BackupError:
            raise
        except Exception as exc:  # noqa: BLE001
            self.abort()
            raise self.dest.error(exc, f"writing {self.key}") from None

    def abort(self) -> None:
        for f in self.parts:
            f.cancel()
        for f in self.parts:
            with contextlib.suppress(Exception):
                f.result()
        self.parts.clear()
        self.buffer.clear()
        if self.upload_id is not None and self.dest.unresponsive:
            log.warning(
                "destination %s timed out: unfinished upload of %s left for `backup prune`",
                self.dest.name,
                self.key,
            )
            self.upload_id = None
        if self.upload_id is not None:
            with contextlib.suppress(Exception):
                self.dest.client().abort_multipart_upload(
                    Bucket=self.dest.settings.bucket, Key=self.full_key, UploadId=self.upload_id
                )
            self.upload_id = None


class S3Destination:
    """A bucket (and key prefix) on an S3-compatible service."""

    def __init__(self, name: str, settings: S3Options) -> None:
        self.name = name
        self.settings = settings
        self._client: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self.unresponsive = False  # a request timed out: do not wait on it for clean-ups

    def describe(self) -> str:
        s = self.settings
        return f"{self.name} ({s.endpoint.where(s.bucket, s.prefix)})"

    def full_key(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise BackupError(f"destination {self.name}: invalid object key {key!r}")
        return self.root() + key

    def root(self) -> str:
        """The key prefix of every object of this destination (``""`` or ``prefix/``)."""
        prefix = self.settings.prefix.strip("/")
        return f"{prefix}/" if prefix else ""

    def client(self) -> Any:
        if self._client is None:
            s = self.settings
            try:
                self._client = s3.client(
                    s.endpoint,
                    max_attempts=s.max_attempts,
                    connect_timeout=s.connect_timeout,
                    read_timeout=s.read_timeout,
                    max_pool_connections=s.concurrency + 2,
                    needed_by=f"destination {self.name} (S3)",
                )
            except MissingDependencyError as exc:
                raise BackupError(str(exc)) from None
            events = self._client.meta.events
            events.register("before-call.s3", _start_clock)
            events.register_first("needs-retry.s3", self._within_deadline)
        return self._client

    def _within_deadline(
        self,
        attempts: int,
        request_dict: dict[str, Any],
        response: Any = None,
        caught_exception: BaseException | None = None,
        **_: Any,
    ) -> None:
        """Before botocore retries a failed attempt: give up (S3DeadlineError) when another
        attempt, after the longest backoff, could end past ``object_deadline``."""
        status = getattr(response[0], "status_code", 0) if response else 0
        if caught_exception is None and status < 500 and status != 429:
            return  # it did not fail (or fails for good): botocore's own decision
        s = self.settings
        if attempts >= s.max_attempts:
            return
        started = request_dict.get("context", {}).get("buttress_started", time.monotonic())
        elapsed = time.monotonic() - started
        next_attempt = min(_MAX_BACKOFF, 2.0**attempts) + s.connect_timeout + s.read_timeout
        if elapsed + next_attempt > s.object_deadline:
            cause = str(caught_exception) if caught_exception else f"HTTP {status}"
            raise S3DeadlineError(
                f"gave up after {attempts} attempt{'s' if attempts > 1 else ''} in "
                f"{elapsed:.1f} s (object_deadline {s.object_deadline:g} s): {cause}"
            )

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.settings.concurrency, thread_name_prefix=f"buttress-s3-{self.name}"
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def error(self, exc: BaseException, doing: str) -> BackupError:
        if _timed_out(exc):
            self.unresponsive = True
        detail = s3.explain(exc, self.settings.bucket, self.settings.endpoint)
        return BackupError(f"destination {self.describe()}: {detail} ({doing})")

    def writer(self, key: str) -> ObjectWriter:
        return _S3Writer(self, key)

    def reader(self, key: str) -> BinaryIO:
        try:
            response = self.client().get_object(Bucket=self.settings.bucket, Key=self.full_key(key))
        except BackupError:
            raise
        except Exception as exc:  # noqa: BLE001
            if error_code(exc) in ("NoSuchKey", "404"):
                raise BackupError(
                    f"destination {self.describe()}: cannot read {key}: no such object"
                ) from None
            raise self.error(exc, f"reading {key}") from None
        return _Body(self, key, response["Body"])  # type: ignore[return-value]

    def put(self, key: str, data: bytes) -> None:
        w = self.writer(key)
        w.write(data)
        w.commit()

    def get(self, key: str) -> bytes:
        with self.reader(key) as body:
            return body.read()

    def exists(self, key: str) -> bool:
        try:
            self.client().head_object(Bucket=self.settings.bucket, Key=self.full_key(key))
        except BackupError:
            raise
        except Exception as exc:  # noqa: BLE001
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self.error(exc, f"looking up {key}") from None
        return True

    def size(self, key: str) -> int | None:
        try:
            head = self.client().head_object(Bucket=self.settings.bucket, Key=self.full_key(key))
        except BackupError:
            raise
        except Exception as exc:  # noqa: BLE001
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self.error(exc, f"looking up {key}") from None
        return int(head["ContentLength"])

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        full = self.full_key(prefix) if prefix else self.root()
        try:
            pages = self.client().get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.settings.bucket, Prefix=full):
                yield from page.get("Contents", [])
        except BackupError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self.error(exc, f"listing {prefix or '/'}") from None

    def keys(self, prefix: str) -> list[str]:
        cut = len(self.root())
        return sorted(str(obj["Key"])[cut:] for obj in self._list(prefix))

    def delete(self, key: str) -> None:
        try:
            self.client().delete_object(Bucket=self.settings.bucket, Key=self.full_key(key))
        except Exception as exc:  # noqa: BLE001
            raise self.error(exc, f"deleting {key}") from None

    def delete_many(self, keys: Sequence[str]) -> None:
        """DeleteObjects, 1,000 keys a request, in order; a store without it (some
        S3-compatible ones answer NotImplemented) gets one DeleteObject per key."""
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            objects = [{"Key": self.full_key(key)} for key in batch]
            try:
                answer = self.client().delete_objects(
                    Bucket=self.settings.bucket, Delete={"Objects": objects, "Quiet": True}
                )
            except Exception as exc:  # noqa: BLE001
                if error_code(exc) in ("NotImplemented", "MethodNotAllowed"):
                    for key in keys[start:]:
                        self.delete(key)
                    return
                raise self.error(exc, f"deleting {len(batch)} objects from {batch[0]}") from None
            failed = answer.get("Errors") or []
            if failed:
                first = failed[0]
                key = str(first.get("Key", ""))[len(self.root()) :]
                raise BackupError(
                    f"destination {self.describe()}: cannot delete {key}: "
                    f"{first.get('Code', '?')} {first.get('Message', '')}".rstrip()
                    + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
                )

    def abort_unfinished(self, keep: Callable[[str], bool]) -> list[str]:
        """Abort the multipart uploads under this destination whose key ``keep`` does not claim
        (what a killed run leaves behind; ``keep`` spares the uploads of live runs); returns
        the keys aborted."""
        cut = len(self.root())
        aborted: list[str] = []
        try:
            client = self.client()
            pages = client.get_paginator("list_multipart_uploads")
            for page in pages.paginate(Bucket=self.settings.bucket, Prefix=self.root()):
                for upload in page.get("Uploads", []):
                    key = str(upload["Key"])[cut:]
                    if keep(key):
                        continue
                    client.abort_multipart_upload(
                        Bucket=self.settings.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted.append(key)
        except BackupError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self.error(exc, "listing unfinished uploads") from None
        return sorted(aborted)


def _start_clock(context: dict[str, Any], **_: Any) -> None:
    """The start of a request (before its first attempt), for ``object_deadline``."""
    context["buttress_started"] = time.monotonic()


def _timed_out(exc: BaseException) -> bool:
    """A request that timed out: the endpoint may hang on the next one too."""
    return isinstance(exc, S3DeadlineError) or s3.timed_out(exc)
