"""Schema and normalization checks on a live database: keys, enforced foreign keys, redundancy, lossless joins."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from grader.checks.sql import differing_columns, normalize_rows


class Introspectable(Protocol):
    """What the checks need of a session of the sql service."""

    def tables(self) -> list[str]: ...

    def columns(self, table: str) -> list[str]: ...

    def primary_key(self, table: str) -> list[str]: ...

    def engine(self, table: str) -> str: ...

    def foreign_keys(self, table: str) -> list[tuple[tuple[str, ...], str, tuple[str, ...]]]: ...

    def probe_insert(self, text: str) -> str: ...

    def query(self, text: str) -> Any: ...


@dataclass(frozen=True)
class Entity:
    """A table the normalized schema must have: what identifies a row, and the attributes that depend on it."""

    table: str
    key: tuple[str, ...]
    attributes: tuple[str, ...]


def _find(db: Introspectable, table: str) -> str | None:
    return next((t for t in db.tables() if t.lower() == table.lower()), None)


def check_primary_keys(db: Introspectable, tables: Sequence[str]) -> str | None:
    """Every table exists and has a primary key."""
    for table in tables:
        actual = _find(db, table)
        if actual is None:
            return f"There is no table {table}. Create it with CREATE TABLE {table} (...)."
        if not db.primary_key(actual):
            return f"The table {table} has no primary key. Declare one: PRIMARY KEY (...)."
    return None


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


# storage engines that keep foreign keys; MySQL and MariaDB accept FOREIGN KEY on any other and drop it
_ENGINES_WITH_FOREIGN_KEYS = frozenset({"", "innodb", "ndbcluster", "ndb"})


def engine_problem(db: Introspectable, tables: Sequence[str]) -> str | None:
    """Why `tables` cannot hold foreign keys, when one of them uses a storage engine (MyISAM) that has none."""
    plain = [(t, db.engine(t)) for t in tables]
    wrong = [(t, e) for t, e in plain if e.lower() not in _ENGINES_WITH_FOREIGN_KEYS]
    if not wrong:
        return None
    named = ", ".join(f"{t} uses {e}" for t, e in wrong)
    engines = sorted({e for _, e in wrong})
    return (f"{named}, a storage engine that cannot hold foreign keys: the server accepts FOREIGN KEY ... "
            f"REFERENCES on such a table and drops it without a word (or refuses to reference it, \"errno: 150\"). "
            f"Leave out ENGINE={engines[0]}: InnoDB, the default, keeps and enforces foreign keys.")


def check_foreign_key(db: Introspectable, child: str, parent: str) -> str | None:
    """`child` declares a foreign key to `parent`'s primary key, and the database refuses a row that breaks it."""
    child_table, parent_table = _find(db, child), _find(db, parent)
    if child_table is None or parent_table is None:
        return f"The tables {child} and {parent} must both exist."
    engines = engine_problem(db, (child_table, parent_table))
    if engines:
        return engines
    keys = [fk for fk in db.foreign_keys(child_table) if fk[1].lower() == parent_table.lower()]
    if not keys:
        return (f"{child} declares no foreign key to {parent}. Add FOREIGN KEY (...) REFERENCES {parent} (...) "
                "as a table constraint (MySQL ignores REFERENCES written after a column).")
    columns, _, ref_columns = keys[0]
    sample = db.query(f"SELECT * FROM {child_table} LIMIT 1")
    if not sample.rows:
        return f"{child} is empty, so its foreign key to {parent} cannot be tried: fill it from the big table."
    row = dict(zip(sample.columns, sample.rows[0]))
    for column, ref in zip(columns, ref_columns):
        highest = db.query(f"SELECT MAX({ref}) FROM {parent_table}").rows[0][0]
        row[column] = (highest + 1000) if isinstance(highest, (int, float)) else f"{highest}-none"
    for column in db.primary_key(child_table):
        if column not in columns:
            highest = db.query(f"SELECT MAX({column}) FROM {child_table}").rows[0][0]
            row[column] = (highest + 1) if isinstance(highest, (int, float)) else f"{highest}-probe"
    names = list(row)
    outcome = db.probe_insert(
        f"INSERT INTO {child_table} ({', '.join(names)}) VALUES ({', '.join(_literal(row[n]) for n in names)})"
    )
    if outcome == "foreign_key":
        return None
    if outcome == "accepted":
        return (f"The foreign key from {child} to {parent} is declared but not enforced: a row of {child} that "
                f"refers to no row of {parent} was accepted. On MySQL use InnoDB tables.")
    return (f"The foreign key from {child} to {parent} could not be tried: inserting a row that breaks it "
            f"failed for another reason ({outcome.split(': ', 1)[-1]}). It must reference the primary key of {parent}.")


