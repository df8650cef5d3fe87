#!/usr/bin/env python3
"""The deployment files, offline: the kustomize base (docker/k8s) and its
CronJob variant render to objects that pass the Kubernetes OpenAPI schema
(types, required fields, unknown fields: scripts/npm/k8s-validate.mjs with
the pinned kubernetes-models) and the Pod Security "restricted" profile; the
configuration examples are what the binary's own table says
(leadsync-config-doc); the image name matches docker/README.md; the
Dockerfile builds with the project's scripts and ships a slim non-root
runtime (a few hadolint-style rules: no Dockerfile linter is packaged in
Debian bookworm). The image itself is built and run by scripts/test-image.

No kubectl or kustomize is packaged in Debian bookworm, so render() below
renders the subset of kustomize these files use (resources, labels,
configMapGenerator/secretGenerator from env files with a content-hash name
suffix and the references to them, images, delete patches).
"""

import base64
import copy
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import unittest

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DOCKER = os.path.join(ROOT, "docker")
K8S = os.path.join(DOCKER, "k8s")
VALIDATE = os.path.join(ROOT, "scripts", "npm", "k8s-validate.mjs")


def read_env(path):
    """A kustomize env file: KEY=VALUE lines, # comments, values as written."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if "=" not in line:
                raise AssertionError("%s:%d: not KEY=VALUE" % (path, n))
            k, v = line.split("=", 1)
            out[k] = v
    return out


def generated(kind, gen, base):
    data = {}
    for env in gen.get("envs", []):
        data.update(read_env(os.path.join(base, env)))
    obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": gen["name"]}}
    if kind == "Secret":
        obj["type"] = "Opaque"
        obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    else:
        obj["data"] = data
    digest = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
    obj["metadata"]["name"] = "%s-%s" % (gen["name"], digest[:10])
    return obj


def pod_specs(obj):
    if obj["kind"] == "CronJob":
        yield obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    elif obj["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
        yield obj["spec"]["template"]["spec"]


def rename_refs(obj, names):
    """Points configMapRef/secretRef/volumes/keyRefs at the generated names."""
    for spec in pod_specs(obj):
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            for ef in c.get("envFrom", []):
                for ref in ("configMapRef", "secretRef"):
                    if ref in ef:
                        ef[ref]["name"] = names.get(ef[ref]["name"], ef[ref]["name"])
            for e in c.get("env", []):
                for ref in ("configMapKeyRef", "secretKeyRef"):
                    r = e.get("valueFrom", {}).get(ref)
                    if r:
                        r["name"] = names.get(r["name"], r["name"])
        for v in spec.get("volumes", []):
            if "configMap" in v:
                v["configMap"]["name"] = names.get(v["configMap"]["name"], v["configMap"]["name"])
            if "secret" in v:
                v["secret"]["secretName"] = names.get(v["secret"]["secretName"],
                                                      v["secret"]["secretName"])


def set_images(obj, images):
    for spec in pod_specs(obj):
        for c in spec.get("containers", []):
            name, _, tag = c["image"].partition(":")
            for im in images:
                if im["name"] == name:
                    c["image"] = "%s:%s" % (im.get("newName", name), im.get("newTag", tag))


def add_labels(obj, pairs):
    obj["metadata"].setdefault("labels", {}).update(pairs)
    for spec_owner in [obj["spec"]["jobTemplate"]["spec"]] if obj["kind"] == "CronJob" else (
            [obj["spec"]] if obj["kind"] == "Deployment" else []):
        spec_owner["template"].setdefault("metadata", {}).setdefault("labels", {}).update(pairs)


KNOWN = {"apiVersion", "kind", "resources", "labels", "configMapGenerator", "secretGenerator",
         "images", "patches"}


def render(path):
    """The objects `kubectl kustomize PATH` prints, for the features used here."""
    return render_names(path)[0]


def render_names(path):
    with open(os.path.join(path, "kustomization.yaml"), encoding="utf-8") as f:
        k = yaml.safe_load(f)
    unknown = set(k) - KNOWN
    if unknown:
        raise AssertionError("%s: kustomization fields this renderer does not know: %s"
                             % (path, sorted(unknown)))
    objs, names, own = [], {}, []
    for r in k.get("resources", []):
        p = os.path.normpath(os.path.join(path, r))
        if os.path.isdir(p):
            sub, sub_names = render_names(p)
            objs += sub
            names.update(sub_names)
        else:
            with open(p, encoding="utf-8") as f:
                own += [d for d in yaml.safe_load_all(f) if d is not None]
    for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for gen in k.get(key, []):
            o = generated(kind, gen, path)
            names[gen["name"]] = o["metadata"]["name"]
            own.append(o)
    for o in own:
        for lab in k.get("labels", []):
            add_labels(o, lab["pairs"])
    objs += own
    for p in k.get("patches", []):
        patch = yaml.safe_load(p["patch"])
        if patch.get("$patch") != "delete":
            raise AssertionError("only delete patches are rendered here")
        objs = [o for o in objs if not (o["kind"] == patch["kind"] and
                                        o["metadata"]["name"] == patch["metadata"]["name"])]
    for o in objs:
        rename_refs(o, names)
        set_images(o, k.get("images", []))
    return objs, names


def by_kind(objs):
    out = {}
    for o in objs:
        out.setdefault(o["kind"], []).append(o)
    return out


def restricted_problems(spec):
    """Pod Security Standards, "restricted" profile (v1.30), for one pod spec."""
    out = []
    psc = spec.get("securityContext", {})
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            out.append(flag)
    allowed_vols = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                    "persistentVolumeClaim", "projected", "secret"}
    for v in spec.get("volumes", []):
        kinds = set(v) - {"name"}
        if not kinds <= allowed_vols:
            out.append("volume %s: %s" % (v["name"], sorted(kinds)))
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        sc = c.get("securityContext", {})
        n = c["name"]
        if sc.get("privileged"):
            out.append(n + ": privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(n + ": allowPrivilegeEscalation must be false")
        if not (sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True):
            out.append(n + ": runAsNonRoot must be true")
        if sc.get("runAsUser", psc.get("runAsUser")) == 0:
            out.append(n + ": runAsUser 0")
        prof = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
        if prof not in ("RuntimeDefault", "Localhost"):
            out.append(n + ": seccompProfile must be RuntimeDefault or Localhost")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            out.append(n + ": capabilities must drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            out.append(n + ": capabilities add " + str(caps["add"]))
        for p in c.get("ports", []):
            if p.get("hostPort"):
                out.append(n + ": hostPort")
    return out


def validate(objs):
    p = subprocess.run(["node", VALIDATE], input=json.dumps(objs), capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


class Kustomize(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = render(K8S)
        cls.cron = render(os.path.join(K8S, "cronjob"))

    def test_daemon_and_cronjob_variants(self):
        d, c = by_kind(self.daemon), by_kind(self.cron)
        self.assertEqual(sorted(d), ["ConfigMap", "Deployment", "PersistentVolumeClaim",
                                     "Secret", "ServiceAccount"])
        # the CronJob variant is the base without the Deployment: one writer
        self.assertEqual(sorted(c), ["ConfigMap", "CronJob", "PersistentVolumeClaim",
                                     "Secret", "ServiceAccount"])
        for objs in (self.daemon, self.cron):
            for o in objs:
                self.assertEqual(o["metadata"]["labels"]["app.kubernetes.io/name"], "leadsync")

    def test_schema_valid_with_no_unknown_fields(self):
        for objs in (self.daemon, self.cron):
            rc, out = validate(objs)
            self.assertEqual(rc, 0, out)

    def test_validator_rejects_unknown_fields_and_bad_types(self):
        bad = copy.deepcopy(by_kind(self.daemon)["Deployment"][0])
        spec = bad["spec"]["template"]["spec"]
        spec["containers"][0]["securityContext"]["seccompprofile"] = {"type": "RuntimeDefault"}
        spec["volumes"][1]["secret"]["defaultMode"] = "0400"
        rc, out = validate([bad])
        self.assertEqual(rc, 1, out)
        self.assertIn("seccompprofile: unknown field", out)
        self.assertIn("defaultMode type", out)

    def test_pod_security_restricted(self):
        for objs in (self.daemon, self.cron):
            for o in objs:
                for spec in pod_specs(o):
                    self.assertEqual(restricted_problems(spec), [], o["kind"])
                    self.assertIs(spec["automountServiceAccountToken"], False)
                    self.assertGreaterEqual(spec["terminationGracePeriodSeconds"], 15)
                    (c,) = spec["containers"]
                    self.assertTrue(c["securityContext"]["readOnlyRootFilesystem"])
        sa = by_kind(self.daemon)["ServiceAccount"][0]
        self.assertIs(sa["automountServiceAccountToken"], False)
        # the checker itself catches what restricted forbids
        probe = {"volumes": [{"name": "h", "hostPath": {"path": "/"}}],
                 "containers": [{"name": "x", "securityContext": {}}]}
        self.assertGreaterEqual(len(restricted_problems(probe)), 5)

    def test_generated_names_roll_the_workloads(self):
        d = by_kind(self.daemon)
        cm, sec = d["ConfigMap"][0]["metadata"]["name"], d["Secret"][0]["metadata"]["name"]
        self.assertRegex(cm, r"^leadsync-config-[0-9a-f]{10}$")
        self.assertRegex(sec, r"^leadsync-secrets-[0-9a-f]{10}$")
        for o in self.daemon + self.cron:
            for spec in pod_specs(o):
                (c,) = spec["containers"]
                self.assertIn({"configMapRef": {"name": cm}}, c["envFrom"])
                vols = {v["name"]: v for v in spec["volumes"]}
                self.assertEqual(vols["secrets"]["secret"]["secretName"], sec)
                self.assertEqual(vols["ledger"]["persistentVolumeClaim"]["claimName"],
                                 d["PersistentVolumeClaim"][0]["metadata"]["name"])

    def test_pods_read_secrets_from_the_mounted_secret(self):
        d = by_kind(self.daemon)
        cm = d["ConfigMap"][0]["data"]
        keys = set(base64.b64decode(v).decode() and k for k, v in d["Secret"][0]["data"].items())
        for o in self.daemon + self.cron:
            for spec in pod_specs(o):
                (c,) = spec["containers"]
                mounts = {m["name"]: m for m in c["volumeMounts"]}
                self.assertTrue(mounts["secrets"]["readOnly"])
                self.assertEqual(mounts["ledger"]["mountPath"], "/var/lib/leadsync")
                for k in keys:
                    self.assertEqual(cm[k + "_FILE"], mounts["secrets"]["mountPath"] + "/" + k)
                # 0400, written as decimal (YAML 1.1 and 1.2 read 0400 differently)
                vols = {v["name"]: v for v in spec["volumes"]}
                self.assertEqual(vols["secrets"]["secret"]["defaultMode"], 0o400)
        self.assertNotIn("LEADSYNC_CONNECTION_STRING", cm)
        self.assertIn("LEADSYNC_CONNECTION_STRING", keys)
        for name in glob.glob(os.path.join(K8S, "**", "*.yaml"), recursive=True):
            with open(name, encoding="utf-8") as f:
                self.assertNotRegex(f.read(), r"defaultMode:\s*0\d", name)

    def test_deployment(self):
        (dep,) = by_kind(self.daemon)["Deployment"]
        self.assertEqual(dep["spec"]["replicas"], 1)
        self.assertEqual(dep["spec"]["strategy"]["type"], "Recreate")
        (c,) = dep["spec"]["template"]["spec"]["containers"]
        self.assertEqual(c["args"], ["run"])
        cm = by_kind(self.daemon)["ConfigMap"][0]["data"]
        port = int(cm["LEADSYNC_METRICS_ADDR"].rsplit(":", 1)[1])
        self.assertEqual(c["ports"][0]["containerPort"], port)
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/healthz")
        # liveness must not depend on Azure or the sinks: /livez only says "alive"
        self.assertEqual(c["livenessProbe"]["httpGet"]["path"], "/livez")
        (pvc,) = by_kind(self.daemon)["PersistentVolumeClaim"]
        self.assertEqual(pvc["spec"]["accessModes"], ["ReadWriteOncePod"])

    def test_cronjob(self):
        (cj,) = by_kind(self.cron)["CronJob"]
        s = cj["spec"]
        self.assertEqual(s["concurrencyPolicy"], "Forbid")
        self.assertGreater(s["startingDeadlineSeconds"], 0)
        job = s["jobTemplate"]["spec"]
        self.assertEqual(job["backoffLimit"], 0)
        self.assertGreater(job["activeDeadlineSeconds"], 0)
        spec = job["template"]["spec"]
        self.assertEqual(spec["restartPolicy"], "Never")
        self.assertEqual(spec["containers"][0]["args"], ["run", "--once"])

    def test_image_name_matches_the_readme(self):
        with open(os.path.join(DOCKER, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        for o in self.daemon + self.cron:
            for spec in pod_specs(o):
                image = spec["containers"][0]["image"]
                self.assertIn(image, readme, "docker/README.md must tag and push " + image)
                self.assertRegex(readme, r"docker (tag|build)[^\n]*%s" % re.escape(image))
                self.assertRegex(readme, r"docker push %s" % re.escape(image))


class Configuration(unittest.TestCase):
    def test_env_files_are_generated_from_the_binary(self):
        b = os.environ.get("LEADSYNC_TEST_BIN")
        if not b:
            self.skipTest("LEADSYNC_TEST_BIN is not set")
        tool = os.path.join(os.path.dirname(b), "leadsync-config-doc")
        p = subprocess.run([sys.executable, os.path.join(K8S, "gen-config.py"), "--check", tool],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        table = json.loads(subprocess.run([tool], capture_output=True, text=True,
                                          check=True).stdout)
        self.assertGreater(len(table), 20)
        texts = {}
        for name in ("config.env", "secret.env"):
            with open(os.path.join(K8S, name), encoding="utf-8") as f:
                texts[name] = f.read()
        for e in table:
            where = "secret.env" if e["secret"] else "config.env"
            self.assertRegex(texts[where], r"(?m)^(# )?%s=" % e["env"], e["env"])
            self.assertIn("# " + e["help"], texts[where])
        # the same keys the program's --help lists
        h = subprocess.run([b, "--help"], capture_output=True, text=True).stdout
        self.assertEqual(sorted(e["env"] for e in table),
                         sorted(set(re.findall(r"(?m)^  (LEADSYNC_[A-Z0-9_]+)\s", h))))

    def test_placeholders_are_named_in_the_guide(self):
        with open(os.path.join(DOCKER, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        for name in ("config.env", "secret.env"):
            with open(os.path.join(K8S, name), encoding="utf-8") as f:
                for m in re.finditer(r"(?m)^([A-Z0-9_]+)=.*REPLACE_ME", f.read()):
                    self.assertIn(m.group(1), readme, "docker/README.md must name the placeholder")
        self.assertIn("REPLACE_ME", readme)

    def test_compose(self):
        with open(os.path.join(DOCKER, "compose.yaml"), encoding="utf-8") as f:
            c = yaml.safe_load(f)
        svc = c["services"]
        for s in ("worker", "azurite", "receiver"):
            self.assertIn(s, svc)
        self.assertEqual(svc["worker"]["build"]["dockerfile"], "docker/Dockerfile")
        self.assertIn("webhook:", svc["worker"]["environment"]["LEADSYNC_SINKS"])
        self.assertRegex(svc["azurite"]["image"], r":\d+\.\d+\.\d+$", "pin the Azurite image")
        for s in svc.values():
            for port in s.get("ports", []):
                self.assertTrue(str(port).startswith("127.0.0.1:"), port)


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

    def test_builds_with_the_project_scripts(self):
        self.assertNotIn("# syntax=", self.text, "a syntax line makes BuildKit pull a frontend")
        st = self.stages()
        self.assertEqual(len(st), 2, "multi-stage: build and runtime")
        build = "\n".join(st["build"]["lines"])
        self.assertRegex(build, r"RUN \./scripts/bootstrap --build\b")
        self.assertRegex(build, r"RUN \./scripts/build && cmake --install build --strip\b")
        self.assertNotRegex(build, r"\b(gcc|cc|make)\b")
        with open(os.path.join(ROOT, "scripts", "bootstrap"), encoding="utf-8") as f:
            self.assertIn("--build)", f.read())
        with open(os.path.join(ROOT, "worker", "CMakeLists.txt"), encoding="utf-8") as f:
            self.assertRegex(f.read(), r"install\(TARGETS leadsync RUNTIME DESTINATION "
                                       r"\"\$\{CMAKE_INSTALL_BINDIR\}\"\)")

    def test_runtime_stage(self):
        rt = self.stages()["runtime"]
        self.assertEqual(rt["image"], "debian:bookworm-slim")
        body = "\n".join(rt["lines"])
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
        # EXPOSE 9090 comes with the listener configured on it
        self.assertIn("EXPOSE 9090", rt["lines"])
        self.assertIn("LEADSYNC_METRICS_ADDR=0.0.0.0:9090", body)

    def test_lint_rules(self):
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
        texts = []
        for name in (os.path.join(ROOT, ".dockerignore"),
                     os.path.join(DOCKER, "Dockerfile.dockerignore")):
            with open(name, encoding="utf-8") as f:
                texts.append(f.read())
        self.assertEqual(texts[0], texts[1], "the two ignore files must say the same")
        pats = [l.strip() for l in texts[0].splitlines() if l.strip() and not l.startswith("#")]
        for p in ("build", "build-*", "**/node_modules", ".git"):
            self.assertIn(p, pats)

    def test_guide(self):
        with open(os.path.join(DOCKER, "README.md"), encoding="utf-8") as f:
            text = f.read()
        for code in ("64", "65", "69", "75", "77", "78"):
            self.assertRegex(text, r"\b%s\b" % code)
        for way in ("docker compose", "CronJob", "Deployment", "kubectl apply -k"):
            self.assertIn(way, text)
        run = re.search(r"docker run -d(?:[^\n\\]|\\\n)*", text).group(0)
        for part in ("--stop-timeout", "--read-only", "--cap-drop ALL", "-v ", ":/run/secrets",
                     "LEADSYNC_CONNECTION_STRING_FILE=/run/secrets/"):
            self.assertIn(part, run)


if __name__ == "__main__":
    unittest.main(verbosity=2)
