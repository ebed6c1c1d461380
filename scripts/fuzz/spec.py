#!/usr/bin/env python3
"""Lints the service's OpenAPI document and writes a copy that schemathesis can fuzz.

    spec.py lint  openapi.json            # prints problems, exits 1 if there are any
    spec.py fix   openapi.json fixed.json # writes the fuzzable copy (always exits 0)

`fix` only repairs parameter *locations*: a parameter declared `in: path` whose name is not in
the path template is really a query parameter (utoipa's IntoParams without
`parameter_in = Query`). Such a parameter becomes `in: query`, optional when its schema admits
null, with the null alternative dropped (absence is how a query string says None). Nothing else
is changed, so undocumented status codes, content types and schema mismatches still show.
Once the service declares its parameters correctly, `fix` is a no-op.
"""
import copy
import json
import re
import sys

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _strip_null(schema):
    """Returns (schema without its null alternative, whether it admitted null)."""
    s = copy.deepcopy(schema)
    t = s.get("type")
    if isinstance(t, list) and "null" in t:
        rest = [x for x in t if x != "null"]
        s["type"] = rest[0] if len(rest) == 1 else rest
        return s, True
    for key in ("oneOf", "anyOf"):
        alts = s.get(key)
        if isinstance(alts, list) and any(a == {"type": "null"} for a in alts):
            rest = [a for a in alts if a != {"type": "null"}]
            if len(rest) == 1 and len(s) == 1:
                return rest[0], True
            s[key] = rest
            return s, True
    return s, False


def operations(doc):
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def lint(doc):
    problems = []
    schemes = set((doc.get("components") or {}).get("securitySchemes", {}) or {})
    for path, method, op in operations(doc):
        label = f"{method.upper()} {path}"
        template = set(re.findall(r"{([^}]+)}", path))
        declared = set()
        for p in op.get("parameters", []):
            if p.get("in") == "path":
                declared.add(p["name"])
                if p["name"] not in template:
                    problems.append(f"{label}: parameter `{p['name']}` is declared `in: path` but the path has no "
                                    f"{{{p['name']}}}: it is a query parameter")
        for name in sorted(template - declared):
            problems.append(f"{label}: path template variable {{{name}}} has no parameter")
        responses = op.get("responses", {})
        secured = any(req for req in op.get("security", doc.get("security", [])) if set(req) & schemes)
        if secured and "401" not in responses:
            problems.append(f"{label}: needs a bearer token but documents no 401")
        body = (op.get("requestBody") or {}).get("content", {})
        if "application/json" in body:
            for code, why in (("400", "malformed JSON (invalid_json)"), ("415", "a body without Content-Type: application/json"),
                              ("413", "a body over the size limit")):
                if code not in responses:
                    problems.append(f"{label}: takes a JSON body but documents no {code} ({why})")
        query = [p for p in op.get("parameters", []) if p.get("in") == "query" or
                 (p.get("in") == "path" and p["name"] not in template)]
        if query and "400" not in responses:
            problems.append(f"{label}: has query parameters but documents no 400 (invalid_query)")
        for code, resp in responses.items():
            for ctype in (resp.get("content") or {}):
                if code.startswith(("4", "5")) and ctype != "application/json":
                    problems.append(f"{label}: error response {code} is {ctype}, not the JSON error envelope")
    return problems


def fix(doc):
    doc = copy.deepcopy(doc)
    for path, method, op in operations(doc):
        template = set(re.findall(r"{([^}]+)}", path))
        for p in op.get("parameters", []):
            if p.get("in") == "path" and p["name"] not in template:
                p["in"] = "query"
                schema, nullable = _strip_null(p.get("schema", {}))
                p["schema"] = schema
                p["required"] = not nullable
    return doc


def main(argv):
    if len(argv) < 3 or argv[1] not in ("lint", "fix"):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[2]) as f:
        doc = json.load(f)
    if argv[1] == "lint":
        problems = lint(doc)
        for p in problems:
            print(f"  - {p}")
        print(f"OpenAPI lint: {len(problems)} problem(s)")
        return 1 if problems else 0
    with open(argv[3], "w") as f:
        json.dump(fix(doc), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
