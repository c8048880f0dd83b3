"""Admission control: per-key token buckets and a bounded work queue with a deadline.

Models run in a fixed pool of worker threads. A request either gets a slot (running or
waiting) at once or is turned away at once with 503, so an overloaded server answers fast
instead of piling up work it can never finish. A slot is held until the work really ends,
even after its request has timed out (504): a thread cannot be killed, and counting it as
free would let load grow without bound.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Overloaded(Exception):
    """No free slot: answer 503 with ``retry_after`` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"server busy; retry after {retry_after} s")
        self.retry_after = retry_after


class TimedOut(Exception):
    """The work did not finish within the request timeout: answer 504."""


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; pure apart from the clock passed in."""

    def __init__(self, rate: float, burst: int, now: float):
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float) -> float:
        """0.0 when a token was taken, else the seconds until one will be available."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """One token bucket per key id."""

    def __init__(self, per_minute: float, burst: int,
                 clock: Callable[[], float] = time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def check(self, key_id: str) -> int:
        """0 when allowed, else the whole seconds to wait (for Retry-After)."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = self._buckets[key_id] = TokenBucket(self.rate, self.burst, now)
            wait = bucket.take(now)
        return 0 if wait == 0.0 else max(1, math.ceil(wait))


class WorkQueue:
    """``workers`` threads and room for ``queue_size`` more requests waiting for one."""

    def __init__(self, workers: int, queue_size: int, thread_name: str = "clinrag-work"):
        self.workers = workers
        self.capacity = workers + queue_size
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix=thread_name)
        self._lock = threading.Lock()
        self._held = 0
        self._mean_s = 1.0  # running mean of service time, for Retry-After

    @property
    def held(self) -> int:
        return self._held

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the queue ahead drained by all workers."""
        return max(1, math.ceil(self._mean_s * self.capacity / self.workers))

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        with self._lock:
            if self._held >= self.capacity:
                raise Overloaded(self.retry_after())
            self._held += 1
        try:
            future = self._executor.submit(self._timed, fn, *args)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _: self._release())
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            future.cancel()  # drops it if it never started; a running one finishes unseen
            raise TimedOut(f"no result within {timeout:g} s") from None

    def _timed(self, fn: Callable[..., T], *args: Any) -> T:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self._mean_s = 0.8 * self._mean_s + 0.2 * (time.perf_counter() - start)

    def _release(self) -> None:
        with self._lock:
            self._held -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
