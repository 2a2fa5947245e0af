"""What failed under an error of requests or urllib3: each wraps the one below it (a
requests ConnectionError holds a MaxRetryError or a ProtocolError, which holds the
socket's own error), and what a crawler must tell apart (a name that does not resolve, a
connection the server closed) is at the bottom."""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound=BaseException)


def error_in(exc: BaseException, kind: type[E] | tuple[type[E], ...]) -> E | None:
    """The first error of `kind` in the chain under `exc` (`exc` included), if any."""
    seen: set[int] = set()
    found: BaseException | None = exc
    while found is not None and id(found) not in seen:
        if isinstance(found, kind):
            return found
        seen.add(id(found))
        found = next((cause for cause in _causes(found) if cause is not None), None)
    return None


def _causes(exc: BaseException) -> list[BaseException | None]:
    """Where requests and urllib3 keep the error under theirs, most telling first: the
    cause, a MaxRetryError's or NameResolutionError's `reason`, an error the exception was
    made of (a requests exception's first argument, a ProtocolError's second), and last
    the error being handled when it was raised."""
    reason = getattr(exc, "reason", None)
    return [
        exc.__cause__,
        reason if isinstance(reason, BaseException) else None,
        *(arg for arg in exc.args if isinstance(arg, BaseException)),
        exc.__context__,
    ]
