"""`locust.user` for locustfiles run by loadhopper."""

from loadhopper.user import HttpUser, SequentialTaskSet, TaskSet, User, tag, task

__all__ = ["HttpUser", "SequentialTaskSet", "TaskSet", "User", "tag", "task"]
