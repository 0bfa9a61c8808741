"""What SREs get: every running service's /metrics passes `promtool check metrics`; the
alert rules load and pass their unit tests; every dashboard query names metrics the
services expose and evaluates; and Debian's Prometheus, pointed at the dev stack with
docker/prometheus's rules, sees every target up and fires FrictionServiceDown when a
service stops."""

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import yaml

from test_clickhouse_adapter import ROOT, stack

PROMETHEUS_DIR = ROOT / "docker" / "prometheus"
DASHBOARD = ROOT / "docker" / "grafana" / "dashboards" / "friction.json"
BIN_DIR = pathlib.Path(os.environ.get("BIN_DIR", ROOT / "target" / "release"))
JOBS = {"ingest": "FRICTION_INGEST_OPS_URL", "consumers": "FRICTION_CONSUMERS_URL",
        "admin": "FRICTION_ADMIN_URL", "exporter": "FRICTION_EXPORTER_URL"}
# Names in PromQL that are not metrics.
PROMQL_WORDS = {"sum", "by", "rate", "increase", "histogram_quantile", "max", "count", "deriv",
                "and", "or", "without", "le", "up", "absent", "label_replace"}


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exposed_names():
    names = set()
    env = stack()
    # Series with per-request labels appear with the first request of their kind.
    get(env["FRICTION_INGEST_URL"] + "/friction-tracker.js")
    urllib.request.urlopen(urllib.request.Request(
        env["FRICTION_ADMIN_URL"] + "/v1/me",
        headers={"authorization": f"Bearer {env['FRICTION_ADMIN_TOKEN']}"}), timeout=10).read()
    for key in JOBS.values():
        for line in get(env[key] + "/metrics").splitlines():
            if line and not line.startswith("#"):
                names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def dashboard_queries():
    dashboard = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"]
            for target in panel.get("targets", [])]


def metric_names(expr):
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    words = set(re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", expr))
    labels = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!=|=)", expr))
    grouped = {w for g in re.findall(r"by \(([^)]*)\)", expr) for w in re.findall(r"\w+", g)}
    return {w for w in words - labels - grouped - PROMQL_WORDS if not w.isdigit()}


