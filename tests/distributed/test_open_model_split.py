"""Splitting an arrival schedule over workers: exact parts, and the message that carries one."""

from loadhopper.distributed._messages import SetArrivals, decode, encode
from loadhopper.runtime._arrival import ArrivalPlan, arrival_offsets


def test_the_parts_of_a_staged_schedule_are_the_whole_schedule() -> None:
    whole = ArrivalPlan(50.0, ((2.0, 200.0), (1.0, 200.0), (2.0, 0.0)), max_users=7)
    parts = [whole.split(i, 4) for i in range(4)]
    assert sum(p.max_users for p in parts) == 7
    offsets = [list(arrival_offsets(p)) for p in parts]
    assert sorted(kt for part in offsets for kt in part) == list(arrival_offsets(whole))
    # Each part keeps its residue, so the counts differ by one at most.
    counts = [len(part) for part in offsets]
    assert max(counts) - min(counts) <= 1
    assert all(k % 4 == i for i, part in enumerate(offsets) for k, _ in part)


def test_a_worker_plan_survives_the_wire() -> None:
    message = SetArrivals(
        plan=ArrivalPlan(200.0, max_users=50).split(1, 2),
        targets=(("Visitor", 5),),
        spawn_rate=5.0,
        host="http://127.0.0.1:1",
        user_count_total=10,
    )
    back = decode(encode(message))
    assert back == message
    assert isinstance(back, SetArrivals)
    assert (back.plan.part, back.plan.parts, back.plan.max_users) == (1, 2, 25)
