"""`locust.contrib` for locustfiles run by loadhopper: only `fasthttp` is provided."""

__all__: list[str] = []
