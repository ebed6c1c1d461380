#!/usr/bin/env python3
"""Hand-written bad-input probes for the known defect classes that a schema fuzzer rarely hits.

    probe.py --base http://127.0.0.1:PORT [--engine sqlite|postgres] [--json out.json]

Needs only the standard library. It signs up its own throwaway businesses through the API,
builds what the probes need (a service, a customer, a booking, a WhatsApp channel with a known
app secret, an inbound message through a signed webhook, a staff reply), then sends each probe
and prints one line per probe:

    FAIL  a 5xx, a dropped connection or timeout, or an error that is not the JSON envelope
          {"error":{"code","message"}}
    WARN  accepted (2xx) where a careful API would refuse (e.g. `localtime` as a time zone)
    ok    anything else (a 4xx envelope, or a 2xx where 2xx is fine)

Exit code 1 when any probe FAILs. The service should run with SWITCHBOARD_WHATSAPP_API_BASE and
SWITCHBOARD_TWILIO_API_BASE pointing at a closed local port, so a staff reply never leaves the
machine (the probes only need the reply to be queued).
"""
import argparse
import hashlib
import hmac
import http.client
import json
import random
import string
import sys
import time
import urllib.parse

APP_SECRET = "probe-app-secret"


class Client:
    def __init__(self, base, timeout=20):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port or 80
        self.timeout = timeout
        self.token = None

    def raw(self, method, path, body=None, headers=None, token=True):
        """Sends exactly these bytes; `path` is sent as given (percent-encode it yourself)."""
        h = {}
        if token and self.token:
            h["authorization"] = f"Bearer {self.token}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["content-type"] = "application/json"
        elif isinstance(body, str):
            body = body.encode("utf-8", "surrogatepass")
            h["content-type"] = "application/json"
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            chunked = body is not None and not isinstance(body, (bytes, bytearray))
            if chunked:
                h.pop("transfer-encoding", None)
            conn.request(method, path, body=body, headers=h, encode_chunked=chunked)
            r = conn.getresponse()
            data = r.read()
            return r.status, r.getheader("content-type") or "", data
        except Exception as e:  # a dropped connection or a time-out is a finding
            return 0, "", f"{type(e).__name__}: {e}".encode()
        finally:
            conn.close()

    def json(self, method, path, body=None, **kw):
        status, ctype, data = self.raw(method, path, body, **kw)
        try:
            return status, json.loads(data)
        except Exception:
            return status, data.decode("utf-8", "replace")


def rand(n=8):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def signup(c, timezone="Europe/London", name=None):
    body = {"business_name": name or f"Probe {rand()}", "timezone": timezone, "name": "Probe Owner",
            "email": f"probe-{rand()}@example.com", "password": "probe-password-1"}
    return c.json("POST", "/v1/auth/signup", body, token=False)


def weekday_at(days_ahead, hhmm):
    """A local time on the first weekday at least `days_ahead` days from now (default hours are
    Monday to Friday, 09:00-17:00)."""
    day = time.time() + days_ahead * 86400
    while time.gmtime(day).tm_wday >= 5:
        day += 86400
    return time.strftime("%Y-%m-%dT", time.gmtime(day)) + hhmm


def envelope_ok(data):
    try:
        e = json.loads(data)["error"]
        return isinstance(e["code"], str) and isinstance(e["message"], str)
    except Exception:
        return False


