"""NgsiError: the CIM 009 §5.5.2 problem types and their ProblemDetails."""

from __future__ import annotations

import pytest

from twinspace.twin.errors import HTTP_KINDS, NGSI_KINDS, NgsiError


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("InvalidRequest", 400),
        ("BadRequestData", 400),
        ("AlreadyExists", 409),
        ("OperationNotSupported", 422),
        ("ResourceNotFound", 404),
        ("InternalError", 500),
        ("TooComplexQuery", 403),
        ("TooManyResults", 403),
        ("LdContextNotAvailable", 504),
        ("NoMultiTenantSupport", 501),
        ("NonexistentTenant", 404),
    ],
)
def test_ngsi_kinds_have_their_status_and_type_uri(kind: str, status: int) -> None:
    error = NgsiError(kind, "why")
    assert error.status == status
    assert error.type == f"https://uri.etsi.org/ngsi-ld/errors/{kind}"


@pytest.mark.parametrize(
    ("kind", "status"),
    [("LengthRequired", 411), ("UnsupportedMediaType", 415), ("NotAcceptable", 406)],
)
def test_http_kinds_are_about_blank(kind: str, status: int) -> None:
    error = NgsiError(kind, "why")
    assert error.status == status
    assert error.type == "about:blank"


def test_problem_holds_type_title_status_detail() -> None:
    problem = NgsiError("ResourceNotFound", "no entity urn:x:1").problem()
    assert problem == {
        "type": "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound",
        "title": "Resource not found",
        "status": 404,
        "detail": "no entity urn:x:1",
    }


def test_title_and_status_can_be_overridden() -> None:
    error = NgsiError("BadRequestData", "d", title="Custom", status=422)
    assert (error.title, error.status) == ("Custom", 422)


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown"):
        NgsiError("Teapot", "no")


def test_message_is_the_detail() -> None:
    assert str(NgsiError("InternalError", "boom")) == "boom"


def test_kind_tables_do_not_overlap() -> None:
    assert not set(NGSI_KINDS) & set(HTTP_KINDS)
