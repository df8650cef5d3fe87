#!/usr/bin/env python3
"""Named sinks and routes, against a real Azurite, into JSONL sinks.

A lead goes only to the sinks whose routes take it (globs ORed in a list,
fields ANDed, a sink without a route gets every lead); an excluded lead is
never queued for that sink; `check` prints each sink's route and `run
--dry-run` which sinks each lead would go to; routes come from the
environment, a file or --config; a bad route is a configuration error (78)
naming the key; `status` and `retry --sink` use the names.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import aztable  # noqa: E402
import lstest  # noqa: E402

ROUTES = {
    "contoso": {"offer": ["contoso.*"]},
    "trials": {"stage": ["trial"], "country": ["us", "CA"]},
}


class Routes(lstest.WorkerCase):
    def setUp(self):
        super().setUp()
        self.paths = {n: os.path.join(self.dir, n + ".jsonl") for n in ("contoso", "trials", "all")}
        self.env["LEADSYNC_SINKS"] = ",".join(
            "%s=jsonl:%s" % (n, p) for n, p in self.paths.items()
        )
        self.env["LEADSYNC_ROUTES"] = json.dumps(ROUTES)
        rows = [
            aztable.marketplace_row("p", "r1", "a@example.com", offer="contoso.crm"),
            aztable.marketplace_row("p", "r2", "b@example.com", offer="fabrikam.erp"),
            aztable.marketplace_row("p", "r3", "c@example.com", action="StartTestDrive",
                                    source="TestDrive", offer="fabrikam.erp"),
            aztable.marketplace_row("p", "r4", "d@example.com", action="StartTestDrive",
                                    source="TestDrive", offer="contoso.crm"),
        ]
        self.write_rows(rows)
        lstest.settle()

    def keys(self, name):
        p = self.paths[name]
        if not os.path.exists(p):
            return []
        with open(p, encoding="utf-8") as f:
            return sorted(json.loads(l)["lead"]["rowKey"] for l in f.read().splitlines())

    def test_leads_go_where_routes_say(self):
        p = self.run_worker("run", "--dry-run", check=0)
        out = {l.split()[3]: l.split("sinks=")[1].split()[0] for l in p.stdout.splitlines() if "sinks=" in l}
        self.assertEqual(out, {"rk=r1": "contoso,all", "rk=r2": "all",
                               "rk=r3": "trials,all", "rk=r4": "contoso,trials,all"}, p.stdout)

        self.run_worker("run", "--once", check=0)
        self.assertEqual(self.keys("contoso"), ["r1", "r4"])
        self.assertEqual(self.keys("trials"), ["r3", "r4"])
        self.assertEqual(self.keys("all"), ["r1", "r2", "r3", "r4"])
        st = json.loads(self.run_worker("status", "--json", check=0).stdout)
        by = {s["sink"]: s for s in st["sinks"]}
        # never queued for a sink a route excludes: nothing pending forever
        self.assertEqual(by["contoso"]["delivered"], 2)
        self.assertEqual(by["contoso"]["pending"], 0)
        self.assertEqual(by["trials"]["delivered"], 2)
        self.assertEqual(by["all"]["delivered"], 4)
        p = self.run_worker("retry", "--sink", "contoso", check=0)

    def test_check_prints_routes(self):
        p = self.run_worker("check", check=0)
        self.assertIn("sink contoso: route: offer contoso.*", p.stdout)
        self.assertIn("sink trials: route: stage trial and country us|CA", p.stdout)
        self.assertIn("sink all: route: every lead", p.stdout)

    def test_routes_from_a_file_and_from_config(self):
        path = os.path.join(self.dir, "routes.json")
        with open(path, "w") as f:
            json.dump({"contoso": {"offer": ["fabrikam.*"]}}, f)
        env = {"LEADSYNC_ROUTES": "", "LEADSYNC_ROUTES_FILE": path}
        p = self.run_worker("run", "--dry-run", env=env, check=0)
        self.assertIn("rk=r2 stage=initial-interest sinks=contoso,trials,all", p.stdout)
        conf = os.path.join(self.dir, "conf.json")
        with open(conf, "w") as f:
            json.dump({"routes": {"all": {"source": ["TestDrive"]}}}, f)
        p = self.run_worker("--config", conf, "run", "--dry-run", env={"LEADSYNC_ROUTES": ""},
                            check=0)
        self.assertIn("rk=r1 stage=initial-interest sinks=contoso,trials", p.stdout)
        self.assertIn("rk=r3 stage=trial sinks=contoso,trials,all", p.stdout)
        p = self.run_worker("run", "--once", env={"LEADSYNC_ROUTES_FILE": path}, check=78)
        self.assertIn("both set", p.stderr)

    def test_bad_routes_are_configuration_errors(self):
        cases = [
            ({"sales": {"offer": ["x"]}}, '"sales"'),
            ({"contoso": {"offers": ["x"]}}, '"offers"'),
            ({"contoso": {"offer": ["[abc"]}}, '"offer" item 1'),
            ({"contoso": {"offer": []}}, '"offer"'),
            ({"contoso": {"offer": [3]}}, '"offer" item 1'),
            ({"contoso": ["x"]}, '"contoso"'),
            (["x"], "JSON object"),
        ]
        for routes, want in cases:
            for cmd in (["run", "--once"], ["check"], ["run", "--dry-run"]):
                p = self.run_worker(*cmd, env={"LEADSYNC_ROUTES": json.dumps(routes)})
                out = p.stdout + p.stderr
                self.assertEqual(p.returncode, 78, (routes, cmd, out))
                self.assertIn(want, out, (routes, cmd))
                self.assertIn("LEADSYNC_ROUTES", out)
        p = self.run_worker("run", "--once", env={"LEADSYNC_ROUTES": "{nope"}, check=78)
        self.assertIn("line 1", p.stderr)
        self.assertEqual(self.keys("all"), [])

    def test_duplicate_names_refused(self):
        p = self.run_worker("run", "--once", env={
            "LEADSYNC_SINKS": "a=jsonl:%s,a=jsonl:%s" % (self.paths["all"], self.paths["trials"]),
            "LEADSYNC_ROUTES": ""}, check=78)
        self.assertIn("two sinks are named 'a'", p.stderr)


if __name__ == "__main__":
    lstest.main()
