"""What one video costs, from the model's price rows (first matching row wins)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .rules import holds
from .schema import ModelSpec, PriceRow

CENT = Decimal("0.01")


def price_row(spec: ModelSpec, values: dict[str, Any]) -> PriceRow | None:
    if spec.price is None:
        return None
    for row in spec.price.rows:
        if all(holds(c, values) for c in row.when):
            return row
    return None


def estimate(spec: ModelSpec, values: dict[str, Any]) -> Decimal:
    """The list price of one video with these (resolved) values, rounded to the cent.

    No price, or no row matching, is zero: the ledger records what is known, and the admin sees
    a model without a price as "free" rather than a made-up number.
    """
    row = price_row(spec, values)
    if row is None or spec.price is None:  # a row comes from a price
        return Decimal("0.00")
    amount = row.amount
    if spec.price.per == "second":
        seconds = values.get(spec.price.seconds_param)
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            return Decimal("0.00")
        amount = amount * seconds
    return amount.quantize(CENT)
