"""crmtest.py - helpers for the CRM sinks' integration tests: the loopback
CRM doubles (crm_*.py) started with the test PKI (lstest.pki), their control
API, the settings that point each CRM sink at its double (CRMS), and a
WorkerCase (lstest.py) wired to them with the checks every CRM sink's test
makes (no credential in the output, refused credentials exit 77).
"""

import json
import os
import ssl
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aztable  # noqa: E402
import lstest  # noqa: E402

TOOLS = os.path.dirname(os.path.abspath(__file__))
STAGE_RANK = lstest.STAGE_RANK

FAST = dict(lstest.FAST)
FAST.update({
    "LEADSYNC_DELIVERY_MAX_ATTEMPTS": "20",
    "LEADSYNC_HTTP_TIMEOUT_SECONDS": "5",
})

# The credentials each double accepts.
SF_SECRET = "s3cret-Value-42"
DV_SECRET = "dv-Secret~value.42"
MKTO_SECRET = "mkto-Secret-9z"
HS_TOKEN = "pat-na1-Secret-1234"
W2L_OID = "00D5e000000AbCd"


def _salesforce(url, ca):
    return {"LEADSYNC_SALESFORCE_LOGIN_URL": url, "LEADSYNC_SALESFORCE_CLIENT_ID": "cid",
            "LEADSYNC_SALESFORCE_CLIENT_SECRET": SF_SECRET, "LEADSYNC_SALESFORCE_CA_FILE": ca,
            "LEADSYNC_SALESFORCE_LIMIT_PAUSE_SECONDS": "1"}


def _dynamics(url, ca):
    return {"LEADSYNC_DYNAMICS_URL": url, "LEADSYNC_DYNAMICS_AUTHORITY_URL": url,
            "LEADSYNC_DYNAMICS_TENANT_ID": "tenant-1", "LEADSYNC_DYNAMICS_CLIENT_ID": "cid",
            "LEADSYNC_DYNAMICS_CLIENT_SECRET": DV_SECRET, "LEADSYNC_DYNAMICS_CA_FILE": ca}


def _marketo(url, ca):
    return {"LEADSYNC_MARKETO_BASE_URL": url, "LEADSYNC_MARKETO_CLIENT_ID": "cid",
            "LEADSYNC_MARKETO_CLIENT_SECRET": MKTO_SECRET, "LEADSYNC_MARKETO_CA_FILE": ca,
            "LEADSYNC_MARKETO_THROTTLE_SECONDS": "1"}


def _hubspot(url, ca):
    return {"LEADSYNC_HUBSPOT_BASE_URL": url, "LEADSYNC_HUBSPOT_TOKEN": HS_TOKEN,
            "LEADSYNC_HUBSPOT_CA_FILE": ca}


def _web_to_lead(url, ca):
    return {"LEADSYNC_WEB_TO_LEAD_URL": url + "/servlet/servlet.WebToLead?encoding=UTF-8",
            "LEADSYNC_WEB_TO_LEAD_OID": W2L_OID, "LEADSYNC_WEB_TO_LEAD_CA_FILE": ca}


# Each CRM sink: its double, the arguments that give the double the
# credentials above, and the settings that point the sink at the double.
CRMS = {
    "salesforce": ("crm_salesforce.py", ["--client-secret", SF_SECRET], _salesforce),
    "dynamics": ("crm_dynamics.py", ["--client-secret", DV_SECRET], _dynamics),
    "marketo": ("crm_marketo.py", ["--client-secret", MKTO_SECRET], _marketo),
    "hubspot": ("crm_hubspot.py", ["--token", HS_TOKEN], _hubspot),
    "web_to_lead": ("crm_web_to_lead.py", ["--oid", W2L_OID], _web_to_lead),
}


def crm_env(kind, double, pki):
    """The LEADSYNC_* settings that deliver to `double` as the sink `kind`."""
    e = {"LEADSYNC_SINKS": kind}
    e.update(CRMS[kind][2](double.url, pki["ca"]))
    return e


