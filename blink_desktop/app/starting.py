"""A result that another thread is still making: the window waits for it only where it must.

The window comes up while the app behind it starts on another thread (see `launch`); each
stage of that start is a `Pending`, set or failed once, that bridge calls wait on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, ParamSpec, Protocol, TypeVar

T = TypeVar("T")
P = ParamSpec("P")
T_co = TypeVar("T_co", covariant=True)


class Awaited(Protocol[T_co]):
    """The reading side of a `Pending`."""

    def done(self) -> bool: ...

    def result(self, timeout: float | None = None) -> T_co: ...


class Pending(Generic[T]):
    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

    def set(self, value: T) -> None:
        self._value = value
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Whether it was set or failed within `timeout` seconds."""
        return self._done.wait(timeout)

    def result(self, timeout: float | None = None) -> T:
        """The value; the error it failed with; TimeoutError if still pending after `timeout`."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"still pending after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def error(self) -> BaseException | None:
        """The error it failed with; None while pending or once set."""
        return self._error if self._done.is_set() else None

    @classmethod
    def of(cls, value: T) -> Pending[T]:
        """One that is already set."""
        pending: Pending[T] = cls()
        pending.set(value)
        return pending

    @classmethod
    def run(cls, name: str, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Pending[T]:
        """`work(*args, **kwargs)` on a daemon thread of its own: set with what it returns, or
        failed with what it raises."""
        pending: Pending[T] = cls()

        def target() -> None:
            try:
                value = work(*args, **kwargs)
            except BaseException as exc:  # the waiter raises it
                pending.fail(exc)
                return
            pending.set(value)

        threading.Thread(target=target, name=name, daemon=True).start()
        return pending
