"""The rentio generator: deterministic, Sakila-sized, referentially intact, with the edge cases hidden instances promise."""
from __future__ import annotations

from collections import Counter

from fixtures.rentio import HIDDEN, INSTANCES, PUBLIC, TABLES, TABLES_BY_NAME, data
from fixtures.rentio.generate import generate


def _column(table: str, name: str) -> int:
    return TABLES_BY_NAME[table].column_names.index(name)


def test_same_seed_same_data_other_seed_other_data() -> None:
    assert generate(7) == generate(7)
    assert generate(7)["film"] != generate(8)["film"]


def test_sizes_are_sakila_like() -> None:
    rows = data(PUBLIC.seed, PUBLIC.edge_cases)
    assert len(rows["film"]) == 1000 and len(rows["category"]) == 16 and len(rows["actor"]) == 200
    assert len(rows["customer"]) == 599
    assert 5000 <= len(rows["film_actor"]) <= 6000
    assert 4000 <= len(rows["inventory"]) <= 5200
    assert 15_000 <= len(rows["rental"]) <= 17_000 and 15_000 <= len(rows["payment"]) <= 17_000


def test_every_foreign_key_points_at_an_existing_row_and_keys_are_unique() -> None:
    for instance in INSTANCES:
        rows = data(instance.seed, instance.edge_cases)
        for table in TABLES:
            pk = [table.column_names.index(c) for c in table.primary_key]
            keys = [tuple(r[i] for i in pk) for r in rows[table.name]]
            assert len(keys) == len(set(keys)), f"{instance.name}.{table.name} repeats a primary key"
            for fk in table.foreign_keys:
                ref = TABLES_BY_NAME[fk.ref_table]
                ref_index = [ref.column_names.index(c) for c in fk.ref_columns]
                present = {tuple(r[i] for i in ref_index) for r in rows[fk.ref_table]}
                index = [table.column_names.index(c) for c in fk.columns]
                dangling = [r for r in rows[table.name] if None not in (v := tuple(r[i] for i in index)) and v not in present]
                assert not dangling, f"{instance.name}.{table.name}.{fk.columns} -> {fk.ref_table}: {dangling[:3]}"


def test_film_ids_are_not_in_title_order() -> None:
    films = data(PUBLIC.seed, PUBLIC.edge_cases)["film"]
    by_id = [f[1] for f in sorted(films)]
    assert by_id != sorted(by_id)


def test_hidden_instances_hold_the_separating_cases() -> None:
    length = _column("film", "length")
    for instance in HIDDEN:
        rows = data(instance.seed, instance.edge_cases)
        lengths = Counter(f[length] for f in rows["film"])
        assert lengths[60] >= 1 and lengths[59] >= 2 and lengths[None] >= 1
        with_films = {fc[1] for fc in rows["film_category"]}
        assert any(c[0] not in with_films for c in rows["category"]), "a category with no films"
        assert len({c[1] for c in rows["category"]}) < len(rows["category"]), "two categories share a name"
        category_ids = [c[0] for c in sorted(rows["category"], key=lambda c: c[1])]
        assert category_ids != sorted(category_ids), "category ids not in alphabetical order"
        stocked = {i[1] for i in rows["inventory"]}
        rented_copies = {r[2] for r in rows["rental"]}
        rented = {i[1] for i in rows["inventory"] if i[0] in rented_copies}
        assert any(f[0] not in stocked for f in rows["film"]), "films with no inventory"
        assert stocked - rented, "films with inventory never rented"
        names = Counter((a[1], a[2]) for a in rows["actor"])
        assert max(names.values()) >= 2, "two actors share a name"
        per_actor = Counter(fa[0] for fa in rows["film_actor"])
        assert 30 in per_actor.values() and 29 in per_actor.values()
        assert any(p[_column("payment", "rental_id")] is None for p in rows["payment"])
