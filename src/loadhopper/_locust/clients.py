"""`locust.clients` for locustfiles run by loadhopper."""

from loadhopper.http import HttpSession, Response, ResponseContextManager

# Locust's name for the context manager that `rest()` returns; here it is the same one.
RestResponseContextManager = ResponseContextManager

__all__ = ["HttpSession", "Response", "ResponseContextManager", "RestResponseContextManager"]
