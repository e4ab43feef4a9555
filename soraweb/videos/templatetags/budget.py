"""What is left of a person's and the team's budget, for the create forms (shown by the button)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django import template
from django.utils.translation import gettext as _

from soraweb.ops import selectors as ops_selectors

register = template.Library()


@dataclass(frozen=True)
class Left:
    amount: Decimal
    period: str  # "today" or "this month", already translated
    daily: bool = True


@dataclass(frozen=True)
class BudgetLeft:
    own: Left | None
    team: Left | None
    resets: ops_selectors.Resets | None = None

    @property
    def resets_daily(self) -> bool:
        return any(left.daily for left in (self.own, self.team) if left is not None)

    @property
    def resets_monthly(self) -> bool:
        return any(not left.daily for left in (self.own, self.team) if left is not None)

    @property
    def lowest(self) -> Decimal | None:
        amounts = [left.amount for left in (self.own, self.team) if left is not None]
        return min(amounts) if amounts else None


def _tightest(pairs: list[tuple[Decimal | None, Decimal, str]]) -> Left | None:
    lefts = [
        Left(max(limit - used, Decimal("0")), period, daily=i == 0)
        for i, (limit, used, period) in enumerate(pairs)
        if limit is not None
    ]
    return min(lefts, key=lambda left: left.amount) if lefts else None


def budget_left_for(user) -> BudgetLeft | None:
    """The smallest of each side's daily and monthly room; None when nothing is capped."""
    if user is None or not user.is_authenticated:
        return None
    limits = ops_selectors.budget_limits(user=user)
    if all(limit is None for limit in vars(limits).values()):
        return None
    spent = ops_selectors.spend_totals(user=user)
    today, month = _("today"), _("this month")
    return BudgetLeft(
        own=_tightest(
            [
                (limits.user_daily, spent.user_day, today),
                (limits.user_monthly, spent.user_month, month),
            ]
        ),
        team=_tightest(
            [
                (limits.team_daily, spent.team_day, today),
                (limits.team_monthly, spent.team_month, month),
            ]
        ),
        resets=ops_selectors.budget_resets(),
    )


@register.simple_tag(takes_context=True)
def budget_left(context) -> BudgetLeft | None:
    request = context.get("request")
    return budget_left_for(getattr(request, "user", None))
