"""Running one user to its end on a real event loop, with a real Environment."""

from __future__ import annotations

import asyncio

from loadhopper.runtime import Environment
from loadhopper.user import User


def run_user(user: User) -> None:
    """Run `user` until it ends (tests make it end with StopUser), as the runner does."""
    asyncio.run(asyncio.wait_for(user._life(), timeout=10))


def make_env(*users: type[User], **kwargs: object) -> Environment:
    return Environment(user_classes=list(users), **kwargs)  # type: ignore[arg-type]
