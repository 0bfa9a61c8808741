"""The dev stack as an analyst meets it: through clickhouse-connect, the official ClickHouse
Python client, which this project did not write. It connects (sending the HTTP interface's
own settings, a session id and compressed bodies), runs queries with bound parameters,
inserts, reads a DataFrame, and runs every query of docs/sql.md on events that went through
ingest and the consumers."""

import copy
import datetime
import json
import pathlib
import time
import unittest
import urllib.parse
import urllib.request
import uuid

import clickhouse_connect

from test_clickhouse_adapter import ROOT, stack


def http_json(method, url, body=None, headers=None):
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def example_batch():
    doc = (ROOT / "docs" / "events.md").read_text()
    return json.loads(doc.split("```json\n", 1)[1].split("```", 1)[0])


class AnalystClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        env = stack()
        url = urllib.parse.urlsplit(env["CLICKHOUSE_URL"])
        cls.connect = staticmethod(lambda compress: clickhouse_connect.get_client(
            host=url.hostname, port=url.port, username="default", database=env["CLICKHOUSE_DB"],
            compress=compress))
        cls.client = cls.connect(True)
        cls.env = env

    def test_queries_bind_parameters_and_read_dataframes(self):
        self.assertTrue(self.client.server_version)
        rows = self.client.query("SELECT {a:UInt32} + 1, {s:String}", parameters={"a": 41, "s": "o'k"})
        self.assertEqual(rows.result_rows, [(42, "o'k")])
        frame = self.client.query_df("SELECT number, toString(number) AS s FROM numbers(5)")
        self.assertEqual(list(frame["number"]), [0, 1, 2, 3, 4])
        self.assertEqual(list(frame["s"]), ["0", "1", "2", "3", "4"])

    def test_inserts_compressed_and_plain(self):
        database = f"analyst_{uuid.uuid4().hex[:12]}"
        self.client.command(f"CREATE DATABASE {database}")
        try:
            table = f"{database}.visits"
            self.client.command(f"CREATE TABLE {table} (id UInt32, page String) ENGINE = MergeTree ORDER BY id")
            self.client.insert(table, [[1, "/a"], [2, "/b"]], column_names=["id", "page"])
            self.connect(False).insert(table, [[3, "/c"]], column_names=["id", "page"])
            frame = self.client.query_df(f"SELECT * FROM {table} ORDER BY id")
            self.assertEqual(list(frame["page"]), ["/a", "/b", "/c"])
        finally:
            self.client.command(f"DROP DATABASE {database}")

    def test_the_http_interface_settings_never_reach_the_engine(self):
        for settings in ({"wait_end_of_query": 1}, {"send_progress_in_http_headers": 1},
                         {"enable_http_compression": 1}, {"http_headers_progress_interval_ms": 100}):
            rows = self.client.query("SELECT 1", settings=settings).result_rows
            self.assertEqual(rows, [(1,)], settings)
        with self.assertRaises(Exception) as refused:
            self.client.query("SELECT 1", settings={"no_such_setting_here": 1})
        self.assertIn("no_such_setting_here", str(refused.exception))

    def test_the_sql_cookbook_runs_on_events_sent_through_ingest(self):
        auth = {"authorization": f"Bearer {self.env['FRICTION_ADMIN_TOKEN']}"}
        admin = self.env["FRICTION_ADMIN_URL"]
        owner = http_json("GET", f"{admin}/v1/me", headers=auth)["id"]
        key = http_json("POST", f"{admin}/v1/keys", {"name": "analyst-test", "allowed_domains": [],
                                                    "rate_limit_per_minute": 600}, auth)
        batch = example_batch()
        session = f"s_analyst_{uuid.uuid4().hex[:10]}"
        now = int(time.time() * 1000)
        offset = now - batch["sent_at"]
        batch["sent_at"] = now
        for event in batch["events"]:
            event["event_id"] = str(uuid.uuid4())
            event["session_id"] = session
            event["timestamp"] += offset
        request = urllib.request.Request(
            f"{self.env['FRICTION_INGEST_URL']}/v1/events", data=json.dumps(batch).encode(), method="POST",
            headers={"content-type": "application/json", "x-api-key": key["key"]})
        with urllib.request.urlopen(request, timeout=30) as response:
            self.assertEqual(json.loads(response.read())["processed"], len(batch["events"]))

        deadline = time.time() + 60
        while time.time() < deadline:
            seen = self.client.query("SELECT count() FROM friction_events WHERE session_id = {s:String}",
                                     parameters={"s": session}).result_rows[0][0]
            if seen:
                break
            time.sleep(0.5)
        self.assertGreater(seen, 0, "the events never reached ClickHouse")

        doc = (ROOT / "docs" / "sql.md").read_text()
        queries = [block.split("```", 1)[0] for block in doc.split("```sql\n")[1:]]
        self.assertGreaterEqual(len(queries), 10)
        parameters = {
            "owner": owner,
            "from": datetime.datetime.fromtimestamp(now / 1000 - 86400, datetime.timezone.utc),
            "to": datetime.datetime.fromtimestamp(now / 1000 + 86400, datetime.timezone.utc),
            "path": urllib.parse.urlsplit(batch["events"][0]["url"]).path,
            "session": session,
        }
        answered = 0
        for sql in queries:
            with self.subTest(sql=sql.splitlines()[0]):
                result = self.client.query(sql, parameters=parameters)
                answered += bool(result.result_rows)
        self.assertGreaterEqual(answered, len(queries) // 2, "most cookbook queries found the events")


if __name__ == "__main__":
    unittest.main()