def check_redundancy(db: Introspectable, entities: Sequence[Entity], *, source: str = "") -> str | None:
    """Each attribute lives in its entity's table only, and each entity is stored once (checked on the data).

    `source`, the table being normalized, is left out of the comparison.
    """
    tables = {t: [c.lower() for c in db.columns(t)] for t in db.tables() if t.lower() != source.lower()}
    for entity in entities:
        home = _find(db, entity.table)
        if home is None:
            return f"There is no table {entity.table}."
        missing = [c for c in (*entity.key, *entity.attributes) if c.lower() not in tables[home]]
        if missing:
            return f"The table {entity.table} has no column {', '.join(missing)}: keep the column names of the big table."
        for table, columns in tables.items():
            if table == home:
                continue
            copied = [c for c in entity.attributes if c.lower() in columns]
            if copied:
                return (f"{', '.join(copied)} {'is' if len(copied) == 1 else 'are'} stored in {table} as well as in "
                        f"{entity.table}: keep each attribute in one table and reach it through the foreign key.")
        key = ", ".join(entity.key)
        repeated = db.query(f"SELECT {key}, COUNT(*) FROM {home} GROUP BY {key} HAVING COUNT(*) > 1 LIMIT 3").rows
        if repeated:
            shown = "; ".join(" / ".join(str(v) for v in r[:-1]) for r in repeated)
            return (f"{entity.table} stores the same {key} more than once (for example {shown}): each one must be "
                    "stored once. Use SELECT DISTINCT when you fill it.")
    return None


def check_lossless(
    db: Introspectable, fact: str, columns: Sequence[str], expected: Sequence[Sequence[Any]], *, precision: int = 2
) -> str | None:
    """Joining `fact` to the tables its foreign keys reference gives back exactly `expected` (as a multiset)."""
    fact_table = _find(db, fact)
    if fact_table is None:
        return f"There is no table {fact}."
    joins, sources = [], {fact_table: "t0"}
    for number, (cols, parent, refs) in enumerate(db.foreign_keys(fact_table), 1):
        alias = f"t{number}"
        sources[parent] = alias
        condition = " AND ".join(f"t0.{c} = {alias}.{r}" for c, r in zip(cols, refs))
        joins.append(f"JOIN {parent} AS {alias} ON {condition}")
    picks = []
    for column in columns:
        holder = next((alias for table, alias in sources.items() if column.lower() in [c.lower() for c in db.columns(table)]), None)
        if holder is None:
            return f"No table reachable from {fact} through its foreign keys holds {column}: the split lost it."
        picks.append(f"{holder}.{column}")
    result = db.query(f"SELECT {', '.join(picks)} FROM {fact_table} AS t0 {' '.join(joins)}")
    got = Counter(normalize_rows(result.rows, precision))
    want = Counter(normalize_rows(expected, precision))
    if got == want:
        return None
    lost, invented = list((want - got).elements()), list((got - want).elements())
    message = (f"Joining {fact} back to the tables it references gives {sum(got.values())} rows; the big table has "
               f"{sum(want.values())}. {len(lost)} original rows are lost and {len(invented)} rows were invented: "
               "the split is lossy.")
    differ = differing_columns(lost, invented)
    if invented and not lost:
        message += (f" Every original row is there, and some more than once: when {fact} was filled, an original "
                    "row found more than one row of a table it refers to (match it on all the columns that "
                    "identify that row), or rows were inserted twice.")
    elif differ:
        names = ", ".join(columns[i] for i in differ)
        message += (f" The rows that came back wrong differ from original rows only in {names}: check how "
                    f"{fact} finds the row it refers to (what identifies it).")
    return message
