from __future__ import annotations

from django import template

from soraweb.money import money as _money
from soraweb.ops import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notices(context) -> int:
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return selectors.notices_unread_count(user=user)


@register.simple_tag
def budget_resets() -> selectors.Resets:
    return selectors.budget_resets()


@register.filter
def usd(value) -> str:
    return _money(value)
