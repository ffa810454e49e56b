"""Fixtures for the HTTP client tests; they live in `_loopback.py` with the test server.

(No `__init__.py` here on purpose: a test package named `http` would shadow the standard
library's `http` module.)
"""

from _loopback import _servers, other_server, own_server, server, sink, tls_server

__all__ = ["_servers", "other_server", "own_server", "server", "sink", "tls_server"]
