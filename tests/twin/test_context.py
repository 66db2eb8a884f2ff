"""Term maps, bundled contexts and the ContextLoader (JSON-LD 1.1 term handling, CIM 009 §5.13)."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyld import jsonld  # type: ignore[import-untyped]

from twinspace.clock import ManualClock
from twinspace.twin.context import (
    CORE_CONTEXT_URL,
    DEFAULT_VOCAB,
    NGSI_LD,
    SDM_CONTEXT_URL,
    ContextLoader,
    TermMap,
    bundled_context,
    bundled_urls,
    core_terms,
    parse_context_value,
)
from twinspace.twin.errors import NgsiError

SDM = "https://smartdatamodels.org/"
RAW = "https://raw.githubusercontent.com/smart-data-models/dataModel.{}/master/context.jsonld"
DOMAINS = ("Environment", "Transportation", "Weather", "Device")


def sdm_terms() -> TermMap:
    document = bundled_context(SDM_CONTEXT_URL)
    assert document is not None
    return TermMap.build([document["@context"]])


# --------------------------------------------------------------------------- bundled documents


def test_core_context_is_bundled_under_both_urls() -> None:
    v18 = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
    assert bundled_context(CORE_CONTEXT_URL) == bundled_context(v18)
    assert bundled_context(CORE_CONTEXT_URL) is not None


def test_bundled_context_returns_a_copy() -> None:
    first = bundled_context(SDM_CONTEXT_URL)
    assert first is not None
    first["@context"]["NO2"] = "urn:changed"
    second = bundled_context(SDM_CONTEXT_URL)
    assert second is not None and second["@context"]["NO2"] != "urn:changed"


def test_unknown_url_is_not_bundled() -> None:
    assert bundled_context("https://example.org/context.jsonld") is None


def test_all_five_model_contexts_are_bundled() -> None:
    assert {SDM_CONTEXT_URL, *(RAW.format(d) for d in DOMAINS)} <= set(bundled_urls())


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_contexts_agree_with_the_combined_one(domain: str) -> None:
    combined = bundled_context(SDM_CONTEXT_URL)
    single = bundled_context(RAW.format(domain))
    assert combined is not None and single is not None
    for term, iri in single["@context"].items():
        assert combined["@context"][term] == iri, term


@pytest.mark.parametrize(
    ("model", "domain"),
    [
        ("AirQualityObserved", "Environment"),
        ("NoiseLevelObserved", "Environment"),
        ("TrafficFlowObserved", "Transportation"),
        ("WeatherObserved", "Weather"),
        ("Device", "Device"),
    ],
)
def test_model_types_expand_under_their_domain(model: str, domain: str) -> None:
    assert sdm_terms().expand_type(model) == f"{SDM}dataModel.{domain}/{model}"


def test_pyld_agrees_with_term_map_on_the_sdm_context() -> None:
    # pyld only sanity-checks the bundled documents here, with inline contexts (no fetching).
    sdm = bundled_context(SDM_CONTEXT_URL)
    core = bundled_context(CORE_CONTEXT_URL)
    assert sdm is not None and core is not None
    doc = {
        "@context": [sdm["@context"], core["@context"]],
        "@id": "urn:x:1",
        "NO2": 1,
        "refDevice": 2,
        "location": 3,
        "unknownThing": 4,
    }
    expanded = jsonld.expand(doc)[0]
    terms = sdm_terms()
    for name in ("NO2", "refDevice", "location", "unknownThing"):
        assert terms.expand(name) in expanded


# --------------------------------------------------------------------------- term maps


def test_attribute_terms_expand_under_smartdatamodels() -> None:
    terms = sdm_terms()
    assert terms.expand("NO2") == f"{SDM}dataModel.Environment/NO2"
    assert terms.expand("intensity") == f"{SDM}dataModel.Transportation/intensity"


@pytest.mark.parametrize("term", ["name", "address", "dateObserved", "refDevice"])
def test_common_attributes_expand_at_the_root(term: str) -> None:
    assert sdm_terms().expand(term) == SDM + term


@pytest.mark.parametrize("term", ["location", "observationSpace", "operationSpace"])
def test_core_geo_terms_expand_under_ngsi_ld(term: str) -> None:
    assert core_terms().expand(term) == NGSI_LD + term


def test_unknown_term_expands_with_the_default_vocab() -> None:
    assert core_terms().expand("temperatureX") == DEFAULT_VOCAB + "temperatureX"


def test_absolute_iris_and_urns_are_unchanged() -> None:
    terms = core_terms()
    assert terms.expand("http://example.org/a") == "http://example.org/a"
    assert terms.expand("urn:ngsi-ld:Thing:1") == "urn:ngsi-ld:Thing:1"


def test_compact_iri_through_a_core_prefix() -> None:
    assert core_terms().expand("ngsi-ld:foo") == NGSI_LD + "foo"


def test_term_with_id_object_definition() -> None:
    terms = TermMap.build([{"speed": {"@id": "http://example.org/speed", "@type": "xsd:float"}}])
    assert terms.expand("speed") == "http://example.org/speed"


def test_definitions_may_use_a_prefix_defined_later_in_the_same_context() -> None:
    terms = TermMap.build([{"speed": "ex:speed", "ex": "http://example.org/"}])
    assert terms.expand("speed") == "http://example.org/speed"


def test_user_prefix_expands_compact_iris() -> None:
    terms = TermMap.build([{"ex": "http://example.org/ns#"}])
    assert terms.expand("ex:thing") == "http://example.org/ns#thing"


def test_term_not_ending_in_a_gen_delim_is_not_a_prefix() -> None:
    terms = TermMap.build([{"ex": "http://example.org/ns"}])
    assert terms.expand("ex:thing") == "ex:thing"


def test_explicit_prefix_flag_makes_a_prefix() -> None:
    terms = TermMap.build([{"ex": {"@id": "http://example.org/ns", "@prefix": True}}])
    assert terms.expand("ex:thing") == "http://example.org/nsthing"


def test_double_slash_suffix_is_an_absolute_iri_not_a_compact_one() -> None:
    terms = TermMap.build([{"http": "http://wrong.example/"}])
    assert terms.expand("http://example.org/a") == "http://example.org/a"


def test_user_vocab_is_honoured() -> None:
    terms = TermMap.build([{"@vocab": "http://example.org/vocab/"}])
    assert terms.expand("thing") == "http://example.org/vocab/thing"
    assert terms.compact("http://example.org/vocab/thing") == "thing"


def test_null_definition_removes_an_earlier_term() -> None:
    terms = TermMap.build([{"speed": "http://example.org/speed"}, {"speed": None}])
    assert terms.expand("speed") == DEFAULT_VOCAB + "speed"


def test_later_user_context_wins_over_an_earlier_one() -> None:
    terms = TermMap.build([{"speed": "http://a.example/speed"}, {"speed": "http://b.example/s"}])
    assert terms.expand("speed") == "http://b.example/s"


def test_core_context_cannot_be_overridden() -> None:
    terms = TermMap.build([{"location": "http://example.org/location"}])
    assert terms.expand("location") == NGSI_LD + "location"


def test_keyword_aliases_expand_to_keywords() -> None:
    assert core_terms().expand("id") == "@id"
    assert core_terms().expand("type") == "@type"


def test_cyclic_definitions_are_bad_request_data() -> None:
    with pytest.raises(NgsiError) as caught:
        TermMap.build([{"a": "b:x", "b": "a:y"}])
    assert caught.value.kind == "BadRequestData"


def test_non_string_definition_is_bad_request_data() -> None:
    with pytest.raises(NgsiError) as caught:
        TermMap.build([{"a": 42}])
    assert caught.value.kind == "BadRequestData"


def test_compact_prefers_the_shortest_term() -> None:
    terms = TermMap.build([{"longName": "http://example.org/x", "x": "http://example.org/x"}])
    assert terms.compact("http://example.org/x") == "x"


def test_compact_ties_break_lexicographically() -> None:
    terms = TermMap.build([{"b": "http://example.org/x", "a": "http://example.org/x"}])
    assert terms.compact("http://example.org/x") == "a"


def test_compact_falls_back_to_a_compact_iri() -> None:
    terms = TermMap.build([{"ex": "http://example.org/"}])
    assert terms.compact("http://example.org/other") == "ex:other"


def test_compact_falls_back_to_the_iri() -> None:
    assert core_terms().compact("http://nowhere.example/x") == "http://nowhere.example/x"


def test_compact_gives_vocab_relative_names() -> None:
    assert core_terms().compact(DEFAULT_VOCAB + "speed") == "speed"


def test_vocab_relative_name_that_is_a_term_is_not_used() -> None:
    # "location" is a core term meaning ngsi-ld:location, so the default-context IRI stays.
    iri = DEFAULT_VOCAB + "location"
    assert core_terms().compact(iri) != "location"


def test_compact_inverts_expand_for_sdm_terms() -> None:
    terms = sdm_terms()
    for name in ("NO2", "refDevice", "location", "AirQualityObserved", "foo"):
        assert terms.compact(terms.expand(name)) == name


def test_compact_type_compacts_types() -> None:
    assert sdm_terms().compact_type(f"{SDM}dataModel.Device/Device") == "Device"


def test_geo_declared_terms_are_geo_properties() -> None:
    terms = TermMap.build(
        [{"area": {"@id": "http://example.org/area", "@type": "geojson:Polygon"}}]
    )
    assert "http://example.org/area" in terms.geo_properties
    assert NGSI_LD + "location" in terms.geo_properties


def test_term_maps_with_equal_documents_are_equal_and_hash_alike() -> None:
    first = TermMap.build([{"a": "http://example.org/a"}])
    second = TermMap.build([{"a": "http://example.org/a"}])
    assert first == second and hash(first) == hash(second)
    assert first != TermMap.build([{"a": "http://example.org/b"}])


def test_core_terms_is_built_once() -> None:
    assert core_terms() is core_terms()


# --------------------------------------------------------------------------- @context values


def test_parse_context_value_of_absent_is_empty() -> None:
    assert parse_context_value(None) == []


def test_parse_context_value_wraps_a_url() -> None:
    assert parse_context_value(SDM_CONTEXT_URL) == [SDM_CONTEXT_URL]


def test_parse_context_value_keeps_a_list() -> None:
    assert parse_context_value([SDM_CONTEXT_URL, {"a": "b"}]) == [SDM_CONTEXT_URL, {"a": "b"}]


def test_parse_context_value_rejects_relative_urls() -> None:
    with pytest.raises(NgsiError) as caught:
        parse_context_value("context.jsonld")
    assert caught.value.kind == "BadRequestData"


def test_parse_context_value_rejects_numbers() -> None:
    with pytest.raises(NgsiError) as caught:
        parse_context_value([1])
    assert caught.value.kind == "BadRequestData"


# --------------------------------------------------------------------------- the loader


class Server:
    """A fake context server counting requests per URL."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.documents = documents
        self.hits: dict[str, int] = {}
        self.delay = 0.0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.hits[url] = self.hits.get(url, 0) + 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if url not in self.documents:
            return httpx.Response(404)
        body = self.documents[url]
        if isinstance(body, Exception):
            raise body
        return httpx.Response(200, json=body)


