"""Distributed tests: the master against in-process workers (no processes, real clock)."""
