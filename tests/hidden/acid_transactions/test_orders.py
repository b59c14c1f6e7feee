"""Hidden tests of acid_transactions, each named by the ACID property it checks.

The learner's functions run in sandbox children and connect to the learner_db database themselves (the
exercise's shopdb.connect()); every check reads the result back through a fresh connection of the
grader's (committed data only). The learner_db service arms shopdb (control.json) per check: a fault
before the Nth statement, a crash before or right after commit, and for the concurrency checks a barrier
that releases every child at once and a pause after a child's first read until the others have read
too, wait for a lock or are done (at most a seeded few ms), which turns a read-then-write race into a
lost update every time and costs code that locks next to nothing.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from fixtures.shop import Shop, generate
from grader import SubmissionError
from grader.checks.concurrency import Outcome, outcome_of, together

FAULT_ROUNDS = 30  # a fault before statement 1, 2, ... until the function ran through without reaching it
RACE_ROUNDS = 3
BUYERS = 4  # children buying the last units at the same moment
LAST_UNITS = 2
REPORTS = 3


DOCUMENTED = ("OutOfStock", "InsufficientFunds", "NotCancellable")


@dataclass(frozen=True)
class State:
    """The shop as a fresh connection of the grader's sees it (committed data only)."""

    balances: dict[int, int]
    stock: dict[int, int]
    orders: list[tuple[int, int, int, str]] = field(default_factory=list)  # (order_id, customer_id, total, status)
    lines: list[tuple[int, int, int, int]] = field(default_factory=list)  # (order_id, product_id, quantity, price)

    def describe_change(self, before: State) -> str:
        """What differs from `before`, in the learner's terms."""
        parts = []
        for kind, now, then in (("stock", self.stock, before.stock), ("balance", self.balances, before.balances)):
            moved = [f"{key}: {then.get(key)} -> {value}" for key, value in sorted(now.items()) if then.get(key) != value]
            if moved:
                parts.append(f"{kind} changed ({', '.join(moved)})")
        if len(self.orders) != len(before.orders) or self.orders != before.orders:
            parts.append(f"orders went from {len(before.orders)} to {len(self.orders)} rows")
        if len(self.lines) != len(before.lines):
            parts.append(f"order_lines went from {len(before.lines)} to {len(self.lines)} rows")
        return "; ".join(parts) or "nothing changed"


def read_state(learner_db: Any) -> State:
    """The committed state of the learner's database, read through a fresh connection of the grader's."""
    with learner_db.read() as db:
        balances = {int(r[0]): int(r[1]) for r in db.query("SELECT customer_id, balance FROM customers").rows}
        stock = {int(r[0]): int(r[1]) for r in db.query("SELECT product_id, stock FROM products").rows}
        orders = [(int(a), int(b), int(c), str(d)) for a, b, c, d in
                  db.query("SELECT order_id, customer_id, total, status FROM orders ORDER BY order_id").rows]
        lines = [tuple(int(v) for v in r) for r in db.query(
            "SELECT order_id, product_id, quantity, price FROM order_lines ORDER BY order_id, product_id").rows]
    return State(balances, stock, orders, lines)  # type: ignore[arg-type]


def charged(shop: Shop, lines: list[list[int]]) -> int:
    """What an order of `lines` costs at the shop's prices."""
    return sum(shop.price(product) * quantity for product, quantity in lines)


def after_order(before: State, shop: Shop, customer: int, lines: list[list[int]]) -> tuple[dict[int, int], dict[int, int]]:
    """(balances, stock) once the order has gone through."""
    stock = dict(before.stock)
    for product, quantity in lines:
        stock[product] -= quantity
    balances = dict(before.balances)
    balances[customer] -= charged(shop, lines)
    return balances, stock


def is_whole_order(state: State, before: State, shop: Shop, customer: int, lines: list[list[int]]) -> bool:
    """Whether `state` is `before` with exactly the whole order added."""
    balances, stock = after_order(before, shop, customer, lines)
    return (state.balances == balances and state.stock == stock and len(state.orders) == len(before.orders) + 1
            and len(state.lines) == len(before.lines) + len(lines))


def unexpected(outcomes: list[Outcome]) -> Outcome | None:
    """An outcome that is neither a return nor one of the documented exceptions, told alike whichever calls
    lost the race (no one's choice): its call shown without arguments, the first by error and message."""
    odd = [replace(o, message=_without_arguments(o.message)) for o in outcomes
           if not o.returned and o.error_type not in DOCUMENTED]
    return min(odd, key=lambda o: (o.error_type, o.message), default=None)


