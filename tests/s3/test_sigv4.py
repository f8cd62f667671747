"""Checks sigv4.py against AWS's published Signature Version 4 examples.

Two sources of expected values are embedded below:

* AWS's SigV4 test suite (aws-sig-v4-test-suite): credentials AKIDEXAMPLE,
  date 20150830T123600Z, region us-east-1, service "service".  Only cases whose
  canonicalization is the same under S3's rules are used (no path
  normalization cases such as get-relative or get-slash-dot-slash).
* Amazon S3 API reference, "Signature Calculations for the Authorization
  Header: Transferring Payload in a Single Chunk" (GET Object, PUT Object,
  GET Bucket Lifecycle, GET Bucket), and "Authenticating Requests: Using Query
  Parameters" (presigned GET Object): access key AKIAIOSFODNN7EXAMPLE,
  date 20130524T000000Z, region us-east-1, bucket examplebucket.

Run: python3 -m unittest tests/s3/test_sigv4.py  (or from tests/s3).
"""

import hashlib
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigv4  # noqa: E402

E = sigv4.EMPTY_SHA256

# --- AWS SigV4 test suite ---------------------------------------------------
SUITE_AKID = "AKIDEXAMPLE"
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_DATE = "20150830T123600Z"
SUITE_HOST = "example.amazonaws.com"
SUITE_TOKEN = (
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAe"
    "MicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZ"
    "ampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVq"
    "r7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR"
    "/oLxBA==")


def _base(*extra):
    return [("Host", SUITE_HOST)] + list(extra) + [("X-Amz-Date", SUITE_DATE)]


