"""The shop's money and stock, changed only in transactions (reference solution)."""
from __future__ import annotations

import contextlib

import shopdb


class ShopError(Exception):
    """Something the shop refuses; nothing was changed."""


class OutOfStock(ShopError):
    """A product has fewer units in stock than the order asks for."""


class InsufficientFunds(ShopError):
    """The customer's balance is smaller than the amount."""


class NotCancellable(ShopError):
    """No such order, or it was cancelled already."""


@contextlib.contextmanager
def transaction(immediate=True):
    """A connection in a transaction: committed when the block ends, rolled back when it raises.

    immediate=True takes SQLite's write lock at BEGIN, so a transaction that reads before it writes
    cannot lose an update or deadlock (on MariaDB, SELECT ... FOR UPDATE locks the rows it reads)."""
    conn = shopdb.connect()
    try:
        conn.begin(immediate=immediate)
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def place_order(customer_id, lines):
    """Place an order of [[product_id, quantity], ...] for a customer; its order_id. All or nothing."""
    wanted = {}
    for product_id, quantity in lines:
        wanted[int(product_id)] = wanted.get(int(product_id), 0) + int(quantity)
    with transaction() as conn:
        total = 0
        for product_id in sorted(wanted):  # rows locked in one order everywhere: no deadlock
            changed = conn.execute(
                "UPDATE products SET stock = stock - ? WHERE product_id = ? AND stock >= ?",
                (wanted[product_id], product_id, wanted[product_id]),
            ).rowcount
            if changed != 1:
                raise OutOfStock(f"product {product_id} has fewer than {wanted[product_id]} in stock")
            price = conn.execute("SELECT price FROM products WHERE product_id = ?", (product_id,)).fetchone()[0]
            total += price * wanted[product_id]
        try:
            conn.execute("UPDATE customers SET balance = balance - ? WHERE customer_id = ?", (total, customer_id))
        except shopdb.IntegrityError:
            raise InsufficientFunds(f"customer {customer_id} cannot pay {total}") from None
        order_id = conn.execute("INSERT INTO orders (customer_id, total) VALUES (?, ?)",
                                (customer_id, total)).lastrowid
        for product_id in sorted(wanted):
            conn.execute("INSERT INTO order_lines (order_id, product_id, quantity, price) "
                         "SELECT ?, product_id, ?, price FROM products WHERE product_id = ?",
                         (order_id, wanted[product_id], product_id))
    return order_id


def transfer(from_customer, to_customer, amount):
    """Move `amount` cents from one customer's balance to another's. All or nothing."""
    with transaction() as conn:
        for customer_id, change in sorted([(from_customer, -amount), (to_customer, amount)]):
            try:
                changed = conn.execute("UPDATE customers SET balance = balance + ? WHERE customer_id = ?",
                                       (change, customer_id)).rowcount
            except shopdb.IntegrityError:
                raise InsufficientFunds(f"customer {from_customer} cannot pay {amount}") from None
            if changed != 1:
                raise ValueError(f"no customer {customer_id}")


def cancel_order(order_id):
    """Cancel a placed order: its stock back on the shelves and its total back to the customer."""
    with transaction() as conn:
        row = conn.execute("SELECT customer_id, total FROM orders WHERE order_id = ? AND status = 'placed'"
                           + conn.for_update, (order_id,)).fetchone()
        if row is None:
            raise NotCancellable(f"order {order_id} does not exist or is cancelled already")
        customer_id, total = row
        conn.execute("UPDATE orders SET status = 'cancelled' WHERE order_id = ?", (order_id,))
        lines = conn.execute("SELECT product_id, quantity FROM order_lines WHERE order_id = ? ORDER BY product_id",
                             (order_id,)).fetchall()
        for product_id, quantity in lines:
            conn.execute("UPDATE products SET stock = stock + ? WHERE product_id = ?", (quantity, product_id))
        conn.execute("UPDATE customers SET balance = balance + ? WHERE customer_id = ?", (total, customer_id))


def report():
    """Total balance of all customers and total value of the stock, read in one snapshot."""
    with transaction(immediate=False) as conn:  # reads only: a snapshot, no write lock
        balance = conn.execute("SELECT COALESCE(SUM(balance), 0) FROM customers").fetchone()[0]
        stock_value = conn.execute("SELECT COALESCE(SUM(price * stock), 0) FROM products").fetchone()[0]
    return {"total_balance": int(balance), "stock_value": int(stock_value)}
