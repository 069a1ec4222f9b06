#!/usr/bin/env python3
"""Independent oracle for the sample drops in events/drops/.

Re-implements, from the design SPEC.md only, the parts of the
pipeline that decide an alert's outcome without any state:

  parse + normalise  ->  validate (reject or accept)  ->  classify  ->  route

using the built-in default configuration (rules 1-7 and the default routing
matrix). Dedup, fingerprints, delivery and audit are out of scope: every
sample alert is distinct, so on a first run every valid alert is "new".

Standard library only. Usage:

    python3 tests/oracle/expected_samples.py            # events/drops/*
    python3 tests/oracle/expected_samples.py FILE...    # chosen files
    python3 tests/oracle/expected_samples.py --json     # machine-readable

Choices where SPEC.md is silent are marked "ASSUMPTION" below.
"""

import argparse
import base64
import binascii
import csv
import datetime as dt
import email.utils
import io
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path

# ---------------------------------------------------------------- defaults

SEVERITIES = ("critical", "high", "medium", "low")
HIGH_RISK_COUNTRIES = frozenset({"IR", "RU", "NG", "PA", "KY", "AF", "SY"})
SANCTION_WORD = "sanction"
SANCTION_FIELDS = ("subject", "body", "description")

ROUTING = {
    "critical": ("slack:compliance-critical", "email:compliance-leads"),
    "high": ("slack:compliance-high", "email:compliance"),
    "medium": ("slack:compliance-info",),
    "low": ("email:archive",),
    "rejected": ("email:compliance",),
}
DESTINATION_ORDER = (
    "slack:compliance-critical",
    "email:compliance-leads",
    "slack:compliance-high",
    "email:compliance",
    "slack:compliance-info",
    "email:archive",
)

CSV_REQUIRED = (
    "txn_id", "customer_id", "amount", "currency",
    "country", "txn_type", "risk_score", "created_at",
)

# Aliases that work with no config (SPEC lists `id`, `from`, `received_at`,
# `timestamp`, `date`, `country_code`, `score` as examples).
# ASSUMPTION: `id` means message_id in JSON; in CSV it is left alone (a CSV
# transaction already has txn_id).
JSON_ALIASES = {
    "id": "message_id",
    "from": "vendor",
    "received_at": "created_at",
    "timestamp": "created_at",
    "date": "created_at",
    "country_code": "country",
    "score": "risk_score",
}
CSV_ALIASES = {k: v for k, v in JSON_ALIASES.items() if k not in ("id", "from")}

# Rejection reason categories.
R_DUP_KEY = "duplicate_key"
R_DUP_FIELD = "conflicting_field_names"
R_NOT_NUMBER = "risk_score_not_a_number"
R_NAN = "risk_score_nan"
R_RANGE = "risk_score_out_of_range"
R_TIME = "created_at_unparseable"
R_MISSING_COL = "missing_required_column"
R_NOT_OBJECT = "not_an_object"


class Reject(Exception):
    def __init__(self, reason, detail):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail if len(detail) <= 120 else detail[:117] + "..."


# ---------------------------------------------------------------- values

_NUMERIC = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def parse_risk(value, present):
    """risk_score -> float in [0, 100]. Missing / empty -> 0."""
    if not present or value is None:
        # ASSUMPTION: JSON null counts as missing.
        return 0.0
    if isinstance(value, bool):
        raise Reject(R_NOT_NUMBER, repr(value))
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()  # ASSUMPTION: surrounding blanks are tolerated
        if text == "":
            return 0.0
        if text.lstrip("+-").lower() == "nan":
            raise Reject(R_NAN, repr(value))
        if not _NUMERIC.match(text):
            raise Reject(R_NOT_NUMBER, repr(value))
        number = float(text)
    else:
        raise Reject(R_NOT_NUMBER, repr(value))
    if math.isnan(number):
        raise Reject(R_NAN, repr(value))
    if not (0.0 <= number <= 100.0):
        raise Reject(R_RANGE, repr(value))
    return number


