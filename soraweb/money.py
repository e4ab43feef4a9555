"""The one way soraweb writes an amount of money: "$1.50", in the active language's wording.

Budgets, prices, the ledger, cards, the admin and the dashboard all call ``money``; the template
filters ``money`` (studio) and ``usd`` (ops) are this function for templates.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _


def money(amount: Decimal | float | int | None) -> str:
    """``amount`` in dollars with two decimals; nothing (None) reads as $0.00."""
    return _("$%(amount)s") % {"amount": f"{Decimal(str(amount or 0)):.2f}"}
