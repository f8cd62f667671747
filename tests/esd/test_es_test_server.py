"""Tests of the Elasticsearch test double (es_test_server.py) itself.

The C integration suite relies on the double rejecting what Elasticsearch
rejects, so these tests pin down status codes and error types, not just the
happy paths.  Servers run in-process on port 0 (one per flavor/mode) except
for the CLI test, which starts the script as a subprocess.
"""

import gzip
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import es_test_server as esd  # noqa: E402


def start(**kw):
    cfg = esd.make_parser().parse_args(["--port", "0"])
    for k, v in kw.items():
        setattr(cfg, k, v)
    srv = esd.build_server(cfg)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return srv


class Client:
    """Minimal keep-alive JSON client."""

    def __init__(self, srv):
        self.port = srv.server_address[1]
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def close(self):
        self.conn.close()

    def req(self, method, path, body=None, ctype="application/json", headers=None):
        h = dict(headers or {})
        if body is not None:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            if ctype:
                h["Content-Type"] = ctype
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        try:
            obj = json.loads(data) if data else None
        except ValueError:
            obj = data
        return r.status, obj, r

    def bulk(self, lines, path="/_bulk", **kw):
        body = "".join(json.dumps(l) + "\n" for l in lines)
        return self.req("POST", path, body, ctype="application/x-ndjson", **kw)


def etype(obj):
    return obj["error"]["type"]


class Base(unittest.TestCase):
    flavor = "es7"
    extra = {}

    @classmethod
    def setUpClass(cls):
        cls.srv = start(flavor=cls.flavor, **cls.extra)

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.srv.server_close()

    def setUp(self):
        self.c = Client(self.srv)
        self.c.req("POST", "/_test/reset")
        self.addCleanup(self.c.conn.close)


