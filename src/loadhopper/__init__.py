"""loadhopper: load testing that runs Locust's locustfiles unchanged, fast, with exact stats."""
