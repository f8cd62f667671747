"""AWS Signature Version 4 (AWS4-HMAC-SHA256) for S3, standard library only.

Used both as a *signer* (the Python test client) and as a *verifier* (the
SigV4 proxy in front of s3rver).  The canonicalization follows the S3 rules of
AWS's "Signature Calculations for the Authorization Header" document:

* Canonical URI: the request path is percent-decoded once and then every byte
  is percent-encoded except the unreserved set ``A-Z a-z 0-9 - _ . ~`` and
  ``/``.  Escapes are upper-case hex.  S3 does not normalize the path (no
  removal of ``.``/``..`` segments or duplicate slashes) and does not encode
  twice -- unlike the generic SigV4 rules for other services.
* Canonical query string: each ``name=value`` pair is decoded and re-encoded
  with the same rules (so ``/`` becomes ``%2F``, ``+`` ``%2B``, ``=`` ``%3D``,
  space ``%20``), a parameter without ``=`` gets an empty value, and the pairs
  are sorted by encoded name, then encoded value.  A *raw* ``+`` in a query
  string is read as a space, as S3 and s3rver do (form decoding); clients
  must send a literal plus as ``%2B``.
* Canonical headers: lower-case names, values trimmed with inner runs of
  whitespace collapsed to one space, repeated headers joined by ``,``, sorted
  by name; only the headers listed in SignedHeaders take part.
* Payload hash: the value of ``x-amz-content-sha256`` (a hex SHA-256 or the
  literal ``UNSIGNED-PAYLOAD``).  Presigned URLs always use
  ``UNSIGNED-PAYLOAD``.

All functions that take a path or query accept ``str`` (encoded as UTF-8) or
``bytes`` (used as is, e.g. the latin-1 bytes of a request line).
"""

from __future__ import annotations

import calendar
import datetime as _dt
import email.utils
import hashlib
import hmac
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional, Sequence

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PREFIX = "STREAMING-"
DEFAULT_MAX_SKEW = 15 * 60  # seconds, as S3
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600

_UNRESERVED = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
)
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")
_WS = re.compile(r"[ \t]+")


def _to_bytes(value) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------
# Encoding and canonicalization
# --------------------------------------------------------------------------

def uri_encode(value, keep_slash: bool = False) -> str:
    """Percent-encode every byte except the unreserved set (and '/' if asked)."""
    out = []
    for b in _to_bytes(value):
        if b in _UNRESERVED or (keep_slash and b == 0x2F):
            out.append(chr(b))
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def canonical_uri(raw_path) -> str:
    """S3 canonical URI of a path as sent on the wire (percent-encoded)."""
    raw = _to_bytes(raw_path)
    if not raw:
        return "/"
    return uri_encode(urllib.parse.unquote_to_bytes(raw), keep_slash=True)


def parse_query(raw_query) -> list:
    """Split a raw query string into decoded (name, value) byte pairs.

    A raw '+' decodes to a space; a parameter without '=' has value b''.
    """
    raw = _to_bytes(raw_query)
    pairs = []
    if not raw:
        return pairs
    for part in raw.split(b"&"):
        if not part:
            continue
        name, sep, value = part.partition(b"=")
        pairs.append((
            urllib.parse.unquote_to_bytes(name.replace(b"+", b" ")),
            urllib.parse.unquote_to_bytes(value.replace(b"+", b" ")),
        ))
    return pairs


def canonical_query_from_pairs(pairs: Iterable) -> str:
    encoded = sorted((uri_encode(n), uri_encode(v)) for n, v in pairs)
    return "&".join("%s=%s" % nv for nv in encoded)


def canonical_query_string(raw_query, exclude: Sequence[str] = ()) -> str:
    """Canonical query string of a raw (wire) query string."""
    skip = {_to_bytes(e) for e in exclude}
    return canonical_query_from_pairs(
        (n, v) for n, v in parse_query(raw_query) if n not in skip)


def encode_query(params: Iterable) -> str:
    """Build a wire query string from (name, value) pairs, encoded the SigV4
    way so the wire form equals the canonical form (order kept as given)."""
    out = []
    for n, v in params:
        out.append("%s=%s" % (uri_encode(n), uri_encode("" if v is None else v)))
    return "&".join(out)


