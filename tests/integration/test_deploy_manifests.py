#!/usr/bin/env python3
"""The deployment files: every Kubernetes manifest parses and carries the
fields a safe run needs; the ConfigMap and Secret examples document every
configuration key (worker/ls_config.c); the Dockerfile builds with the same
scripts CI runs, ships a slim non-root runtime with the libraries the build
links, and passes a few lint rules (no Dockerfile linter is packaged in
Debian bookworm; hadolint is not, and npm's dockerfilelint is unmaintained).
Needs no services.
"""

import glob
import os
import re
import subprocess
import sys
import unittest

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DOCKER = os.path.join(ROOT, "docker")
K8S = os.path.join(DOCKER, "k8s")


def load(name):
    with open(os.path.join(K8S, name), encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    assert len(docs) == 1, name
    return docs[0]


def pod_spec(doc):
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


class Manifests(unittest.TestCase):
    def test_every_manifest_parses_with_kind_and_name(self):
        files = sorted(glob.glob(os.path.join(K8S, "*.yaml")))
        self.assertGreaterEqual(len(files), 5)
        kinds = set()
        for path in files:
            with open(path, encoding="utf-8") as f:
                for d in yaml.safe_load_all(f):
                    self.assertIn("apiVersion", d, path)
                    self.assertIn("kind", d, path)
                    self.assertTrue(d["metadata"]["name"], path)
                    kinds.add(d["kind"])
        for k in ("CronJob", "Deployment", "PersistentVolumeClaim", "Secret", "ConfigMap"):
            self.assertIn(k, kinds)

    def check_pod(self, spec, args):
        self.assertGreaterEqual(spec["terminationGracePeriodSeconds"], 30)
        self.assertTrue(spec["securityContext"]["runAsNonRoot"])
        self.assertNotEqual(spec["securityContext"]["runAsUser"], 0)
        (c,) = spec["containers"]
        self.assertEqual(c["args"], args)
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        self.assertEqual(mounts["ledger"], "/var/lib/leadsync")
        vols = {v["name"]: v for v in spec["volumes"]}
        self.assertEqual(vols["ledger"]["persistentVolumeClaim"]["claimName"],
                         load("pvc.yaml")["metadata"]["name"])
        # secrets both ways: from the Secret as env, or mounted as files
        self.assertEqual(vols["secrets"]["secret"]["secretName"],
                         load("secret.yaml")["metadata"]["name"])
        self.assertIn({"configMapRef": {"name": load("configmap.yaml")["metadata"]["name"]}},
                      c["envFrom"])
        for e in c.get("env", []):
            if e["name"].endswith("_FILE"):
                self.assertTrue(e["value"].startswith(mounts["secrets"] + "/"), e)
        self.assertFalse(c["securityContext"]["allowPrivilegeEscalation"])
        return c

    def test_cronjob(self):
        cj = load("cronjob.yaml")
        self.assertEqual(cj["apiVersion"], "batch/v1")
        s = cj["spec"]
        self.assertEqual(s["concurrencyPolicy"], "Forbid")
        self.assertGreater(s["startingDeadlineSeconds"], 0)
        job = s["jobTemplate"]["spec"]
        self.assertIn("backoffLimit", job)
        self.assertGreater(job["activeDeadlineSeconds"], 0)
        spec = pod_spec(cj)
        self.assertEqual(spec["restartPolicy"], "Never")
        c = self.check_pod(spec, ["run", "--once"])
        self.assertTrue(any("secretKeyRef" in e.get("valueFrom", {}) for e in c["env"]))

    def test_deployment_probes(self):
        d = load("deployment.yaml")
        self.assertEqual(d["spec"]["replicas"], 1)
        self.assertEqual(d["spec"]["strategy"]["type"], "Recreate")
        c = self.check_pod(pod_spec(d), ["run"])
        env = {e["name"]: e.get("value") for e in c["env"]}
        port = int(env["LEADSYNC_METRICS_ADDR"].rsplit(":", 1)[1])
        self.assertEqual(c["ports"][0]["containerPort"], port)
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/healthz")
        self.assertEqual(c["livenessProbe"]["httpGet"]["path"], "/livez")
        self.assertEqual(c["readinessProbe"]["httpGet"]["port"], c["ports"][0]["name"])

    def test_pvc(self):
        p = load("pvc.yaml")
        self.assertEqual(p["spec"]["accessModes"], ["ReadWriteOnce"])
        self.assertTrue(p["spec"]["resources"]["requests"]["storage"])

    def test_examples_document_every_key(self):
        gen = os.path.join(K8S, "gen-config.py")
        p = subprocess.run([sys.executable, gen, "--check"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(os.path.join(ROOT, "worker", "ls_config.c"), encoding="utf-8") as f:
            keys = set(re.findall(r'\{"(LEADSYNC_[A-Z0-9_]+)"', f.read()))
        self.assertGreater(len(keys), 20)
        text = ""
        for name in ("configmap.yaml", "secret.yaml"):
            with open(os.path.join(K8S, name), encoding="utf-8") as f:
                text += f.read()
        missing = sorted(k for k in keys if not re.search(r"\b%s:" % k, text))
        self.assertEqual(missing, [], "keys missing from the ConfigMap/Secret examples")
        # secrets only in the Secret
        cm = load("configmap.yaml")["data"]
        self.assertNotIn("LEADSYNC_CONNECTION_STRING", cm)
        self.assertNotIn("LEADSYNC_WEBHOOK_SECRET", cm)
        self.assertIn("LEADSYNC_CONNECTION_STRING", load("secret.yaml")["stringData"])

    def test_compose(self):
        with open(os.path.join(DOCKER, "compose.yaml"), encoding="utf-8") as f:
            c = yaml.safe_load(f)
        svc = c["services"]
        for s in ("worker", "azurite", "receiver"):
            self.assertIn(s, svc)
        self.assertEqual(svc["worker"]["build"]["dockerfile"], "docker/Dockerfile")
        self.assertIn("webhook:", svc["worker"]["environment"]["LEADSYNC_SINKS"])


class Dockerfile(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(DOCKER, "Dockerfile"), encoding="utf-8") as f:
            self.text = f.read()
        self.lines = [l for l in self.text.splitlines() if l.strip() and not l.startswith("#")]

    def stages(self):
        out, cur = {}, None
        for l in self.lines:
            m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", l, re.I)
            if m:
                cur = m.group(2) or str(len(out))
                out[cur] = {"image": m.group(1), "lines": []}
            elif cur:
                out[cur]["lines"].append(l)
        return out

    def test_builds_with_the_ci_scripts(self):
        st = self.stages()
        self.assertEqual(len(st), 2, "multi-stage: build and runtime")
        build = "\n".join(st["build"]["lines"])
        self.assertRegex(build, r"RUN \./scripts/bootstrap --no-npm\b")
        self.assertRegex(build, r"RUN \./scripts/build\b")
        # no compiler invocations of its own: the scripts are the build
        self.assertNotRegex(build, r"\b(cmake|gcc|cc|make)\b")
        # the scripts exist and bootstrap knows --no-npm
        with open(os.path.join(ROOT, "scripts", "bootstrap"), encoding="utf-8") as f:
            self.assertIn("--no-npm", f.read())
        self.assertTrue(os.access(os.path.join(ROOT, "scripts", "build"), os.X_OK))

    def test_runtime_stage(self):
        rt = self.stages()["runtime"]
        self.assertEqual(rt["image"], "debian:bookworm-slim")
        body = "\n".join(rt["lines"])
        # the runtime library of every dependency the build links
        for lib in ("ca-certificates", "libcurl4", "libssl3", "libxml2", "libjansson4",
                    "libsqlite3-0", "libmicrohttpd12"):
            self.assertRegex(body, r"\b%s\b" % re.escape(lib))
        self.assertNotRegex(body, r"-dev\b", "no development packages at runtime")
        user = [l for l in rt["lines"] if l.startswith("USER ")]
        self.assertEqual(len(user), 1)
        self.assertNotIn(user[0].split()[1].split(":")[0], ("root", "0"))
        self.assertIn('ENTRYPOINT ["/usr/local/bin/leadsync"]', rt["lines"])
        self.assertIn('CMD ["run"]', rt["lines"])
        self.assertRegex(body, r'VOLUME \["/var/lib/leadsync"\]')
        self.assertIn("LEADSYNC_STATE=/var/lib/leadsync/", body)

    def test_lint_rules(self):
        # hadolint-style rules, checked here
        for l in self.lines:
            if l.startswith("FROM"):
                self.assertNotRegex(l, r":latest\b|FROM\s+[^:\s]+(\s|$)", "pin base images: " + l)
            self.assertFalse(l.startswith("ADD "), "use COPY, not ADD: " + l)
            self.assertNotRegex(l, r"\bsudo\b", l)
        joined = re.sub(r"\\\n", " ", self.text)
        for run in re.findall(r"^RUN (.*)$", joined, re.M):
            if "apt-get install" in run:
                self.assertIn("--no-install-recommends", run)
                self.assertIn("-y", run)
                self.assertIn("rm -rf /var/lib/apt/lists/*", run)
                self.assertIn("apt-get update", run, "update and install in one layer")

    def test_dockerignore_keeps_build_trees_out(self):
        with open(os.path.join(DOCKER, "Dockerfile.dockerignore"), encoding="utf-8") as f:
            pats = [l.strip() for l in f if l.strip() and not l.startswith("#")]
        for p in ("build", "build-*", "**/node_modules", ".git"):
            self.assertIn(p, pats)

    def test_guide_lists_exit_codes(self):
        with open(os.path.join(DOCKER, "README.md"), encoding="utf-8") as f:
            text = f.read()
        for code in ("64", "65", "69", "75", "77", "78"):
            self.assertRegex(text, r"\b%s\b" % code)
        for way in ("docker compose", "CronJob", "Deployment"):
            self.assertIn(way, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
