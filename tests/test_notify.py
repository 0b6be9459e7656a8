"""The notifier's stop: open long polls answer at once, background waits keep waiting."""

from __future__ import annotations

import asyncio

from cohort.server.notify import JOBS_KEY, Notifier, job_key, site_tasks_key


def test_stopping_wakes_open_long_polls_and_later_ones_do_not_wait() -> None:
    async def scenario() -> list[int]:
        notifier = Notifier()
        polls = [
            asyncio.create_task(notifier.wait(job_key("j"), 0, 60.0, long_poll=True)),
            asyncio.create_task(notifier.wait(site_tasks_key("j", "s"), 0, 60.0, long_poll=True)),
        ]
        await asyncio.sleep(0.05)
        assert not any(p.done() for p in polls)  # they really wait while nothing changes
        notifier.stop_long_polls()
        # Each asked for 60 s; a poll still waiting after 5 s fails here with TimeoutError.
        versions = list(await asyncio.wait_for(asyncio.gather(*polls), 5.0))
        versions.append(
            await asyncio.wait_for(notifier.wait(job_key("k"), 0, 60.0, long_poll=True), 5.0)
        )
        return versions

    # Nothing changed: the callers answer "no change" (no task, the same record), no error.
    assert asyncio.run(scenario()) == [0, 0, 0]


def test_stopping_does_not_cut_short_a_wait_that_is_no_long_poll() -> None:
    async def scenario() -> tuple[bool, bool, int]:
        notifier = Notifier()
        scheduler = asyncio.create_task(notifier.wait(JOBS_KEY, 0, 60.0))
        plain = asyncio.create_task(notifier.wait(job_key("j"), 0, 0.3))
        await asyncio.sleep(0.05)
        notifier.stop_long_polls()
        await asyncio.sleep(0.05)
        scheduler_woken = scheduler.done()  # the scheduler's key is left alone
        # Woken once (it re-checks and waits again), but a new plain wait waits its timeout.
        await plain
        again = asyncio.create_task(notifier.wait(job_key("j"), 0, 60.0))
        await asyncio.sleep(0.1)
        still_waiting = not again.done()
        notifier.notify(JOBS_KEY, job_key("j"))
        version = await asyncio.wait_for(scheduler, 5.0)
        await asyncio.wait_for(again, 5.0)
        return scheduler_woken, still_waiting, version

    scheduler_woken, still_waiting, version = asyncio.run(scenario())
    assert not scheduler_woken
    assert still_waiting
    assert version == 1
