"""Reads an exported file back for test/export: prints its rows as JSON, in the API's record form.

python3 read_back.py <file> <csv|parquet> <columns JSON: [{"name","type","nullable"}]>

Parquet is read with pyarrow (timestamps come back as UTC datetimes, turned into epoch ms here;
depth levels as lists of {price, qty}); CSV with Python's csv module (RFC 4180). An absent
optional field (null / empty) is left out, as the API leaves it out of a record.
"""
import csv
import json
import sys

path, fmt, columns = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])


def to_ms(dt):
    # A timezone-aware datetime: whole milliseconds since the epoch, without float rounding.
    from datetime import datetime, timezone

    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


out = {"rows": [], "schema": None, "metadata": None}
if fmt == "parquet":
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    out["schema"] = {f.name: str(f.type) for f in table.schema}
    out["nullable"] = {f.name: f.nullable for f in table.schema}
    out["metadata"] = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    for row in table.to_pylist():
        rec = {}
        for col in columns:
            v = row[col["name"]]
            if v is None:
                continue
            if col["type"] == "timestamp":
                v = to_ms(v)
            elif col["type"] == "levels":
                v = [[x["price"], x["qty"]] for x in v]
            rec[col["name"]] = v
        out["rows"].append(rec)
else:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        out["schema"] = header
        for fields in reader:
            rec = {}
            for col, text in zip(columns, fields, strict=True):
                if text == "" and col["nullable"]:
                    continue
                t = col["type"]
                if t in ("timestamp", "int64"):
                    v = int(text)
                elif t == "boolean":
                    v = {"true": True, "false": False}[text]
                elif t == "levels":
                    v = json.loads(text)
                else:
                    v = text
                rec[col["name"]] = v
            out["rows"].append(rec)
json.dump(out, sys.stdout)
