#!/usr/bin/env python3
"""Groups the failures of schemathesis NDJSON reports and prints one curl reproducer per group.

    summarize.py [--base URL] REPORT.ndjson... > summary.md

A group is (operation, check, response status, error code from the body). Exit code: 1 when
any failure was found, else 0. The bearer token is written as $TOKEN.
"""
import base64
import collections
import json
import shlex
import sys


def decode(blob):
    if not blob:
        return b""
    if isinstance(blob, dict) and "$base64" in blob:
        return base64.b64decode(blob["$base64"])
    if isinstance(blob, dict) and "string" in blob:
        return blob["string"].encode()
    if isinstance(blob, str):
        return blob.encode()
    return json.dumps(blob).encode()


def curl(request):
    """A curl command line for a recorded request; the bearer token becomes $TOKEN."""
    parts = ["curl", "-sS", "-i", "-X", request["method"]]
    skip = ("user-agent", "accept-encoding", "accept", "connection", "content-length", "x-schemathesis-testcaseid")
    for name, values in (request.get("headers") or {}).items():
        if name.lower() in skip:
            continue
        for value in values if isinstance(values, list) else [values]:
            if name.lower() == "authorization" and "Filtered" in value:
                parts += ["-H", '"authorization: Bearer $TOKEN"']
            else:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
    body = decode(request.get("body"))
    if body:
        parts += ["--data-binary", shlex.quote(body.decode("utf-8", "backslashreplace"))]
    parts.append(shlex.quote(request["uri"]))
    return " ".join(parts)


def error_code(body):
    try:
        return json.loads(body)["error"]["code"]
    except Exception:
        return "-"


def main(argv):
    paths = [a for a in argv[1:] if not a.startswith("--")]
    groups = collections.OrderedDict()
    for path in paths:
        with open(path) as f:
            for line in f:
                event = json.loads(line)
                finished = event.get("ScenarioFinished")
                if not finished or finished.get("status") not in ("failure", "error"):
                    continue
                recorder = finished.get("recorder", {})
                interactions = recorder.get("interactions", {})
                for case_id, checks in (recorder.get("checks") or {}).items():
                    for check in checks:
                        if check.get("status") != "failure":
                            continue
                        failure = check["failure_info"]["failure"]
                        inter = interactions.get(case_id) or {}
                        response = inter.get("response") or {}
                        body = decode(response.get("content")).decode("utf-8", "replace")
                        status = response.get("status_code", "-")
                        key = (failure.get("operation") or recorder.get("label"), failure.get("code") or check["name"],
                               str(status), error_code(body))
                        g = groups.setdefault(key, {"count": 0, "title": failure.get("title"), "message": failure.get("message"),
                                                     "phase": finished.get("phase"), "request": inter.get("request"),
                                                     "body": body, "ctype": (response.get("headers") or {}).get("content-type")})
                        g["count"] += 1
                if finished.get("status") == "error" and not recorder.get("checks"):
                    key = (recorder.get("label", "?"), "error", "-", "-")
                    groups.setdefault(key, {"count": 0, "title": "schemathesis error", "message": json.dumps(finished)[:500],
                                            "phase": finished.get("phase"), "request": None, "body": "", "ctype": None})["count"] += 1

    by_check = collections.Counter()
    for (op, code, status, ecode), g in groups.items():
        by_check[(code, g["title"])] += g["count"]
    print(f"# Schemathesis failures: {len(groups)} distinct (operation, check, status, error code) groups\n")
    for (code, title), n in sorted(by_check.items()):
        print(f"- {code} {title}: {n} case(s)")
    print()
    for (op, code, status, ecode), g in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"## {op} — {code} {g['title']} — status {status}, error code {ecode} ({g['count']}×, phase {g['phase']})\n")
        print("    " + (g["message"] or g["title"] or "").replace("\n", "\n    "))
        if g["request"]:
            print("\n    " + curl(g["request"]))
        if g["body"]:
            ct = g["ctype"][0] if isinstance(g["ctype"], list) else g["ctype"]
            print(f"\n    → {status} {ct}: {g['body'][:400]}")
        print()
    return 1 if groups else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