class Fixture:
    """A business with a service, a customer, a booking, a conversation with messages."""

    def __init__(self, c):
        self.c = c
        status, r = signup(c)
        if status != 201:
            raise SystemExit(f"signup failed: {status} {r}")
        c.token = r["access_token"]
        self.business_id, self.staff_id = r["business_id"], r["staff_id"]
        _, svc = c.json("POST", "/v1/services", {"name": "Cut", "duration_minutes": 30})
        self.service_id = svc["id"]
        _, cust = c.json("POST", "/v1/customers", {"name": "Probe Customer", "phone": "+447911123456"})
        self.customer_id = cust["id"]
        _, conv = c.json("POST", "/v1/conversations", {"customer_id": self.customer_id, "channel": "sms"})
        self.conversation_id = conv.get("id") if isinstance(conv, dict) else None
        self.booking = self._book()
        self.phone_number_id = str(random.randint(10**11, 10**12 - 1))
        self.wa_conversation_id = None

    def _book(self):
        start = weekday_at(2, "10:00")
        status, b = self.c.json("POST", "/v1/bookings", {"customer_id": self.customer_id, "service_id": self.service_id, "start": start})
        return b if status == 201 else None

    def whatsapp_conversation(self, text="Hello from a probe"):
        """Connects WhatsApp with a known app secret and has a customer write in (signed webhook)."""
        c = self.c
        status, r = c.json("PUT", "/v1/channels/whatsapp", {"phone_number_id": self.phone_number_id, "access_token": "probe-token",
                                                             "app_secret": APP_SECRET, "verify_token": "probe-verify-" + rand()})
        if status != 200:
            return None, f"connect WhatsApp: {status} {r}"
        wa_id = "4479" + str(random.randint(10**7, 10**8 - 1))
        status, body = self.inbound(wa_id, text)
        if status != 200:
            return None, f"webhook: {status} {body[:200]!r}"
        for _ in range(50):
            s, page = c.json("GET", "/v1/conversations?channel=whatsapp&limit=50")
            if s == 200 and page["items"]:
                self.wa_conversation_id = page["items"][0]["id"]
                return self.wa_conversation_id, "ok"
            time.sleep(0.2)
        return None, "the inbound message never became a conversation"

    def inbound(self, wa_id, text):
        value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": self.phone_number_id},
                 "contacts": [{"profile": {"name": "Probe Sender"}, "wa_id": wa_id}],
                 "messages": [{"from": wa_id, "id": "wamid.probe" + rand(12), "timestamp": str(int(time.time())),
                               "type": "text", "text": {"body": text}}]}
        body = json.dumps({"object": "whatsapp_business_account",
                           "entry": [{"id": "PROBE", "changes": [{"field": "messages", "value": value}]}]}).encode()
        sig = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        status, _, data = self.c.raw("POST", "/webhooks/whatsapp", body, {"content-type": "application/json", "x-hub-signature-256": sig}, token=False)
        return status, data


class Runner:
    def __init__(self, c, engine):
        self.c, self.engine = c, engine
        self.results = []

    def probe(self, group, name, method, path, body=None, headers=None, warn_if_2xx=False, token=True, expect=None):
        status, ctype, data = self.c.raw(method, path, body, headers, token=token)
        verdict = "ok"
        why = ""
        if status == 0 or status >= 500:
            verdict, why = "FAIL", "server error" if status else "no answer"
        elif status >= 400 and not envelope_ok(data):
            verdict, why = "FAIL", "error is not the JSON envelope"
        elif expect and status not in expect:
            verdict, why = "FAIL", f"expected {sorted(expect)}"
        elif warn_if_2xx and 200 <= status < 300:
            verdict, why = "WARN", "accepted"
        shown = body if not isinstance(body, bytes) else body[:120]
        if body is not None and not isinstance(body, (bytes, str, dict, list)):
            shown = "<chunked body>"
        if isinstance(shown, (dict, list)):
            shown = json.dumps(shown)
        if isinstance(shown, str) and len(shown) > 200:
            shown = shown[:200] + f"… ({len(shown)} chars)"
        r = {"engine": self.engine, "group": group, "name": name, "method": method, "path": path,
             "body": shown if not isinstance(shown, bytes) else repr(shown), "status": status, "content_type": ctype,
             "response": data[:300].decode("utf-8", "replace"), "verdict": verdict, "why": why}
        self.results.append(r)
        print(f"{verdict:4}  [{self.engine}] {group}: {name}: {method} {path[:90]} → {status} {r['response'][:160]}", flush=True)
        return status, data


