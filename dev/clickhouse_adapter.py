"""Dev-only ClickHouse HTTP interface over chDB (the ClickHouse engine as a library).

chDB has no server of its own. This adapter speaks the subset of the ClickHouse HTTP
interface that the `clickhouse` Rust crate and curl users need, so services talk to it
exactly as they would to clickhouse-server:

- SQL in `?query=`, in the body, or in a multipart/form-data body with `param_*` fields;
- `database`, `default_format`, `query_id`; every other URL parameter is a setting,
  applied for this request only (chDB keeps `SET` for the session, so it is undone),
  except the HTTP interface's own parameters and settings, which clickhouse-server acts on
  while serving the request and never hands to the query (`session_id`,
  `wait_end_of_query`, `send_progress_in_http_headers`, ...): they are honoured where the
  adapter can (`enable_http_compression` with `Accept-Encoding`) and otherwise ignored;
- request bodies with `Content-Encoding` gzip, deflate, zstd or lz4 (what clients such as
  clickhouse-connect send); ClickHouse's native block compression (`compress=1`,
  `decompress=1`) is refused with an error, never silently misread;
- `INSERT ... FORMAT X` with the data in the (possibly chunked) body;
- errors as `Code: N. DB::Exception: ...` with `X-ClickHouse-Exception-Code`;
- `/ping`.

chDB runs one statement at a time, so requests are serialised with a lock; insert data
is read in full before the lock is taken.
Never used in production: point services at a real clickhouse-server by URL.
"""

import argparse
import gzip
import email.parser
import email.policy
import re
import sys
import threading
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import chdb

try:
    import zstandard
except ImportError:
    zstandard = None
try:
    import lz4.frame as lz4frame
except ImportError:
    lz4frame = None

ENGINE_LOCK = threading.Lock()
CONN = None

# Parameters of the HTTP interface that are not ClickHouse settings.
NON_SETTINGS = {"query", "database", "default_format", "query_id", "user", "password",
                "quota_key", "compress", "decompress", "role", "session_id", "session_timeout",
                "session_check", "close_session", "stacktrace", "client_protocol_version"}