class TestIndices(Base):
    def test_root(self):
        s, o, r = self.c.req("GET", "/")
        self.assertEqual(s, 200)
        self.assertEqual(o["version"]["number"], "7.17.10")
        self.assertEqual(r.getheader("X-elastic-product"), "Elasticsearch")

    def test_create_head_get_delete(self):
        s, o, _ = self.c.req("PUT", "/idx", {"settings": {"index": {"number_of_replicas": 0}},
                                              "mappings": {"properties": {"n": {"type": "long"}}},
                                              "aliases": {"al": {}}})
        self.assertEqual((s, o), (200, {"acknowledged": True, "shards_acknowledged": True, "index": "idx"}))
        self.assertEqual(self.c.req("HEAD", "/idx")[0], 200)
        self.assertEqual(self.c.req("HEAD", "/nope")[0], 404)
        s, o, _ = self.c.req("GET", "/idx")
        self.assertEqual(o["idx"]["mappings"]["properties"]["n"]["type"], "long")
        self.assertEqual(o["idx"]["aliases"], {"al": {}})
        s, o, _ = self.c.req("PUT", "/idx")
        self.assertEqual((s, etype(o)), (400, "resource_already_exists_exception"))
        self.assertEqual(self.c.req("DELETE", "/idx")[1], {"acknowledged": True})
        s, o, _ = self.c.req("DELETE", "/idx")
        self.assertEqual((s, etype(o)), (404, "index_not_found_exception"))
        for k, v in {"index": "idx", "resource.type": "index_or_alias", "resource.id": "idx",
                     "index_uuid": "_na_"}.items():
            self.assertEqual(o["error"][k], v)
            self.assertEqual(o["error"]["root_cause"][0][k], v)

    def test_invalid_index_names(self):
        for name in ["Upper", "a*b", "a%3Fb", "_x", "-x", "+x", "..", "a%20b", "a,b", "a%23b", "x" * 256]:
            s, o, _ = self.c.req("PUT", "/" + name)
            self.assertEqual((s, etype(o)), (400, "invalid_index_name_exception"), name)

    def test_settings_flat_and_nested(self):
        self.c.req("PUT", "/a", {"settings": {"number_of_replicas": 0, "index.refresh_interval": "-1"}})
        s, o, _ = self.c.req("GET", "/a/_settings")
        st = o["a"]["settings"]["index"]
        self.assertEqual((st["number_of_replicas"], st["refresh_interval"], st["number_of_shards"]),
                         ("0", "-1", "1"))
        for k in ("uuid", "creation_date", "provided_name", "version"):
            self.assertIn(k, st)
        s, o, _ = self.c.req("PUT", "/a/_settings", {"index": {"refresh_interval": "1s"}})
        self.assertEqual((s, o), (200, {"acknowledged": True}))
        s, o, _ = self.c.req("PUT", "/a/_settings", {"index": {"number_of_shards": 2}})
        self.assertEqual((s, etype(o)), (400, "illegal_argument_exception"))
        s, o, _ = self.c.req("PUT", "/b", {"settings": {"index": {"bogus": 1}}})
        self.assertEqual((s, etype(o)), (400, "illegal_argument_exception"))
        s, o, _ = self.c.req("PUT", "/b", {"settings": {"refresh_interval": "abc"}})
        self.assertEqual((s, etype(o)), (400, "illegal_argument_exception"))

    def test_mapping_rejections(self):
        s, o, _ = self.c.req("PUT", "/t", {"mappings": {"doc": {"properties": {"a": {"type": "text"}}}}})
        self.assertEqual((s, etype(o)), (400, "mapper_parsing_exception"))
        self.assertIn("Root mapping definition has unsupported parameters", o["error"]["reason"])
        s, o, _ = self.c.req("PUT", "/t", {"mappings": {"properties": {"y": {"type": "strang"}}}})
        self.assertEqual((s, etype(o)), (400, "mapper_parsing_exception"))
        self.assertIn("No handler for type [strang] declared on field [y]", o["error"]["reason"])
        s, o, _ = self.c.req("PUT", "/t", {"mappings": {"properties": {"k": {"type": "keyword", "foo": 1}}}})
        self.assertEqual((s, etype(o)), (400, "mapper_parsing_exception"))
        s, o, _ = self.c.req("PUT", "/t", {"mappings": {"dynamic": "strict", "properties": {
            "o": {"type": "nested", "properties": {"x": {"type": "flattened"}}}}}})
        self.assertEqual(s, 200)

    def test_aliases(self):
        self.c.req("PUT", "/i1")
        self.c.req("PUT", "/i2")
        s, o, _ = self.c.req("POST", "/_aliases", {"actions": [{"add": {"index": "i1", "alias": "a"}},
                                                              {"add": {"index": "i2", "alias": "a"}}]})
        self.assertEqual((s, o), (200, {"acknowledged": True}))
        s, o, _ = self.c.req("GET", "/_alias/a")
        self.assertEqual(o, {"i1": {"aliases": {"a": {}}}, "i2": {"aliases": {"a": {}}}})
        s, o, _ = self.c.req("POST", "/_aliases", {"actions": [{"add": {"index": "i1", "alias": "i2"}}]})
        self.assertEqual((s, etype(o)), (400, "invalid_alias_name_exception"))
        s, o, _ = self.c.req("POST", "/_aliases", {"actions": [{"add": {"index": "i1", "alias": "Bad"}}]})
        self.assertEqual((s, etype(o)), (400, "invalid_alias_name_exception"))
        s, o, _ = self.c.req("POST", "/_aliases", {"actions": [{"remove": {"index": "i1", "alias": "zz"}}]})
        self.assertEqual((s, etype(o)), (404, "aliases_not_found_exception"))
        # a bulk write through an alias with two indices and no write index fails per item
        s, o, _ = self.c.bulk([{"index": {"_index": "a", "_id": "1"}}, {"x": 1}])
        self.assertEqual(o["items"][0]["index"]["status"], 400)
        self.assertEqual(self.c.req("PUT", "/i1/_alias/b")[0], 200)
        self.assertEqual(self.c.req("GET", "/i1/_alias")[1], {"i1": {"aliases": {"a": {}, "b": {}}}})
        self.assertEqual(self.c.req("POST", "/_aliases", {"actions": [{"remove_index": {"index": "i2"}}]})[0], 200)
        self.assertEqual(self.c.req("HEAD", "/i2")[0], 404)
        s, o, _ = self.c.req("PUT", "/b")
        self.assertEqual((s, etype(o)), (400, "invalid_index_name_exception"))

    def test_analyzer_references(self):
        m = {"properties": {"a": {"type": "text", "analyzer": "mine"}}}
        s, o, _ = self.c.req("PUT", "/i1", {"mappings": m})
        self.assertEqual((s, etype(o)), (400, "mapper_parsing_exception"))
        self.assertEqual(o["error"]["reason"],
                         "Failed to parse mapping [_doc]: analyzer [mine] has not been configured in mappings")
        self.assertEqual(self.c.req("HEAD", "/i1")[0], 404)
        s, o, _ = self.c.req("PUT", "/i1", {"mappings": {"properties": {"a": {"type": "text", "fields": {
            "s": {"type": "text", "search_analyzer": "nope"}}}}}})
        self.assertEqual((s, etype(o)), (400, "mapper_parsing_exception"))
        s, o, _ = self.c.req("PUT", "/i1", {"mappings": {"properties": {"k": {"type": "keyword",
                                                                              "normalizer": "nn"}}}})
        self.assertEqual((s, etype(o)), (400, "mapper_parsing_exception"))
        self.assertIn("normalizer [nn] not found for field [k]", o["error"]["reason"])
        s, o, _ = self.c.req("PUT", "/i1", {
            "settings": {"analysis": {"analyzer": {"mine": {"type": "custom", "tokenizer": "standard"}},
                                      "normalizer": {"nn": {"type": "custom", "filter": ["lowercase"]}}}},
            "mappings": {"properties": {"a": {"type": "text", "analyzer": "mine",
                                              "search_analyzer": "english"},
                                        "k": {"type": "keyword", "normalizer": "nn"},
                                        "o": {"properties": {"b": {"type": "text", "analyzer": "mine"}}}}}})
        self.assertEqual(s, 200, o)
        s, o, _ = self.c.req("PUT", "/i1/_mapping", {"properties": {"c": {"type": "text", "analyzer": "x"}}})
        self.assertEqual((s, etype(o)), (400, "mapper_parsing_exception"))
        s, o, _ = self.c.req("PUT", "/i1/_mapping", {"properties": {"c": {"type": "text", "analyzer": "mine"}}})
        self.assertEqual(s, 200, o)

    def test_templates(self):
        s, o, _ = self.c.req("GET", "/_template")
        self.assertEqual((s, o), (200, {}))
        s, o, _ = self.c.req("GET", "/_template/t1")
        self.assertEqual((s, o), (404, {}))  # ES answers a missing template with an empty body
        self.assertEqual(self.c.req("GET", "/_template/t*")[:2], (200, {}))
        s, o, _ = self.c.req("PUT", "/_template/t1", {"settings": {"number_of_shards": 1}})
        self.assertEqual((s, etype(o)), (400, "action_request_validation_exception"))
        s, o, _ = self.c.req("PUT", "/_template/T1", {"index_patterns": ["x*"]})
        self.assertEqual((s, etype(o)), (400, "invalid_index_template_exception"))
        s, o, _ = self.c.req("PUT", "/_template/t1", {"index_patterns": ["logs-*"], "bogus": 1})
        self.assertEqual((s, etype(o)), (400, "illegal_argument_exception"))
        s, o, _ = self.c.req("PUT", "/_template/t1", {"index_patterns": ["logs-*"], "mappings": {
            "properties": {"f": {"type": "nope"}}}})
        self.assertEqual((s, etype(o)), (400, "mapper_parsing_exception"))
        s, o, _ = self.c.req("PUT", "/_template/t1", {
            "index_patterns": ["logs-*"], "order": 0, "settings": {"index": {"number_of_shards": 2}},
            "mappings": {"properties": {"a": {"type": "keyword"}, "b": {"type": "long"}}},
            "aliases": {"all-logs": {}}})
        self.assertEqual((s, o), (200, {"acknowledged": True}))
        s, o, _ = self.c.req("PUT", "/_template/t2", {
            "index_patterns": "logs-2*", "order": 5, "settings": {"number_of_shards": 3},
            "mappings": {"properties": {"b": {"type": "integer"}}}})
        self.assertEqual(s, 200)
        s, o, _ = self.c.req("PUT", "/_template/t1?create=true", {"index_patterns": ["z"]})
        self.assertEqual((s, etype(o)), (400, "illegal_argument_exception"))
        s, o, _ = self.c.req("GET", "/_template/t1")
        self.assertEqual(o, {"t1": {"order": 0, "index_patterns": ["logs-*"],
                                    "settings": {"index": {"number_of_shards": "2"}},
                                    "mappings": {"properties": {"a": {"type": "keyword"},
                                                                "b": {"type": "long"}}},
                                    "aliases": {"all-logs": {}}}})
        self.assertEqual(sorted(self.c.req("GET", "/_template")[1]), ["t1", "t2"])
        self.assertEqual(self.c.req("HEAD", "/_template/t2")[0], 200)
        # a new index gets the matching templates, lower orders first, its own body last
        self.c.req("PUT", "/logs-2024", {"mappings": {"properties": {"c": {"type": "text"}}}})
        o = self.c.req("GET", "/logs-2024")[1]["logs-2024"]
        self.assertEqual(o["mappings"]["properties"], {"a": {"type": "keyword"}, "b": {"type": "integer"},
                                                       "c": {"type": "text"}})
        self.assertEqual(o["settings"]["index"]["number_of_shards"], "3")
        self.assertEqual(o["aliases"], {"all-logs": {}})
        self.c.req("PUT", "/other")
        self.assertEqual(self.c.req("GET", "/other/_mapping")[1], {"other": {"mappings": {}}})
        self.assertEqual(self.c.req("DELETE", "/_template/t*")[:2], (200, {"acknowledged": True}))
        s, o, _ = self.c.req("DELETE", "/_template/t1")
        self.assertEqual((s, etype(o)), (404, "index_template_missing_exception"))
        self.c.req("PUT", "/_template/t3", {"index_patterns": ["q*"]})
        self.c.req("POST", "/_test/reset")
        self.assertEqual(self.c.req("GET", "/_template")[1], {})

    def test_unknown_endpoints_and_params(self):
        s, o, _ = self.c.req("GET", "/a/b/c/d")
        self.assertEqual((s, o), (400, {"error": "no handler found for uri [/a/b/c/d] and method [GET]",
                                        "status": 400}))
        s, o, _ = self.c.req("GET", "/_bulk")
        self.assertEqual(s, 405)
        s, o, _ = self.c.req("GET", "/_cluster/health?bogus=1")
        self.assertEqual((s, etype(o)), (400, "illegal_argument_exception"))

    def test_health_and_cat(self):
        s, o, _ = self.c.req("GET", "/_cluster/health?wait_for_status=green&timeout=1s")
        self.assertEqual((s, o["status"], o["number_of_nodes"]), (200, "green", 1))
        self.c.req("PUT", "/r1")  # default: 1 replica on a single node -> yellow, like ES
        s, o, _ = self.c.req("GET", "/_cluster/health/r1?wait_for_status=yellow&timeout=1s")
        self.assertEqual((s, o["status"]), (200, "yellow"))
        s, o, _ = self.c.req("GET", "/_cluster/health/r1?wait_for_status=green&timeout=200ms")
        self.assertEqual((s, o["timed_out"]), (408, True))
        self.c.bulk([{"index": {"_index": "r1", "_id": "1"}}, {"x": 1}], path="/_bulk?refresh=true")
        s, o, _ = self.c.req("GET", "/_cat/indices?format=json")
        self.assertEqual([(r["index"], r["docs.count"], r["health"]) for r in o], [("r1", "1", "yellow")])


