"""`locust.clients` for locustfiles run by loadhopper."""

from loadhopper.http import HttpSession, Response, ResponseContextManager

__all__ = ["HttpSession", "Response", "ResponseContextManager"]