def make_loader(
    server: Server, clock: ManualClock | None = None, **kwargs: Any
) -> tuple[ContextLoader, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(server.handle))
    loader = ContextLoader(client, clock=clock or ManualClock(), **kwargs)
    return loader, client


EX = "https://example.org/ctx.jsonld"


async def test_empty_context_gives_the_core_terms() -> None:
    loader, client = make_loader(Server({}))
    async with client:
        assert await loader.term_map([]) is core_terms()


async def test_bundled_contexts_are_never_fetched() -> None:
    server = Server({})
    loader, client = make_loader(server)
    async with client:
        terms = await loader.term_map([SDM_CONTEXT_URL])
    assert terms.expand("NO2") == f"{SDM}dataModel.Environment/NO2"
    assert server.hits == {}


async def test_remote_context_is_fetched_once() -> None:
    server = Server({EX: {"@context": {"speed": "http://example.org/speed"}}})
    loader, client = make_loader(server)
    async with client:
        first = await loader.term_map([EX])
        loader._maps.clear()
        second = await loader.term_map([EX])
    assert first.expand("speed") == second.expand("speed") == "http://example.org/speed"
    assert server.hits == {EX: 1}


async def test_concurrent_requests_share_one_fetch() -> None:
    server = Server({EX: {"@context": {"speed": "http://example.org/speed"}}})
    server.delay = 0.01
    loader, client = make_loader(server)
    async with client:
        await asyncio.gather(*(loader.document(EX) for _ in range(5)))
    assert server.hits == {EX: 1}


