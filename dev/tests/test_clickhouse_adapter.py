"""Tests of dev/clickhouse_adapter.py against the running adapter from ./dev/up."""

import gzip
import http.client
import os
import pathlib
import unittest
import urllib.parse
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]


def stack():
    path = pathlib.Path(os.environ.get("FRICTION_STACK_ENV", ROOT / ".dev" / "stack.env"))
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


URL = urllib.parse.urlsplit(stack()["CLICKHOUSE_URL"])


def request(method, path, body=None, headers=None, chunked=False):
    conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def query(sql, **params):
    qs = urllib.parse.urlencode(params)
    return request("POST", "/?" + qs, body=sql.encode())


class AdapterTest(unittest.TestCase):
    def test_ping(self):
        self.assertEqual(request("GET", "/ping")[2], b"Ok.\n")

    def test_malformed_sql_is_a_clickhouse_error_not_a_crash(self):
        status, headers, body = query("SELEC 1")
        self.assertEqual(status, 400)
        self.assertEqual(headers["X-ClickHouse-Exception-Code"], "62")
        self.assertTrue(body.startswith(b"Code: 62. DB::Exception:"), body)
        self.assertEqual(query("SELECT 1")[2], b"1\n")

    def test_unknown_table_is_404(self):
        status, headers, _ = query("SELECT * FROM default.no_such_table_here")
        self.assertEqual(status, 404)
        self.assertEqual(headers["X-ClickHouse-Exception-Code"], "60")

    def test_compressed_bodies_and_answers_use_http_content_encoding(self):
        table = f"default.enc_{uuid.uuid4().hex[:10]}"
        self.assertEqual(query(f"CREATE TABLE {table} (s String) ENGINE = Memory")[0], 200)
        body = gzip.compress(b"a\nb\n")
        status, _, out = request("POST", "/?" + urllib.parse.urlencode({"query": f"INSERT INTO {table} FORMAT TSV"}),
                                 body=body, headers={"Content-Encoding": "gzip"})
        self.assertEqual(status, 200, out)
        status, headers, out = request(
            "POST", "/?enable_http_compression=1", body=f"SELECT s FROM {table} ORDER BY s".encode(),
            headers={"Accept-Encoding": "gzip"})
        self.assertEqual((status, headers.get("Content-Encoding")), (200, "gzip"))
        self.assertEqual(gzip.decompress(out), b"a\nb\n")
        self.assertEqual(query(f"SELECT count() FROM {table}", wait_end_of_query="1",
                               send_progress_in_http_headers="1", session_id="x")[2], b"2\n")
        status, headers, _ = request("POST", "/?compress=1", body=b"SELECT 1")
        self.assertEqual(status, 500)
        status, _, out = request("POST", "/", body=b"garbage", headers={"Content-Encoding": "gzip"})
        self.assertNotEqual(status, 200, out)
        query(f"DROP TABLE {table}")

    def test_settings_apply_to_one_request_only(self):
        sql = "SELECT value FROM system.settings WHERE name = 'max_threads'"
        self.assertEqual(query(sql, max_threads="1")[2], b"1\n")
        self.assertNotEqual(query(sql)[2], b"1\n")

    def test_database_and_default_format(self):
        status, _, body = query("SELECT currentDatabase() AS db", database="system", default_format="JSONEachRow")
        self.assertEqual(status, 200)
        self.assertEqual(body, b'{"db":"system"}\n')
        self.assertEqual(query("SELECT currentDatabase()")[2], b"default\n")

    def test_streamed_chunked_insert_with_dedup_token(self):
        table = f"default.t_{uuid.uuid4().hex}"
        self.assertEqual(query(f"CREATE TABLE {table} (a UInt32, s String) ENGINE = MergeTree ORDER BY a "
                               "SETTINGS non_replicated_deduplication_window = 10")[0], 200)

        def chunks():
            for i in range(3):
                yield f"{i}\tx{i}\n".encode()

        for _ in range(2):
            qs = urllib.parse.urlencode({"query": f"INSERT INTO {table} (a, s) FORMAT TabSeparated",
                                         "insert_deduplication_token": "tok-1"})
            status, _, body = request("POST", "/?" + qs, body=chunks(), chunked=True)
            self.assertEqual(status, 200, body)
        self.assertEqual(query(f"SELECT count(), sum(a) FROM {table}")[2], b"3\t3\n")

    def test_bad_insert_data_is_refused_and_nothing_is_written(self):
        table = f"default.t_{uuid.uuid4().hex}"
        query(f"CREATE TABLE {table} (a UInt32) ENGINE = MergeTree ORDER BY a")
        qs = urllib.parse.urlencode({"query": f"INSERT INTO {table} (a) FORMAT TabSeparated"})
        status, headers, _ = request("POST", "/?" + qs, body=b"1\nnot-a-number\n")
        self.assertGreaterEqual(status, 400)
        self.assertIn("X-ClickHouse-Exception-Code", headers)
        self.assertEqual(query(f"SELECT count() FROM {table}")[2], b"0\n")

    def test_multipart_query_parameters(self):
        boundary = "b0undary"
        parts = [("query", "SELECT {x:UInt32} + 1"), ("param_x", "41")]
        body = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                       for k, v in parts) + f"--{boundary}--\r\n"
        status, _, out = request("POST", "/", body=body.encode(),
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        self.assertEqual((status, out), (200, b"42\n"))


if __name__ == "__main__":
    unittest.main()
