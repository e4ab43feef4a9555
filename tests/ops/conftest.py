from __future__ import annotations

import pytest

from soraweb.ops.models import BudgetPolicy


@pytest.fixture
def budget(db):
    """The team budget row, limits cleared; tests set the ones they need."""
    policy = BudgetPolicy.load()
    policy.team_daily_limit = policy.team_monthly_limit = None
    policy.user_daily_limit = policy.user_monthly_limit = None
    policy.save()
    return policy
