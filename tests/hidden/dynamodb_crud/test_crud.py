"""Hidden tests of dynamodb_crud: state is set up and inspected through the grader's own clients."""
from __future__ import annotations

import pytest

from fixtures import aws_data
from grader import SubmissionError
from grader.checks import aws as checks

SEED = 5
PERSON_KEY = [("PersonID", "HASH", "S")]
ORDERS_KEY = [("OrderID", "HASH", "S"), ("ItemNum", "RANGE", "N")]


@pytest.fixture
def submission(submission, aws):
    """The learner's module; an error whose cause the endpoint saw (an endpoint or region of their own, a
    table used while CREATING) says so."""
    return checks.ExplainedSubmission(submission, aws)


def make_table(aws, name: str, schema: list[tuple[str, str, str]]) -> None:
    """Create a table with the right schema through the grader's client (independent of the learner)."""
    aws.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": a, "KeyType": role} for a, role, _ in schema],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": kind} for a, _, kind in schema],
        BillingMode="PAY_PER_REQUEST",
    )


def load(aws, name: str, items: list[dict]) -> None:
    """Write items into the table, independent of the learner (straight into the embedded mock's store)."""
    aws.put_items(name, [checks.dynamo_item(item) for item in items])


SCAN_PAGE = 5  # items per Scan page of the learner's on the embedded endpoint (simulate_small_pages)


def paged_people(aws) -> tuple[list[dict], list[list[str]]]:
    """A Person table that spans many Scan pages, and its PersonIDs page by page as the learner's Scans
    see them. DynamoDB ends a page at 1 MB: on the embedded endpoint the learner's pages are made small
    instead (a table of 60 people), elsewhere the table is over 1 MB (300 people of 5 KB each), which costs
    the mock far more on every page."""
    make_table(aws, "Person", PERSON_KEY)
    embedded = aws.backend == "moto"
    people = aws_data.people(SEED, 60, bio_bytes=200) if embedded else aws_data.people(SEED, 300, bio_bytes=5000)
    load(aws, "Person", people)
    if embedded:  # the table's Scan order, in pages of SCAN_PAGE
        aws.simulate_small_pages(SCAN_PAGE)
        order = [p["PersonID"]["S"] for p in aws.table_items("Person")]
        return people, [order[at:at + SCAN_PAGE] for at in range(0, len(order), SCAN_PAGE)]
    # a Scan page ends after the items read, before projection: PersonID alone gives the same pages
    pages = [[p["PersonID"]["S"] for p in page["Items"]] for page in
             aws.client("dynamodb").get_paginator("scan").paginate(TableName="Person", ProjectionExpression="PersonID")]
    return people, pages


def assert_schema(aws, table: str, want: list[tuple[str, str, str]]) -> None:
    names = checks.table_names(aws.client("dynamodb"))
    if table not in names:
        elsewhere = checks.tables_in_other_regions(
            lambda region: aws.client("dynamodb", region_name=region), table, aws.region
        )
        assert not elsewhere, (
            f"your function created table {table!r} in region {', '.join(elsewhere)}, but the grader (like "
            f"your environment) uses {aws.region}: create the client with no region_name, "
            "boto3.client(\"dynamodb\")"
        )
    assert table in names, f"no table named {table!r} exists after your function ran (tables: {names})"
    got = checks.key_schema(aws.client("dynamodb"), table)
    assert got == want, (
        f"table {table!r} has the wrong key schema: {checks.describe_key_schema(got)}; "
        f"expected {checks.describe_key_schema(want)}"
    )


@pytest.mark.points(1)
@pytest.mark.hint("KeySchema lists the key attributes with KeyType HASH; AttributeDefinitions gives their types.")
def test_person_table_has_a_simple_primary_key(submission, aws):
    """create_person_table makes a table keyed by PersonID alone"""
    submission.create_person_table("Person")
    assert_schema(aws, "Person", PERSON_KEY)


