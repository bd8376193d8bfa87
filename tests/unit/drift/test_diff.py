"""Leaf-by-leaf value diffs, the way the findings table shows them."""

from __future__ import annotations

from bootstrap_flows.drift.diff import NONE, SENSITIVE, UNKNOWN, canonical, diff_values, show


def test_leaf_paths_and_empty_values() -> None:
    before = {"tags": {"Name": "vpc"}, "retention_in_days": 14, "secondary": None, "x": ""}
    after = {"tags": {"Name": "vpc", "Owner": "me"}, "retention_in_days": 30, "secondary": []}
    assert set(diff_values(before, after)) == {
        ("tags.Owner", "(none)", "me"),
        ("retention_in_days", "14", "30"),
    }


def test_sensitive_values_are_masked() -> None:
    before = {"secret": "old", "plain": "a", "nested": [{"token": "t1"}]}
    after = {"secret": "new", "plain": "a", "nested": [{"token": "t2"}]}
    marks = {"secret": True, "nested": [{"token": True}]}
    found = set(diff_values(before, after, before_sensitive=marks, after_sensitive=marks))
    assert found == {("secret", SENSITIVE, SENSITIVE), ("nested[0].token", SENSITIVE, SENSITIVE)}
    assert "old" not in str(found) and "t2" not in str(found)


def test_sensitive_list_elements_added_or_removed_stay_masked() -> None:
    found = list(
        diff_values(
            {"keys": ["k1"]},
            {"keys": ["k2", "k3"]},
            before_sensitive={"keys": [True]},
            after_sensitive={"keys": [True, True]},
        )
    )
    assert sorted(found) == [
        ("keys[+]", NONE, SENSITIVE),
        ("keys[+]", NONE, SENSITIVE),
        ("keys[-]", SENSITIVE, NONE),
    ]


def test_json_strings_and_lists() -> None:
    # Policies and container definitions are JSON in a string: the leaf inside is reported.
    before = {"doc": '{"a": 1, "b": [1, 2]}', "set": ["x", "y"], "rules": [{"port": 443}]}
    after = {"doc": '{"b":[1,2],"a":2}', "set": ["y", "x"], "rules": [{"port": 443}, {"port": 22}]}
    assert set(diff_values(before, after)) == {
        ("doc.a", "1", "2"),
        ("rules[+]", "(none)", '{"port":22}'),
    }


def test_one_element_changed_in_place_shows_its_leaf() -> None:
    before = {"rules": [{"port": 443, "cidr": "10.0.0.0/8"}, {"port": 80, "cidr": "a"}]}
    after = {"rules": [{"port": 443, "cidr": "0.0.0.0/0"}, {"port": 80, "cidr": "a"}]}
    assert list(diff_values(before, after)) == [("rules[0].cidr", "10.0.0.0/8", "0.0.0.0/0")]


def test_values_known_only_after_apply() -> None:
    found = diff_values(
        {"arn": "a", "ids": []},
        {"arn": None, "ids": ["x", None]},
        after_unknown={"arn": True, "ids": [False, True]},
    )
    assert set(found) == {("arn", "a", UNKNOWN), ("ids[+]", NONE, "x"), ("ids[+]", NONE, UNKNOWN)}


def test_keys_that_are_not_identifiers_are_quoted() -> None:
    found = diff_values(
        {"tags": {"kubernetes.io/role": "a"}}, {"tags": {"kubernetes.io/role": "b"}}
    )
    assert list(found) == [('tags["kubernetes.io/role"]', "a", "b")]


def test_show() -> None:
    empty: list[object] = [None, "", [], {}]
    assert [show(v) for v in empty] == [NONE] * 4
    assert [show(True), show(False), show(3)] == ["true", "false", "3"]
    assert show({"b": [], "a": '{"y": 1}'}) == '{"a":{"y":1}}'
    assert show("x" * 10, limit=5) == "xxxx…"


def test_canonical_parses_json_and_drops_empty_values() -> None:
    assert canonical({"z": None, "a": '{"k": [1, {"e": ""}]}'}) == {"a": {"k": [1, {}]}}
