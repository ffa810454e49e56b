import resource

from loadhopper.runtime import FileLimit, files_needed, raise_open_file_limit


def test_files_needed_adds_headroom() -> None:
    assert files_needed(1000) == 1100


def test_raising_the_limit_for_a_few_users_is_enough() -> None:
    limit = raise_open_file_limit(10)
    assert limit.enough
    assert limit.problem(10) is None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == resource.RLIM_INFINITY or soft >= 110


def test_the_soft_limit_is_raised_toward_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == resource.RLIM_INFINITY or hard <= 200:
        return  # nothing to observe on this machine
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, hard))
    try:
        limit = raise_open_file_limit(min(hard - 100, 500))
        assert limit.soft == min(hard, 600)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == limit.soft
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_limit_above_the_hard_limit_is_reported_in_one_sentence() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        limit = FileLimit(needed=5100, soft=1024, hard=1024)
    else:
        limit = raise_open_file_limit(hard + 1000)
    assert not limit.enough
    message = limit.problem(limit.needed - 100)
    assert message == (
        f"{limit.needed - 100} users need about {limit.needed} open files but the limit is "
        f"{limit.soft}; raise it with `ulimit -n {limit.needed}`"
    )
