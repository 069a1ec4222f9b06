#!/usr/bin/env python3
"""Recomputes fingerprints with an independent RFC 8785 implementation.

Reads JSON lines {"payload": "<audit payload>", "source": "...", "alert_hash": "..."}
on stdin; for each, hashes rfc8785.dumps({"alert": payload, "source": source})
with SHA-256, and checks both the hash and that the stored payload already is
the canonical form. Prints "N checked" or the first mismatch and exits 1.
"""

import hashlib
import json
import sys

import rfc8785


def main() -> int:
    checked = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        record = json.loads(line)
        # RFC 8785 reads every number as an IEEE 754 double, as I-JSON does.
        payload = json.loads(record["payload"], parse_int=float)
        canonical_payload = rfc8785.dumps(payload).decode("utf-8")
        if canonical_payload != record["payload"]:
            print(f"payload not canonical:\n ours:   {record['payload']}\n rfc8785: {canonical_payload}")
            return 1
        whole = rfc8785.dumps({"alert": payload, "source": record["source"]})
        digest = hashlib.sha256(whole).hexdigest()
        if digest != record["alert_hash"]:
            print(f"fingerprint differs for {record['payload']}: ours {record['alert_hash']}, rfc8785 {digest}")
            return 1
        checked += 1
    print(f"{checked} checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
