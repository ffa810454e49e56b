"""Open-file limits: each user holds a socket, so many users need a high RLIMIT_NOFILE."""

from __future__ import annotations

from dataclasses import dataclass

try:
    import resource
except ImportError:  # Windows has no RLIMIT_NOFILE; there is nothing to raise there.
    resource = None  # type: ignore[assignment]

__all__ = ["FileLimit", "files_needed", "raise_open_file_limit"]

# Beyond one socket per user: log files, CSV outputs, the web UI, the event loop's own
# descriptors and the interpreter's. 100 is generous for all of them.
_HEADROOM = 100


def files_needed(user_count: int) -> int:
    """About how many open files `user_count` users need (one socket each plus headroom)."""
    return user_count + _HEADROOM


@dataclass(frozen=True, slots=True)
class FileLimit:
    """The outcome of `raise_open_file_limit`.

    Attributes:
        needed: open files the users need.
        soft: the soft limit now in force (after raising it, if that was possible).
        hard: the hard limit (the most an unprivileged process may raise the soft one to).
    """

    needed: int
    soft: int
    hard: int

    @property
    def enough(self) -> bool:
        """Whether the soft limit now covers what the users need."""
        return self.soft >= self.needed

    def problem(self, user_count: int) -> str | None:
        """A one-sentence message when the limit is too low, else None."""
        if self.enough:
            return None
        return (
            f"{user_count} users need about {self.needed} open files but the limit is "
            f"{self.soft}; raise it with `ulimit -n {self.needed}`"
        )


def raise_open_file_limit(user_count: int) -> FileLimit:
    """Raise the soft RLIMIT_NOFILE toward the hard limit, as far as `user_count` needs.

    Returns:
        The limits now in force; check `.enough` (or `.problem(user_count)`).
    """
    needed = files_needed(user_count)
    if resource is None:
        return FileLimit(needed=needed, soft=needed, hard=needed)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = hard == resource.RLIM_INFINITY
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if unlimited else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # keep the old limit; the caller reports it
    infinite = max(needed, 1 << 30)
    return FileLimit(
        needed=needed,
        soft=infinite if soft == resource.RLIM_INFINITY else soft,
        hard=infinite if unlimited else hard,
    )
