"""Fixture: validate objects against components of OpenAI's OpenAPI spec with jsonschema.

The schemas the Responses API returns (``Response``, ``ResponseStreamEvent`` and everything
they reference) are vendored in ``tests/fixtures/openapi/responses.json``, extracted from the
spec by ``extract`` (descriptions and examples dropped), so the tests need no 3 MB file.
Regenerate with ``python -m tests.plugins.spec PATH/openai-openapi.yaml``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

VENDORED = Path(__file__).resolve().parents[1] / "fixtures" / "openapi" / "responses.json"
ROOTS = ("Response", "ResponseStreamEvent", "ConversationResource", "ConversationItemList")
NOISE = ("description", "example", "examples", "title")
Validate = Callable[[str, Any], list[str]]


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _strip(v)
            for k, v in node.items()
            if not (k.startswith("x-") or (k in NOISE and not isinstance(v, dict)))
        }
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def extract(spec: dict[str, Any], roots: tuple[str, ...] = ROOTS) -> dict[str, Any]:
    """The ``roots`` components of ``spec`` and every component they reference."""
    schemas = spec["components"]["schemas"]
    found: dict[str, Any] = {}
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in found:
            continue
        found[name] = _strip(schemas[name])
        text = json.dumps(schemas[name])
        for ref in text.split('"$ref": "#/components/schemas/')[1:]:
            stack.append(ref.split('"', 1)[0])
    return {"components": {"schemas": dict(sorted(found.items()))}}


@pytest.fixture(scope="session")
def spec_errors() -> Validate:
    """``spec_errors(component, obj)``: jsonschema's messages (empty when ``obj`` is valid),
    each prefixed by the path of the offending value; ``$ref``s resolve inside the spec."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    contents = json.loads(VENDORED.read_text())
    registry = Registry().with_resource(
        "urn:openai", Resource.from_contents(contents, default_specification=DRAFT202012)
    )
    validators: dict[str, Draft202012Validator] = {}

    def errors(component: str, obj: Any) -> list[str]:
        if component not in validators:
            schema = {"$ref": f"urn:openai#/components/schemas/{component}"}
            validators[component] = Draft202012Validator(schema, registry=registry)
        found = validators[component].iter_errors(obj)
        return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in found]

    return errors


if __name__ == "__main__":
    import yaml

    with open(sys.argv[1]) as f:
        spec = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    VENDORED.write_text(json.dumps(extract(spec), indent=1, sort_keys=True) + "\n")
