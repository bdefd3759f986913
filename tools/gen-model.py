#!/usr/bin/env python3
"""Derive Steward's compact wire-constraint tables from the botocore service models.

The botocore package is the wire specification (see DESIGN.md). We keep only what the
request validator needs: shape types, required members, lengths, ranges, patterns and
enums, plus each operation's input shape. Documentation strings are dropped.

Run: python3 tools/gen-model.py   (rewrites crates/api/model/*.json)
"""
import gzip, json, os
import botocore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(botocore.__file__), "data")
SERVICES = {"ssm": "ssm/2014-11-06", "kms": "kms/2014-11-01", "cloudtrail": "cloudtrail/2013-11-01",
            "resource-groups": "resource-groups/2017-11-27"}
KEEP = ("type", "required", "min", "max", "pattern", "enum", "sensitive")


def load(rel):
    path = os.path.join(DATA, rel, "service-2.json")
    if os.path.exists(path + ".gz"):
        return json.load(gzip.open(path + ".gz"))
    return json.load(open(path))


def compact(model):
    shapes = {}
    for name, s in model["shapes"].items():
        out = {k: s[k] for k in KEEP if k in s}
        # Java-style surrogate pairs (\uD800…) cannot be said in a Rust regex; such
        # patterns only spell "any Unicode", so the length limits keep the constraint.
        if "\\uD8" in out.get("pattern", "") or "\\uDB" in out.get("pattern", ""):
            del out["pattern"]
        if "members" in s:
            out["members"] = {m: v["shape"] for m, v in s["members"].items()}
        for ref in ("member", "key", "value"):
            if ref in s:
                out[ref] = s[ref]["shape"]
        if s.get("exception"):
            out["exception"] = True
        shapes[name] = out
    ops = {n: {"input": o.get("input", {}).get("shape")} for n, o in model["operations"].items()}
    meta = {k: model["metadata"][k] for k in ("targetPrefix", "signingName", "endpointPrefix", "apiVersion") if k in model["metadata"]}
    meta["botocore"] = botocore.__version__
    return {"metadata": meta, "operations": ops, "shapes": shapes}


for svc, rel in SERVICES.items():
    dest = os.path.join(ROOT, "crates", "api", "model", svc + ".json")
    with open(dest, "w") as f:
        json.dump(compact(load(rel)), f, separators=(",", ":"), sort_keys=True)
    print(dest, os.path.getsize(dest))