def _without_arguments(message: str) -> str:
    """"place_order(3, [[3, 1]]) raised X..." as "place_order(...) raised X..."."""
    call, raised, rest = message.partition(" raised ")
    name, paren, _ = call.partition("(")
    return f"{name}(...) raised {rest}" if raised and paren and name.isidentifier() else message


@pytest.fixture
def shop(exercise: Any) -> Shop:
    return generate(int(exercise.config["seed"]))


def refused_without_trace(learner_db, call, expected: str, what: str) -> None:
    """`call` must raise `expected` and leave the database as it was."""
    before = read_state(learner_db)
    refused(call, expected)
    state = read_state(learner_db)
    assert state == before, f"the refused {what} left a trace: {state.describe_change(before)}"


def refused(call, expected: str) -> str:
    """The learner's exception class name from a call that must raise `expected`."""
    with pytest.raises(SubmissionError) as caught:
        call()
    error = caught.value
    assert error.error_type == expected, (
        f"expected {expected}, but the call raised {error.error_type or 'an error'}:\n{error}")
    return error.error_type


# -- what each function does ------------------------------------------------------------------------


@pytest.mark.points(2)
@pytest.mark.hint("Update products.stock and customers.balance, insert one orders row and one order_lines row per "
                  "product, then commit.")
def test_place_order_takes_stock_and_money_and_records_the_order(submission, learner_db, shop):
    """place_order takes the stock and the money and records the order and its lines"""
    learner_db.load(shop)
    before = read_state(learner_db)
    lines = [[1, 2], [3, 1]]
    order_id = submission.place_order(2, lines)
    state = read_state(learner_db)
    balances, stock = after_order(before, shop, 2, lines)
    assert state.stock == stock, f"after place_order(2, {lines}) the stock should be {stock}; it is {state.stock}"
    assert state.balances == balances, (
        f"customer 2 should have paid {charged(shop, lines)} cents: balances {balances} expected, {state.balances} found")
    assert [o[:3] for o in state.orders] == [(order_id, 2, charged(shop, lines))], (
        f"orders should hold one row ({order_id}, customer 2, total {charged(shop, lines)}): it holds {state.orders}")
    assert [line[1:3] for line in state.lines] == [(1, 2), (3, 1)], (
        f"order_lines should hold (product, quantity) (1, 2) and (3, 1) for order {order_id}: {state.lines}")


@pytest.mark.points(1)
def test_transfer_moves_money(submission, learner_db, shop):
    """transfer moves money from one customer to another"""
    learner_db.load(shop)
    submission.transfer(1, 2, 1_000)
    state = read_state(learner_db)
    assert (state.balances[1], state.balances[2]) == (shop.balance(1) - 1_000, shop.balance(2) + 1_000), (
        f"transfer(1, 2, 1000) should leave balances {shop.balance(1) - 1_000} and {shop.balance(2) + 1_000}; "
        f"they are {state.balances[1]} and {state.balances[2]}")


@pytest.mark.points(1)
def test_cancel_order_restocks_and_refunds(submission, learner_db, shop):
    """cancel_order puts the stock back, refunds the total and marks the order cancelled, once"""
    learner_db.load(shop)
    before = read_state(learner_db)
    order_id = submission.place_order(3, [[2, 1], [4, 2]])
    submission.cancel_order(order_id)
    state = read_state(learner_db)
    assert state.stock == before.stock and state.balances == before.balances, (
        f"after cancel_order the stock and balances should be as before the order: {state.describe_change(before)}")
    assert [o[3] for o in state.orders] == ["cancelled"], f"the order's status should be 'cancelled': {state.orders}"
    refused(lambda: submission.cancel_order(order_id), "NotCancellable")


@pytest.mark.points(1)
def test_report_gives_total_balance_and_stock_value(submission, learner_db, shop):
    """report returns the total balance and the total stock value"""
    learner_db.load(shop)
    got = submission.report()
    want = {"total_balance": shop.total_balance(), "stock_value": shop.stock_value()}
    assert got == want, f"report() returned {got}; expected {want}"


# -- atomicity ----------------------------------------------------------------------------------


@pytest.mark.points(2)
@pytest.mark.hint("Do every change of an order inside one transaction, and roll it back when a line cannot be "
                  "filled.")
