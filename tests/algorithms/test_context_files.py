"""Names a workflow gives work models and result files never leave their folder."""

from __future__ import annotations

import pytest

from cohort.errors import CohortError, ErrorCode
from cohort.workflows.base import check_file_name


@pytest.mark.parametrize("name", ["cross_site_eval.json", "cyclic-0", "cross-site-site-12"])
def test_plain_names_pass(name: str) -> None:
    assert check_file_name(name) == name


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "a..b", "/abs", "x" * 200])
def test_other_names_are_unsafe(name: str) -> None:
    with pytest.raises(CohortError) as err:
        check_file_name(name)
    assert err.value.code == ErrorCode.UNSAFE_PATH