class TestBulk(Base):
    def test_happy_path_and_results(self):
        s, o, _ = self.c.bulk([{"index": {"_index": "b", "_id": "1"}}, {"a": "x", "n": 1},
                               {"index": {"_index": "b", "_id": "1"}}, {"a": "y", "n": 2},
                               {"create": {"_index": "b"}}, {"a": "z"},
                               {"update": {"_index": "b", "_id": "1"}}, {"doc": {"n": 3}},
                               {"update": {"_index": "b", "_id": "9"}}, {"doc": {"n": 9}, "doc_as_upsert": True},
                               {"delete": {"_index": "b", "_id": "1"}}])
        self.assertEqual(s, 200)
        self.assertFalse(o["errors"])
        res = [(list(i)[0], list(i.values())[0]["status"], list(i.values())[0]["result"]) for i in o["items"]]
        self.assertEqual(res, [("index", 201, "created"), ("index", 200, "updated"), ("create", 201, "created"),
                               ("update", 200, "updated"), ("update", 201, "created"), ("delete", 200, "deleted")])
        it = o["items"][0]["index"]
        for k in ("_index", "_type", "_id", "_version", "_shards", "_seq_no", "_primary_term"):
            self.assertIn(k, it)
        self.assertEqual(len(o["items"][2]["create"]["_id"]), 20)
        s, o, _ = self.c.req("GET", "/_test/docs/b")
        self.assertEqual(sorted(o.values(), key=json.dumps), [{"a": "z"}, {"n": 9}])

    def test_whole_request_rejections(self):
        s, o, _ = self.c.req("POST", "/_bulk", '{"index":{}}\n{"a":1}', ctype="application/json")
        self.assertEqual((s, etype(o)), (400, "illegal_argument_exception"))
        self.assertIn("terminated by a newline", o["error"]["reason"])
        s, o, _ = self.c.req("POST", "/_bulk", '{"index":{"_index":"x"}}\n{}\n', ctype="text/plain")
        self.assertEqual((s, o), (406, {"error": "Content-Type header [text/plain] is not supported",
                                        "status": 406}))
        s, o, _ = self.c.req("POST", "/_bulk", '{"index":{"_index":"x"}}\n{}\n', ctype=None)
        self.assertEqual(s, 406)
        s, o, _ = self.c.req("POST", "/_bulk", '{"index":{"_index":"x"\n{}\n', ctype="application/x-ndjson")
        self.assertEqual(s, 400)
        self.assertIn(etype(o), ("json_parse_exception", "x_content_parse_exception"))
        s, o, _ = self.c.req("POST", "/_bulk", '{"frob":{"_index":"x"}}\n{}\n', ctype="application/x-ndjson")
        self.assertEqual((s, etype(o)), (400, "illegal_argument_exception"))
        s, o, _ = self.c.bulk([{"index": {"_index": "x", "_id": "i" * 513}}, {"a": 1}])
        self.assertEqual((s, etype(o)), (400, "action_request_validation_exception"))
        s, o, _ = self.c.bulk([{"index": {"_id": "1"}}, {"a": 1}])
        self.assertEqual((s, etype(o)), (400, "action_request_validation_exception"))
        s, o, _ = self.c.bulk([{"index": {"_index": "x", "bogus": 1}}, {"a": 1}])
        self.assertEqual((s, etype(o)), (400, "illegal_argument_exception"))
        self.assertEqual(self.c.req("HEAD", "/x")[0], 404, "nothing may be stored by a rejected request")

    def test_per_item_rejections(self):
        self.c.req("PUT", "/m", {"mappings": {"properties": {"n": {"type": "long"}, "d": {"type": "date"},
                                                             "o": {"properties": {"p": {"type": "keyword"}}}}}})
        body = ('{"index":{"_index":"m","_id":"1"}}\n{"n":"abc"}\n'
                '{"index":{"_index":"m","_id":"2"}}\n{"d":"garbage"}\n'
                '{"index":{"_index":"m","_id":"3"}}\n{"o":"flat"}\n'
                '{"index":{"_index":"m","_id":"4"}}\n{"n":1,\n'
                '{"index":{"_index":"m","_id":"5"}}\n{"n":"42","d":"2021-02-03T04:05:06Z","o":{"p":"v"}}\n'
                '{"create":{"_index":"m","_id":"5"}}\n{"n":1}\n'
                '{"index":{"_index":"m","_id":"6"}}\n{"_id":"x"}\n')
        s, o, _ = self.c.req("POST", "/_bulk", body, ctype="application/x-ndjson")
        self.assertEqual(s, 200)
        self.assertTrue(o["errors"])
        st = [list(i.values())[0]["status"] for i in o["items"]]
        self.assertEqual(st, [400, 400, 400, 400, 201, 409, 400])
        errs = [list(i.values())[0].get("error", {}).get("type") for i in o["items"]]
        self.assertEqual(errs[:4], ["mapper_parsing_exception"] * 4)
        self.assertEqual(errs[5], "version_conflict_engine_exception")
        self.assertIn("caused_by", o["items"][0]["index"]["error"])

    def test_dynamic_mapping_conflicts(self):
        s, o, _ = self.c.bulk([{"index": {"_index": "dyn", "_id": "1"}}, {"i": 1, "f": 1.5, "b": True, "s": "t",
                                                                         "d": "2020-01-01", "o": {"x": 1}},
                               {"index": {"_index": "dyn", "_id": "2"}}, {"i": "nope"},
                               {"index": {"_index": "dyn", "_id": "3"}}, {"o": 5},
                               {"index": {"_index": "dyn", "_id": "4"}}, {"d": "not a date"},
                               {"index": {"_index": "dyn", "_id": "5"}}, {"s": {"nested": 1}}])
        self.assertEqual([list(i.values())[0]["status"] for i in o["items"]], [201, 400, 400, 400, 400])
        m = self.c.req("GET", "/dyn/_mapping")[1]["dyn"]["mappings"]["properties"]
        self.assertEqual({k: v.get("type", "object") for k, v in m.items()},
                         {"i": "long", "f": "float", "b": "boolean", "s": "text", "d": "date", "o": "object"})
        self.assertEqual(m["s"]["fields"]["keyword"]["type"], "keyword")

    def test_filter_path(self):
        lines = [{"index": {"_index": "fp", "_id": "1"}}, {"a": 1}, {"create": {"_index": "fp", "_id": "1"}},
                 {"a": 1}]
        s, o, _ = self.c.bulk(lines, path="/_bulk?filter_path=items.*.error,errors")
        self.assertEqual(set(o), {"errors", "items"})
        self.assertEqual(len(o["items"]), 1)
        self.assertEqual(o["items"][0]["create"]["error"]["type"], "version_conflict_engine_exception")
        s, o, _ = self.c.bulk(lines[:2], path="/_bulk?filter_path=took,items.*.status")
        self.assertEqual(set(o), {"took", "items"})
        self.assertEqual(o["items"], [{"index": {"status": 200}}])
        s, o, _ = self.c.bulk(lines[:2], path="/_bulk?filter_path=items.*.error")
        self.assertEqual(o, {})
        s, o, _ = self.c.req("GET", "/?filter_path=-version,-tagline,-cluster_uuid")
        self.assertEqual(set(o), {"name", "cluster_name"})

    def test_gzip_and_413(self):
        raw = "".join(json.dumps(l) + "\n" for l in [{"index": {"_index": "gz", "_id": "1"}}, {"a": 1}]).encode()
        s, o, _ = self.c.req("POST", "/_bulk", gzip.compress(raw), ctype="application/x-ndjson",
                             headers={"Content-Encoding": "gzip"})
        self.assertEqual((s, o["errors"]), (200, False))
        small = start(max_content_length=1000)
        try:
            c = Client(small)
            s, o, r = c.req("POST", "/_bulk", b"x" * 2000, ctype="application/x-ndjson")
            self.assertEqual(s, 413)
            c.close()
        finally:
            small.shutdown()
            small.server_close()

    def test_refresh_semantics(self):
        self.c.req("PUT", "/rf", {"settings": {"refresh_interval": "-1"}})
        self.c.bulk([{"index": {"_index": "rf", "_id": "1"}}, {"a": 1}])
        self.assertEqual(self.c.req("GET", "/rf/_count")[1]["count"], 0)
        self.assertEqual(self.c.req("GET", "/rf/_doc/1")[1]["found"], True)  # GET is realtime
        self.c.req("POST", "/rf/_refresh")
        self.assertEqual(self.c.req("GET", "/rf/_count")[1]["count"], 1)
        self.c.bulk([{"index": {"_index": "dflt", "_id": "1"}}, {"a": 1}])  # no interval set: search-idle
        self.assertEqual(self.c.req("GET", "/dflt/_count")[1]["count"], 1)

    def test_auth(self):
        srv = start(basic_auth="u:p", api_key="k123")
        try:
            c = Client(srv)
            s, o, r = c.req("GET", "/")
            self.assertEqual((s, etype(o)), (401, "security_exception"))
            self.assertTrue(r.getheader("WWW-Authenticate"))
            self.assertEqual(c.req("GET", "/", headers={"Authorization": "Basic dTpw"})[0], 200)
            self.assertEqual(c.req("GET", "/", headers={"Authorization": "Basic dTp4"})[0], 401)
            self.assertEqual(c.req("GET", "/", headers={"Authorization": "ApiKey k123"})[0], 200)
            c.close()
        finally:
            srv.shutdown()
            srv.server_close()


