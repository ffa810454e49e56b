import loadhopper


def test_the_public_api_is_exactly_this() -> None:
    assert sorted(loadhopper.__all__) == sorted(
        [
            "CatchResponseError",
            "Environment",
            "MarkovTaskSet",
            "gevent",
            "poisson",
            "run_blocking",
            "stats_history",
            "stats_printer",
            "transition",
            "transitions",
            "FastHttpUser",
            "HttpUser",
            "InterruptTaskSet",
            "LoadTestShape",
            "ArrivalShape",
            "LocustError",
            "MissingWaitTimeError",
            "RescheduleTask",
            "RescheduleTaskImmediately",
            "ResponseError",
            "SequentialTaskSet",
            "StopTest",
            "StopUser",
            "TaskSet",
            "User",
            "__version__",
            "between",
            "constant",
            "constant_pacing",
            "constant_throughput",
            "events",
            "run_single_user",
            "tag",
            "task",
        ]
    )


def test_every_public_name_exists() -> None:
    for name in loadhopper.__all__:
        assert getattr(loadhopper, name) is not None, name
    assert isinstance(loadhopper.__version__, str) and loadhopper.__version__
