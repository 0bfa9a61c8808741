"""The machine-readable contracts: ingest/openapi.json is a valid OpenAPI 3.1 document that
names every public route and every error code ingest answers, its batch schema is
docs/events.schema.json, and docs/events.md's example validates against that schema.
(The SDK's real output is validated against the same schema by every SDK test, in
sdk/test/helpers.mjs.)"""

import json
import re
import unittest

import jsonschema
from openapi_spec_validator import validate

from test_clickhouse_adapter import ROOT

OPENAPI = json.loads((ROOT / "ingest" / "openapi.json").read_text())
SCHEMA = json.loads((ROOT / "docs" / "events.schema.json").read_text())


def example_batch():
    doc = (ROOT / "docs" / "events.md").read_text()
    return json.loads(doc.split("```json\n", 1)[1].split("```", 1)[0])


def validator():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    return jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


class ApiContractTest(unittest.TestCase):
    def test_openapi_document_is_valid(self):
        validate(OPENAPI)
        self.assertEqual(OPENAPI["openapi"], "3.1.0")

    def test_every_public_route_is_described(self):
        router = (ROOT / "ingest" / "src" / "router.rs").read_text()
        routed = set(re.findall(r'"(/v1/[a-z]+)"', router))
        # The SDK endpoint decides which paths are its own: each build's moving path, its
        # versioned one, and the manifest.
        self.assertIn("endpoints::sdk::serves(p)", router)
        sdk = (ROOT / "ingest" / "src" / "endpoints" / "sdk.rs").read_text()
        builds = re.search(r"const BUILDS: \[&str; \d+\] = \[([^\]]*)\]", sdk).group(1)
        names = re.findall(r'"([^"]+)"', builds)
        served = {"/sdk/manifest.json"} | {f"/{n}" for n in names} | {f"/sdk/{{version}}/{n}" for n in names}
        self.assertEqual(routed | served, set(OPENAPI["paths"]))

    def test_every_error_code_is_described(self):
        sources = (ROOT / "ingest" / "src" / "error.rs").read_text()
        codes = set(re.findall(r'=> "([a-z_]+)",', sources.split("fn code(&self)", 1)[1].split("\n    }\n", 1)[0]))
        documented = set(OPENAPI["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
        self.assertTrue(codes, "no codes found in error.rs")
        self.assertLessEqual(codes, documented)

    def test_the_openapi_batch_is_the_published_schema(self):
        components = OPENAPI["components"]["schemas"]
        self.assertEqual(components["Event"], SCHEMA["$defs"]["event"])
        batch = dict(components["Batch"])
        batch["properties"] = dict(batch["properties"])
        batch["properties"]["events"] = dict(batch["properties"]["events"], items={"$ref": "#/$defs/event"})
        published = {k: v for k, v in SCHEMA.items() if k not in ("$schema", "$defs")}
        self.assertEqual(batch, published)

    def test_the_documented_example_validates(self):
        errors = [e.message for e in validator().iter_errors(example_batch())]
        self.assertEqual(errors, [])

    def test_the_schema_refuses_what_ingest_refuses(self):
        v = validator()
        good = example_batch()["events"][0]
        for broken in ({**good, "type": "hover"}, {**good, "event_id": "nope"},
                       {k: val for k, val in good.items() if k != "url"},
                       {**good, "kind": "performance"}, {**good, "click_count": 1},
                       {**good, "url": "https://user:pw@shop.example.com/"}):
            self.assertFalse(v.is_valid({"events": [broken]}), broken)
        self.assertFalse(v.is_valid({"events": []}))
        self.assertFalse(v.is_valid({"events": [good] * 501}))