_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$"
)
_RFC2822_DAY = re.compile(r"^\s*(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s*,", re.I)
_EPOCH_MS = re.compile(r"^\d{10,14}$")


def parse_time(value):
    """created_at -> aware UTC datetime. Raises Reject when unparseable."""
    if isinstance(value, bool):
        raise Reject(R_TIME, repr(value))
    if isinstance(value, int):  # ASSUMPTION: a JSON integer is epoch ms
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)
    if not isinstance(value, str):
        raise Reject(R_TIME, repr(value))
    text = value.strip()

    m = _ISO.match(text)
    if m:
        y, mo, d, h, mi, s, frac, zone = m.groups()
        try:
            micro = int((frac or "0")[:6].ljust(6, "0"))
            when = dt.datetime(int(y), int(mo), int(d), int(h), int(mi),
                               int(s or 0), micro)
        except ValueError:
            raise Reject(R_TIME, repr(value))
        if zone is None or zone in ("Z", "z"):
            tz = dt.timezone.utc  # no zone -> taken as UTC
        else:
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:])
            if hours > 23 or minutes > 59:
                raise Reject(R_TIME, repr(value))
            tz = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
        return when.replace(tzinfo=tz).astimezone(dt.timezone.utc)

    if _EPOCH_MS.match(text):
        return dt.datetime.fromtimestamp(int(text) / 1000, tz=dt.timezone.utc)

    parts = email.utils.parsedate_tz(text)
    if parts is not None and re.search(r"\d{1,2}:\d{2}", text):
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise Reject(R_TIME, repr(value))
        if when.tzinfo is None:  # RFC 2822 "-0000": UTC, origin unknown
            when = when.replace(tzinfo=dt.timezone.utc)
        day = _RFC2822_DAY.match(text)
        # RFC 2822 3.3: the day-of-week, if given, must match the date.
        if day and day.group(1).title() != when.strftime("%a"):
            raise Reject(R_TIME, repr(value) + " (day-of-week mismatch)")
        return when.astimezone(dt.timezone.utc)

    raise Reject(R_TIME, repr(value))