async def test_term_maps_are_cached_per_context() -> None:
    loader, client = make_loader(Server({}))
    async with client:
        first = await loader.term_map([SDM_CONTEXT_URL])
        second = await loader.term_map([SDM_CONTEXT_URL])
    assert first is second


async def test_failed_fetch_is_ld_context_not_available_with_the_url() -> None:
    loader, client = make_loader(Server({}))
    async with client:
        with pytest.raises(NgsiError) as caught:
            await loader.term_map([EX])
    assert caught.value.kind == "LdContextNotAvailable"
    assert EX in caught.value.detail


async def test_transport_error_is_ld_context_not_available() -> None:
    loader, client = make_loader(Server({EX: httpx.ConnectError("refused")}))
    async with client:
        with pytest.raises(NgsiError) as caught:
            await loader.document(EX)
    assert caught.value.kind == "LdContextNotAvailable"


async def test_timeout_is_ld_context_not_available() -> None:
    loader, client = make_loader(Server({EX: httpx.ReadTimeout("slow")}), timeout=0.5)
    async with client:
        with pytest.raises(NgsiError) as caught:
            await loader.document(EX)
    assert "0.5 s" in caught.value.detail


async def test_document_without_context_member_is_not_available() -> None:
    loader, client = make_loader(Server({EX: {"speed": 1}}))
    async with client:
        with pytest.raises(NgsiError) as caught:
            await loader.document(EX)
    assert caught.value.kind == "LdContextNotAvailable"


