"""`locust.user.users` for locustfiles run by loadhopper."""

from loadhopper.user import HttpUser, User

__all__ = ["HttpUser", "User"]
