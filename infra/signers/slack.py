"""Slack's signer and verifier for the signers test suite: slack_sdk's SignatureVerifier.

Reads the same JSON jobs as signers.mjs on stdin (scheme "slack" only) and writes
{versions, results} on stdout.
"""
import json
import sys

import slack_sdk
from slack_sdk.signature import SignatureVerifier

BY = "slack_sdk@" + slack_sdk.version.__version__


def run(job):
    verifier = SignatureVerifier(job["key"])
    headers = dict(job.get("headers") or {})
    try:
        if job["op"] == "sign":
            ts = str(job["now"])
            headers["x-slack-request-timestamp"] = ts
            headers["x-slack-signature"] = verifier.generate_signature(timestamp=ts, body=job["body"])
            return {"headers": headers, "body": job["body"], "by": BY}
        ok = verifier.is_valid(job["body"], headers.get("x-slack-request-timestamp", ""), headers.get("x-slack-signature", ""))
        return {"ok": bool(ok), "by": BY}
    except Exception as e:  # the verdict is what the test checks
        return {"ok": False, "error": str(e), "by": BY}


jobs = json.load(sys.stdin)
json.dump({"versions": {"slack_sdk": slack_sdk.version.__version__}, "results": [run(j) for j in jobs]}, sys.stdout)