# Settings the HTTP interface consumes itself. clickhouse-server applies them to the
# response, not the query; the engine alone does not know some of them.
HTTP_SETTINGS = {"wait_end_of_query", "http_wait_end_of_query", "send_progress_in_http_headers",
                 "http_headers_progress_interval_ms", "enable_http_compression",
                 "http_zlib_compression_level", "http_response_buffer_size", "buffer_size",
                 "http_native_compression_disable_checksumming_on_decompress",
                 "cancel_http_readonly_queries_on_client_close", "add_http_cors_header",
                 "http_write_exception_in_output_format"}
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CODE = re.compile(r"Code: (\d+)\.")
OUTPUT_FORMAT = re.compile(r"\sFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.IGNORECASE)
INSERT_FORMAT = re.compile(r"^(?P<head>\s*INSERT\s.*?)\sFORMAT\s+(?P<fmt>[A-Za-z0-9_]+)\s*;?\s*$",
                           re.IGNORECASE | re.DOTALL)
# HTTP status per ClickHouse error code, as clickhouse-server maps the common ones.
STATUS_BY_CODE = {62: 400, 27: 400, 36: 400, 47: 400, 60: 404, 81: 404, 516: 401}


class EngineError(Exception):
    def __init__(self, message, code=1001):
        super().__init__(message)
        self.code = code


def engine_error(exc):
    text = str(exc)
    match = CODE.search(text)
    if match:
        return EngineError(text, int(match.group(1)))
    return EngineError(f"Code: 1001. DB::Exception: {text}", 1001)


def quote(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def decoders():
    found = {"gzip": lambda b: gzip.decompress(b), "deflate": zlib.decompress}
    if zstandard:
        found["zstd"] = lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b)
    if lz4frame:
        found["lz4"] = lz4frame.decompress
    return found


def encoders(level):
    found = {"gzip": lambda b: gzip.compress(b, level), "deflate": lambda b: zlib.compress(b, level)}
    if zstandard:
        found["zstd"] = lambda b: zstandard.ZstdCompressor().compress(b)
    if lz4frame:
        found["lz4"] = lz4frame.compress
    return found


def decode_body(body, encoding):
    encoding = encoding.strip().lower()
    if not body or encoding in ("", "identity"):
        return body
    decoder = decoders().get(encoding)
    if decoder is None:
        raise EngineError(f"Code: 1001. DB::Exception: Unknown HTTP content encoding: {encoding}", 1001)
    try:
        return decoder(body)
    except Exception as exc:
        raise EngineError(f"Code: 271. DB::Exception: Cannot decompress {encoding} body: {exc}. "
                          "(CANNOT_DECOMPRESS)", 271) from None


def pick_encoding(accept, level):
    """The first encoding of the client's Accept-Encoding the adapter can produce."""
    available = encoders(level)
    for item in accept.split(","):
        name = item.split(";")[0].strip().lower()
        if name in available:
            return name, available[name]
    return None, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "friction-chdb-adapter"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.handle_request(read_body=False)

    def do_POST(self):
        self.handle_request(read_body=True)

    # -- body handling ---------------------------------------------------

    def body_chunks(self):
        """Yields the request body, decoding chunked transfer encoding."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                data = self.rfile.read(size)
                self.rfile.readline()
                yield data
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining > 0:
                data = self.rfile.read(min(remaining, 1 << 20))
                if not data:
                    return
                remaining -= len(data)
                yield data

    def read_body(self):
        return decode_body(b"".join(self.body_chunks()), self.headers.get("Content-Encoding", ""))

    # -- request ---------------------------------------------------------

    def handle_request(self, read_body):
        url = urllib.parse.urlsplit(self.path)
        if url.path in ("/ping", "/ping/"):
            self.send_text(200, b"Ok.\n")
            return
        if url.path not in ("/", ""):
            self.send_error_text(404, EngineError(f"Code: 1002. DB::Exception: no handler for {url.path}", 1002))
            return
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        query = params.get("query", "")
        query_params = {}
        data_chunks = iter(())
        try:
            if read_body:
                content_type = self.headers.get("Content-Type", "")
                if content_type.startswith("multipart/form-data"):
                    form = self.parse_multipart(content_type, self.read_body())
                    query = (query + " " + form.pop("query", "")).strip()
                    query_params = {k[len("param_"):]: v for k, v in form.items() if k.startswith("param_")}
                elif query and INSERT_FORMAT.match(query):
                    # Read the whole body before taking the engine lock: a client may
                    # stream several inserts at once, and holding the lock while waiting
                    # for one body would stall the others (and their metadata queries).
                    data_chunks = iter((self.read_body(),))
                else:
                    body = self.read_body().decode("utf-8")
                    query = (query + "\n" + body).strip() if query else body
            query_params.update({k[len("param_"):]: v for k, v in params.items() if k.startswith("param_")})
            settings = {k: v for k, v in params.items()
                        if k not in NON_SETTINGS and k not in HTTP_SETTINGS and not k.startswith("param_")}
            if "1" in (params.get("compress"), params.get("decompress")):
                raise EngineError("Code: 1001. DB::Exception: ClickHouse native compression "
                                  "(compress=1, decompress=1) is not implemented by the dev adapter; "
                                  "use HTTP compression (enable_http_compression=1, Content-Encoding)",
                                  1001)
            if not query.strip():
                raise EngineError("Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)", 62)
            for name in settings:
                if not SETTING_NAME.match(name):
                    raise EngineError(f"Code: 115. DB::Exception: Unknown setting {name}. (UNKNOWN_SETTING)", 115)
            with ENGINE_LOCK:
                result = self.run(query, params.get("database"), params.get("default_format"),
                                  settings, query_params, data_chunks)
        except EngineError as exc:
            self.send_error_text(STATUS_BY_CODE.get(exc.code, 500), exc)
            return
        encoding = None
        if params.get("enable_http_compression") == "1":
            level = int(params.get("http_zlib_compression_level") or 3)
            encoding, encode = pick_encoding(self.headers.get("Accept-Encoding", ""), level)
            if encoding:
                result = encode(result)
        named = OUTPUT_FORMAT.search(query)
        fmt = named.group(1) if named else params.get("default_format") or "TabSeparated"
        self.send_text(200, result, params.get("query_id"), encoding, fmt)

    @staticmethod
    def parse_multipart(content_type, body):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                fields[name] = part.get_payload(decode=True).decode("utf-8")
        return fields

    def run(self, query, database, default_format, settings, query_params, data_chunks):
        applied = []
        try:
            CONN.query(f"USE {database or 'default'}")
            for name, value in settings.items():
                CONN.query(f"SET {name} = {quote(value)}")
                applied.append(name)
            insert = INSERT_FORMAT.match(query)
            if insert and not query_params:
                inserter = CONN.send_insert(insert.group("head"), insert.group("fmt"))
                try:
                    for chunk in data_chunks:
                        inserter.append(chunk)
                    inserter.finish()
                except Exception:
                    inserter.cancel()
                    raise
                return b""
            result = CONN.query(query, default_format or "TabSeparated", params=query_params)
            return result.bytes()
        except EngineError:
            raise
        except Exception as exc:  # chDB raises ChdbError/RuntimeError with ClickHouse text
            raise engine_error(exc) from None
        finally:
            for name in applied:
                try:
                    CONN.query(f"SET {name} = DEFAULT")
                except Exception:
                    pass

    # -- responses ---------------------------------------------------------

    def send_text(self, status, body, query_id=None, encoding=None, fmt=None):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        if encoding:
            self.send_header("Content-Encoding", encoding)
        if fmt:
            self.send_header("X-ClickHouse-Format", fmt)
            self.send_header("X-ClickHouse-Timezone", self.server.timezone)
        if query_id:
            self.send_header("X-ClickHouse-Query-Id", query_id)
        self.end_headers()
        self.wfile.write(body)

    def send_error_text(self, status, exc):
        body = (str(exc).rstrip("\n") + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("X-ClickHouse-Exception-Code", str(exc.code))
        self.end_headers()
        self.wfile.write(body)


def main():
    global CONN
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--data", required=True, help="directory of the chDB database")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    CONN = chdb.connect(f"file:{args.data}")
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.verbose = args.verbose
    server.timezone = CONN.query("SELECT timezone()", "TabSeparated").bytes().decode().strip()
    server.daemon_threads = True
    print(f"chdb adapter listening on {args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
