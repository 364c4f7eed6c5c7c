"""A pytest plugin for ``bench/ci_profile.sh``: each test's CPU time, into the JUnit XML.

CPU time (user + system) of the worker and of the child processes it waited for during the test
(kernels, command-line runs, servers), recorded as the ``cpu`` property of the test. On 2 cores
the suite is bound by CPU, not by waiting, so this is the figure to cut.
"""

from __future__ import annotations

import resource
from collections.abc import Iterator

import pytest


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


_STARTED = pytest.StashKey[float]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_STARTED] = _cpu()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    # The teardown report carries the properties into the XML: add the figure before it is made.
    if call.when == "teardown" and _STARTED in item.stash:
        item.user_properties.append(("cpu", f"{_cpu() - item.stash[_STARTED]:.3f}"))
    yield