def trim_header_value(value: str) -> str:
    return _WS.sub(" ", value.strip())


def _header_multimap(headers) -> dict:
    """Lower-cased name -> list of values, from a mapping or pair list."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    result: dict = {}
    for name, value in items:
        result.setdefault(name.lower().strip(), []).append(str(value))
    return result


def canonical_headers(headers, signed_headers: Sequence[str]) -> str:
    """Canonical header block (each line ends with '\\n') for signed_headers."""
    hmap = _header_multimap(headers)
    lines = []
    for name in signed_headers:
        values = hmap.get(name)
        if values is None:
            raise KeyError(name)
        lines.append("%s:%s\n" % (name, ",".join(trim_header_value(v) for v in values)))
    return "".join(lines)


def canonical_request(method: str, raw_path, raw_query, headers,
                      signed_headers: Sequence[str], payload_hash: str,
                      query_exclude: Sequence[str] = ()) -> str:
    signed = sorted(h.lower() for h in signed_headers)
    return "\n".join([
        method.upper(),
        canonical_uri(raw_path),
        canonical_query_string(raw_query, query_exclude),
        canonical_headers(headers, signed),
        ";".join(signed),
        payload_hash,
    ])


def credential_scope(date: str, region: str, service: str) -> str:
    return "/".join([date, region, service, TERMINATOR])


def string_to_sign(amz_date: str, scope: str, canonical_req: str) -> str:
    return "\n".join([
        ALGORITHM, amz_date, scope,
        hashlib.sha256(canonical_req.encode("utf-8", "surrogateescape")).hexdigest(),
    ])


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def signature(key: bytes, sts: str) -> str:
    return hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()


def format_amz_date(ts: Optional[float] = None) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if ts is None else ts))


def parse_amz_date(value: str) -> Optional[float]:
    """Epoch seconds of an ISO8601 basic x-amz-date, or of an RFC 1123 Date."""
    value = value.strip()
    if _AMZ_DATE.match(value):
        try:
            return float(calendar.timegm(time.strptime(value, "%Y%m%dT%H%M%SZ")))
        except ValueError:
            return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.timestamp()


# --------------------------------------------------------------------------
# Signer (client side)
# --------------------------------------------------------------------------

@dataclass
class Signed:
    headers: dict               # headers to send (includes Authorization)
    canonical_request: str
    string_to_sign: str
    signature: str
    authorization: str


def sign(method: str, host: str, raw_path, raw_query="", headers=None, *,
         access_key: str, secret_key: str, region: str = "us-east-1",
         service: str = "s3", payload_hash: Optional[str] = EMPTY_SHA256,
         amz_date: Optional[str] = None, session_token: Optional[str] = None,
         add_content_sha256: Optional[bool] = None) -> Signed:
    """Sign a request with the Authorization header.

    ``raw_path``/``raw_query`` are exactly what goes on the wire.  Every given
    header is signed, plus host, x-amz-date, x-amz-content-sha256 (for S3, or
    when asked) and x-amz-security-token (when a session token is given).
    """
    amz_date = amz_date or format_amz_date()
    if add_content_sha256 is None:
        add_content_sha256 = service == "s3"
    hdrs = dict(headers or {})
    lower = {k.lower() for k in hdrs}
    if "host" not in lower:
        hdrs["Host"] = host
    if "x-amz-date" not in lower:
        hdrs["X-Amz-Date"] = amz_date
    if add_content_sha256 and "x-amz-content-sha256" not in lower:
        hdrs["X-Amz-Content-Sha256"] = payload_hash
    if session_token is not None and "x-amz-security-token" not in lower:
        hdrs["X-Amz-Security-Token"] = session_token
    signed = sorted({k.lower() for k in hdrs})
    creq = canonical_request(method, raw_path, raw_query, hdrs, signed, payload_hash)
    scope = credential_scope(amz_date[:8], region, service)
    sts = string_to_sign(amz_date, scope, creq)
    sig = signature(signing_key(secret_key, amz_date[:8], region, service), sts)
    auth = "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ALGORITHM, access_key, scope, ";".join(signed), sig)
    hdrs["Authorization"] = auth
    return Signed(hdrs, creq, sts, sig, auth)


def presign(method: str, host: str, raw_path, raw_query="", *,
            access_key: str, secret_key: str, region: str = "us-east-1",
            service: str = "s3", expires: int = 3600,
            amz_date: Optional[str] = None,
            session_token: Optional[str] = None) -> Signed:
    """Presign a URL (query-string auth, only ``host`` signed).

    Returns a Signed whose ``headers`` holds {"query": full wire query}.
    """
    amz_date = amz_date or format_amz_date()
    scope = credential_scope(amz_date[:8], region, service)
    auth_params = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", "%s/%s" % (access_key, scope)),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(int(expires))),
        ("X-Amz-SignedHeaders", "host"),
    ]
    if session_token is not None:
        auth_params.append(("X-Amz-Security-Token", session_token))
    raw_query = _to_bytes(raw_query).decode("utf-8", "surrogateescape")
    query = "&".join(q for q in (raw_query, encode_query(auth_params)) if q)
    creq = canonical_request(method, raw_path, query, {"host": host}, ["host"],
                             UNSIGNED_PAYLOAD)
    sts = string_to_sign(amz_date, scope, creq)
    sig = signature(signing_key(secret_key, amz_date[:8], region, service), sts)
    query += "&X-Amz-Signature=" + sig
    return Signed({"query": query}, creq, sts, sig, "")


# --------------------------------------------------------------------------
# Verifier (server side)
# --------------------------------------------------------------------------

class S3AuthError(Exception):
    """An authentication failure, carrying what S3 would answer."""

    def __init__(self, code: str, message: str, status: int = 403, **extra):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra  # further XML elements, in order


@dataclass
class Credential:
    access_key: str
    secret_key: str
    session_token: Optional[str] = None   # set for temporary credentials


@dataclass
class AuthInfo:
    access_key: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: list
    signature: str


@dataclass
class Verified:
    access_key: str
    payload_hash: str           # as signed: hex, UNSIGNED-PAYLOAD
    presigned: bool
    canonical_request: str
    string_to_sign: str
    auth_query_params: list = field(default_factory=list)  # to strip upstream


def _malformed(detail: str, **extra) -> S3AuthError:
    return S3AuthError("AuthorizationHeaderMalformed",
                       "The authorization header is malformed; " + detail, 400, **extra)


def parse_authorization(value: str) -> AuthInfo:
    """Parse 'AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...'."""
    value = value.strip()
    algo, _, rest = value.partition(" ")
    if algo != ALGORITHM:
        if algo == "AWS":
            raise S3AuthError("InvalidRequest",
                              "The authorization mechanism you have provided is not "
                              "supported. Please use AWS4-HMAC-SHA256.", 400)
        raise S3AuthError("InvalidArgument", "Unsupported Authorization Type", 400,
                          ArgumentName="Authorization", ArgumentValue=value)
    comps = {}
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        k, sep, v = part.partition("=")
        if not sep:
            raise _malformed("the Authorization header component %r is not "
                             "of the form key=value." % part)
        comps[k.strip()] = v.strip()
    for name in ("Credential", "SignedHeaders", "Signature"):
        if name not in comps:
            raise _malformed("missing %s." % name)
    return _auth_info(comps["Credential"], comps["SignedHeaders"], comps["Signature"])


def _auth_info(credential: str, signed_headers: str, sig: str) -> AuthInfo:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise _malformed("the Credential is mal-formed; expecting "
                         "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
    akid, date, region, service, term = parts
    if not re.match(r"^\d{8}$", date):
        raise _malformed("incorrect date format \"%s\". This date in the credential "
                         "must be in the format \"yyyyMMdd\"." % date)
    if term != TERMINATOR:
        raise _malformed("incorrect terminal \"%s\". This endpoint uses "
                         "\"aws4_request\"." % term)
    names = [h for h in signed_headers.split(";")]
    if not signed_headers or any(not h or h != h.lower().strip() for h in names):
        raise _malformed("SignedHeaders must be a ';'-separated list of "
                         "lower-case header names.")
    if not re.match(r"^[0-9a-f]{64}$", sig):
        raise _malformed("the Signature must be 64 lower-case hex digits.")
    return AuthInfo(akid, date, region, service, term, names, sig)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def verify(method: str, raw_path, raw_query, headers, *,
           lookup: Callable[[str], Optional[Credential]],
           region: str = "us-east-1", service: str = "s3",
           now: Optional[float] = None,
           max_skew: Optional[float] = DEFAULT_MAX_SKEW,
           body_hash: Optional[str] = None) -> Verified:
    """Verify a SigV4-signed request (Authorization header or presigned URL).

    ``headers`` is a mapping or (name, value) list as received.  ``lookup``
    returns the Credential of an access key id, or None.  ``max_skew=None``
    disables the date-freshness and expiry checks (for fixed examples).
    ``body_hash`` is the payload hash to use for non-S3 services, which send
    no x-amz-content-sha256 header.
    Raises S3AuthError with S3's error code on failure.
    """
    hmap = _header_multimap(headers)
    qpairs = parse_query(raw_query)
    qnames = [n for n, _ in qpairs]
    now = time.time() if now is None else now
    has_header = "authorization" in hmap
    has_query = b"X-Amz-Algorithm" in qnames or b"X-Amz-Signature" in qnames
    if has_header and has_query:
        raise S3AuthError("InvalidArgument",
                          "Only one auth mechanism allowed; only the X-Amz-Algorithm "
                          "query parameter, Signature query string parameter or the "
                          "Authorization header should be specified", 400,
                          ArgumentName="Authorization",
                          ArgumentValue=hmap["authorization"][0])
    if not has_header and not has_query:
        raise S3AuthError("AccessDenied", "Access Denied", 403)

    def header(name: str) -> Optional[str]:
        v = hmap.get(name)
        return None if v is None else ",".join(x.strip() for x in v)

    if has_header:
        presigned = False
        info = parse_authorization(header("authorization"))
        payload_hash = header("x-amz-content-sha256")
        if payload_hash is None:
            if service == "s3":
                raise S3AuthError("InvalidRequest", "Missing required header for this "
                                  "request: x-amz-content-sha256", 400)
            payload_hash = body_hash or EMPTY_SHA256  # generic services
        amz_date = header("x-amz-date")
        date_value = amz_date if amz_date is not None else header("date")
        token = header("x-amz-security-token")
        exclude: tuple = ()
    else:
        presigned = True
        q = {}
        for n, v in qpairs:
            q.setdefault(n.decode("utf-8", "replace"), v.decode("utf-8", "replace"))

        def qerr(msg: str) -> S3AuthError:
            return S3AuthError("AuthorizationQueryParametersError", msg, 400)

        if q.get("X-Amz-Algorithm") != ALGORITHM:
            raise qerr("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
        for name in ("X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
                     "X-Amz-SignedHeaders", "X-Amz-Expires"):
            if name not in q:
                raise qerr("Query-string authentication version 4 requires the "
                           "X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, "
                           "X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires "
                           "parameters.")
        try:
            info = _auth_info(q["X-Amz-Credential"], q["X-Amz-SignedHeaders"],
                              q["X-Amz-Signature"])
        except S3AuthError as e:
            raise qerr(e.message.replace("The authorization header is malformed; ",
                                         "Error parsing the X-Amz-Credential "
                                         "parameter; "))
        try:
            expires = int(q["X-Amz-Expires"])
        except ValueError:
            raise qerr("X-Amz-Expires should be a number")
        if expires < 0:
            raise qerr("X-Amz-Expires must be non-negative")
        if expires > MAX_PRESIGN_EXPIRES:
            raise qerr("X-Amz-Expires must be less than a week (in seconds) that is; "
                       "the maximum expires is 604800 seconds")
        payload_hash = UNSIGNED_PAYLOAD
        amz_date = q["X-Amz-Date"]
        date_value = amz_date
        token = q.get("X-Amz-Security-Token")
        exclude = ("X-Amz-Signature",)

    # Payload hash form.
    if payload_hash.startswith(STREAMING_PREFIX):
        raise S3AuthError("NotImplemented",
                          "A header you provided implies functionality that is not "
                          "implemented: x-amz-content-sha256 %s (aws-chunked "
                          "streaming uploads) is not supported by this test server; "
                          "send a single-chunk payload." % payload_hash, 501,
                          Header="x-amz-content-sha256")
    if payload_hash != UNSIGNED_PAYLOAD and not _HEX64.match(payload_hash):
        raise S3AuthError("InvalidArgument",
                          "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                          "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.",
                          400, ArgumentName="x-amz-content-sha256",
                          ArgumentValue=payload_hash)

    # Date.
    ts = parse_amz_date(date_value) if date_value is not None else None
    if ts is None:
        raise S3AuthError("AccessDenied",
                          "AWS authentication requires a valid Date or x-amz-date header")
    if amz_date is not None and amz_date[:8] != info.date:
        raise _malformed("Invalid credential date \"%s\". This date is not the same "
                         "as X-Amz-Date: \"%s\"." % (info.date, amz_date[:8]))
    if amz_date is None and time.strftime("%Y%m%d", time.gmtime(ts)) != info.date:
        raise _malformed("Invalid credential date \"%s\". This date is not the same "
                         "as the Date header." % info.date)
    if max_skew is not None:
        if presigned:
            if ts > now + max_skew:
                raise S3AuthError("AccessDenied", "Request is not valid yet", 403)
            if now > ts + expires:
                raise S3AuthError("AccessDenied", "Request has expired", 403,
                                  **{"X-Amz-Expires": str(expires),
                                     "Expires": _iso(ts + expires),
                                     "ServerTime": _iso(now)})
        elif abs(now - ts) > max_skew:
            raise S3AuthError("RequestTimeTooSkewed",
                              "The difference between the request time and the "
                              "current time is too large.", 403,
                              RequestTime=date_value, ServerTime=_iso(now),
                              MaxAllowedSkewMilliseconds=str(int(max_skew * 1000)))

    # Scope.
    if info.region != region:
        raise _malformed("the region '%s' is wrong; expecting '%s'" % (info.region, region),
                         Region=region)
    if info.service != service:
        raise _malformed("incorrect service \"%s\". This endpoint belongs to \"%s\"."
                         % (info.service, service))

    # Credentials.
    cred = lookup(info.access_key)
    if cred is None:
        raise S3AuthError("InvalidAccessKeyId",
                          "The AWS Access Key Id you provided does not exist in our "
                          "records.", 403, AWSAccessKeyId=info.access_key)
    if cred.session_token is not None:
        if token is None:
            raise S3AuthError("InvalidToken", "The provided token is malformed or "
                              "otherwise invalid. (This access key id belongs to "
                              "temporary credentials: an x-amz-security-token is "
                              "required.)", 400)
        if not hmac.compare_digest(token.encode(), cred.session_token.encode()):
            raise S3AuthError("InvalidToken",
                              "The provided token is malformed or otherwise invalid.",
                              400, Token=token)

    # Signed headers.
    if "host" not in info.signed_headers:
        if presigned:
            raise S3AuthError("AuthorizationQueryParametersError",
                              "X-Amz-SignedHeaders must include host", 400)
        raise _malformed("SignedHeaders must include host.")
    missing = [h for h in info.signed_headers if h not in hmap]
    if missing:
        raise S3AuthError("AccessDenied", "There were headers present in the request "
                          "which were not signed", 403,
                          HeadersNotSigned=", ".join(missing))
    if not presigned:
        unsigned = sorted(h for h in hmap if h.startswith("x-amz-")
                          and h not in info.signed_headers)
        if unsigned:
            raise S3AuthError("AccessDenied", "There were headers present in the "
                              "request which were not signed", 403,
                              HeadersNotSigned=", ".join(unsigned))

    creq = canonical_request(method, raw_path, raw_query, headers, info.signed_headers,
                             payload_hash, query_exclude=exclude)
    sts = string_to_sign(amz_date if amz_date is not None else
                         time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ts)),
                         credential_scope(info.date, info.region, info.service), creq)
    expected = signature(signing_key(cred.secret_key, info.date, info.region,
                                     info.service), sts)
    if not hmac.compare_digest(expected, info.signature):
        raise S3AuthError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you "
            "provided. Check your key and signing method.", 403,
            AWSAccessKeyId=info.access_key, StringToSign=sts,
            SignatureProvided=info.signature,
            StringToSignBytes=" ".join("%02x" % b for b in sts.encode()),
            CanonicalRequest=creq,
            CanonicalRequestBytes=" ".join("%02x" % b for b in
                                           creq.encode("utf-8", "surrogateescape")))
    auth_q = [n.decode("latin-1") for n in qnames
              if presigned and n.startswith(b"X-Amz-")]
    return Verified(info.access_key, payload_hash, presigned, creq, sts, auth_q)
