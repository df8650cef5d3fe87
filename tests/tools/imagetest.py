#!/usr/bin/env python3
"""imagetest.py IMAGE SEEDER - runs the leadsync image with podman the way
docker/README.md and the pod spec do: read-only root, every capability
dropped, no new privileges, user 10001, the connection string as a secret
file, the ledger on a named volume. Against the test Azurite
(LEADSYNC_TEST_AZURITE, reached over the host network):
  check -> 0; run --once delivers every seeded lead; the ledger is 0600 and
  owned by the image user; the daemon answers /healthz, /livez, /metrics;
  `podman stop` (default timeout) -> exit 0; the README's exit codes from
  inside the container: 64 usage, 77 a wrong account key, 75 an unreachable
  endpoint, 78 a malformed connection string.
Called by scripts/test-image; prints one line per check, exits 1 on failure.
"""

import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from lstest import free_port

IMAGE, SEEDER = sys.argv[1], sys.argv[2]
AZ = os.environ["LEADSYNC_TEST_AZURITE"]
TAG = "lsimg%d" % os.getpid()
WORK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build-container",
                    "imagetest")
SECRETS = os.path.join(WORK, "secrets")
N = 40
failures = []


def podman(*args, check=True, timeout=300):
    p = subprocess.run(["podman"] + list(args), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("podman %s: %s" % (" ".join(args[:2]), p.stderr.strip()[-500:]))
    return p


def secret(name, value):
    """A secret file as the README says: owned by the image user, 0400."""
    path = os.path.join(SECRETS, name)
    with open(path, "w") as f:
        f.write(value)
    os.chown(path, 10001, 10001)
    os.chmod(path, 0o400)


def run(args, conn="conn", extra_env=None, detach=False):
    env = {"LEADSYNC_CONNECTION_STRING_FILE": "/run/secrets/" + conn,
           "LEADSYNC_TABLE": TAG,
           "LEADSYNC_SINKS": "jsonl:/var/lib/leadsync/leads.jsonl",
           "LEADSYNC_SETTLE_SECONDS": "0",
           "LEADSYNC_HTTP_TIMEOUT_SECONDS": "5"}
    env.update(extra_env or {})
    cmd = ["run", "--network", "host", "--read-only", "--cap-drop", "ALL",
           "--security-opt", "no-new-privileges", "--user", "10001:10001",
           "-v", TAG + ":/var/lib/leadsync", "-v", SECRETS + ":/run/secrets:ro"]
    for k, v in env.items():
        cmd += ["-e", "%s=%s" % (k, v)]
    if detach:
        cmd += ["-d", "--name", TAG]
    else:
        cmd += ["--rm"]
    return podman(*(cmd + [IMAGE] + list(args)), check=False)


def expect(what, ok, detail=""):
    print("container: %s: %s" % (what, "ok" if ok else "FAILED " + detail), flush=True)
    if not ok:
        failures.append(what)


def exit_code(what, want, p):
    expect("%s -> %d" % (what, want), p.returncode == want,
           "(exit %d) %s" % (p.returncode, p.stderr.strip()[-400:]))


def http_get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def wait_for(pred, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.5)
    return pred()


def volume_path():
    return podman("volume", "inspect", "--format", "{{.Mountpoint}}", TAG).stdout.strip()


def main():
    os.makedirs(SECRETS, exist_ok=True)
    os.chmod(SECRETS, 0o755)
    secret("conn", AZ)
    secret("conn-malformed", "this is not a connection string")
    wrong = base64.b64encode(b"x" * 64)  # valid base64, not the key
    secret("conn-wrong-key", ";".join(
        "AccountKey=" + wrong.decode() if p.startswith("AccountKey=") else p
        for p in AZ.split(";")))
    secret("conn-unreachable", ";".join(
        "TableEndpoint=http://127.0.0.1:9/devstoreaccount1" if p.startswith("TableEndpoint=")
        else p for p in AZ.split(";")))
    seed = subprocess.run([SEEDER, "--connection-string", AZ, "--table", TAG, "--seed", "7",
                           "bulk", str(N)], capture_output=True, text=True, timeout=300)
    if seed.returncode != 0:
        print("container: leadsync-seed failed: " + seed.stderr[-500:])
        return 1
    time.sleep(1.1)  # the window stops at the server's "now" (whole seconds)
    podman("volume", "create", TAG)
    try:
        one_shot()
        daemon()
        exit_code("usage error", 64, run(["no-such-command"]))
        exit_code("wrong account key", 77, run(["check"], conn="conn-wrong-key"))
        exit_code("unreachable endpoint", 75, run(["run", "--once"], conn="conn-unreachable"))
        exit_code("malformed connection string", 78, run(["check"], conn="conn-malformed"))
    finally:
        podman("rm", "-f", TAG, check=False)
        podman("volume", "rm", "-f", TAG, check=False)
    print("container: %d checks failed" % len(failures) if failures else
          "container: every check passed")
    return 1 if failures else 0


def one_shot():
    exit_code("check", 0, run(["check"]))
    exit_code("run --once", 0, run(["run", "--once"]))
    vol = volume_path()
    leads = os.path.join(vol, "leads.jsonl")
    lines = open(leads).read().splitlines() if os.path.exists(leads) else []
    ids = {json.loads(line)["lead"]["leadId"] for line in lines}
    expect("run --once delivered all %d seeded leads" % N, len(ids) == N and len(lines) == N,
           "(%d lines, %d leads)" % (len(lines), len(ids)))
    st = os.stat(os.path.join(vol, "leadsync.db"))
    expect("ledger is 0600, owned by 10001:10001",
           (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o600, 10001, 10001),
           "(mode %o, owner %d:%d)" % (st.st_mode & 0o777, st.st_uid, st.st_gid))


def daemon():
    port = free_port()
    p = run(["run"], extra_env={"LEADSYNC_METRICS_ADDR": "127.0.0.1:%d" % port,
                                "LEADSYNC_POLL_SECONDS": "1"}, detach=True)
    expect("daemon starts", p.returncode == 0, p.stderr[-400:])
    if p.returncode != 0:
        return
    ok = wait_for(lambda: http_get(port, "/healthz")[0] == 200, 60)
    expect("daemon /healthz 200", ok, str(http_get(port, "/healthz")))
    expect("daemon /livez 200", http_get(port, "/livez")[0] == 200)
    status, text = http_get(port, "/metrics")
    expect("daemon /metrics", status == 200 and "leadsync_rows_read_total" in text, str(status))
    stop = podman("stop", TAG, check=False, timeout=60)  # the default timeout (10 s)
    code = podman("inspect", "--format", "{{.State.ExitCode}}", TAG, check=False).stdout.strip()
    logs = podman("logs", TAG, check=False).stderr
    expect("podman stop -> 0", stop.returncode == 0 and code == "0",
           "(exit %s) %s" % (code, logs[-600:]))
    podman("rm", "-f", TAG, check=False)


if __name__ == "__main__":
    sys.exit(main())