@pytest.mark.points(1)
@pytest.mark.hint('CreateTable returns while the table is CREATING: wait with client.get_waiter("table_exists").')
def test_person_table_is_waited_for(submission, aws):
    """create_person_table returns only once the table is ACTIVE"""
    aws.simulate_creating()  # as on AWS: CREATING until the learner's code describes (waits for) it
    submission.create_person_table("Person")
    assert_schema(aws, "Person", PERSON_KEY)
    assert "Person" not in aws.still_creating(), (
        "create_person_table returned while table 'Person' was still CREATING. DynamoDB creates a table in the "
        "background: create_table returns at once, and reads and writes fail until the table is ACTIVE. Wait "
        'before returning: client.get_waiter("table_exists").wait(TableName=table_name), or '
        "table.wait_until_exists() on a boto3.resource Table."
    )


@pytest.mark.points(2)
@pytest.mark.hint("A composite key is a partition key (KeyType HASH) plus a sort key (KeyType RANGE).")
def test_orders_table_has_a_composite_key(submission, aws):
    """create_orders_table makes a table keyed by OrderID and ItemNum"""
    submission.create_orders_table("Orders")
    assert_schema(aws, "Orders", ORDERS_KEY)


@pytest.mark.points(2)
def test_put_item_stores_items_with_different_attributes(submission, aws):
    """put_item stores schema-less items exactly as given"""
    make_table(aws, "Person", PERSON_KEY)
    people = aws_data.people(SEED, 6)
    for person in people:
        submission.put_item("Person", person)
    stored = {p["PersonID"]: p for p in checks.stored_items(aws, "Person")}
    for person in people:
        got = stored.get(person["PersonID"])
        assert got is not None, f"item {person['PersonID']} is not in the table after put_item"
        problem = checks.first_item_difference(got, person)
        assert not problem, f"item {person['PersonID']} as stored in the table: {problem}"


@pytest.mark.points(3)
@pytest.mark.hint("BatchWriteItem accepts at most 25 requests per call: send the items in chunks of 25.")
def test_put_items_writes_a_large_batch_in_chunks_of_25(submission, aws):
    """put_items writes more than 75 items in batches DynamoDB accepts"""
    make_table(aws, "Orders", ORDERS_KEY)
    items = aws_data.order_items(SEED, 40)
    assert len(items) > 25 * 3
    if aws.backend == "moto":  # as DynamoDB under load: the first batch leaves some items unprocessed
        aws.simulate_unprocessed_items()
    try:
        submission.put_items("Orders", items)
    except SubmissionError as exc:
        if "less than or equal to 25" in str(exc):
            pytest.fail(
                f"DynamoDB refused your BatchWriteItem call: one call may carry at most 25 items, and "
                f"you were asked to write {len(items)}. Split the list into chunks of 25.\n\n"
                f"{checks.learner_traceback(str(exc))}"
            )
        raise
    stored = checks.stored_items(aws, "Orders")
    want = {(i["OrderID"], i["ItemNum"]): i for i in items}
    got = {(i["OrderID"], i["ItemNum"]): i for i in stored}
    missing = sorted(set(want) - set(got))
    assert not missing, (
        f"{len(missing)} of {len(items)} items are not in the table, e.g. {missing[:3]}; "
        "did you write every chunk, and resend UnprocessedItems?"
    )
    for key, item in want.items():
        problem = checks.first_item_difference(got[key], item)
        assert not problem, f"item {key}: {problem}"
    if aws.backend == "moto":  # only the embedded server counts calls
        puts = aws.calls("DynamoDB_20120810.PutItem")
        batches = aws.calls("DynamoDB_20120810.BatchWriteItem")
        assert puts == 0 and batches >= -(-len(items) // 25), (
            f"put_items wrote {len(items)} items with {puts} PutItem and {batches} BatchWriteItem calls; "
            "write them in batches of up to 25 with BatchWriteItem (client.batch_write_item, or "
            "table.batch_writer()), not one put_item per item."
        )


