"""The pieces under the management API: JSON-LD compaction, policies, QuerySpec, data addresses."""

from __future__ import annotations

import pytest

from twinspace.connector.errors import ManagementError
from twinspace.connector.jsonld import body_of, compact, normalize_policy, policy_problems
from twinspace.connector.query import apply, parse_query
from twinspace.connector.views import dsp_data_address, edc_data_address
from twinspace.protocol import messages as m

EDC = "https://w3id.org/edc/v0.0.1/ns/"


def test_compact_keys_types_and_values() -> None:
    doc = {
        "@context": {"@vocab": EDC, "ex": "http://example.org/ns#", "e": EDC},
        "@type": "edc:Asset",
        EDC + "a": 1,
        "edc:b": {"e:c": [{"@value": "v"}]},
        "ex:d": "kept",
        "https://example.org/other": "kept too",
    }
    assert compact(doc) == {
        "@type": "Asset",
        "a": 1,
        "b": {"c": ["v"]},
        "ex:d": "kept",
        "https://example.org/other": "kept too",
    }


def test_body_of_rejects_non_objects_and_unwraps_expanded_form() -> None:
    assert body_of([{EDC + "x": [{"@value": 1}]}]) == {"x": [1]}
    for bad in (None, 1, "x", [1], [{"a": 1}, {"b": 2}]):
        with pytest.raises(ValueError):
            body_of(bad)


def test_normalize_policy() -> None:
    policy = normalize_policy(
        {
            "@type": "odrl:Set",
            "permission": {
                "action": {"type": "USE"},
                "constraint": {
                    "or": {
                        "leftOperand": {"@id": "odrl:purpose"},
                        "operator": {"@id": "odrl:eq"},
                        "rightOperand": "x",
                    }
                },
            },
            "prohibition": [],
            "target": {"@id": "asset-1"},
        }
    )
    assert policy == {
        "@type": "Set",
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {"or": [{"leftOperand": "purpose", "operator": "eq", "rightOperand": "x"}]}
                ],
            }
        ],
        "target": "asset-1",
    }
    assert policy_problems(policy) == []
    assert policy_problems({"@type": "Catalog"})


def test_query_spec_filters_sorts_pages() -> None:
    docs = [
        {"@id": "a", "n": 3, "tags": ["x"], "nested": {"k": "A"}},
        {"@id": "b", "n": 1, "tags": ["y"], "nested": {"k": "b"}},
        {"@id": "c", "tags": ["x", "y"]},
    ]

    def ids(body: dict[str, object]) -> list[str]:
        return [d["@id"] for d in apply(docs, parse_query(body))]

    assert ids({}) == ["a", "b", "c"]
    assert ids({"sortField": "n"}) == ["b", "a", "c"]  # missing values last
    assert ids({"sortField": "n", "sortOrder": "DESC"}) == ["a", "b", "c"]
    assert ids({"filterExpression": [{"operandLeft": "tags", "operandRight": "x"}]}) == ["a", "c"]
    assert ids(
        {"filterExpression": [{"operandLeft": "tags", "operator": "contains", "operandRight": "y"}]}
    ) == ["b", "c"]
    assert ids(
        {
            "filterExpression": [
                {"operandLeft": "nested.k", "operator": "ilike", "operandRight": "a"}
            ]
        }
    ) == ["a"]
    assert ids(
        {"filterExpression": [{"operandLeft": "n", "operator": ">=", "operandRight": 2}]}
    ) == ["a"]
    assert ids(
        {"filterExpression": [{"operandLeft": "n", "operator": "!=", "operandRight": 1}]}
    ) == [
        "a",
        "c",
    ]
    assert ids({"offset": 2}) == ["c"]
    with pytest.raises(ManagementError):
        parse_query({"limit": 0})
    with pytest.raises(ManagementError):
        parse_query({"offset": True})


def test_data_address_both_ways() -> None:
    dsp = m.data_address("http://p/public/data", {"authorization": "t", EDC + "authType": "bearer"})
    flat = edc_data_address(dsp)
    assert flat == {
        "@type": "DataAddress",
        "type": m.HTTP_ENDPOINT_TYPE,
        "endpointType": m.HTTP_ENDPOINT_TYPE,
        "endpoint": "http://p/public/data",
        "authorization": "t",
        "authType": "bearer",
    }
    back = dsp_data_address({"type": "HttpData", "baseUrl": "http://sink", "authorization": "k"})
    assert back == m.data_address("http://sink", {"authorization": "k"})
    assert dsp_data_address(dsp) == dsp