class TestSearch(Base):
    def test_search_after_covers_every_doc_once(self):
        lines = []
        for i in range(2500):
            lines += [{"index": {"_index": "s", "_id": "d%04d" % i}}, {"n": i % 7, "k": "v%d" % (i % 13)}]
        s, o, _ = self.c.bulk(lines)
        self.assertFalse(o["errors"])
        for sort in (["_doc"], [{"k.keyword": "desc"}, {"_id": "asc"}], [{"n": "asc"}, "_id"]):
            seen, after = [], None
            while True:
                body = {"size": 300, "sort": sort, "query": {"match_all": {}}}
                if after:
                    body["search_after"] = after
                s, o, _ = self.c.req("POST", "/s/_search", body)
                self.assertEqual(s, 200, o)
                hits = o["hits"]["hits"]
                if not hits:
                    break
                seen += [h["_id"] for h in hits]
                after = hits[-1]["sort"]
            self.assertEqual(len(seen), 2500, sort)
            self.assertEqual(len(set(seen)), 2500, sort)
        self.assertEqual(o["hits"]["total"], {"value": 2500, "relation": "eq"})

    def test_queries_and_source(self):
        self.c.bulk([{"index": {"_index": "q", "_id": "1"}}, {"k": "a", "t": "Hello World", "n": 5},
                     {"index": {"_index": "q", "_id": "2"}}, {"k": "b", "n": 10}])
        s, o, _ = self.c.req("POST", "/q/_search", {"query": {"ids": {"values": ["2"]}}, "_source": False})
        self.assertEqual([h["_id"] for h in o["hits"]["hits"]], ["2"])
        self.assertNotIn("_source", o["hits"]["hits"][0])
        s, o, _ = self.c.req("POST", "/q/_search", {"query": {"term": {"k.keyword": "a"}}})
        self.assertEqual([h["_id"] for h in o["hits"]["hits"]], ["1"])
        s, o, _ = self.c.req("POST", "/q/_search", {"query": {"term": {"t": "hello"}}})
        self.assertEqual(o["hits"]["total"]["value"], 1)
        s, o, _ = self.c.req("POST", "/q/_search", {"query": {"bogus": {}}})
        self.assertEqual((s, etype(o)), (400, "parsing_exception"))
        s, o, _ = self.c.req("POST", "/q/_search", {"sort": ["t"]})
        self.assertEqual((s, etype(o)), (400, "search_phase_execution_exception"))
        s, o, _ = self.c.req("POST", "/q/_search", {"size": 10001})
        self.assertEqual(s, 400)
        s, o, _ = self.c.req("POST", "/q/_search", {"track_total_hits": False})
        self.assertNotIn("total", o["hits"])
        s, o, _ = self.c.req("POST", "/q/_count", {"query": {"match_all": {}}})
        self.assertEqual(o["count"], 2)

    def test_pit_and_scroll(self):
        self.c.bulk([x for i in range(25) for x in ({"index": {"_index": "p", "_id": str(i)}}, {"i": i})])
        s, o, _ = self.c.req("POST", "/p/_pit?keep_alive=1m")
        pid = o["id"]
        self.c.bulk([{"index": {"_index": "p", "_id": "late"}}, {"i": 99}])
        seen, after = [], None
        while True:
            body = {"size": 10, "pit": {"id": pid, "keep_alive": "1m"}, "sort": ["_doc"]}
            if after:
                body["search_after"] = after
            s, o, _ = self.c.req("POST", "/_search", body)
            if not o["hits"]["hits"]:
                break
            seen += [h["_id"] for h in o["hits"]["hits"]]
            after = o["hits"]["hits"][-1]["sort"]
        self.assertEqual(len(seen), 25)  # the PIT does not see the late document
        s, o, _ = self.c.req("POST", "/p/_search", {"pit": {"id": pid}})
        self.assertEqual((s, etype(o)), (400, "action_request_validation_exception"))
        self.assertEqual(self.c.req("DELETE", "/_pit", {"id": pid})[1]["succeeded"], True)
        s, o, _ = self.c.req("POST", "/p/_search?scroll=1m", {"size": 10})
        ids, sid = [h["_id"] for h in o["hits"]["hits"]], o["_scroll_id"]
        while True:
            s, o, _ = self.c.req("POST", "/_search/scroll", {"scroll": "1m", "scroll_id": sid})
            if not o["hits"]["hits"]:
                break
            ids += [h["_id"] for h in o["hits"]["hits"]]
        self.assertEqual(len(set(ids)), 26)
        self.assertEqual(self.c.req("DELETE", "/_search/scroll", {"scroll_id": sid})[1]["num_freed"], 1)


