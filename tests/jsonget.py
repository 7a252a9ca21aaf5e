#!/usr/bin/python3
"""jsonget.py FILE KEY...: print the JSON value at KEY... (a list index is a number),
strings raw, others as JSON; exit 1 when it is absent or FILE is not JSON."""
import json
import sys

try:
    with open(sys.argv[1], "rb") as f:
        v = json.load(f)
    for k in sys.argv[2:]:
        v = v[int(k)] if isinstance(v, list) else v[k]
except Exception:
    sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))