def utc_z(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- normalise

def apply_aliases(pairs, aliases):
    """pairs: list of (key, value) in source order -> dict with canonical
    names. Two source names landing on one field reject the record."""
    out = {}
    origin = {}
    for key, value in pairs:
        name = aliases.get(key, key)
        if name in out:
            if origin[name] == key:
                raise Reject(R_DUP_KEY, "key %r repeated" % key)
            raise Reject(R_DUP_FIELD, "%r and %r both map to %r"
                         % (origin[name], key, name))
        out[name] = value
        origin[name] = key
    return out


def normalise(record, source):
    """record: canonical-name dict -> (normalised dict, flags)."""
    flags = []
    alert = dict(record)  # unknown fields are kept as they are
    for key in ("message_id", "vendor", "txn_id", "customer_id"):
        if isinstance(alert.get(key), str):
            alert[key] = alert[key].strip()

    hint = alert.get("severity_hint")
    if isinstance(hint, str):
        hint = hint.strip().lower()
    alert["severity_hint"] = hint or None  # empty = none

    alert["risk_score"] = parse_risk(alert.get("risk_score"),
                                     "risk_score" in record)

    country = alert.get("country")
    if isinstance(country, str):
        country = country.strip().upper() or None
    alert["country"] = country

    created = alert.get("created_at")
    if created is None or (isinstance(created, str) and created.strip() == ""):
        alert["created_at"] = None
        flags.append("created_at_missing")  # triage time used, not a reject
    else:
        alert["created_at"] = utc_z(parse_time(created))

    alert["source"] = source
    return alert, flags


# ---------------------------------------------------------------- classify

def classify(alert):
    """Default ordered rules, first match wins -> (severity, rule)."""
    hint = alert.get("severity_hint")
    if hint in SEVERITIES:
        return hint, "1:severity_hint"
    for field in SANCTION_FIELDS:
        text = alert.get(field)
        if isinstance(text, str) and SANCTION_WORD in text.lower():
            return "critical", "2:sanction_keyword"
    score = alert["risk_score"]
    if score >= 90:
        return "critical", "3:risk_score>=90"
    if score >= 75:
        return "high", "4:risk_score>=75"
    if alert.get("country") in HIGH_RISK_COUNTRIES:
        return "high", "5:high_risk_country"
    if score >= 40:
        return "medium", "6:risk_score>=40"
    return "low", "7:otherwise"


# ---------------------------------------------------------------- readers

def _pairs_hook(pairs):
    # Keep the raw pairs so a repeated key can be seen (json.loads would
    # silently keep the last one).
    return _Pairs(pairs)


class _Pairs(list):
    def get(self, key, default=None):
        for k, v in self:
            if k == key:
                return v
        return default

    def __contains__(self, key):
        return any(k == key for k, _ in self)


def _no_constants(name):
    raise ValueError("non-JSON constant %s" % name)


def _json_loads(text):
    return json.loads(text, object_pairs_hook=_pairs_hook,
                      parse_constant=_no_constants)


def _plain(node):
    """_Pairs tree -> ordinary dicts (last value wins; only for Gmail
    structure, never for alert fields)."""
    if isinstance(node, _Pairs):
        return {k: _plain(v) for k, v in node}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _is_gmail(obj):
    if not isinstance(obj, _Pairs):
        return False
    if "payload" in obj and "id" in obj:
        return True
    msg = obj.get("message")
    return isinstance(msg, _Pairs) and "payload" in msg


def _b64url(data):
    data = data.strip()
    data += "=" * (-len(data) % 4)
    return base64.urlsafe_b64decode(data.encode("ascii"))


def _find_plain(part):
    if part.get("mimeType", "").lower().startswith("text/plain"):
        data = (part.get("body") or {}).get("data")
        if data:
            return _b64url(data).decode("utf-8")
    for sub in part.get("parts") or []:
        found = _find_plain(sub)
        if found is not None:
            return found
    return None


def gmail_to_record(obj):
    msg = _plain(obj)
    if "message" in msg and "payload" not in msg:  # users.drafts.get
        msg = msg["message"]
    payload = msg.get("payload") or {}
    headers = {}
    for h in payload.get("headers") or []:
        headers.setdefault(h.get("name", "").lower(), h.get("value"))
    body = None
    try:
        body = _find_plain(payload)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        body = None
    if body is None:
        body = msg.get("snippet", "")
    # ASSUMPTION: created_at = Date header; internalDate only when no Date.
    created = headers.get("date") or msg.get("internalDate")
    return [
        ("message_id", msg.get("id")),
        ("vendor", headers.get("from")),
        ("subject", headers.get("subject")),
        ("body", body),
        ("created_at", created),
    ]


def read_json(path, raw):
    """-> (shape, source, list of (origin, pairs-or-Reject))."""
    text = raw.decode("utf-8-sig")
    stripped = text.strip()
    items = None
    shape = None
    try:
        doc = _json_loads(stripped)
        # _Pairs (a JSON object) is itself a list subclass: test it first.
        if isinstance(doc, list) and not isinstance(doc, _Pairs):
            items, shape = list(enumerate(doc)), "json-array"
        else:
            items, shape = [(0, doc)], "json-object"
    except ValueError as whole_exc:
        # NDJSON: one value per line. If the first non-blank line is not
        # JSON either, the file is not JSON at all -> quarantine.
        items, shape = [], "ndjson"
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    items.append((lineno, _json_loads(line)))
                except ValueError as exc:
                    if not items:
                        raise ValueError("not JSON: %s" % whole_exc)
                    items.append((lineno, Reject("invalid_json", str(exc))))
    out = []
    label = "line" if shape == "ndjson" else "index"
    for where, item in items:
        origin = "%s %d" % (label, where)
        if isinstance(item, Reject):
            out.append((origin, "json", item))
        elif _is_gmail(item):
            shape = "gmail-message" if shape == "json-object" else shape
            out.append((origin, "gmail", gmail_to_record(item)))
        elif isinstance(item, _Pairs):
            out.append((origin, "json", list(item)))
        else:
            out.append((origin, "json", Reject(R_NOT_OBJECT, repr(item))))
    return shape, out


def read_csv(path, raw, delimiter=","):
    text = raw.decode("utf-8-sig")  # BOM tolerated
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = None
    out = []
    last_line = 0
    for row in reader:
        start = last_line + 1
        last_line = reader.line_num
        if not row or all(c.strip() == "" for c in row):
            continue  # blank (trailing) lines
        if header is None:
            header = [h.strip() for h in row]
            continue
        origin = "line %d" % start
        # ASSUMPTION: cells beyond the header are ignored, missing cells
        # are absent (and a missing required one rejects the row).
        pairs = list(zip(header, row))
        out.append((origin, "csv", pairs))
    if header is None:
        raise ValueError("no header row")
    return "csv", out


def evaluate(origin, source, pairs):
    """-> dict describing one input alert's outcome."""
    try:
        if isinstance(pairs, Reject):
            raise pairs
        aliases = CSV_ALIASES if source == "csv" else JSON_ALIASES
        record = apply_aliases(pairs, aliases)
        if source == "csv":
            missing = [c for c in CSV_REQUIRED if c not in record]
            if missing:
                raise Reject(R_MISSING_COL, ",".join(missing))
            # CSV cells are strings; an empty optional cell means "none".
        alert, flags = normalise(record, source)
    except Reject as rej:
        return {"origin": origin, "outcome": "rejected", "reason": rej.reason,
                "detail": rej.detail, "routed_to": list(ROUTING["rejected"])}
    severity, rule = classify(alert)
    ident = alert.get("message_id") or alert.get("txn_id")
    return {"origin": origin, "outcome": "routed", "id": ident,
            "severity": severity, "rule": rule, "flags": flags,
            "created_at": alert["created_at"],
            "routed_to": list(ROUTING[severity]), "alert": alert}


# ---------------------------------------------------------------- report

def summarise(results):
    routed = [r for r in results if r["outcome"] == "routed"]
    rejected = [r for r in results if r["outcome"] == "rejected"]
    sev = Counter(r["severity"] for r in routed)
    rules = Counter(r["rule"] for r in routed)
    dest_routed = Counter(d for r in routed for d in r["routed_to"])
    dest_all = Counter(d for r in results for d in r["routed_to"])
    return {
        "read": len(results),
        "valid": len(routed),
        "rejected": len(rejected),
        "created_at_missing_flagged":
            sum("created_at_missing" in r["flags"] for r in routed),
        "rejections": [{"file": r.get("file"), "origin": r["origin"],
                        "reason": r["reason"], "detail": r["detail"]}
                       for r in rejected],
        "rejection_reasons": dict(sorted(Counter(
            r["reason"] for r in rejected).items())),
        "severity": {s: sev.get(s, 0) for s in SEVERITIES},
        "rules": dict(sorted(rules.items())),
        "destinations_routed": {d: dest_routed.get(d, 0)
                                for d in DESTINATION_ORDER},
        "destinations_incl_rejected": {d: dest_all.get(d, 0)
                                       for d in DESTINATION_ORDER},
    }


def _dup_key(result):
    alert = dict(result["alert"])
    return json.dumps(alert, sort_keys=True, ensure_ascii=False)


def print_summary(title, s, out):
    pct = lambda n: (100.0 * n / s["valid"]) if s["valid"] else 0.0
    out.write("== %s\n" % title)
    out.write("   read %d = valid %d + rejected %d   (created_at missing, "
              "flagged: %d)\n" % (s["read"], s["valid"], s["rejected"],
                                  s["created_at_missing_flagged"]))
    if s["rejections"]:
        out.write("   rejected by reason: %s\n" % ", ".join(
            "%s %d" % kv for kv in s["rejection_reasons"].items()))
        for r in s["rejections"]:
            out.write("     - %-18s %-9s %-26s %s\n"
                      % (r["file"], r["origin"], r["reason"], r["detail"]))
    out.write("   severity: %s\n" % ", ".join(
        "%s %d (%.1f%%)" % (k, v, pct(v)) for k, v in s["severity"].items()))
    out.write("   rules:    %s\n" % ", ".join(
        "%s %d" % kv for kv in s["rules"].items()))
    out.write("   destinations (routed alerts): %s\n" % ", ".join(
        "%s %d" % kv for kv in s["destinations_routed"].items()))
    out.write("   destinations incl. rejected notices: %s\n" % ", ".join(
        "%s %d" % kv for kv in s["destinations_incl_rejected"].items()))


def main(argv=None):
    here = Path(__file__).resolve()
    default_drops = here.parents[2] / "events" / "drops"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--json", action="store_true",
                    help="print one JSON document instead of text")
    ap.add_argument("--per-alert", action="store_true",
                    help="also list every alert's severity and rule")
    ap.add_argument("--delimiter", default=",")
    args = ap.parse_args(argv)

    files = args.files or sorted(
        p for p in default_drops.iterdir()
        if p.suffix.lower() in (".json", ".jsonl", ".ndjson", ".csv"))

    per_file = {}
    quarantined = {}
    all_results = []
    sample_results = []
    for path in files:
        raw = path.read_bytes()
        try:
            # Content first; a .json/.jsonl/.ndjson name that does not
            # look like JSON is still read as JSON (and so quarantined).
            if (raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{")
                    or path.suffix.lower() in (".json", ".jsonl", ".ndjson")):
                shape, items = read_json(path, raw)
            else:
                shape, items = read_csv(path, raw, args.delimiter)
        except (UnicodeDecodeError, ValueError) as exc:
            quarantined[path.name] = str(exc)
            continue
        results = [evaluate(o, src, p) for o, src, p in items]
        for r in results:
            r["file"] = path.name
        per_file[path.name] = (shape, results)
        all_results.extend(results)
        if not path.name.startswith("bad-"):
            sample_results.extend(results)

    seen = Counter(_dup_key(r) for r in all_results if r["outcome"] == "routed")
    duplicates = sum(n - 1 for n in seen.values() if n > 1)

    report = {
        "files": {name: dict(shape=shape, **summarise(res))
                  for name, (shape, res) in per_file.items()},
        "quarantined": quarantined,
        "sample_total": summarise(sample_results),
        "all_total": summarise(all_results),
        "duplicate_normalised_alerts_across_files": duplicates,
    }
    if args.per_alert:
        report["alerts"] = {
            name: [{k: r.get(k) for k in
                    ("origin", "id", "outcome", "severity", "rule", "reason",
                     "created_at")}
                   for r in res]
            for name, (_, res) in per_file.items()}

    out = sys.stdout
    if args.json:
        json.dump(report, out, indent=2)
        out.write("\n")
        return 0
    for name, (shape, res) in per_file.items():
        print_summary("%s [%s]" % (name, shape), summarise(res), out)
        if args.per_alert:
            for r in res:
                out.write("     %-9s %-18s %-8s %-24s %s\n" % (
                    r["origin"], r.get("id") or "-",
                    r.get("severity") or "REJECTED",
                    r.get("rule") or r.get("reason"),
                    r.get("created_at") or ""))
    for name, err in quarantined.items():
        out.write("== %s QUARANTINED: %s\n" % (name, err))
    print_summary("TOTAL sample (files not named bad-*)",
                  report["sample_total"], out)
    print_summary("TOTAL all files", report["all_total"], out)
    out.write("== duplicate normalised alerts across files: %d\n" % duplicates)
    return 0


if __name__ == "__main__":
    sys.exit(main())
