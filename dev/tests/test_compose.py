"""docker/docker-compose.yml cannot run here (no Docker engine); check that it parses and
that its services, ports, volumes and settings agree with each other and with the config."""

import pathlib
import re
import unittest

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


class ComposeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.compose = yaml.safe_load((ROOT / "docker" / "docker-compose.yml").read_text())
        cls.services = cls.compose["services"]

    def env(self, service):
        return self.services[service]["environment"]

    def test_names_every_service(self):
        self.assertEqual(
            set(self.services),
            {"kafka", "clickhouse", "minio", "init", "ingest", "consumers", "admin", "exporter"},
        )

    def test_named_volumes_are_declared(self):
        declared = set(self.compose["volumes"])
        for name, svc in self.services.items():
            for volume in svc.get("volumes", []):
                source = volume.split(":")[0]
                if not source.startswith((".", "/")):
                    self.assertIn(source, declared, f"{name} uses undeclared volume {source}")

    def test_service_addresses_point_at_published_container_ports(self):
        def container_ports(name):
            return {int(p.split(":")[-1]) for p in self.services[name].get("ports", [])}

        for name in ("init", "ingest", "consumers", "admin", "exporter"):
            env = self.env(name)
            host, port = env["FRICTION_KAFKA_BROKERS"].split(":")
            self.assertIn(int(port), container_ports(host))
            for key in ("FRICTION_CLICKHOUSE_URL", "FRICTION_S3_ENDPOINT"):
                m = re.match(r"http://([^:/]+):(\d+)", env[key])
                self.assertIn(int(m.group(2)), container_ports(m.group(1)), key)
        listen = int(self.env("ingest")["FRICTION_LISTEN"].rsplit(":", 1)[1])
        self.assertIn(listen, container_ports("ingest"))
        for name in ("consumers", "exporter"):
            ops = int(self.env(name)["FRICTION_OPS_LISTEN"].rsplit(":", 1)[1])
            self.assertIn(ops, container_ports(name))
        admin = int(self.env("admin")["FRICTION_LISTEN"].rsplit(":", 1)[1])
        self.assertIn(admin, container_ports("admin"))

    def test_credentials_agree_between_services_and_stores(self):
        env = self.env("ingest")
        self.assertEqual(env["FRICTION_S3_ACCESS_KEY"], self.env("minio")["MINIO_ROOT_USER"])
        self.assertEqual(env["FRICTION_S3_SECRET_KEY"], self.env("minio")["MINIO_ROOT_PASSWORD"])
        self.assertEqual(env["FRICTION_CLICKHOUSE_USER"], self.env("clickhouse")["CLICKHOUSE_USER"])
        self.assertEqual(env["FRICTION_CLICKHOUSE_PASSWORD"], self.env("clickhouse")["CLICKHOUSE_PASSWORD"])

    def test_every_friction_variable_is_a_config_field(self):
        sources = "".join(p.read_text() for p in ROOT.glob("*/src/**/*.rs"))
        for name in ("init", "ingest", "consumers", "admin", "exporter"):
            for key in self.env(name):
                if key.startswith("FRICTION_"):
                    field = key[len("FRICTION_"):].lower()
                    self.assertTrue(f"pub {field}:" in sources, f"{key} matches no config field")

    def test_kafka_runs_in_kraft_mode(self):
        self.assertIn("controller", self.env("kafka")["KAFKA_PROCESS_ROLES"])
        self.assertNotIn("zookeeper", self.services)


if __name__ == "__main__":
    unittest.main()