@pytest.mark.points(2)
def test_get_item_by_key(submission, aws):
    """get_item returns the item with a key, and None for a key with no item"""
    make_table(aws, "Orders", ORDERS_KEY)
    items = aws_data.order_items(SEED + 1, 10)
    load(aws, "Orders", items)
    for item in items[::7]:
        key = checks.key_of(item, ("OrderID", "ItemNum"))
        got = submission.get_item("Orders", key)
        problem = checks.first_item_difference(got, item)
        assert not problem, f"get_item('Orders', {checks.short(key)}): {problem}"
    missing = {"OrderID": "O0000", "ItemNum": 1}
    got = submission.get_item("Orders", missing)
    assert got is None, f"get_item('Orders', {checks.short(missing)}) returned {checks.returned(got)}; no such item exists, return None"


@pytest.mark.points(3)
@pytest.mark.hint("Query with KeyConditionExpression on the partition key returns one order's items in sort-key order.")
def test_query_order_returns_one_order_in_item_order(submission, aws):
    """query_order returns every item of one order, sorted by ItemNum"""
    make_table(aws, "Orders", ORDERS_KEY)
    items = aws_data.order_items(SEED + 2, 30)
    load(aws, "Orders", items)
    if aws.backend == "moto":  # pages of a few items, as a large order's pages would be on DynamoDB
        aws.simulate_small_pages()
    order_ids = sorted({i["OrderID"] for i in items})
    for order_id in order_ids[::6]:
        want = sorted((i for i in items if i["OrderID"] == order_id), key=lambda i: i["ItemNum"])
        got = submission.query_order("Orders", order_id)
        problem = checks.items_problem(got, f"query_order('Orders', {order_id!r})")
        assert not problem, problem
        problem = checks.records_problem(got, {"OrderID": order_id, "ItemNum": want[0]["ItemNum"]},
                                         f"query_order('Orders', {order_id!r})")
        assert not problem, problem
        others = sorted({str(g.get("OrderID")) for g in got} - {order_id})
        assert not others, f"query_order('Orders', {order_id!r}) returned items of other orders too: {others}"
        got_nums = [g.get("ItemNum") for g in got]
        want_nums = [i["ItemNum"] for i in want]
        if len(got_nums) < len(want_nums) and set(got_nums) < set(want_nums):
            pytest.fail(
                f"query_order('Orders', {order_id!r}) returned {len(got_nums)} of the order's {len(want_nums)} items. "
                "A Query answers one page at a time: while a response has LastEvaluatedKey, query again with "
                "ExclusiveStartKey set to it."
            )
        assert sorted(got_nums) == want_nums, (
            f"query_order('Orders', {order_id!r}) returned items {got_nums}; the order has items {want_nums}"
        )
        assert got_nums == want_nums, f"items of {order_id} must come by ItemNum ascending; got {got_nums}"
        for g, w in zip(got, want):
            problem = checks.first_item_difference(g, w)
            assert not problem, f"item {order_id}/{w['ItemNum']}: {problem}"


@pytest.mark.points(2)
@pytest.mark.hint("A Scan page stops at 1 MB; while the response has LastEvaluatedKey, scan again with ExclusiveStartKey.")
def test_scan_where_follows_every_page(submission, aws):
    """scan_where finds matching items on every page of a table that spans many Scan pages"""
    people, pages = paged_people(aws)
    city = aws_data.CITIES[0]
    want = sorted(p["PersonID"] for p in people if p["City"] == city)
    got = submission.scan_where("Person", "City", city)
    problem = checks.items_problem(got, f"scan_where('Person', 'City', {city!r})")
    assert not problem, problem
    got_ids = sorted(str(g.get("PersonID")) for g in got)
    wrong = sorted(str(p.get("PersonID")) for p in got if p.get("City") != city)
    assert not wrong, f"scan_where returned people who do not live in {city}: {wrong[:5]}"
    assert len(got_ids) == len(set(got_ids)), "scan_where returned some items twice"
    if got_ids != want and set(got_ids) < set(want):  # the table's pages are counted only for feedback
        pytest.fail(f"scan_where('Person', 'City', {city!r}) returned {len(got_ids)} of the {len(want)} matching "
                    f"items. The table is {len(pages)} Scan pages long: keep scanning with "
                    "ExclusiveStartKey=LastEvaluatedKey until a response has no LastEvaluatedKey.")
    assert got_ids == want, f"scan_where('Person', 'City', {city!r}) returned {len(got_ids)} items; {len(want)} match"