class ObservabilityTest(unittest.TestCase):
    def test_every_service_passes_promtool_check_metrics(self):
        env = stack()
        for job, key in JOBS.items():
            text = get(env[key] + "/metrics")
            self.assertIn(f"friction_{job}_build_info{{", text)
            self.assertIn("process_resident_memory_bytes", text)
            result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                                    text=True, timeout=60)
            self.assertEqual((result.returncode, result.stdout + result.stderr), (0, ""), job)

    def test_metric_labels_are_of_low_cardinality(self):
        env = stack()
        forbidden = {"key", "key_id", "api_key", "url", "path", "owner", "owner_id", "session_id", "ip"}
        for key in JOBS.values():
            for line in get(env[key] + "/metrics").splitlines():
                if line.startswith("#") or "{" not in line:
                    continue
                labels = set(re.findall(r"(\w+)=\"", line.split("{", 1)[1]))
                self.assertFalse(labels & forbidden, line)

    def test_alert_rules_load_and_pass_their_unit_tests(self):
        for command in (["promtool", "check", "rules", "alerts.yml"],
                        ["promtool", "test", "rules", "alerts.test.yml"],
                        ["promtool", "check", "config", "prometheus.yml"]):
            result = subprocess.run(command, cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
        names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
        for alert in ("FrictionServiceDown", "FrictionIngestErrorRatio", "FrictionIngestLatencyHigh",
                      "FrictionConsumerLagGrowing", "FrictionDeadLetters", "FrictionExportFailures",
                      "FrictionKeyStoreErrors"):
            self.assertIn(alert, names)
        operations = (ROOT / "docs" / "operations.md").read_text()
        for alert in names:
            self.assertIn(f"### {alert}", operations, "docs/operations.md explains every alert")

    def test_every_dashboard_query_names_exposed_metrics(self):
        exposed = exposed_names()
        queries = dashboard_queries()
        self.assertGreaterEqual(len(queries), 20)
        for title, expr in queries:
            for pattern in re.findall(r'__name__=~"([^"]+)"', expr):
                self.assertTrue(any(re.fullmatch(pattern, n) for n in exposed), f"{title}: {pattern}")
            for name in metric_names(expr):
                found = name in exposed or any(f"{name}_{s}" in exposed for s in ("bucket", "count"))
                if name.endswith(("_bucket", "_count", "_sum")):
                    found = found or name in exposed
                self.assertTrue(found, f"{title}: {name} is not exposed by any service")

    def test_prometheus_scrapes_the_dev_stack_and_alerts_when_a_service_stops(self):
        env = stack()
        extra_port = free_port()
        service_env = {k: v for k, v in os.environ.items() if not k.startswith("FRICTION_")}
        service_env.update({
            "FRICTION_LISTEN": f"127.0.0.1:{extra_port}",
            "FRICTION_KAFKA_BROKERS": env["KAFKA_BROKERS"],
            "FRICTION_CLICKHOUSE_URL": env["CLICKHOUSE_URL"],
            "FRICTION_CLICKHOUSE_DATABASE": env["CLICKHOUSE_DB"],
            "RUST_LOG": "warn",
        })
        extra = subprocess.Popen([BIN_DIR / "friction-admin"], env=service_env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with tempfile.TemporaryDirectory() as work:
            work = pathlib.Path(work)
            rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
            for group in rules["groups"]:
                for rule in group["rules"]:
                    rule["for"] = "0s"  # the same rules, without their hold, for a quick test
            (work / "alerts.yml").write_text(yaml.safe_dump(rules))
            targets = {job: [urllib.parse.urlsplit(env[key]).netloc] for job, key in JOBS.items()}
            targets["admin"].append(f"127.0.0.1:{extra_port}")
            config = {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
                "rule_files": ["alerts.yml"],
                "scrape_configs": [{"job_name": job, "static_configs": [{"targets": t}]}
                                   for job, t in targets.items()],
            }
            (work / "prometheus.yml").write_text(yaml.safe_dump(config))
            port = free_port()
            prometheus = subprocess.Popen(
                ["prometheus", f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            api = f"http://127.0.0.1:{port}/api/v1"
            try:
                up = self.wait(lambda: self.targets_up(api), "every target up")
                self.assertEqual(up, {job: len(t) for job, t in targets.items()})
                for title, expr in dashboard_queries():
                    answer = json.loads(get(f"{api}/query?" + urllib.parse.urlencode({"query": expr})))
                    self.assertEqual(answer["status"], "success", title)
                extra.send_signal(signal.SIGTERM)
                extra.wait(timeout=30)
                firing = self.wait(lambda: self.firing(api, "FrictionServiceDown"), "FrictionServiceDown")
                self.assertEqual(firing, [{"job": "admin", "instance": f"127.0.0.1:{extra_port}"}])
            finally:
                prometheus.terminate()
                prometheus.wait(timeout=30)
                if extra.poll() is None:
                    extra.kill()

    @staticmethod
    def wait(check, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                found = check()
            except OSError:
                found = None
            if found:
                return found
            time.sleep(0.5)
        raise AssertionError(f"never saw {what}")

    @staticmethod
    def targets_up(api):
        active = json.loads(get(f"{api}/targets"))["data"]["activeTargets"]
        if not active or any(t["health"] != "up" for t in active):
            return None
        counts = {}
        for t in active:
            counts[t["labels"]["job"]] = counts.get(t["labels"]["job"], 0) + 1
        return counts

    @staticmethod
    def firing(api, name):
        alerts = json.loads(get(f"{api}/alerts"))["data"]["alerts"]
        return [{"job": a["labels"]["job"], "instance": a["labels"]["instance"]}
                for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]


if __name__ == "__main__":
    unittest.main()