class TestFlavorEs6(Base):
    flavor = "es6"

    def test_types(self):
        s, o, _ = self.c.req("PUT", "/t6", {"mappings": {"doc": {"properties": {"a": {"type": "keyword"}}}}})
        self.assertEqual(s, 200)
        s, o, _ = self.c.req("PUT", "/t7", {"mappings": {"properties": {"a": {"type": "keyword"}}}})
        self.assertEqual((s, etype(o)), (400, "mapper_parsing_exception"))
        s, o, _ = self.c.bulk([{"index": {"_index": "t6", "_id": "1"}}, {"a": "x"}])
        self.assertEqual((s, etype(o)), (400, "action_request_validation_exception"))  # type is missing
        s, o, _ = self.c.bulk([{"index": {"_index": "t6", "_type": "doc", "_id": "1"}}, {"a": "x"},
                               {"index": {"_index": "t6", "_type": "other", "_id": "2"}}, {"a": "x"}])
        self.assertEqual([list(i.values())[0]["status"] for i in o["items"]], [201, 400])
        self.assertEqual(o["items"][0]["index"]["_type"], "doc")
        self.assertIn("doc", self.c.req("GET", "/t6/_mapping")[1]["t6"]["mappings"])
        s, o, _ = self.c.req("POST", "/t6/_search", {})
        self.assertEqual(o["hits"]["total"], 1)
        self.assertEqual(o["hits"]["hits"][0]["_type"], "doc")

    def test_put_mapping_with_the_type_before_mapping(self):
        # ES 6 takes /{index}/{type}/_mapping as the put-mapping API, not a
        # document with the id "_mapping" (elasticdump's mapping import uses it)
        self.c.req("PUT", "/t6", {"mappings": {"doc": {"properties": {"a": {"type": "keyword"}}}}})
        s, o, _ = self.c.req("PUT", "/t6/doc/_mapping", {"properties": {"b": {"type": "long"}}})
        self.assertEqual((s, o), (200, {"acknowledged": True}))
        self.assertEqual(self.c.req("GET", "/t6/doc/_mapping")[1]["t6"]["mappings"]["doc"]["properties"],
                         {"a": {"type": "keyword"}, "b": {"type": "long"}})
        s, o, _ = self.c.req("PUT", "/t6/other/_mapping", {"properties": {"c": {"type": "long"}}})
        self.assertEqual((s, etype(o)), (400, "illegal_argument_exception"))
        self.assertEqual(self.c.req("GET", "/_test/docs/t6")[1], {})