def test_atomicity_an_order_whose_third_line_is_out_of_stock_changes_nothing(submission, learner_db, shop):
    """Atomicity: an order whose third line is out of stock is refused with OutOfStock and changes nothing"""
    learner_db.load(shop.with_stock(5, 1))
    refused_without_trace(learner_db, lambda: submission.place_order(1, [[1, 1], [2, 1], [5, 3]]), "OutOfStock",
                          "order")


def _interrupted(submission, learner_db, call, whole, what: str) -> None:
    """Make the connection fail before statement 1, 2, ...: each time all of it or nothing must be there."""
    state = read_state(learner_db)
    for statement in range(1, FAULT_ROUNDS + 1):
        before = state  # what the round before left, read after it: the same committed state
        learner_db.arm(processes={"*": {"fail_before": statement}})
        outcome = outcome_of(call)
        learner_db.disarm()
        state = read_state(learner_db)
        if outcome.returned:
            assert whole(state, before), (
                f"{what} returned although the connection failed before statement {statement}, and its change is "
                f"not all there: {state.describe_change(before)}. Let the error reach the caller (after rolling "
                "back), or retry the whole transaction.")
            return
        assert state == before, (
            f"the connection failed before statement {statement} of {what}, and the statements before it stayed: "
            f"{state.describe_change(before)}. Run them in one transaction and roll back on any error.")
    pytest.fail(f"{what} still failed after {FAULT_ROUNDS} statements")


@pytest.mark.points(3)
@pytest.mark.visibility("hidden")
@pytest.mark.hint("shopdb.connect() can fail at any statement. Begin a transaction before the first change, "
                  "commit after the last, roll back on any exception.")
def test_atomicity_a_failure_between_statements_of_an_order_leaves_no_partial_order(submission, learner_db, shop):
    """Atomicity: a failure between two statements of place_order leaves no partial order"""
    learner_db.load(shop)
    lines = [[2, 1], [4, 2], [6, 1]]
    _interrupted(submission, learner_db, lambda: submission.place_order(5, lines),
                 lambda state, before: is_whole_order(state, before, shop, 5, lines), "place_order")


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
@pytest.mark.hint("transfer and cancel_order change several rows too: one transaction each.")
def test_atomicity_a_failure_inside_transfer_or_cancel_order_changes_nothing(submission, learner_db, shop):
    """Atomicity: a failure inside transfer or cancel_order changes nothing"""
    learner_db.load(shop)
    _interrupted(submission, learner_db, lambda: submission.transfer(3, 4, 500),
                 lambda state, before: state.balances[3] == before.balances[3] - 500
                 and state.balances[4] == before.balances[4] + 500, "transfer")
    order_id = submission.place_order(6, [[1, 1], [3, 2]])
    _interrupted(submission, learner_db, lambda: submission.cancel_order(order_id),
                 lambda state, before: state.stock[1] == before.stock[1] + 1 and state.stock[3] == before.stock[3] + 2
                 and state.balances[6] == before.balances[6] + charged(shop, [[1, 1], [3, 2]]), "cancel_order")


# -- consistency --------------------------------------------------------------------------------


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
@pytest.mark.hint("A CHECK constraint refuses a balance below 0 with shopdb.IntegrityError: turn it into "
                  "InsufficientFunds (and roll back), never let the order go through.")
def test_consistency_an_order_the_customer_cannot_pay_is_refused(submission, learner_db, shop):
    """Consistency: an order the customer cannot pay is refused with InsufficientFunds and changes nothing"""
    learner_db.load(shop.with_balance(4, 300))
    refused_without_trace(learner_db, lambda: submission.place_order(4, [[1, 1], [2, 1]]), "InsufficientFunds",
                          "order")


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_consistency_orders_one_after_another_never_take_stock_below_zero(submission, learner_db, shop):
    """Consistency: orders one after another never take stock below 0"""
    learner_db.load(shop.with_stock(2, 3))
    for attempt in range(5):
        if attempt < 3:
            submission.place_order(1 + attempt, [[2, 1]])
        else:
            refused(lambda: submission.place_order(1 + attempt, [[2, 1]]), "OutOfStock")
    state = read_state(learner_db)
    assert state.stock[2] == 0 and len(state.orders) == 3, (
        f"3 units in stock and 5 orders of 1: 3 orders and 0 left expected; {len(state.orders)} orders and "
        f"{state.stock[2]} left")