def run(base, engine):
    c = Client(base)
    R = Runner(c, engine)
    fx = Fixture(c)
    svc, cust, staff, conv = fx.service_id, fx.customer_id, fx.staff_id, fx.conversation_id
    q = urllib.parse.quote

    # ---- NUL (U+0000) in JSON bodies, paths and query strings (PostgreSQL TEXT cannot hold it)
    g = "NUL"
    nul_bodies = [
        ("POST", "/v1/customers", {"name": "nul\u0000name"}),
        ("POST", "/v1/customers", {"name": "ok", "notes": "a\u0000b"}),
        ("POST", "/v1/customers", {"name": "ok", "tags": ["t\u0000"]}),
        ("PATCH", f"/v1/customers/{cust}", {"notes": "x\u0000"}),
        ("POST", "/v1/services", {"name": "svc\u0000", "duration_minutes": 30}),
        ("PATCH", f"/v1/services/{svc}", {"name": "svc\u0000"}),
        ("POST", "/v1/canned-responses", {"shortcut": "nul" + rand(4), "title": "t", "body": "b\u0000"}),
        ("POST", "/v1/whatsapp-templates", {"name": "nul_" + rand(4), "language": "en", "body": "b\u0000"}),
        ("PATCH", "/v1/business", {"name": "Biz\u0000"}),
        ("PATCH", "/v1/business", {"locale": "en\u0000"}),
        ("PATCH", "/v1/assistant", {"instructions": "be nice\u0000"}),
        ("PATCH", f"/v1/staff/{staff}", {"name": "Owner\u0000"}),
        ("POST", "/v1/invitations", {"email": "a\u0000b@example.com", "role": "agent"}),
        ("POST", "/v1/schedule-exceptions", {"date": "2031-01-02", "closed": True, "note": "n\u0000"}),
        ("POST", "/v1/calendar-feeds", {"staff_id": "x\u0000"}),
        ("POST", "/v1/auth/login", {"email": "nobody\u0000@example.com", "password": "whatever-123"}),
        ("POST", "/v1/auth/refresh", {"refresh_token": "r\u0000"}),
        ("POST", "/v1/auth/accept-invitation", {"token": "t\u0000", "name": "n", "password": "password-123"}),
        ("POST", "/v1/auth/signup", {"business_name": "B\u0000", "timezone": "Europe/London", "name": "n",
                                     "email": f"nul-{rand()}@example.com", "password": "password-123"}),
        ("POST", "/v1/sync/push", {"client_id": "c\u0000", "mutations": []}),
        ("POST", "/v1/bookings", {"customer_id": cust, "service_id": svc, "start": weekday_at(3, "11:00"), "notes": "n\u0000"}),
        ("POST", "/v1/bookings", {"customer_id": cust, "service_id": "s\u0000", "start": weekday_at(3, "11:00")}),
    ]
    if conv:
        nul_bodies += [("POST", f"/v1/conversations/{conv}/notes", {"body": "note\u0000"}),
                       ("PATCH", f"/v1/conversations/{conv}", {"assignee_staff_id": "x\u0000"})]
    if fx.booking:
        nul_bodies.append(("PATCH", f"/v1/bookings/{fx.booking['id']}", {"expected_version": fx.booking["version"], "notes": "n\u0000"}))
    for method, path, body in nul_bodies:
        R.probe(g, "NUL in JSON body", method, path, body)
    nul_paths = ["/v1/customers/a%00b", "/v1/services/%00", "/v1/bookings/%00", "/v1/conversations/%00", "/v1/notes/%00",
                 "/v1/staff/%00", "/v1/staff/%00/hours", "/v1/media/%00", "/v1/canned-responses/%00", "/v1/schedule-exceptions/%00",
                 "/calendar/%00.ics", "/v1/conversations/%00/messages"]
    for p in nul_paths:
        R.probe(g, "NUL in path", "GET", p)
    R.probe(g, "NUL in path", "DELETE", "/v1/invitations/%00")
    R.probe(g, "NUL in path", "POST", "/webhooks/vapi/%00", {"message": {"type": "status-update"}}, token=False)
    R.probe(g, "NUL in path", "POST", "/webhooks/retell/%00", {"event": "call_ended"}, token=False)
    nul_queries = ["/v1/customers?q=%00", "/v1/customers?cursor=%00", "/v1/conversations?holder=%00", "/v1/conversations?assignee=%00",
                   "/v1/conversations?customer_id=%00", "/v1/conversations?cursor=%00", f"/v1/bookings?staff_id=%00",
                   "/v1/bookings?customer_id=%00", f"/v1/availability?service_id=%00", f"/v1/availability?service_id={svc}&staff_id=%00",
                   f"/v1/availability/check?service_id=%00&start={weekday_at(3, '11:00')}", "/v1/sync/pull?client_id=%00",
                   "/v1/audit-log?cursor=%00", "/v1/schedule-exceptions?from=%00",
                   "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=%00&hub.challenge=1"]
    if conv:
        nul_queries.append(f"/v1/conversations/{conv}/messages?before=%00")
    for p in nul_queries:
        R.probe(g, "NUL in query", "GET", p, token="/webhooks/" not in p)
    R.probe(g, "NUL in query", "DELETE", f"/v1/bookings/{fx.booking['id'] if fx.booking else 'x'}?reason=%00")

    # ---- invalid UTF-8 and other malformed bodies
    g = "bad body"
    ct = {"content-type": "application/json"}
    R.probe(g, "invalid UTF-8 in a JSON string", "POST", "/v1/customers", b'{"name":"\xff\xfe bad"}', ct, expect={400})
    R.probe(g, "invalid UTF-8 (overlong NUL)", "POST", "/v1/customers", b'{"name":"\xc0\x80"}', ct, expect={400})
    R.probe(g, "lone surrogate escape", "POST", "/v1/customers", b'{"name":"\\ud800"}', ct, expect={400})
    R.probe(g, "UTF-8 BOM before JSON", "POST", "/v1/customers", b'\xef\xbb\xbf{"name":"bom"}', ct)
    R.probe(g, "truncated JSON", "POST", "/v1/customers", b'{"name":"trunc', ct, expect={400})
    R.probe(g, "truncated JSON", "POST", "/v1/bookings", b'{"customer_id":', ct, expect={400})
    R.probe(g, "empty body with JSON content type", "POST", "/v1/customers", b"", ct, expect={400})
    R.probe(g, "no content type", "POST", "/v1/customers", b'{"name":"x"}', {"content-type": None}, expect={415})
    R.probe(g, "text/plain content type", "POST", "/v1/customers", b'{"name":"x"}', {"content-type": "text/plain"}, expect={415})
    R.probe(g, "JSON array instead of object", "POST", "/v1/customers", b'["a"]', ct, expect={400, 422})
    R.probe(g, "JSON array instead of object (all-optional struct)", "POST", "/v1/calendar-feeds", b"[null]", ct, warn_if_2xx=True)
    R.probe(g, "JSON null body", "PATCH", "/v1/business", b"null", ct, expect={400, 422})
    R.probe(g, "duplicate keys", "POST", "/v1/customers", b'{"name":"a","name":"b"}', ct, expect={400, 422})
    R.probe(g, "deep nesting (10000 levels)", "POST", "/v1/sync/push", b'{"client_id":"c","mutations":' + b"[" * 10000 + b"]" * 10000 + b"}",
            ct, expect={400, 422})
    R.probe(g, "trailing garbage", "POST", "/v1/customers", b'{"name":"x"} tail', ct, expect={400})
    big = b'{"name":"' + b"a" * 300_000 + b'"}'
    R.probe(g, "oversized body (300 kB > 256 KiB limit)", "POST", "/v1/customers", big, ct, expect={413})
    R.probe(g, "oversized body on a webhook", "POST", "/webhooks/whatsapp", b'{"entry":[' + b" " * 300_000 + b"]}",
            {"content-type": "application/json", "x-hub-signature-256": "sha256=00"}, token=False, expect={413})
    R.probe(g, "oversized body, chunked", "POST", "/v1/customers", iter([big[:150_000], big[150_000:]]),
            {"content-type": "application/json", "transfer-encoding": "chunked"}, expect={413})
    R.probe(g, "long string within the limit (250 kB name)", "POST", "/v1/customers", {"name": "n" * 250_000}, expect={422})
    if conv:
        R.probe(g, "long note body (250 kB)", "POST", f"/v1/conversations/{conv}/notes", {"body": "n" * 250_000})
    R.probe(g, "unknown route", "GET", "/v1/nope", expect={404})
    R.probe(g, "wrong method", "PUT", "/v1/customers", {"name": "x"}, expect={405})
    R.probe(g, "sync WebSocket without upgrade", "GET", "/v1/sync/ws", expect={400, 401, 426})
    R.probe(g, "sync WebSocket without upgrade or token", "GET", "/v1/sync/ws", token=False, expect={400, 401, 426})

    # ---- huge numbers
    g = "huge numbers"
    for field, value in [("duration_minutes", "99999999999999999999"), ("duration_minutes", "1e308"), ("duration_minutes", "-1"),
                         ("duration_minutes", "4294967296"), ("price_cents", "9223372036854775807"), ("price_cents", "9223372036854775808"),
                         ("price_cents", "-9223372036854775808"), ("buffer_after_minutes", "4294967295"), ("min_notice_minutes", "4294967295"),
                         ("max_advance_days", "4294967295"), ("slot_interval_minutes", "0")]:
        body = '{"name":"Huge %s","duration_minutes":30,"%s":%s}' % (rand(4), field, value)
        if field == "duration_minutes":
            body = '{"name":"Huge %s","duration_minutes":%s}' % (rand(4), value)
        R.probe(g, f"service {field}={value}", "POST", "/v1/services", body, warn_if_2xx=field == "price_cents" and value.startswith("9"))
    R.probe(g, "schedule min_notice_minutes=u32::MAX", "PATCH", "/v1/schedule", '{"min_notice_minutes":4294967295}')
    R.probe(g, "staff hours HH:MM out of range", "PUT", f"/v1/staff/{staff}/hours", {"bookable": True, "hours": {"monday": [{"start": "99:99", "end": "100:00"}]}})
    R.probe(g, "assistant handback_idle_minutes=u32::MAX", "PATCH", "/v1/assistant", '{"handback_idle_minutes":4294967295}', warn_if_2xx=True)
    for p in ["/v1/customers?limit=99999999999999999999", "/v1/customers?limit=-1", "/v1/bookings?limit=4294967296",
              "/v1/sync/pull?cursor=9223372036854775807", "/v1/sync/pull?cursor=-1", "/v1/sync/pull?cursor=99999999999999999999",
              "/v1/audit-log?limit=4294967295", f"/v1/availability?service_id={svc}&limit=4294967295"]:
        R.probe(g, "huge query number", "GET", p)
    if fx.booking:
        bid = fx.booking["id"]
        R.probe(g, "expected_version=i64::MAX", "PATCH", f"/v1/bookings/{bid}", '{"expected_version":9223372036854775807,"notes":"x"}', expect={409})
        R.probe(g, "expected_version=-i64::MIN", "PATCH", f"/v1/bookings/{bid}", '{"expected_version":-9223372036854775808,"notes":"x"}', expect={409})
        R.probe(g, "expected_version too big for i64", "PATCH", f"/v1/bookings/{bid}", '{"expected_version":9223372036854775808}', expect={422})
        R.probe(g, "cancel expected_version too big", "DELETE", f"/v1/bookings/{bid}?expected_version=99999999999999999999", expect={400})
    R.probe(g, "sync push mutation id i64::MAX", "POST", "/v1/sync/push",
            '{"client_id":"%s","mutations":[{"id":9223372036854775807,"name":"mark_read","args":{"conversation_id":"%s"}}]}' % (
                "11111111-1111-4111-8111-" + "%012d" % random.randint(0, 10**12 - 1), conv))

    # ---- far dates
    g = "far dates"
    for frm, to in [("9999-12-31", None), (None, "9999-12-31"), ("9999-12-30", "9999-12-31"), ("0000-01-01", None), ("0000-01-01", "0000-01-02"),
                    ("-0001-01-01", None), ("-000001-01-01", None), ("+010000-01-01", None), ("9999-12-31T23:59:59Z", None),
                    ("-009999-01-01T00:00:00Z", None), ("2026-02-30", None), ("1970-01-01", "1970-01-02")]:
        qs = "&".join(f"{k}={q(v)}" for k, v in (("from", frm), ("to", to)) if v)
        R.probe(g, "list bookings", "GET", f"/v1/bookings?{qs}")
        R.probe(g, "availability", "GET", f"/v1/availability?service_id={svc}&{qs}")
    for start in ["9999-12-31T23:00", "9999-12-31T23:50:00Z", "9999-12-30T10:00", "0000-01-01T10:00", "-0001-01-01T10:00",
                  "-009999-01-03T10:00:00Z", "2026-02-30T10:00", "1970-01-01T00:00:00Z"]:
        R.probe(g, "availability check", "GET", f"/v1/availability/check?service_id={svc}&start={q(start)}")
        R.probe(g, "availability check (online rules)", "GET", f"/v1/availability/check?service_id={svc}&start={q(start)}&source=api")
        R.probe(g, "create booking", "POST", "/v1/bookings", {"customer_id": cust, "service_id": svc, "start": start}, warn_if_2xx=True)
    if fx.booking:
        b = fx.booking
        R.probe(g, "reschedule booking to 9999-12-31", "PATCH", f"/v1/bookings/{b['id']}", {"expected_version": b["version"], "start": "9999-12-31T23:30"})
    for date in ["9999-12-31", "0000-01-01", "-0001-01-01", "2026-02-30"]:
        R.probe(g, "schedule exception", "POST", "/v1/schedule-exceptions", {"date": date, "closed": True}, warn_if_2xx=date.startswith(("0", "-")))
        R.probe(g, "list schedule exceptions", "GET", f"/v1/schedule-exceptions?from={q(date)}")
    R.probe(g, "list schedule exceptions to 9999-12-31", "GET", "/v1/schedule-exceptions?from=2026-01-01&to=9999-12-31")

    # ---- odd time zone names in signup and PATCH /v1/business, then what they break
    g = "time zones"
    tz_client = Client(base)
    for tz in ["localtime", "Factory", "europe/london", "EUROPE/LONDON", "utc", "UTC", "posixrules", "right/UTC", "posix/Europe/London",
               "Etc/GMT+5", "EST5EDT", "US/Pacific-New", "../zoneinfo/UTC", "/etc/localtime", "+01:00", "Europe/London\u0000", " "]:
        status, data = R.probe(g, f"signup timezone {tz!r}", "POST", "/v1/auth/signup",
                               {"business_name": "TZ", "timezone": tz, "name": "n", "email": f"tz-{rand()}@example.com", "password": "password-123"},
                               token=False, warn_if_2xx=tz not in ("UTC", "Etc/GMT+5", "EST5EDT"))
        if status == 201:
            tz_client.token = json.loads(data)["access_token"]
            T = Runner(tz_client, engine)
            T.results = R.results
            _, s = tz_client.json("POST", "/v1/services", {"name": "Cut", "duration_minutes": 30})
            sid = s.get("id") if isinstance(s, dict) else "x"
            _, cu = tz_client.json("POST", "/v1/customers", {"name": "C", "phone": "07911 123456"})
            T.probe(g, f"[{tz}] business", "GET", "/v1/business")
            T.probe(g, f"[{tz}] availability", "GET", f"/v1/availability?service_id={sid}")
            T.probe(g, f"[{tz}] availability by date", "GET", f"/v1/availability?service_id={sid}&from=2031-03-30&to=2031-03-31")
            T.probe(g, f"[{tz}] bookings", "GET", "/v1/bookings?from=2031-03-30")
            T.probe(g, f"[{tz}] customer with a national number", "POST", "/v1/customers", {"name": "Nat", "phone": "07911 123457"})
            T.probe(g, f"[{tz}] feed", "POST", "/v1/calendar-feeds", {})
    tz_client.token = None
    status, r = signup(tz_client)
    if status == 201:
        tz_client.token = r["access_token"]
        T = Runner(tz_client, engine)
        T.results = R.results
        for tz in ["localtime", "Factory", "europe/london", "utc", "UTC", "Europe/London\u0000", "Mars/Olympus"]:
            T.probe(g, f"PATCH business timezone {tz!r}", "PATCH", "/v1/business", {"timezone": tz},
                    warn_if_2xx=tz not in ("UTC",))
            T.probe(g, f"[{tz}] sync pull after PATCH", "GET", "/v1/sync/pull?limit=5")

    # ---- deleting a conversation that has messages
    g = "delete conversation"
    c.json("PATCH", "/v1/assistant", {"enabled": False})
    wa_conv, why = fx.whatsapp_conversation()
    if not wa_conv:
        print(f"SKIP  [{engine}] {g}: {why}")
        return R.results
    R.probe(g, "inbound message only (assistant off): delete conversation", "DELETE", f"/v1/conversations/{wa_conv}", expect={204})

    def new_conversation(text, seen):
        fx.inbound("4479" + str(random.randint(10**7, 10**8 - 1)), text)
        for _ in range(50):
            s, page = c.json("GET", "/v1/conversations?channel=whatsapp&limit=50")
            fresh = [x["id"] for x in page.get("items", []) if x["id"] not in seen] if s == 200 else []
            if fresh:
                seen.add(fresh[0])
                return fresh[0]
            time.sleep(0.2)
        return None

    seen = {wa_conv}
    conv_b = new_conversation("please call me", seen)
    if conv_b:
        R.probe(g, "staff reply", "POST", f"/v1/conversations/{conv_b}/messages", {"body": "staff reply"}, expect={200, 201})
        R.probe(g, "with a staff reply (outbox row): delete conversation", "DELETE", f"/v1/conversations/{conv_b}", expect={204})
        R.probe(g, "NUL in a staff reply", "POST", f"/v1/conversations/{conv_b}/messages", {"body": "nul\u0000reply"})
    c.json("PATCH", "/v1/assistant", {"enabled": True})
    conv_c = new_conversation("what are your opening hours?", seen)
    if conv_c:
        for _ in range(50):  # wait for the built-in assistant's answer
            s, page = c.json("GET", f"/v1/conversations/{conv_c}/messages")
            if s == 200 and len(page.get("items", [])) > 1:
                break
            time.sleep(0.2)
        R.probe(g, "the built-in assistant answered (assistant_jobs row): delete conversation", "DELETE", f"/v1/conversations/{conv_c}", expect={204})
    status, data = fx.inbound("4479" + str(random.randint(10**7, 10**8 - 1)), "nul\u0000inbound")
    R.results.append({"engine": engine, "group": "NUL", "name": "NUL in an inbound WhatsApp text (signed webhook)", "method": "POST",
                      "path": "/webhooks/whatsapp", "body": '{"entry":[{"changes":[{"value":{"messages":[{"text":{"body":"nul\\u0000inbound"}}]}}]}]}',
                      "status": status, "content_type": "", "response": data[:300].decode("utf-8", "replace"),
                      "verdict": "FAIL" if status >= 500 or status == 0 else "ok", "why": ""})
    print(f"{R.results[-1]['verdict']:4}  [{engine}] NUL: inbound WhatsApp text with NUL (signed webhook) → {status} {data[:120]!r}")
    return R.results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--engine", default="?")
    ap.add_argument("--json")
    a = ap.parse_args()
    results = run(a.base, a.engine)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    fails = [r for r in results if r["verdict"] == "FAIL"]
    warns = [r for r in results if r["verdict"] == "WARN"]
    print(f"probes [{a.engine}]: {len(results)} sent, {len(fails)} FAIL, {len(warns)} WARN")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
