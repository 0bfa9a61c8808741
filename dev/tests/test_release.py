"""One version for the whole project, and what a release carries: the workspace's version
is every crate's, the SDK's and the changelog's; the licence is the one the crates name."""

import json
import pathlib
import re
import tomllib
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]


class ReleaseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())
        cls.version = workspace["workspace"]["package"]["version"]
        cls.license = workspace["workspace"]["package"]["license"]
        cls.members = workspace["workspace"]["members"]

    def test_every_crate_takes_the_workspace_version(self):
        for member in self.members:
            package = tomllib.loads((ROOT / member / "Cargo.toml").read_text())["package"]
            self.assertEqual(package.get("version"), {"workspace": True}, member)

    def test_the_sdk_has_the_same_version(self):
        package = json.loads((ROOT / "sdk" / "package.json").read_text())
        self.assertEqual(package["version"], self.version)

    def test_the_changelog_has_an_entry_for_the_version(self):
        changelog = (ROOT / "CHANGELOG.md").read_text()
        self.assertRegex(changelog, rf"(?m)^## {re.escape(self.version)} — \d{{4}}-\d\d-\d\d$")

    def test_the_licence_file_is_the_licence_the_packages_name(self):
        self.assertEqual(self.license, "Apache-2.0")
        self.assertIn("Apache License", (ROOT / "LICENSE").read_text()[:200])
        package = json.loads((ROOT / "sdk" / "package.json").read_text())
        self.assertEqual(package["license"], self.license)


if __name__ == "__main__":
    unittest.main()
