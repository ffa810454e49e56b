"""Running one user to its end on a real event loop, with a real Environment."""

from __future__ import annotations

import asyncio

from loadhopper._bridge import run_in_greenlet
from loadhopper.runtime import Environment
from loadhopper.user import User


def run_user(user: User) -> None:
    """Run `user` until it ends (tests make it end with StopUser)."""
    asyncio.run(asyncio.wait_for(run_in_greenlet(user.run), timeout=10))


def make_env(*users: type[User], **kwargs: object) -> Environment:
    return Environment(user_classes=list(users), **kwargs)  # type: ignore[arg-type]