@pytest.mark.points(1)
@pytest.mark.visibility("hidden")
def test_consistency_a_transfer_larger_than_the_balance_is_refused(submission, learner_db, shop):
    """Consistency: a transfer larger than the balance is refused with InsufficientFunds and changes nothing"""
    learner_db.load(shop)
    refused_without_trace(learner_db, lambda: submission.transfer(2, 1, shop.balance(2) + 1), "InsufficientFunds",
                          "transfer")


# -- isolation ------------------------------------------------------------------------------------


def schedule(seed: int, round_: int, pids: list[int], name: str, **more) -> dict:
    """Each child's settings for one round: the barrier, and a pause after its first read until the others
    have read, wait for a lock or are done (at most a seeded 15-30 ms)."""
    rng = random.Random(seed * 1000 + round_)
    return {str(pid): {"barrier": name, "parties": len(pids), "pauses": [rng.randint(15, 30)], **more}
            for pid in pids}


@pytest.mark.points(4)
@pytest.mark.visibility("hidden")
@pytest.mark.hint("Reading the stock, then writing stock - quantity, loses updates when two orders read the same "
                  "stock. Lock first: BEGIN IMMEDIATE on SQLite (begin(immediate=True)), SELECT ... FOR UPDATE on "
                  "MariaDB (conn.for_update), or a conditional UPDATE ... WHERE stock >= ?.")
def test_isolation_customers_buying_the_last_units_at_the_same_moment_never_oversell(submissions, learner_db, shop,
                                                                                     exercise):
    """Isolation: customers buying the last units at the same moment never oversell"""
    buyers = submissions(BUYERS)
    seed = int(exercise.config["seed"])
    for round_ in range(RACE_ROUNDS):
        learner_db.load(shop.with_stock(3, LAST_UNITS))
        learner_db.arm(processes=schedule(seed, round_, [b.pid for b in buyers], f"buy{round_}"))
        outcomes = together([lambda b=b, i=i: b.place_order(i + 1, [[3, 1]]) for i, b in enumerate(buyers)])
        learner_db.disarm()
        odd = unexpected(outcomes)
        assert odd is None, (
            f"{BUYERS} customers ordered the last {LAST_UNITS} units at the same moment and one call raised "
            f"{odd.error_type} instead of succeeding or raising OutOfStock:\n{odd.message}")
        sold = sum(o.returned for o in outcomes)
        with learner_db.read() as db:  # totals only: which customers win the race is no one's choice
            (left, recorded), = db.query("SELECT (SELECT stock FROM products WHERE product_id = 3), "
                                         "(SELECT COUNT(*) FROM orders)").rows
        assert sold == LAST_UNITS and left == 0 and recorded == LAST_UNITS, (
            f"{BUYERS} customers ordered 1 of the last {LAST_UNITS} units at the same moment: {sold} orders "
            f"succeeded, {recorded} were recorded and the stock is now {left}. Exactly "
            f"{LAST_UNITS} should succeed and the stock end at 0: two orders read the same stock and both wrote "
            "(a lost update).")


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
@pytest.mark.hint("cancel_order reads the order before it writes: on SQLite two such transactions begun with a plain "
                  "BEGIN both read, then neither may write (\"database is locked\"). Take the write lock first "
                  "(begin(immediate=True)), or lock the order's row (conn.for_update).")
def test_isolation_orders_and_cancellations_at_the_same_moment_all_go_through(submissions, learner_db, shop,
                                                                              exercise):
    """Isolation: orders and cancellations at the same moment all go through, and the totals stay exact"""
    cancelling = [[2, 1], [5, 1]]
    placing = [[1, 1], [6, 1]]
    workers = submissions(4)
    learner_db.load(shop)
    placed = [workers[0].place_order(1 + i, [line]) for i, line in enumerate(cancelling)]
    before = read_state(learner_db)
    learner_db.arm(processes=schedule(int(exercise.config["seed"]), 50, [w.pid for w in workers], "cancel"))
    outcomes = together([lambda: workers[0].cancel_order(placed[0]), lambda: workers[1].cancel_order(placed[1]),
                         lambda: workers[2].place_order(3, [placing[0]]), lambda: workers[3].place_order(4, [placing[1]])])
    learner_db.disarm()
    failed = next((o for o in outcomes if not o.returned), None)
    assert failed is None, (
        f"two orders were cancelled and two placed at the same moment, with stock and money for all; one call "
        f"raised {failed.error_type}:\n{failed.message}")
    stock = dict(before.stock)
    for product, quantity in cancelling:
        stock[product] += quantity
    for product, quantity in placing:
        stock[product] -= quantity
    # the stock only: which order gets which id is no one's choice
    now = {int(p): int(n) for p, n in learner_db.query("SELECT product_id, stock FROM products").rows}
    assert now == stock, f"the stock should end at {stock}; it is {now}"


