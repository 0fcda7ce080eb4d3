"""Bulkheads sharing permits through Redis: a limit across processes, leases that bring a
killed holder's permits back, waiting with a timeout, and the failure modes."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from typing import Any

import pytest

from buttress.resilience import Bulkhead, BulkheadFullError
from buttress.resilience._shared_bulkhead import SharedBulkhead
from buttress.state import RedisStore
from tests.conftest import OwnRedis
from tests.state.conftest import drop_prefix


def test_the_limit_holds_across_stores_and_a_release_lets_the_next_in(store: RedisStore) -> None:
    other = RedisStore(store.url, prefix=store.prefix)
    a = Bulkhead.shared(name="pool", max_concurrent=2, store=store)
    b = Bulkhead.shared(name="pool", max_concurrent=2, store=other)
    with a.slot(), b.slot():
        assert a.shared_active() == 2
        with pytest.raises(BulkheadFullError, match="wait queue is full"):
            b.call(lambda: None)
    assert a.shared_active() == 0
    assert b.call(lambda: "ran") == "ran"
    other.close()


def test_a_queued_caller_gets_the_permit_released_by_another_process(store: RedisStore) -> None:
    other = RedisStore(store.url, prefix=store.prefix)
    holder = Bulkhead.shared(name="q", max_concurrent=1, store=store)
    waiter = Bulkhead.shared(name="q", max_concurrent=1, max_queue=5, max_wait=5.0, store=other)
    release = threading.Event()

    def hold() -> None:
        with holder.slot():
            release.set()
            time.sleep(0.3)

    thread = threading.Thread(target=hold)
    thread.start()
    release.wait(5)
    started = time.monotonic()
    assert waiter.call(lambda: "after") == "after"
    assert time.monotonic() - started >= 0.2  # it waited for the release
    thread.join()
    with (
        holder.slot(),
        pytest.raises(BulkheadFullError, match=r"waited 0\.2s"),
        waiter.slot(0, 0.2),
    ):
        pass
    other.close()


@pytest.mark.anyio
async def test_async_callers_share_the_permits(store_url: str, prefix: str) -> None:
    import asyncio

    # a generous command timeout: the permits are what is tested, and on a loaded machine the
    # default 0.25 s lets the store fall back to local permits (seen in CI: a peak of 3)
    store = RedisStore(store_url, prefix=prefix, retry_interval=0.2, command_timeout=5.0)
    bulkhead = Bulkhead.shared(
        name="async", max_concurrent=2, max_queue=10, max_wait=5, store=store
    )
    running = 0
    peak = 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1

    try:
        await asyncio.gather(*(bulkhead.acall(work) for _ in range(6)))
        assert peak == 2
        async with bulkhead.aslot():
            assert bulkhead.active == 1
    finally:
        await store.aclose()
        store.close()
        drop_prefix(store_url, prefix)


def _hold_forever(url: str, prefix: str, ready: Any) -> None:
    st = RedisStore(url, prefix=prefix)
    bulkhead = Bulkhead.shared(name="crash", max_concurrent=2, lease=1.0, store=st)
    with bulkhead.slot(), bulkhead.slot():
        ready.set()
        time.sleep(60)


def test_permits_of_a_holder_killed_with_sigkill_come_back_after_the_lease(
    store: RedisStore,
) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_forever, args=(store.url, store.prefix, ready))
    proc.start()
    assert ready.wait(30)
    bulkhead = Bulkhead.shared(name="crash", max_concurrent=2, lease=1.0, store=store)
    time.sleep(1.5)  # past one lease: the live holder renews, so both permits are still held
    with pytest.raises(BulkheadFullError):
        bulkhead.call(lambda: None)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    proc.join(10)
    while True:
        try:
            bulkhead.call(lambda: None)
            break
        except BulkheadFullError:
            assert time.monotonic() - killed < 5, "the permits never came back"
            time.sleep(0.05)
    back = time.monotonic() - killed
    print(f"\npermits back {back:.2f}s after SIGKILL (lease 1.0s)")
    assert back <= 1.0 + 0.5  # at most one lease (plus polling)


def test_live_holders_keep_their_permits_past_the_lease(store: RedisStore) -> None:
    bulkhead = Bulkhead.shared(name="long", max_concurrent=1, lease=0.3, store=store)
    with bulkhead.slot():
        time.sleep(1.0)  # three leases: the agent renews it
        assert bulkhead.shared_active() == 1


@pytest.mark.parametrize("mode", ["local", "allow", "deny"])
def test_failure_modes(own_redis: OwnRedis, mode: str) -> None:
    store = RedisStore(
        own_redis.url, prefix="bhf", command_timeout=0.2, connect_timeout=0.2, retry_interval=0.2
    )
    bulkhead = Bulkhead.shared(name="m", max_concurrent=1, store=store, on_store_failure=mode)  # type: ignore[arg-type]
    assert bulkhead.call(lambda: 1) == 1
    own_redis.stop()
    if mode == "deny":
        with pytest.raises(BulkheadFullError, match="unavailable"):
            bulkhead.call(lambda: None)
    else:
        assert bulkhead.call(lambda: 2) == 2
        with bulkhead.slot():
            if mode == "local":  # one slot, counted in this process
                with pytest.raises(BulkheadFullError):
                    bulkhead.call(lambda: None)
            else:
                assert bulkhead.call(lambda: 3) == 3
    assert bulkhead.store_mode == mode
    own_redis.start()
    deadline = time.monotonic() + 10
    while bulkhead.store_mode != "shared":
        assert time.monotonic() < deadline
        with contextlib.suppress(BulkheadFullError):
            bulkhead.call(lambda: None)
        time.sleep(0.05)
    assert bulkhead.shared_active() == 0
    store.close()


def test_permits_changing_hands_during_a_renewal_are_not_reported_as_expired(
    store: RedisStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A slot released and another taken while a renewal is on its way is no lost lease; a
    lease really gone from Redis is reported, once."""
    bulkhead = Bulkhead.shared(name="churn", max_concurrent=3, store=store)
    assert isinstance(bulkhead, SharedBulkhead)
    first, second = bulkhead.slot(), bulkhead.slot()
    first.__enter__()
    second.__enter__()
    bulkhead._renewed = 0.0  # the renewal is due now
    ops = bulkhead.sync_ops()
    assert ops
    first.__exit__(None, None, None)  # released, and a new slot taken, before the reply
    third = bulkhead.slot()
    third.__enter__()
    with caplog.at_level("WARNING", logger="buttress"):
        bulkhead.synced([store.eval(*op) for op in ops])
        assert not [r for r in caplog.records if "expired" in r.getMessage()]
        # now one held lease really vanishes from Redis (as if it had run out)
        held = sorted(bulkhead._held)
        store.client.zrem(bulkhead._key[0], held[0])
        bulkhead._renewed = 0.0
        ops = bulkhead.sync_ops()
        bulkhead.synced([store.eval(*op) for op in ops])
        warned = [r.getMessage() for r in caplog.records if "expired" in r.getMessage()]
        assert len(warned) == 1
        assert "1 lease(s) expired" in warned[0]
        bulkhead._renewed = 0.0
        ops = bulkhead.sync_ops()
        bulkhead.synced([store.eval(*op) for op in ops])
        assert len([r for r in caplog.records if "expired" in r.getMessage()]) == 1
    second.__exit__(None, None, None)
    third.__exit__(None, None, None)
    assert bulkhead.shared_active() == 0