class TestFlavorEs8(Base):
    flavor = "es8"

    def test_type_rejected(self):
        s, o, _ = self.c.bulk([{"index": {"_index": "x", "_type": "_doc", "_id": "1"}}, {"a": 1}])
        self.assertEqual((s, etype(o)), (400, "illegal_argument_exception"))
        self.assertEqual(o["error"]["reason"], "Action/metadata line [1] contains an unknown parameter [_type]")
        s, o, _ = self.c.bulk([{"index": {"_index": "x", "_id": "1"}}, {"a": 1}])
        self.assertNotIn("_type", o["items"][0]["index"])
        s, o, _ = self.c.req("POST", "/x/_search", {"sort": ["_id"]})
        self.assertEqual(s, 400)  # fielddata on _id is disabled in 8.x
        s, o, _ = self.c.req("POST", "/x/_search", {})
        self.assertNotIn("_type", o["hits"]["hits"][0])


class TestFlavorOpenSearch(Base):
    flavor = "opensearch2"

    def test_root_and_type(self):
        o = self.c.req("GET", "/")[1]
        self.assertEqual((o["version"]["distribution"], o["version"]["number"]), ("opensearch", "2.11.0"))
        s, o, _ = self.c.bulk([{"index": {"_index": "x", "_type": "doc", "_id": "1"}}, {"a": 1}])
        self.assertEqual((s, etype(o)), (400, "illegal_argument_exception"))