async def test_failure_is_remembered_then_retried_after_30_seconds() -> None:
    server = Server({})
    clock = ManualClock()
    loader, client = make_loader(server, clock)
    async with client:
        for _ in range(2):
            with pytest.raises(NgsiError):
                await loader.document(EX)
        assert server.hits == {EX: 1}
        server.documents[EX] = {"@context": {"speed": "http://example.org/speed"}}
        clock.advance(31)
        assert await loader.document(EX) == {"speed": "http://example.org/speed"}
    assert server.hits == {EX: 2}


async def test_nested_url_contexts_are_resolved() -> None:
    inner = "https://example.org/inner.jsonld"
    server = Server(
        {
            EX: {"@context": [inner, {"b": "http://example.org/b"}]},
            inner: {"@context": {"a": "http://example.org/a"}},
        }
    )
    loader, client = make_loader(server)
    async with client:
        terms = await loader.term_map([EX])
    assert terms.expand("a") == "http://example.org/a"
    assert terms.expand("b") == "http://example.org/b"


async def test_context_cycles_are_refused() -> None:
    other = "https://example.org/other.jsonld"
    server = Server({EX: {"@context": other}, other: {"@context": EX}})
    loader, client = make_loader(server)
    async with client:
        with pytest.raises(NgsiError) as caught:
            await loader.term_map([EX])
    assert caught.value.kind == "LdContextNotAvailable"
    assert "cycle" in caught.value.detail


async def test_nesting_deeper_than_eight_is_refused() -> None:
    urls = [f"https://example.org/{i}.jsonld" for i in range(10)]
    documents: dict[str, Any] = {u: {"@context": n} for u, n in itertools.pairwise(urls)}
    documents[urls[-1]] = {"@context": {"a": "http://example.org/a"}}
    loader, client = make_loader(Server(documents))
    async with client:
        with pytest.raises(NgsiError) as caught:
            await loader.term_map([urls[0]])
    assert "deeper" in caught.value.detail


async def test_inline_context_objects_apply() -> None:
    loader, client = make_loader(Server({}))
    async with client:
        terms = await loader.term_map([{"speed": "http://example.org/speed"}])
    assert terms.expand("speed") == "http://example.org/speed"


async def test_inline_context_is_listed_as_implicitly_created() -> None:
    loader, client = make_loader(Server({}))
    async with client:
        await loader.term_map([{"speed": "http://example.org/speed"}])
        await loader.term_map([{"speed": "http://example.org/speed"}])
    implicit = loader.entries("ImplicitlyCreated")
    assert len(implicit) == 1
    assert implicit[0].document == [{"speed": "http://example.org/speed"}]


def write_preload(folder: Path, documents: dict[str, Any]) -> None:
    index = {}
    for number, (url, document) in enumerate(documents.items()):
        name = f"doc{number}.jsonld"
        (folder / name).write_text(json.dumps(document))
        index[url] = name
    (folder / "index.json").write_text(json.dumps(index))