@pytest.mark.points(1)
@pytest.mark.hint("A filtered Scan page may hold no matching item and still have a LastEvaluatedKey: "
                  "stop only when LastEvaluatedKey is absent.")
def test_scan_where_goes_past_a_page_without_matches(submission, aws):
    """scan_where keeps scanning after a page where nothing matches"""
    people, pages = paged_people(aws)
    assert len(pages) > 1, "the test table must span more than one Scan page"
    by_id = {p["PersonID"]: p for p in people}
    target = next(by_id[i] for page in reversed(pages[1:]) for i in page if "Email" in by_id[i])  # late, never on page 1
    got = submission.scan_where("Person", "Email", target["Email"])
    problem = checks.items_problem(got, f"scan_where('Person', 'Email', {target['Email']!r})")
    assert not problem, problem
    got_ids = [str(g.get("PersonID")) for g in got]
    assert got_ids == [target["PersonID"]], (
        f"scan_where('Person', 'Email', {target['Email']!r}) returned {checks.short(got_ids)}; one person "
        f"matches, and the table is {len(pages)} Scan pages long with no match on the first page. A page "
        "without matching items is not the end: stop only when a response has no LastEvaluatedKey."
    )


@pytest.mark.points(1)
@pytest.mark.hint('Name is a reserved word: FilterExpression="#a = :v" with ExpressionAttributeNames={"#a": attribute}.')
def test_scan_where_on_an_attribute_named_by_a_reserved_word(submission, aws):
    """scan_where works on an attribute whose name is a reserved word (Name)"""
    make_table(aws, "Person", PERSON_KEY)
    people = aws_data.people(SEED + 4, 20)
    name = people[3]["Name"]
    # a son of the same name: his Name holds the one asked for, and is not equal to it
    people.append({**people[5], "PersonID": f"{people[3]['PersonID']}-jr", "Name": f"{name} Jr"})
    load(aws, "Person", people)
    aws.refuse_reserved_words()
    want = sorted(p["PersonID"] for p in people if p["Name"] == name)
    got = submission.scan_where("Person", "Name", name)
    problem = checks.items_problem(got, f"scan_where('Person', 'Name', {name!r})")
    assert not problem, problem
    got_ids = sorted(str(g.get("PersonID")) for g in got)
    near = sorted(str(g.get("Name")) for g in got if g.get("Name") != name)
    assert not near, (
        f"scan_where('Person', 'Name', {name!r}) also returned {checks.short(near)}: items whose Name contains "
        "the value but is not equal to it. Compare with = (Attr(attribute).eq(value)), not contains or begins_with"
    )
    assert got_ids == want, f"scan_where('Person', 'Name', {name!r}) returned {got_ids}; {want} match"


