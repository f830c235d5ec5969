"""A route that validates its own query model documents it as FastAPI would, and refuses bad values alike."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import FastAPI, Query, Request
from fastapi.testclient import TestClient

from asnflow.api import errors
from asnflow.api.deps import Reader, query_parameters
from asnflow.api.routes.tasks import InboxQuery


def test_the_inbox_query_is_documented_as_fastapi_documents_a_query_model() -> None:
    app = FastAPI()

    @app.get("/x")
    async def x(q: Annotated[InboxQuery, Query()]) -> None: ...

    assert query_parameters(InboxQuery)["parameters"] == app.openapi()["paths"]["/x"]["get"]["parameters"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "query.limit"), ("limit=501", "query.limit"), ("offset=-1", "query.offset"), ("scope=everyone", "query.scope"),
     ("overdue=perhaps", "query.overdue"), ("min_position=x", "query.min_position"), ("status=", "query.status")],
)
def test_a_bad_inbox_query_gets_the_apis_422(query: str, field: str) -> None:
    app = FastAPI()
    errors.install(app)

    @app.get("/inbox")
    async def inbox(request: Request) -> dict[str, object]:
        # Reader.query reads only the request's query string.
        q = Reader(user=None, conn=None, res=None, request=request).query(InboxQuery)  # type: ignore[arg-type]
        return q.model_dump()

    with TestClient(app) as client:
        ok = client.get("/inbox?limit=10&scope=mine&overdue=true&unknown=1")
        assert ok.json() == {**InboxQuery().model_dump(), "limit": 10, "scope": "mine", "overdue": True}
        r = client.get(f"/inbox?{query}")
        assert r.status_code == 422, r.text
        assert [p["field"] for p in r.json()["problems"]] == [field]
        assert r.json()["message_id"] and r.json()["message_en"]