async def test_preloaded_contexts_are_not_fetched(tmp_path: Path) -> None:
    write_preload(tmp_path, {EX: {"@context": {"speed": "http://example.org/speed"}}})
    server = Server({})
    loader, client = make_loader(server, preload_dir=tmp_path)
    async with client:
        terms = await loader.term_map([EX])
    assert terms.expand("speed") == "http://example.org/speed"
    assert server.hits == {}


def test_preload_folder_needs_an_index(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"index\.json"):
        ContextLoader(httpx.AsyncClient(), preload_dir=tmp_path)


async def test_cached_term_map_uses_held_documents_only() -> None:
    server = Server({EX: {"@context": {"speed": "http://example.org/speed"}}})
    loader, client = make_loader(server)
    async with client:
        with pytest.raises(NgsiError) as caught:
            loader.cached_term_map([EX])
        assert caught.value.kind == "LdContextNotAvailable"
        await loader.document(EX)
        terms = loader.cached_term_map([EX, SDM_CONTEXT_URL])
    assert terms.expand("speed") == "http://example.org/speed"
    assert terms.expand("NO2") == f"{SDM}dataModel.Environment/NO2"


# --------------------------------------------------------------------------- /jsonldContexts


def test_add_hosts_a_context_under_the_base_url() -> None:
    loader = ContextLoader(httpx.AsyncClient(), base_url="http://broker/ngsi-ld/v1/jsonldContexts/")
    entry = loader.add({"@context": {"speed": "http://example.org/speed"}})
    assert entry.kind == "Hosted"
    assert entry.url == f"http://broker/ngsi-ld/v1/jsonldContexts/{entry.id}"
    assert entry.document == {"speed": "http://example.org/speed"}


def test_add_accepts_a_bare_context_value() -> None:
    loader = ContextLoader(httpx.AsyncClient())
    entry = loader.add([{"speed": "http://example.org/speed"}])
    assert entry.document == [{"speed": "http://example.org/speed"}]


def test_add_rejects_a_string() -> None:
    loader = ContextLoader(httpx.AsyncClient())
    with pytest.raises(NgsiError) as caught:
        loader.add("nope")
    assert caught.value.kind == "BadRequestData"


async def test_hosted_context_resolves_by_its_url() -> None:
    server = Server({})
    loader, client = make_loader(server)
    entry = loader.add({"@context": {"speed": "http://example.org/speed"}})
    async with client:
        terms = await loader.term_map([entry.url])
    assert terms.expand("speed") == "http://example.org/speed"
    assert server.hits == {}


def test_get_finds_entries_by_id_and_by_url() -> None:
    loader = ContextLoader(httpx.AsyncClient())
    entry = loader.add({"@context": {}})
    assert loader.get(entry.id) is entry
    assert loader.get(entry.url) is entry
    assert loader.get("missing") is None


def test_delete_forgets_an_entry() -> None:
    loader = ContextLoader(httpx.AsyncClient())
    entry = loader.add({"@context": {}})
    assert loader.delete(entry.id) is True
    assert loader.get(entry.id) is None
    assert loader.delete(entry.id) is False


def test_reload_of_a_hosted_context_is_bad_request_data() -> None:
    loader = ContextLoader(httpx.AsyncClient())
    entry = loader.add({"@context": {}})
    with pytest.raises(NgsiError) as caught:
        loader.delete(entry.id, reload=True)
    assert caught.value.kind == "BadRequestData"


async def test_used_contexts_are_listed_as_cached_with_hits() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    loader, client = make_loader(Server({}), clock)
    async with client:
        await loader.term_map([SDM_CONTEXT_URL])
        clock.advance(5)
        await loader.term_map([SDM_CONTEXT_URL])
    [entry] = loader.entries("Cached")
    info = entry.info()
    assert info["url"] == SDM_CONTEXT_URL
    assert info["kind"] == "Cached"
    assert info["numberOfHits"] == 2
    assert info["createdAt"] == "2026-01-01T00:00:00.000000Z"
    assert info["lastUsage"] == "2026-01-01T00:00:05.000000Z"
    assert info["localId"] == entry.id


async def test_deleted_cached_context_is_fetched_again() -> None:
    server = Server({EX: {"@context": {"speed": "http://example.org/speed"}}})
    loader, client = make_loader(server)
    async with client:
        await loader.term_map([EX])
        assert loader.delete(EX, reload=True)
        await loader.term_map([EX])
    assert server.hits == {EX: 2}