@pytest.mark.points(2)
@pytest.mark.hint("update_item with ConditionExpression fails with ConditionalCheckFailedException when the condition is false.")
def test_update_if_respects_the_condition(submission, aws):
    """update_if changes an attribute only when its current value is the expected one"""
    make_table(aws, "Orders", ORDERS_KEY)
    items = aws_data.order_items(SEED + 3, 3)
    load(aws, "Orders", items)
    item = items[0]
    key = checks.key_of(item, ("OrderID", "ItemNum"))
    dynamodb = aws.client("dynamodb")

    def quantity() -> int:
        stored = dynamodb.get_item(TableName="Orders", Key=checks.dynamo_item(key))["Item"]
        return int(stored["Quantity"]["N"])

    stale = item["Quantity"] + 10
    result = submission.update_if("Orders", key, "Quantity", 99, stale)
    assert quantity() == item["Quantity"], (
        f"update_if changed Quantity to {quantity()} although its current value is {item['Quantity']}, "
        f"not the expected {stale}: the update must carry a ConditionExpression"
    )
    assert result is False, f"update_if must return False when the condition fails (True or False, not a response); it returned {checks.short(result, 80)}"
    result = submission.update_if("Orders", key, "Quantity", 99, item["Quantity"])
    assert quantity() == 99, (
        f"Quantity is {quantity()} after update_if(..., 'Quantity', 99, {item['Quantity']}); expected 99"
    )
    assert result is True, f"update_if must return True after updating (True or False, not a response); it returned {checks.short(result, 80)}"
    if aws.backend == "moto":
        # another client sets Quantity right after any read of the learner's: a read, a comparison in Python
        # and a plain write would overwrite it; one conditional update never reads, a read and then a
        # conditional update sees its condition fail
        racing = 7
        aws.race_after_read(["dynamodb.GetItem", "dynamodb.Query", "dynamodb.Scan", "dynamodb.BatchGetItem"],
                            lambda: load(aws, "Orders", [{**item, "Quantity": racing}]))
        result = submission.update_if("Orders", key, "Quantity", 100, 99)
        shown = repr(result) if isinstance(result, bool) else checks.short(result, 80)
        if aws.raced():
            assert (result, quantity()) == (False, racing), (
                f"update_if read the item, then wrote Quantity {quantity()} and returned {shown}; "
                f"but another client set Quantity to {racing} between that read and the write, and your write "
                "replaced it. Checking in Python and then writing is not atomic: make the check part of the "
                "write, update_item(..., ConditionExpression='#a = :expected'), which fails with "
                "ConditionalCheckFailedException when the value changed"
            )
        else:
            assert (result, quantity()) == (True, 100), (
                f"update_if(..., 'Quantity', 100, 99) returned {shown} and left Quantity "
                f"{quantity()}; expected True and 100"
            )
    # Name is a reserved word of DynamoDB's expressions: the README asks for ExpressionAttributeNames
    make_table(aws, "Person", PERSON_KEY)
    person = aws_data.people(SEED, 1)[0]
    load(aws, "Person", [person])
    renamed = person["Name"] + " Jr"
    result = submission.update_if("Person", {"PersonID": person["PersonID"]}, "Name", renamed, person["Name"])
    stored = dynamodb.get_item(TableName="Person", Key={"PersonID": {"S": person["PersonID"]}})["Item"]["Name"]["S"]
    assert (result, stored) == (True, renamed), (
        f"update_if('Person', ..., 'Name', {renamed!r}, {person['Name']!r}) returned {checks.short(result, 80)} and left "
        f"Name {stored!r}; Name is a reserved word in expressions: name it with ExpressionAttributeNames ({{'#a': attribute}})"
    )


@pytest.mark.points(1)
def test_delete_item_removes_only_that_item(submission, aws):
    """delete_item removes exactly the item with the given key"""
    make_table(aws, "Person", PERSON_KEY)
    people = aws_data.people(SEED, 5)
    load(aws, "Person", people)
    victim = people[2]["PersonID"]
    submission.delete_item("Person", {"PersonID": victim})
    left = sorted(p["PersonID"] for p in checks.stored_items(aws, "Person"))
    assert victim not in left, f"{victim} is still in the table after delete_item"
    want = sorted(p["PersonID"] for p in people if p["PersonID"] != victim)
    assert left == want, f"delete_item removed other items too: the table holds {left}, expected {want}"
