"""`locust.contrib.fasthttp` for locustfiles run by loadhopper."""

from loadhopper.http import HttpSession, Response, ResponseContextManager
from loadhopper.user import FastHttpUser

# Locust's names for the session and response classes of FastHttpUser.
FastHttpSession = HttpSession
FastResponse = Response
RestResponseContextManager = ResponseContextManager

__all__ = [
    "FastHttpSession",
    "FastHttpUser",
    "FastResponse",
    "ResponseContextManager",
    "RestResponseContextManager",
]