@pytest.mark.points(3)
@pytest.mark.visibility("hidden")
@pytest.mark.hint("Read both totals in one transaction (or one statement): an order committed between two "
                  "separate reads shows its payment but not its goods.")
def test_isolation_the_report_balances_while_orders_and_transfers_run(submissions, learner_db, shop):
    """Isolation: the report read while orders and transfers run at the same moment always balances"""
    reporter, buyer, payer = submissions(3)
    learner_db.load(shop)
    difference = shop.stock_value() - shop.total_balance()
    for round_ in range(REPORTS):
        # the buyer starts when the report has read once, the payer once the buyer has committed or waits
        # for a lock (the same order every time); the report then waits until both have ended their
        # transactions or wait for its lock (at most 40 ms)
        name = f"report{round_}"
        learner_db.arm(processes={
            str(reporter.pid): {"barrier_after_read": name, "parties": 3, "pauses": [40], "until": "end"},
            str(buyer.pid): {"barrier": name, "parties": 3},
            str(payer.pid): {"barrier": name, "parties": 3, "after": str(buyer.pid)},
        })
        outcomes = together([reporter.report, lambda: buyer.place_order(1 + round_, [[1 + round_, 1], [4, 1]]),
                             lambda: payer.transfer(6, 5 - round_, 100)])
        learner_db.disarm()
        odd = unexpected(outcomes)
        assert odd is None, (
            f"while orders and transfers ran at the same moment a call raised {odd.error_type}:\n{odd.message}")
        got = outcomes[0].value
        assert isinstance(got, dict) and got.get("stock_value", 0) - got.get("total_balance", 0) == difference, (
            f"while an order ran, report() returned {got}: totals from two different moments. Every order takes "
            "the same amount from the balances and from the stock value, so stock_value - total_balance never "
            f"changes ({difference} here).")


# -- durability -----------------------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.visibility("hidden")
def test_durability_a_returned_order_is_seen_by_a_fresh_connection(submission, learner_db, shop):
    """Durability: once place_order has returned, a fresh connection sees the order"""
    learner_db.load(shop)
    before = read_state(learner_db)
    submission.place_order(6, [[5, 1]])
    state = read_state(learner_db)
    assert is_whole_order(state, before, shop, 6, [[5, 1]]), (
        f"place_order returned, but a new connection does not see the whole order ({state.describe_change(before)}): "
        "commit before returning.")


@pytest.mark.points(1)
@pytest.mark.visibility("hidden")
def test_durability_an_order_committed_right_before_a_crash_survives(submission, learner_db, shop):
    """Durability: a worker killed right after its commit loses nothing"""
    learner_db.load(shop)
    before = read_state(learner_db)
    learner_db.arm(processes={"*": {"kill_after_commit": True}})
    outcome_of(lambda: submission.place_order(2, [[6, 2]]))
    state = read_state(learner_db)
    assert is_whole_order(state, before, shop, 2, [[6, 2]]), (
        f"the process was killed right after place_order committed, and the order is not all there "
        f"({state.describe_change(before)}): commit once, after the last change.")


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_durability_a_worker_killed_before_it_commits_leaves_nothing(submission, learner_db, shop):
    """Durability: a worker killed before it commits, or between two statements, leaves no trace"""
    learner_db.load(shop)
    lines = [[1, 1], [2, 2]]
    rounds = [{"kill_before_commit": True}] + [{"kill_before": n} for n in range(1, FAULT_ROUNDS + 1)]
    state = read_state(learner_db)
    for armed in rounds:
        before = state
        learner_db.arm(processes={"*": armed})
        outcome = outcome_of(lambda: submission.place_order(3, lines))
        learner_db.disarm()
        state = read_state(learner_db)
        if outcome.returned:
            assert is_whole_order(state, before, shop, 3, lines), (
                f"place_order returned but the order is not all there: {state.describe_change(before)}")
            if "kill_before" in armed:
                return
            continue
        when = "before its commit" if "kill_before_commit" in armed else f"before statement {armed['kill_before']}"
        assert state == before, (
            f"the process running place_order was killed {when}, and part of the order stayed: "
            f"{state.describe_change(before)}. Nothing may be committed before the whole order is done.")
    pytest.fail(f"place_order was still running after {FAULT_ROUNDS} statements")
