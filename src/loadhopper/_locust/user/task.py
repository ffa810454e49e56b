"""`locust.user.task` for locustfiles run by loadhopper."""

from loadhopper.user import TaskSet, tag, task

__all__ = ["TaskSet", "tag", "task"]