class TestFaults(Base):
    def lines(self, n, index="f"):
        return [x for i in range(n) for x in ({"index": {"_index": index, "_id": str(i)}}, {"i": i})]

    def test_item_rejection_ratio(self):
        self.c.req("POST", "/_test/faults", {"reject_item_ratio": 0.3, "seed": 7})
        s, o, _ = self.c.bulk(self.lines(1000))
        rej = [list(i.values())[0]["_id"] for i in o["items"] if list(i.values())[0]["status"] == 429]
        self.assertTrue(o["errors"])
        self.assertTrue(200 < len(rej) < 400, len(rej))
        self.assertEqual(o["items"][[list(i.values())[0]["status"] for i in o["items"]].index(429)]["index"]
                         ["error"]["type"], "es_rejected_execution_exception")
        docs = self.c.req("GET", "/_test/docs/f")[1]
        self.assertEqual(len(docs), 1000 - len(rej))
        self.assertFalse(set(rej) & set(docs))
        self.assertEqual(self.c.req("GET", "/_test/stats")[1]["rejected_items"], len(rej))
        # the same seed gives the same rejections
        self.c.req("POST", "/_test/reset")
        self.c.req("POST", "/_test/faults", {"reject_item_ratio": 0.3, "seed": 7})
        o2 = self.c.bulk(self.lines(1000))[1]
        self.assertEqual(rej, [list(i.values())[0]["_id"] for i in o2["items"]
                               if list(i.values())[0]["status"] == 429])

    def test_whole_request_faults(self):
        self.c.req("POST", "/_test/faults", {"reject_requests_429": 1, "reject_requests_503": 1})
        s, o, _ = self.c.bulk(self.lines(2))
        self.assertEqual((s, etype(o)), (429, "es_rejected_execution_exception"))
        s, o, _ = self.c.bulk(self.lines(2))
        self.assertEqual(s, 503)
        self.assertEqual(o["status"], 503)
        s, o, _ = self.c.bulk(self.lines(2))
        self.assertEqual((s, o["errors"]), (200, False))

    def test_close_mid_response(self):
        self.c.req("POST", "/_test/faults", {"close_mid_response": 1})
        with self.assertRaises((http.client.IncompleteRead, ConnectionError, http.client.HTTPException)):
            self.c.bulk(self.lines(5))
        self.c.conn.close()
        c2 = Client(self.srv)
        self.addCleanup(c2.close)
        self.assertEqual(c2.req("HEAD", "/f")[0], 404, "a dropped request stores nothing")
        self.assertEqual(c2.bulk(self.lines(5))[0], 200)

    def test_delay(self):
        self.c.req("POST", "/_test/faults", {"delay_ms": 150})
        t = time.monotonic()
        self.c.req("GET", "/")
        self.assertGreaterEqual(time.monotonic() - t, 0.14)
        self.c.req("DELETE", "/_test/faults")


