"""The shop's money and stock, changed only in transactions. See README.md."""
from __future__ import annotations

import shopdb


class ShopError(Exception):
    """Something the shop refuses; nothing was changed."""


class OutOfStock(ShopError):
    """A product has fewer units in stock than the order asks for."""


class InsufficientFunds(ShopError):
    """The customer's balance is smaller than the amount."""


class NotCancellable(ShopError):
    """No such order, or it was cancelled already."""


def place_order(customer_id, lines):
    """Place an order of [[product_id, quantity], ...] for a customer; return its order_id. All or nothing:
    raise OutOfStock or InsufficientFunds, and change nothing, when the shop cannot fill it."""
    raise NotImplementedError("place_order")


def transfer(from_customer, to_customer, amount):
    """Move `amount` cents from one customer's balance to another's; InsufficientFunds when it would go below 0."""
    raise NotImplementedError("transfer")


def cancel_order(order_id):
    """Cancel a placed order: stock back, total refunded, status 'cancelled'; NotCancellable otherwise."""
    raise NotImplementedError("cancel_order")


def report():
    """{"total_balance": cents, "stock_value": cents}, both read from one snapshot of the database."""
    raise NotImplementedError("report")