class CrmDouble:
    def __init__(self, script, pki, args=()):
        self.ctx = ssl.create_default_context(cafile=pki["ca"])
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(TOOLS, script), "--cert", pki["cert"], "--key",
             pki["key"]] + list(args), stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.strip():
            raise RuntimeError("%s did not start" % script)
        self.port = int(line)
        self.url = "https://127.0.0.1:%d" % self.port

    def call(self, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.url + path, data=data,
                                     method="GET" if data is None else "POST")
        with urllib.request.urlopen(req, timeout=10, context=self.ctx) as r:
            return json.loads(r.read() or b"null")

    def faults(self, rules):
        self.call("/__fault", rules)

    def requests(self):
        return self.call("/__requests")

    def state(self):
        return self.call("/__state")

    def expire(self):
        self.call("/__expire", {})

    def validate(self, field, contains):
        self.call("/__validate", {"field": field, "contains": contains})

    def stop(self):
        lstest.stop_process(self.proc)


def row(i, action="PLT", email=None, first="Ada", last="Lovelace", prefix="r"):
    return aztable.marketplace_row("11:2F01:2F2026", "%s%06d" % (prefix, i),
                                   email or "customer%06d@example.com" % i, action=action,
                                   first=first, last=last)


def rejected_and_second_offer(n):
    """n leads, one the double is told to reject (reject-me@example.com), and
    a second offer of customer 1: two lead ids, one person."""
    same = row(60, email="customer000001@example.com")
    same["LeadSource"] = "SPZA-PLT|contoso.other-offer"
    return [row(i) for i in range(n)] + [row(50, email="reject-me@example.com"), same]


def first_rows(n):
    """n leads, then the marketplace's validation lead and a do-not-contact
    for an address no lead has: what a sink's first run meets."""
    return [row(i) for i in range(n)] + [
        row(90, first="MSFT_TEST_636573304831318844"),
        row(91, action="DNC", email="nobody@example.com")]


class CrmCase(lstest.WorkerCase):
    def setUp(self):
        super().setUp()
        self.env.update(FAST)
        self.pki = lstest.pki(client=True)
        self.doubles = []

    def tearDown(self):
        for d in self.doubles:
            d.stop()
        super().tearDown()

    def double(self, script, args=()):
        d = CrmDouble(script, self.pki, args)
        self.doubles.append(d)
        return d

    def crm(self, kind, *args):
        """Starts the double of the CRM sink `kind` (with extra args) and
        points LEADSYNC_SINKS and the sink's settings at it."""
        script, creds, _ = CRMS[kind]
        d = self.double(script, creds + list(args))
        self.env.update(crm_env(kind, d, self.pki))
        return d

    def run_once(self, rows=None, check=0, env=None, secrets=()):
        """Puts rows (if any), runs `leadsync run --once`, asserts its exit
        code and that no credential of the test (nor `secrets`) shows in its
        output. Returns the process."""
        if rows:
            self.put(rows)
        p = self.run_worker("run", "--once", env=env, check=check)
        self.assert_no_secret(p, *secrets)
        return p

    def assert_no_secret(self, p, *more):
        out = p.stdout + p.stderr
        for s in (SF_SECRET, DV_SECRET, MKTO_SECRET, HS_TOKEN) + tuple(more):
            self.assertNotIn(s, out, "a credential in the output")

    def assert_counts(self, name, delivered, dead, pending, **kw):
        """The sink's delivered, dead and pending counts in `status`; returns
        its status entry."""
        s = self.sink_stats(name, **kw)
        self.assertEqual((s["delivered"], s["dead"], s["pending"]), (delivered, dead, pending))
        return s

    def check_refused_then_fixed(self, kind, bad, count, n=2):
        """n leads; a run and `check` with the refused credential `bad`
        ({setting: value}) exit 77 naming the sink, never showing the value,
        deliver nothing (count(): the double's record count); a run with the
        right one delivers all n. Returns the refused run."""
        self.put([row(i) for i in range(n)])
        p = self.run_once(env=bad, check=77, secrets=list(bad.values()))
        self.assertIn(kind, p.stderr)
        self.assertEqual(count(), 0)
        c = self.run_worker("check", env=bad, check=77)
        self.assertIn("sink %s: FAILED" % kind, c.stdout)
        self.assert_no_secret(c, *bad.values())
        self.run_once()
        self.assertEqual(count(), n)
        return p

    def sink_stats(self, name, **kw):
        for s in self.status(**kw)["sinks"]:
            if s["sink"] == name:
                return s
        self.fail("no sink %s in status" % name)
