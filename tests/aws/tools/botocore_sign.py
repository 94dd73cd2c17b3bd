#!/usr/bin/env python3
"""Signs requests with botocore at a frozen time, as reference values for spool's SigV4 tests.

Usage: botocore_sign.py CASES.json   (prints a JSON list of results, one per case, in order)

Each case is an object:
  name          a label, echoed back
  kind          "sign" (Authorization header) or "presign" (query-string URL)
  service       "sqs", "s3", ...
  region        "us-east-1", ...
  time          "20150830T123600Z"
  access_key, secret_key, session_token ("" for none)
  method        "GET", "PUT", "POST"
  url           the URL; for S3 give "endpoint" + "bucket" + "key" instead and botocore's own key
                encoding builds the path-style URL (endpoint/bucket/key)
  query         (optional) query string appended as given, e.g. "partNumber=1&uploadId=abc"
  headers       (optional) object of request headers
  body          (optional) request body (UTF-8 text)
  unsigned_payload  (optional, S3 header signing) sign UNSIGNED-PAYLOAD instead of the body's hash
  expires       (presign) seconds

Each result: name, url (the request's URL as botocore signed it), and for "sign" the headers botocore
set (Authorization, X-Amz-Date, ...) and its canonical request. Exits 3 when botocore cannot be imported.
"""
import datetime
import json
import sys
import types

try:
    import botocore
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.utils import percent_encode
except ImportError as e:  # the C++ test turns this into a SKIP
    print(e, file=sys.stderr)
    sys.exit(3)


def freeze(when):
    """Makes botocore's signers see `when` as the current UTC time (1.43 and Debian's 1.29)."""
    if hasattr(botocore.auth, "get_current_datetime"):
        botocore.auth.get_current_datetime = lambda *args, **kwargs: when
        return

    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return when

    shim = types.ModuleType("datetime")
    shim.__dict__.update(datetime.__dict__)
    shim.datetime = Frozen
    botocore.auth.datetime = shim


def case_url(case):
    if "url" in case:
        url = case["url"]
    else:
        # The S3 serializer's encoding of a {Key+} label: everything but unreserved characters, '/' and '~'.
        url = f"{case['endpoint']}/{case['bucket']}/{percent_encode(case['key'], safe='/~')}"
    if case.get("query"):
        url += "?" + case["query"]
    return url


def sign(case):
    freeze(datetime.datetime.strptime(case["time"], "%Y%m%dT%H%M%SZ"))
    creds = Credentials(case["access_key"], case["secret_key"], case.get("session_token") or None)
    body = case.get("body", "").encode("utf-8")
    request = AWSRequest(method=case["method"], url=case_url(case), data=body, headers=case.get("headers", {}))
    result = {"name": case["name"]}
    if case["kind"] == "presign":
        signer_class = botocore.auth.S3SigV4QueryAuth if case["service"] == "s3" else botocore.auth.SigV4QueryAuth
        signer = signer_class(creds, case["service"], case["region"], expires=case["expires"])
    else:
        signer_class = botocore.auth.S3SigV4Auth if case["service"] == "s3" else botocore.auth.SigV4Auth
        signer = signer_class(creds, case["service"], case["region"])
        if case.get("unsigned_payload"):
            request.context["client_config"] = types.SimpleNamespace(s3={"payload_signing_enabled": False})
    canonical = []
    original = signer.canonical_request
    signer.canonical_request = lambda r: canonical.append(original(r)) or canonical[-1]
    signer.add_auth(request)
    result["url"] = request.url
    result["canonical_request"] = canonical[-1] if canonical else ""
    if case["kind"] == "sign":
        result["headers"] = {k: v for k, v in request.headers.items()}
    return result


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    results = [sign(case) for case in cases]
    json.dump({"botocore": botocore.__version__, "results": results}, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
