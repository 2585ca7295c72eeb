"""``specialized.extract``: HTML with CSS selectors, JSON with JSONPath, CSV; alone and in a run."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from tests.integration.api.helpers import create_and_deploy, start_run, wait_run

from quantum_orchestrator.agents import StepContext
from quantum_orchestrator.agents.nodes.extract import extract
from quantum_orchestrator.domain.errors import StepError

API = "/api/v1"

PAGE = """<!doctype html>
<html><head><title> Shop &amp; Co </title></head>
<body>
  <ul id="products">
    <li class="product" data-sku="A1"><a href="/p/a1">Apple</a> <span class="price">1.20</span>
      <span class="tag">fruit</span><span class="tag">red</span></li>
    <li class="product" data-sku="B2"><a href="/p/b2">Bread</a> <span class="price">2.50</span></li>
    <li class="product" data-sku="C3"><a href="/p/c3">Cheese <b>aged</b></a></li>
  </ul>
  <p class=unclosed>broken <i>markup
</body></html>"""

DOC = {
    "store": {
        "name": "corner",
        "books": [
            {"title": "Dune", "price": 9.5, "tags": ["sf"]},
            {"title": "Emma", "price": 4.0, "tags": []},
            {"title": "Ubik", "price": 7.25, "tags": ["sf", "pkd"]},
        ],
    }
}


def make_ctx() -> StepContext:
    return StepContext(
        run_id="r",
        step_id="s",
        node_id="n",
        node_type="specialized.extract",
        attempt=1,
        idempotency_key="r:n",
        timeout=30,
        logger=logging.LoggerAdapter(logging.getLogger("test"), {}),
    )


async def run(params: dict[str, Any]) -> Any:
    return await extract(params, make_ctx())


async def test_html_fields_from_the_document() -> None:
    output = await run(
        {
            "format": "html",
            "content": PAGE,
            "fields": {
                "title": "title",
                "first_link": {"selector": "a", "attribute": "href"},
                "names": {"selector": "li.product > a", "all": True},
                "skus": {"selector": "li.product", "attribute": "data-sku", "all": True},
                "missing": {"selector": "table td", "default": "n/a"},
                "nothing": "table td",
                "inner": {"selector": "li[data-sku=C3] a", "html": True},
                "broken": "p.unclosed",
            },
        }
    )
    assert output == {
        "title": "Shop & Co",
        "first_link": "/p/a1",
        "names": ["Apple", "Bread", "Cheese aged"],
        "skus": ["A1", "B2", "C3"],
        "missing": "n/a",
        "nothing": None,
        "inner": '<a href="/p/c3">Cheese <b>aged</b></a>',
        "broken": "broken markup",
    }


async def test_html_records() -> None:
    output = await run(
        {
            "format": "html",
            "content": PAGE,
            "items": "li.product",
            "fields": {
                "sku": {"attribute": "data-sku"},
                "name": "a",
                "url": {"selector": "a", "attribute": "href"},
                "price": ".price",
                "tags": {"selector": ".tag", "all": True},
            },
            "limit": 2,
        }
    )
    assert output == [
        {"sku": "A1", "name": "Apple", "url": "/p/a1", "price": "1.20", "tags": ["fruit", "red"]},
        {"sku": "B2", "name": "Bread", "url": "/p/b2", "price": "2.50", "tags": []},
    ]
    texts = await run({"format": "html", "content": PAGE, "items": ".price"})
    assert texts == ["1.20", "2.50"]


async def test_json_paths() -> None:
    output = await run(
        {
            "format": "json",
            "content": DOC,
            "fields": {
                "name": "$.store.name",
                "titles": {"path": "$.store.books[*].title", "all": True},
                "cheap": {"path": "$.store.books[?(@.price < 5)].title"},
                "none": {"path": "$.store.owner", "default": "nobody"},
            },
        }
    )
    assert output == {
        "name": "corner",
        "titles": ["Dune", "Emma", "Ubik"],
        "cheap": "Emma",
        "none": "nobody",
    }


async def test_json_records_from_text() -> None:
    import json

    output = await run(
        {
            "format": "json",
            "content": json.dumps(DOC),
            "items": "$.store.books[?(@.tags[0] == 'sf')]",
            "fields": {"title": "$.title", "tags": {"path": "$.tags[*]", "all": True}},
        }
    )
    assert output == [
        {"title": "Dune", "tags": ["sf"]},
        {"title": "Ubik", "tags": ["sf", "pkd"]},
    ]
    assert await run({"format": "json", "content": "[1, 2]"}) == [1, 2]


async def test_csv() -> None:
    content = 'name,qty,note\nbolt,10,"a, b"\nnut,5\n\n"wash\ner",1,x\n'
    assert await run({"format": "csv", "content": content}) == [
        {"name": "bolt", "qty": "10", "note": "a, b"},
        {"name": "nut", "qty": "5", "note": None},
        {"name": "wash\ner", "qty": "1", "note": "x"},
    ]
    assert await run(
        {"format": "csv", "content": "a;b\n1;2\n3;4\n", "delimiter": ";", "header": False}
    ) == [["a", "b"], ["1", "2"], ["3", "4"]]
    assert await run(
        {"format": "csv", "content": content, "columns": ["qty", "name"], "limit": 1}
    ) == [{"qty": "10", "name": "bolt"}]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"format": "xml", "content": "<a/>"}, "invalid_params"),
        ({"format": "html", "content": PAGE, "fields": {"x": "p[["}}, "invalid_params"),
        ({"format": "html", "content": PAGE}, "invalid_params"),
        ({"format": "json", "content": DOC, "fields": {"x": "$.["}}, "invalid_params"),
        ({"format": "json", "content": "{not json"}, "extract_failed"),
        ({"format": "csv", "content": 'a\n"open'}, "extract_failed"),
        ({"format": "csv", "content": "a\n1\n", "columns": ["b"]}, "extract_failed"),
        ({"format": "csv", "content": 42}, "invalid_params"),
    ],
)
async def test_errors_are_not_retryable(params: dict[str, Any], code: str) -> None:
    with pytest.raises(StepError) as caught:
        await run(params)
    assert caught.value.code == code
    assert caught.value.retryable is False


async def test_in_a_workflow(http: httpx.AsyncClient) -> None:
    spec = {
        "name": "scrape",
        "nodes": [
            {
                "id": "page",
                "type": "specialized.extract",
                "params": {
                    "format": "html",
                    "content": "{{ inputs.page }}",
                    "items": "li.product",
                    "fields": {"sku": {"attribute": "data-sku"}, "name": "a"},
                },
            },
            {
                "id": "names",
                "type": "specialized.extract",
                "params": {
                    "format": "json",
                    "content": "{{ nodes.page.output }}",
                    "fields": {"names": {"path": "$[*].name", "all": True}},
                },
            },
        ],
        "connections": [{"from": "page", "to": "names"}],
    }
    await create_and_deploy(http, spec)
    run_ = await start_run(http, "scrape", {"page": PAGE})
    done = await wait_run(http, run_["id"])
    assert done["state"] == "succeeded", done
    outputs = {step["node_id"]: step["output"] for step in done["steps"]}
    assert outputs["page"][0] == {"sku": "A1", "name": "Apple"}
    assert outputs["names"] == {"names": ["Apple", "Bread", "Cheese aged"]}

    bad = dict(spec, name="bad-scrape")
    bad["nodes"] = [{"id": "x", "type": "specialized.extract", "params": {"format": "xml"}}]
    bad["connections"] = []
    answer = await http.post(f"{API}/workflows", json={"spec": bad})
    assert answer.status_code == 422, answer.text