UNRESERVED = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# name: (method, wire path, wire query, headers, body, signed headers, signature)
SUITE = {
    "get-vanilla": ("GET", "/", "", _base(), b"", "host;x-amz-date",
                    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    "get-vanilla-query-order-key-case": (
        "GET", "/", "Param2=value2&Param1=value1", _base(), b"", "host;x-amz-date",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    "get-vanilla-empty-query-key": (
        "GET", "/", "Param1=value1", _base(), b"", "host;x-amz-date",
        "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
    "get-vanilla-query-unreserved": (
        "GET", "/", UNRESERVED + "=" + UNRESERVED, _base(), b"", "host;x-amz-date",
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
    "get-vanilla-utf8-query": (
        "GET", "/", "%E1%88%B4=bar", _base(), b"", "host;x-amz-date",
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
    "get-unreserved": (
        "GET", "/" + UNRESERVED, "", _base(), b"", "host;x-amz-date",
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
    "get-utf8": ("GET", "/\u1234", "", _base(), b"", "host;x-amz-date",
                 "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
    "get-header-key-duplicate": (
        "GET", "/", "",
        _base(("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")),
        b"", "host;my-header1;x-amz-date",
        "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
    "get-header-value-order": (
        "GET", "/", "",
        _base(("My-Header1", "value4"), ("My-Header1", "value1"),
              ("My-Header1", "value3"), ("My-Header1", "value2")),
        b"", "host;my-header1;x-amz-date",
        "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"),
    "get-header-value-trim": (
        "GET", "/", "",
        _base(("My-Header1", " value1"), ("My-Header2", ' "a   b   c"')),
        b"", "host;my-header1;my-header2;x-amz-date",
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
    "post-vanilla": ("POST", "/", "", _base(), b"", "host;x-amz-date",
                     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    "post-vanilla-query": (
        "POST", "/", "Param1=value1", _base(), b"", "host;x-amz-date",
        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
    "post-vanilla-query-nonunreserved": (
        "POST", "/",
        sigv4.encode_query([("@#$%^", ""), ("+", '/,?><`";:\\|][{}')]),
        _base(), b"", "host;x-amz-date",
        "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e"),
    "post-header-key-sort": (
        "POST", "/", "", _base(("My-Header1", "value1")), b"",
        "host;my-header1;x-amz-date",
        "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"),
    "post-header-value-case": (
        "POST", "/", "", _base(("My-Header1", "VALUE1")), b"",
        "host;my-header1;x-amz-date",
        "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
    "post-sts-header-before": (
        "POST", "/", "", _base(("X-Amz-Security-Token", SUITE_TOKEN)), b"",
        "host;x-amz-date;x-amz-security-token",
        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"),
    "post-x-www-form-urlencoded": (
        "POST", "/", "",
        [("Content-Type", "application/x-www-form-urlencoded")] + _base(),
        b"Param1=value1", "content-type;host;x-amz-date",
        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
    "post-x-www-form-urlencoded-parameters": (
        "POST", "/", "",
        [("Content-Type", "application/x-www-form-urlencoded; charset=utf8")] + _base(),
        b"Param1=value1", "content-type;host;x-amz-date",
        "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"),
}

# Canonical requests and string-to-sign as printed by the suite.
SUITE_CREQ = {
    "get-vanilla": (
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "host;x-amz-date\n" + E),
    "get-vanilla-query-order-key-case": (
        "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + E),
    "get-header-value-trim": (
        "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\n"
        "my-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\n"
        "host;my-header1;my-header2;x-amz-date\n" + E),
    "get-header-key-duplicate": (
        "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
        "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n" + E),
    "get-utf8": (
        "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "host;x-amz-date\n" + E),
    "post-x-www-form-urlencoded": (
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n"
        "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "content-type;host;x-amz-date\n"
        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"),
}
SUITE_STS = {
    "get-vanilla": (
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
}

# --- Amazon S3 documentation examples ----------------------------------------
S3_AKID = "AKIAIOSFODNN7EXAMPLE"
S3_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
S3_DATE = "20130524T000000Z"
S3_HOST = "examplebucket.s3.amazonaws.com"
S3_BODY = b"Welcome to Amazon S3."
S3_BODY_HASH = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"

# name: (method, wire path, wire query, headers, payload hash,
#        canonical request, string-to-sign hash, signature)
S3_CASES = {
    "GET Object": (
        "GET", "/test.txt", "",
        [("Host", S3_HOST), ("Range", "bytes=0-9"), ("x-amz-content-sha256", E),
         ("x-amz-date", S3_DATE)],
        E,
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
        "x-amz-content-sha256:" + E + "\nx-amz-date:20130524T000000Z\n\n"
        "host;range;x-amz-content-sha256;x-amz-date\n" + E,
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
    "PUT Object": (
        "PUT", "/test$file.text", "",
        [("Host", S3_HOST), ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
         ("x-amz-date", S3_DATE), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
         ("x-amz-content-sha256", S3_BODY_HASH)],
        S3_BODY_HASH,
        "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
        "host:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:" + S3_BODY_HASH +
        "\nx-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n" + S3_BODY_HASH,
        "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
    "GET Bucket Lifecycle": (
        "GET", "/", "lifecycle",
        [("Host", S3_HOST), ("x-amz-date", S3_DATE), ("x-amz-content-sha256", E)],
        E,
        "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
        "x-amz-content-sha256:" + E + "\nx-amz-date:20130524T000000Z\n\n"
        "host;x-amz-content-sha256;x-amz-date\n" + E,
        "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
    "GET Bucket (List Objects)": (
        "GET", "/", "max-keys=2&prefix=J",
        [("Host", S3_HOST), ("x-amz-date", S3_DATE), ("x-amz-content-sha256", E)],
        E,
        "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
        "x-amz-content-sha256:" + E + "\nx-amz-date:20130524T000000Z\n\n"
        "host;x-amz-content-sha256;x-amz-date\n" + E,
        "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
}

# "Authenticating Requests: Using Query Parameters", GET Object, 86400 s.
PRESIGN_QUERY = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host")
PRESIGN_CREQ = ("GET\n/test.txt\n" + PRESIGN_QUERY +
                "\nhost:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD")
PRESIGN_STS_HASH = "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
PRESIGN_SIG = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
S3_EPOCH = 1369353600  # 2013-05-24T00:00:00Z


def suite_lookup(akid):
    if akid == SUITE_AKID:
        return sigv4.Credential(SUITE_AKID, SUITE_SECRET)
    return None


def s3_lookup(akid):
    if akid == S3_AKID:
        return sigv4.Credential(S3_AKID, S3_SECRET)
    return None


def suite_signature(method, path, query, headers, body, signed):
    creq = sigv4.canonical_request(method, path, query, headers, signed.split(";"),
                                   hashlib.sha256(body).hexdigest())
    scope = sigv4.credential_scope(SUITE_DATE[:8], "us-east-1", "service")
    sts = sigv4.string_to_sign(SUITE_DATE, scope, creq)
    key = sigv4.signing_key(SUITE_SECRET, SUITE_DATE[:8], "us-east-1", "service")
    return creq, sts, sigv4.signature(key, sts)


def suite_authorization(signed, sig):
    return ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
            "aws4_request, SignedHeaders=%s, Signature=%s" % (signed, sig))


class EncodingTest(unittest.TestCase):
    def test_uri_encode(self):
        self.assertEqual(sigv4.uri_encode("a b+c=d/e~f_g-h.i*"),
                         "a%20b%2Bc%3Dd%2Fe~f_g-h.i%2A")
        self.assertEqual(sigv4.uri_encode("a b/c", keep_slash=True), "a%20b/c")
        self.assertEqual(sigv4.uri_encode("\u00e9"), "%C3%A9")  # upper-case hex
        self.assertEqual(sigv4.uri_encode(UNRESERVED), UNRESERVED)

    def test_canonical_uri_decodes_once_and_reencodes(self):
        self.assertEqual(sigv4.canonical_uri("/b/a%20b+c"), "/b/a%20b%2Bc")
        self.assertEqual(sigv4.canonical_uri("/b/%2541"), "/b/%2541")  # no double decode
        self.assertEqual(sigv4.canonical_uri("/b/x%3dy"), "/b/x%3Dy")
        self.assertEqual(sigv4.canonical_uri("/b//./k"), "/b//./k")  # no normalization
        self.assertEqual(sigv4.canonical_uri(""), "/")

    def test_canonical_query(self):
        # Continuation tokens carry + / = and must be encoded as values.
        token = "1/Ab+cd=="
        wire = sigv4.encode_query([("list-type", "2"), ("continuation-token", token)])
        self.assertEqual(wire, "list-type=2&continuation-token=1%2FAb%2Bcd%3D%3D")
        self.assertEqual(sigv4.canonical_query_string(wire),
                         "continuation-token=1%2FAb%2Bcd%3D%3D&list-type=2")
        # A raw '+' is a space, a lower-case escape is normalized.
        self.assertEqual(sigv4.canonical_query_string("prefix=a+b%2fc"),
                         "prefix=a%20b%2Fc")
        # Sorted by name, then value; empty values keep '='.
        self.assertEqual(sigv4.canonical_query_string("b=2&a=2&a=1&uploads"),
                         "a=1&a=2&b=2&uploads=")
        # Sorting is by *encoded* name (byte order, upper case before lower).
        self.assertEqual(sigv4.canonical_query_string("a=1&B=1&%2B=1"),
                         "%2B=1&B=1&a=1")

    def test_header_trim(self):
        self.assertEqual(sigv4.canonical_headers(
            [("X-A", "  a \t  b  "), ("x-a", "c")], ["x-a"]), "x-a:a b,c\n")

    def test_authorization_parsing(self):
        info = sigv4.parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;x-amz-date,Signature=" + "a" * 64)
        self.assertEqual((info.access_key, info.date, info.region, info.service),
                         ("AK", "20130524", "us-east-1", "s3"))
        self.assertEqual(info.signed_headers, ["host", "x-amz-date"])
        for bad in ["AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request",
                    "AWS4-HMAC-SHA256 Credential=AK/2013/us-east-1/s3/aws4_request, "
                    "SignedHeaders=host, Signature=" + "a" * 64,
                    "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws3, "
                    "SignedHeaders=host, Signature=" + "a" * 64]:
            with self.assertRaises(sigv4.S3AuthError) as cm:
                sigv4.parse_authorization(bad)
            self.assertEqual(cm.exception.code, "AuthorizationHeaderMalformed")
        with self.assertRaises(sigv4.S3AuthError):
            sigv4.parse_authorization("AWS AK:sig")


class AwsTestSuiteTest(unittest.TestCase):
    def test_signatures(self):
        for name, (method, path, query, headers, body, signed, sig) in SUITE.items():
            with self.subTest(name):
                creq, sts, got = suite_signature(method, path, query, headers, body, signed)
                if name in SUITE_CREQ:
                    self.assertEqual(creq, SUITE_CREQ[name])
                if name in SUITE_STS:
                    self.assertEqual(sts, SUITE_STS[name])
                self.assertEqual(got, sig)

    def test_signer_reproduces_suite(self):
        for name in ("get-vanilla", "get-vanilla-query-order-key-case",
                     "post-x-www-form-urlencoded", "get-header-value-trim"):
            method, path, query, headers, body, signed, sig = SUITE[name]
            with self.subTest(name):
                hdrs = {}
                for k, v in headers:
                    hdrs[k] = v
                res = sigv4.sign(method, SUITE_HOST, path, query, hdrs,
                                 access_key=SUITE_AKID, secret_key=SUITE_SECRET,
                                 service="service", amz_date=SUITE_DATE,
                                 payload_hash=hashlib.sha256(body).hexdigest())
                self.assertEqual(res.authorization, suite_authorization(signed, sig))

    def test_verifier_accepts_and_rejects(self):
        for name, (method, path, query, headers, body, signed, sig) in SUITE.items():
            with self.subTest(name):
                hdrs = headers + [("Authorization", suite_authorization(signed, sig))]
                bh = hashlib.sha256(body).hexdigest()
                v = sigv4.verify(method, path, query, hdrs, lookup=suite_lookup,
                                 service="service", max_skew=None, body_hash=bh)
                self.assertEqual(v.access_key, SUITE_AKID)
                bad = headers + [("Authorization",
                                  suite_authorization(signed, sig[:-1] + "0"))]
                if sig.endswith("0"):
                    bad[-1] = ("Authorization", suite_authorization(signed, sig[:-1] + "1"))
                with self.assertRaises(sigv4.S3AuthError) as cm:
                    sigv4.verify(method, path, query, bad, lookup=suite_lookup,
                                 service="service", max_skew=None, body_hash=bh)
                self.assertEqual(cm.exception.code, "SignatureDoesNotMatch")


class S3DocumentationTest(unittest.TestCase):
    def test_canonical_request_sts_and_signature(self):
        key = sigv4.signing_key(S3_SECRET, "20130524", "us-east-1", "s3")
        scope = "20130524/us-east-1/s3/aws4_request"
        for name, (method, path, query, headers, ph, creq, sts_hash, sig) in S3_CASES.items():
            with self.subTest(name):
                signed = sorted(k.lower() for k, _ in headers)
                got = sigv4.canonical_request(method, path, query, headers, signed, ph)
                self.assertEqual(got, creq)
                sts = sigv4.string_to_sign(S3_DATE, scope, got)
                self.assertEqual(sts, "AWS4-HMAC-SHA256\n20130524T000000Z\n" + scope +
                                 "\n" + sts_hash)
                self.assertEqual(sigv4.signature(key, sts), sig)

    def test_put_payload_hash(self):
        self.assertEqual(hashlib.sha256(S3_BODY).hexdigest(), S3_BODY_HASH)

    def test_signer(self):
        res = sigv4.sign("GET", S3_HOST, "/test.txt", "", {"Range": "bytes=0-9"},
                         access_key=S3_AKID, secret_key=S3_SECRET, amz_date=S3_DATE)
        self.assertEqual(
            res.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        res = sigv4.sign("PUT", S3_HOST, "/test%24file.text", "",
                         {"Date": "Fri, 24 May 2013 00:00:00 GMT",
                          "x-amz-storage-class": "REDUCED_REDUNDANCY"},
                         access_key=S3_AKID, secret_key=S3_SECRET, amz_date=S3_DATE,
                         payload_hash=S3_BODY_HASH)
        self.assertEqual(res.signature, S3_CASES["PUT Object"][7])
        res = sigv4.sign("GET", S3_HOST, "/", "prefix=J&max-keys=2", {},
                         access_key=S3_AKID, secret_key=S3_SECRET, amz_date=S3_DATE)
        self.assertEqual(res.signature, S3_CASES["GET Bucket (List Objects)"][7])

    def _signed_headers(self, name, sig=None):
        method, path, query, headers, ph, creq, sts_hash, good = S3_CASES[name]
        signed = ";".join(sorted(k.lower() for k, _ in headers))
        auth = ("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                "aws4_request,SignedHeaders=%s,Signature=%s" % (signed, sig or good))
        return method, path, query, headers + [("Authorization", auth)]

    def test_verifier(self):
        for name in S3_CASES:
            with self.subTest(name):
                method, path, query, headers = self._signed_headers(name)
                v = sigv4.verify(method, path, query, headers, lookup=s3_lookup,
                                 max_skew=None)
                self.assertEqual(v.payload_hash, S3_CASES[name][4])
                self.assertEqual(v.canonical_request, S3_CASES[name][5])

    def test_verifier_failures(self):
        def err(name, lookup=s3_lookup, mutate=None, **kw):
            method, path, query, headers = self._signed_headers(name)
            if mutate:
                method, path, query, headers = mutate(method, path, query, headers)
            kw.setdefault("max_skew", None)
            with self.assertRaises(sigv4.S3AuthError) as cm:
                sigv4.verify(method, path, query, headers, lookup=lookup, **kw)
            return cm.exception

        wrong = lambda akid: sigv4.Credential(akid, S3_SECRET.replace("/", "+"))
        e = err("GET Object", lookup=wrong)
        self.assertEqual((e.code, e.status), ("SignatureDoesNotMatch", 403))
        self.assertIn("CanonicalRequest", e.extra)
        self.assertEqual(err("GET Object", lookup=lambda a: None).code, "InvalidAccessKeyId")
        # Wrong canonicalization by the client: the path, query or a header changed.
        self.assertEqual(err("PUT Object", mutate=lambda m, p, q, h: (
            m, "/test%2524file.text", q, h)).code, "SignatureDoesNotMatch")
        self.assertEqual(err("GET Bucket (List Objects)", mutate=lambda m, p, q, h: (
            m, p, "max-keys=2&prefix=J+", h)).code, "SignatureDoesNotMatch")
        self.assertEqual(err("GET Object", mutate=lambda m, p, q, h: (
            m, p, q, [(k, "bytes=0-10" if k == "Range" else v) for k, v in h])).code,
            "SignatureDoesNotMatch")
        # Freshness: the 2013 request is far too old today.
        e = err("GET Object", max_skew=sigv4.DEFAULT_MAX_SKEW)
        self.assertEqual(e.code, "RequestTimeTooSkewed")
        self.assertEqual(err("GET Object", max_skew=900, now=S3_EPOCH + 901).code,
                         "RequestTimeTooSkewed")
        sigv4.verify(*self._signed_headers("GET Object"), lookup=s3_lookup,
                     max_skew=900, now=S3_EPOCH + 899)
        # Region and service come from the scope.
        e = err("GET Object", region="us-west-2")
        self.assertEqual((e.code, e.status, e.extra["Region"]),
                         ("AuthorizationHeaderMalformed", 400, "us-west-2"))
        self.assertEqual(err("GET Object", service="service").code,
                         "AuthorizationHeaderMalformed")
        # Missing x-amz-content-sha256; streaming payloads; unsigned x-amz-* header.
        drop = lambda name: (lambda m, p, q, h: (m, p, q, [
            (k, v) for k, v in h if k.lower() != name]))
        e = err("GET Object", mutate=drop("x-amz-content-sha256"))
        self.assertEqual((e.code, e.status), ("InvalidRequest", 400))
        e = err("GET Object", mutate=lambda m, p, q, h: (m, p, q, [
            (k, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
             if k == "x-amz-content-sha256" else v) for k, v in h]))
        self.assertEqual((e.code, e.status), ("NotImplemented", 501))
        e = err("GET Object", mutate=lambda m, p, q, h: (
            m, p, q, h + [("x-amz-meta-extra", "1")]))
        self.assertEqual((e.code, e.extra["HeadersNotSigned"]),
                         ("AccessDenied", "x-amz-meta-extra"))

    def test_unsigned_payload_and_temp_credentials(self):
        now = 1700000000
        date = sigv4.format_amz_date(now)
        temp = sigv4.Credential("ASIATEMP", "tempsecret", "the-token")
        lookup = {"ASIATEMP": temp}.get
        res = sigv4.sign("GET", "h", "/b/k", "", {}, access_key="ASIATEMP",
                         secret_key="tempsecret", amz_date=date,
                         payload_hash=sigv4.UNSIGNED_PAYLOAD, session_token="the-token")
        v = sigv4.verify("GET", "/b/k", "", res.headers, lookup=lookup, now=now)
        self.assertEqual(v.payload_hash, "UNSIGNED-PAYLOAD")
        for token, code in ((None, "InvalidToken"), ("other", "InvalidToken")):
            res = sigv4.sign("GET", "h", "/b/k", "", {}, access_key="ASIATEMP",
                             secret_key="tempsecret", amz_date=date, session_token=token)
            with self.assertRaises(sigv4.S3AuthError) as cm:
                sigv4.verify("GET", "/b/k", "", res.headers, lookup=lookup, now=now)
            self.assertEqual(cm.exception.code, code)


class PresignTest(unittest.TestCase):
    def test_documented_presigned_url(self):
        res = sigv4.presign("GET", S3_HOST, "/test.txt", "", access_key=S3_AKID,
                            secret_key=S3_SECRET, amz_date=S3_DATE, expires=86400)
        self.assertEqual(res.canonical_request, PRESIGN_CREQ)
        self.assertTrue(res.string_to_sign.endswith("\n" + PRESIGN_STS_HASH))
        self.assertEqual(res.signature, PRESIGN_SIG)
        self.assertEqual(res.headers["query"],
                         PRESIGN_QUERY + "&X-Amz-Signature=" + PRESIGN_SIG)

    def test_verify_presigned(self):
        query = PRESIGN_QUERY + "&X-Amz-Signature=" + PRESIGN_SIG
        headers = [("Host", S3_HOST)]
        v = sigv4.verify("GET", "/test.txt", query, headers, lookup=s3_lookup,
                         now=S3_EPOCH + 86000)
        self.assertTrue(v.presigned)
        self.assertEqual(v.canonical_request, PRESIGN_CREQ)
        self.assertIn("X-Amz-Signature", v.auth_query_params)
        with self.assertRaises(sigv4.S3AuthError) as cm:
            sigv4.verify("GET", "/test.txt", query, headers, lookup=s3_lookup,
                         now=S3_EPOCH + 86401)
        self.assertEqual((cm.exception.code, cm.exception.message),
                         ("AccessDenied", "Request has expired"))
        with self.assertRaises(sigv4.S3AuthError) as cm:
            sigv4.verify("GET", "/test.txt", query.replace("Expires=86400", "Expires=86401"),
                         headers, lookup=s3_lookup, now=S3_EPOCH)
        self.assertEqual(cm.exception.code, "SignatureDoesNotMatch")


if __name__ == "__main__":
    unittest.main()