class TestClusterMode(Base):
    extra = {"mode": "cluster", "cluster_threads": 2, "cluster_us_per_doc": 2000}

    def test_concurrency_limited(self):
        self.c.req("PUT", "/c", {"settings": {"number_of_replicas": 0}})
        results = []

        def worker(n):
            c = Client(self.srv)
            lines = [x for i in range(20) for x in ({"index": {"_index": "c", "_id": "%d-%d" % (n, i)}}, {"i": i})]
            results.append(c.bulk(lines)[1]["errors"])
            c.close()
        ts = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        st = self.c.req("GET", "/_test/stats")[1]
        self.assertEqual(results, [False] * 6)
        self.assertEqual(st["max_concurrent_bulk"], 2)
        self.assertGreaterEqual(time.monotonic() - t0, 0.11)  # 6 x 40 ms over 2 "threads"
        self.assertEqual(self.c.req("GET", "/c/_count")[1]["count"], 120)


class TestCli(unittest.TestCase):
    def test_port_file_and_sigterm(self):
        with tempfile.TemporaryDirectory() as d:
            pf = os.path.join(d, "port")
            p = subprocess.Popen([sys.executable, os.path.join(HERE, "es_test_server.py"), "--port", "0",
                                  "--port-file", pf, "--flavor", "es8"], stderr=subprocess.PIPE)
            try:
                for _ in range(100):
                    if os.path.exists(pf):
                        break
                    time.sleep(0.05)
                with open(pf) as f:
                    port = int(f.read())
                self.assertIn(b"listening on 127.0.0.1:%d" % port, p.stderr.readline())
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/", headers={"Connection": "close"})
                r = c.getresponse()
                self.assertEqual(json.loads(r.read())["version"]["number"], "8.11.0")
                c.close()
                p.terminate()
                self.assertEqual(p.wait(timeout=5), 0)
            finally:
                if p.poll() is None:
                    p.kill()
                p.stderr.close()


if __name__ == "__main__":
    unittest.main()
