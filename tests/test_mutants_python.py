"""Python mutants: each operator makes the mutant it claims, as a one-place change of the source."""
from __future__ import annotations

import ast
import textwrap

from grader.mutants import python


def made(source: str, operator: str) -> dict[str, str]:
    """{description: mutant text} of one operator on a small module."""
    source = textwrap.dedent(source).lstrip()
    return {m.description: m.text for m in python.mutants(source) if m.operator == operator}


def body(text: str) -> str:
    """The module without blank lines, for comparing with an expected mutant."""
    return "\n".join(line for line in text.splitlines() if line.strip())


def expect(mutants: dict[str, str], description: str, text: str) -> None:
    assert description in mutants, sorted(mutants)
    assert body(mutants[description]) == body(textwrap.dedent(text).strip())


SOURCE = '''
def shout(x):
    # comments stay where they are
    if x < 10 and x != 0:
        return True
    return not x
'''


def test_comparisons_swap_boundary_and_negation() -> None:
    mutants = made(SOURCE, "comparison")
    expect(mutants, "line 3: `<` -> `<=`", '''
        def shout(x):
            # comments stay where they are
            if x <= 10 and x != 0:
                return True
            return not x
    ''')
    assert "line 3: `<` -> `>=`" in mutants and "line 3: `!=` -> `==`" in mutants
    assert len(mutants) == 3


def test_boolean_operators_flip_and_not_is_dropped() -> None:
    mutants = made(SOURCE, "boolean")
    assert "if x < 10 or x != 0:" in mutants["line 3: `and` -> `or`"]
    assert "return (x)" in mutants["line 5: `not` dropped"]


def test_constants_move_by_one_and_booleans_flip() -> None:
    mutants = made(SOURCE, "constant")
    assert "x < 11" in mutants["line 3: `10` -> `11`"]
    assert "x < 9" in mutants["line 3: `10` -> `9`"]
    assert "x != 1" in mutants["line 3: `0` -> `1`"] and "x != -1" in mutants["line 3: `0` -> `-1`"]
    assert "return False" in mutants["line 4: `True` -> `False`"]


def test_slice_bounds_move_by_one_or_go() -> None:
    mutants = made("def head(items, n):\n    return items[1:n]\n", "slice")
    assert set(mutants) == {
        "line 2: slice lower bound `1` -> `2`", "line 2: slice lower bound `1` -> `0`",
        "line 2: slice lower bound `1` -> `(none)`", "line 2: slice upper bound `n` -> `n + 1`",
        "line 2: slice upper bound `n` -> `n - 1`", "line 2: slice upper bound `n` -> `(none)`",
    }
    assert "items[1:n - 1]" in mutants["line 2: slice upper bound `n` -> `n - 1`"]
    assert "items[:n]" in mutants["line 2: slice lower bound `1` -> `(none)`"]


def test_a_statement_is_dropped_for_pass() -> None:
    mutants = made("def f(items):\n    items.sort()\n    return items\n", "statement")
    expect(mutants, "line 2: `items.sort()` dropped", "def f(items):\n    pass\n    return items\n")
    expect(mutants, "line 3: `return items` dropped", "def f(items):\n    items.sort()\n    pass\n")


def test_early_return_gives_back_what_is_there_so_far() -> None:
    source = '''
    def collect(pages):
        """Docstring."""
        out = []
        for page in pages:
            out.extend(page)
        out.sort()
        return out
    '''
    mutants = made(source, "early-return")
    expect(mutants, "line 4: `return out` before `for page in pages:`", '''
        def collect(pages):
            """Docstring."""
            out = []
            return out
            for page in pages:
                out.extend(page)
            out.sort()
            return out
    ''')
    assert set(mutants) == {"line 4: `return out` before `for page in pages:`",
                            "line 6: `return out` before `out.sort()`"}


def test_early_return_waits_for_the_names_it_returns() -> None:
    mutants = made("def f(x):\n    y = x + 1\n    z = y * 2\n    print(z)\n    return z\n", "early-return")
    assert list(mutants) == ["line 4: `return z` before `print(z)`"]


def test_a_loop_stops_after_its_first_iteration() -> None:
    source = '''
    def pages(client):
        token = None
        while True:
            page = client.get(token)
            token = page.get("next")
        return [item for page in client.all() for item in page]
    '''
    mutants = made(source, "first-iteration")
    loop = mutants["line 3: the loop `while True:` stops after its first iteration"]
    assert "        token = page.get(\"next\")\n        break\n" in loop
    first_page = mutants["line 6: only the first item of `client.all()`"]
    assert "for page in list(client.all())[:1]" in first_page


def test_a_boto3_keyword_is_dropped_one_at_a_time() -> None:
    source = '''
    def put(s3, body):
        s3.put_object(
            Bucket="b",
            Key="k",
            Body=body,
        )
        print("done", end="")
    '''
    mutants = made(source, "boto3-argument")
    assert set(mutants) == {f"line 2: `{k}=...` dropped from `s3.put_object(...)`" for k in ("Bucket", "Key", "Body")}
    expect(mutants, "line 2: `Key=...` dropped from `s3.put_object(...)`", '''
        def put(s3, body):
            s3.put_object(
                Bucket="b",
                Body=body,
            )
            print("done", end="")
    ''')


def test_docstrings_annotations_and_fstrings_are_left_alone() -> None:
    source = '''
    def key(part: int = 1) -> str:
        """Part 1."""
        return f"part-{part:04d}"
    '''
    mutants = list(python.mutants(textwrap.dedent(source).lstrip()))
    assert [m.description for m in mutants if m.operator == "constant"] == ["line 1: `1` -> `2`", "line 1: `1` -> `0`"]


def test_every_mutant_parses_and_differs_from_the_source() -> None:
    source = textwrap.dedent(SOURCE).lstrip()
    mutants = list(python.mutants(source))
    assert mutants
    for mutant in mutants:
        assert python.check(mutant.text) is None
        assert ast.dump(ast.parse(mutant.text)) != ast.dump(ast.parse(source))
    assert len({m.text for m in mutants}) == len(mutants)


def test_check_names_a_syntax_error() -> None:
    assert python.check("def f(:\n") is not None
    assert python.check("x = 1\n") is None
