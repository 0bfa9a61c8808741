"""docker/ cannot run here (no Docker engine): check that the compose file and the image
agree with each other, with the services' real configuration, and with what each image
has inside."""

import os
import pathlib
import re
import subprocess
import unittest

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
BIN_DIR = pathlib.Path(os.environ.get("BIN_DIR", ROOT / "target" / "release"))

# What each image family has to run a healthcheck with, from the images' own build files:
# apache/kafka ships Kafka's scripts, clickhouse-server its client, MinIO's server image
# bundles `mc` (and no curl or wget), busybox-based images (nginx alpine, prometheus,
# grafana's alpine) have `wget`; friction's image gets curl from its Dockerfile.
IMAGE_TOOLS = {
    "apache/kafka": {"/opt/kafka/bin/kafka-broker-api-versions.sh"},
    "clickhouse/clickhouse-server": {"clickhouse-client", "clickhouse"},
    "quay.io/minio/minio": {"mc", "minio"},
    "nginx": {"wget", "nginx"},
    "prom/prometheus": {"wget", "promtool"},
    "grafana/grafana": {"wget"},
}
SERVICES = {"ingest": "friction-ingest", "consumers": "friction-consumers",
            "admin": "friction-admin", "exporter": "friction-exporter"}
DIGEST = re.compile(r"^[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}$")


class ComposeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.compose = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
        cls.services = cls.compose["services"]
        cls.dockerfile = (DOCKER / "Dockerfile").read_text()

    def env(self, service):
        return {k: str(v) for k, v in self.services[service]["environment"].items()}

    def test_names_every_service(self):
        self.assertEqual(set(self.services), {
            "kafka", "clickhouse", "minio", "init", "ingest", "load-balancer", "consumers",
            "admin", "exporter", "prometheus", "grafana"})

    def test_every_image_is_pinned_by_digest(self):
        for name, svc in self.services.items():
            if "build" in svc or svc.get("image", "").startswith("friction:"):
                continue
            self.assertRegex(svc["image"], DIGEST, name)
        for line in self.dockerfile.splitlines():
            if line.startswith("FROM "):
                self.assertRegex(line.split()[1], DIGEST, line)

    def test_minio_comes_from_a_registry_that_still_serves_it(self):
        self.assertTrue(self.services["minio"]["image"].startswith("quay.io/minio/"))

    def test_every_healthcheck_uses_a_tool_its_image_has(self):
        runtime = self.dockerfile.rsplit("FROM ", 1)[1]
        friction_tools = {"curl"} if re.search(r"apt-get install[^\n]*\bcurl\b", runtime) else set()
        friction_tools |= set(SERVICES.values()) | {"frictionctl"}
        for name, svc in self.services.items():
            check = svc.get("healthcheck")
            if check is None:
                continue
            test = check["test"]
            command = test[1] if test[0] == "CMD" else test[1].split()[0]
            image = svc.get("image", "")
            if image.startswith("friction:"):
                tools = friction_tools
            else:
                family = image.split("@")[0].rsplit(":", 1)[0]
                tools = IMAGE_TOOLS[family]
            self.assertIn(command, tools, f"{name}: {command} is not in {image}")
        for name in ("kafka", "clickhouse", "minio", "ingest", "consumers", "admin", "exporter"):
            self.assertIn("healthcheck", self.services[name], name)

    def test_every_friction_variable_is_a_setting_of_its_service(self):
        for name, binary in SERVICES.items():
            env = {k: v for k, v in self.env(name).items() if k.startswith("FRICTION_")}
            result = subprocess.run([BIN_DIR / binary, "--check-config"], env=env,
                                    capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 0, f"{name}: {result.stderr}")
        ctl_sources = (ROOT / "service" / "src" / "config.rs").read_text() + \
            (ROOT / "store" / "src" / "objects.rs").read_text()
        for key in self.env("init"):
            self.assertIn(f"pub {key[len('FRICTION_'):].lower()}:", ctl_sources, key)

    def test_services_listen_on_every_interface_and_keep_ops_ports_private(self):
        for name in SERVICES:
            for key, value in self.env(name).items():
                if key in ("FRICTION_LISTEN", "FRICTION_OPS_LISTEN"):
                    self.assertTrue(value.startswith("0.0.0.0:"), f"{name} {key}={value}")
        ingest = self.env("ingest")
        self.assertNotEqual(ingest["FRICTION_LISTEN"].rsplit(":", 1)[1],
                            ingest["FRICTION_OPS_LISTEN"].rsplit(":", 1)[1])
        self.assertNotIn("ports", self.services["ingest"], "replicas are reached through the balancer")
        for name in ("consumers", "exporter"):
            self.assertNotIn("ports", self.services[name], f"{name}'s ops port is published")
        for published in self.services["admin"]["ports"] + self.services["clickhouse"]["ports"]:
            self.assertTrue(published.startswith("127.0.0.1:"), published)

    def test_the_balancer_fronts_the_ingest_replicas(self):
        self.assertEqual(self.services["ingest"]["deploy"]["replicas"], 2)
        self.assertEqual(self.services["consumers"]["deploy"]["replicas"], 2)
        nginx = (DOCKER / "nginx" / "nginx.conf").read_text()
        port = self.env("ingest")["FRICTION_LISTEN"].rsplit(":", 1)[1]
        self.assertIn(f"server ingest:{port} resolve;", nginx)
        self.assertEqual(self.env("ingest")["FRICTION_TRUST_FORWARDED_FOR"], "true")
        self.assertIn("X-Forwarded-For", nginx)
        self.assertEqual(self.env("ingest")["FRICTION_RATE_LIMIT_REPLICAS"],
                         str(self.services["ingest"]["deploy"]["replicas"]))

    def test_every_long_running_service_has_resource_limits(self):
        for name, svc in self.services.items():
            if name == "init":
                continue
            limits = svc.get("deploy", {}).get("resources", {}).get("limits", {})
            self.assertTrue({"cpus", "memory"} <= set(limits), name)

    def test_service_addresses_point_at_container_ports(self):
        for name in ("init", *SERVICES):
            env = self.env(name)
            self.assertEqual(env["FRICTION_KAFKA_BROKERS"], "kafka:9092")
            self.assertIn("9092", self.services["kafka"]["environment"]["KAFKA_LISTENERS"])
            self.assertEqual(env["FRICTION_CLICKHOUSE_URL"], "http://clickhouse:8123")
        for name in ("init", "ingest", "admin", "exporter"):
            self.assertEqual(self.env(name)["FRICTION_S3_ENDPOINT"], "http://minio:9000")
        self.assertIn(":9000", self.services["minio"]["command"])

    def test_credentials_agree_between_services_and_stores(self):
        env = self.env("ingest")
        self.assertEqual(env["FRICTION_S3_ACCESS_KEY"], self.env("minio")["MINIO_ROOT_USER"])
        self.assertEqual(env["FRICTION_S3_SECRET_KEY"], self.env("minio")["MINIO_ROOT_PASSWORD"])
        self.assertEqual(env["FRICTION_CLICKHOUSE_USER"], self.env("clickhouse")["CLICKHOUSE_USER"])
        self.assertEqual(env["FRICTION_CLICKHOUSE_PASSWORD"], self.env("clickhouse")["CLICKHOUSE_PASSWORD"])

    def test_named_volumes_are_declared(self):
        declared = set(self.compose["volumes"])
        for name, svc in self.services.items():
            for volume in svc.get("volumes", []):
                source = volume.split(":")[0]
                if source.startswith((".", "/")):
                    self.assertTrue((DOCKER / source).exists(), f"{name} mounts missing {source}")
                else:
                    self.assertIn(source, declared, f"{name} uses undeclared volume {source}")

    def test_the_build_context_and_cache(self):
        ignored = (ROOT / ".dockerignore").read_text().split()
        for path in ("target/", ".dev/", ".git/", "**/node_modules/"):
            self.assertIn(path, ignored)
        self.assertIn("--mount=type=cache,target=/usr/local/cargo/registry", self.dockerfile)
        self.assertIn("--mount=type=cache,target=/src/target", self.dockerfile)
        self.assertIn("--locked", self.dockerfile)
        self.assertNotIn("ENV FRICTION_", self.dockerfile, "a variable every service would see")

    def test_kafka_runs_in_kraft_mode(self):
        self.assertIn("controller", self.env("kafka")["KAFKA_PROCESS_ROLES"])
        self.assertNotIn("zookeeper", self.services)


if __name__ == "__main__":
    unittest.main()
