#!/usr/bin/env python3
"""Elasticsearch-compatible TEST DOUBLE for the gen3db test suite.

THIS IS NOT ELASTICSEARCH.  It is a small in-memory HTTP server (Python 3
standard library only) that answers the subset of the Elasticsearch REST API
gen3db uses, in Elasticsearch's response shapes, so the C test suite can run
on machines where no Elasticsearch/OpenSearch can be installed.

It tries to be *strict*: requests Elasticsearch 7.x rejects are rejected here
too (same HTTP status, same error "type"), so a client bug that real clusters
would catch is caught in tests as well.  Behaviour it cannot model is listed
in tests/esd/README.md.  `--flavor` switches version-specific behaviour
(es6 / es7 / es8 / opensearch2).

Besides the ES API there is a control API under /_test/ (fault injection,
statistics, reset) that exists only in this double.
"""

import argparse
import base64
import bisect
import datetime
import fnmatch
import functools
import gzip
import itertools
import json
import math
import os
import random
import re
import signal
import socket
import ssl
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

# --------------------------------------------------------------------------
# Flavors
# --------------------------------------------------------------------------

FLAVORS = {
    "es6": dict(number="6.8.23", lucene="7.7.3", created="6082399", wire="5.6.0",
                index_compat="5.0.0", shards=5, types="required", product=False),
    "es7": dict(number="7.17.10", lucene="8.11.1", created="7171099", wire="6.8.0",
                index_compat="6.0.0-beta1", shards=1, types="deprecated", product=True),
    "es8": dict(number="8.11.0", lucene="9.8.0", created="8500003", wire="7.17.0",
                index_compat="7.0.0", shards=1, types="removed", product=True),
    "opensearch2": dict(number="2.11.0", lucene="9.7.0", created="136327827",
                        wire="7.10.0", index_compat="7.0.0", shards=1,
                        types="removed", product=False),
}

MAX_ID_BYTES = 512
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1
INT_RANGES = {"long": (LONG_MIN, LONG_MAX), "integer": (-(1 << 31), (1 << 31) - 1),
              "short": (-32768, 32767), "byte": (-128, 127),
              "unsigned_long": (0, (1 << 64) - 1)}
FLOAT_TYPES = {"double", "float", "half_float", "scaled_float"}

FIELD_TYPES = {
    "text", "keyword", "long", "integer", "short", "byte", "double", "float",
    "half_float", "scaled_float", "unsigned_long", "date", "date_nanos", "boolean",
    "object", "nested", "ip", "geo_point", "geo_shape", "point", "shape", "binary",
    "flattened", "alias", "completion", "search_as_you_type", "token_count",
    "percolator", "join", "rank_feature", "rank_features", "dense_vector",
    "histogram", "constant_keyword", "wildcard", "version", "integer_range",
    "float_range", "long_range", "double_range", "date_range", "ip_range",
    "match_only_text", "annotated_text", "murmur3", "aggregate_metric_double",
}
FLAVOR_MISSING_TYPES = {
    "es6": {"flattened", "unsigned_long", "match_only_text", "wildcard", "version",
            "constant_keyword", "histogram", "point", "shape", "aggregate_metric_double"},
    "opensearch2": {"flattened", "match_only_text", "wildcard", "version",
                    "constant_keyword", "histogram", "aggregate_metric_double"},
}
ROOT_MAPPING_PARAMS = {
    "properties", "dynamic", "_source", "_meta", "dynamic_templates", "date_detection",
    "numeric_detection", "_routing", "enabled", "_field_names", "_size",
    "dynamic_date_formats", "runtime", "_data_stream_timestamp",
}
FIELD_PARAMS = {
    "type", "index", "store", "doc_values", "null_value", "copy_to", "boost", "fields",
    "meta", "ignore_malformed", "coerce", "format", "analyzer", "search_analyzer",
    "search_quote_analyzer", "normalizer", "ignore_above", "norms", "similarity",
    "index_options", "term_vector", "fielddata", "fielddata_frequency_filter",
    "eager_global_ordinals", "position_increment_gap", "index_prefixes",
    "index_phrases", "scaling_factor", "locale", "enabled", "dynamic", "properties",
    "include_in_parent", "include_in_root", "path", "split_queries_on_whitespace",
    "ignore_z_value", "orientation", "relations", "dims", "max_input_length",
    "preserve_separators", "preserve_position_increments", "contexts", "depth_limit",
    "time_series_dimension", "time_series_metric", "value", "script",
    "on_script_error", "positive_score_impact", "max_shingle_size", "element_type",
    "similarity", "metrics", "default_metric", "subobjects", "enable_position_increments",
    "null_value", "strategy", "tree", "precision", "distance_error_pct",
    "points_only", "tree_levels",
}
METADATA_FIELDS = {"_id", "_index", "_type", "_source", "_routing", "_seq_no",
                   "_version", "_field_names", "_ignored", "_primary_term",
                   "_doc_count", "_tier", "_nested_path", "_data_stream_timestamp",
                   "_feature", "_size", "_uid", "_parent", "_all"}

# Settings: dynamic ones may be changed on an open index; everything else listed
# (or under a known prefix) is accepted at creation only.
DYNAMIC_SETTINGS = {
    "number_of_replicas", "refresh_interval", "max_result_window",
    "auto_expand_replicas", "max_inner_result_window", "max_rescore_window",
    "max_docvalue_fields_search", "max_script_fields", "max_ngram_diff",
    "max_shingle_diff", "max_refresh_listeners", "max_terms_count",
    "max_regex_length", "default_pipeline", "final_pipeline", "gc_deletes",
    "priority", "hidden", "search.idle.after", "query.default_field",
    "mapping.total_fields.limit", "mapping.depth.limit", "mapping.nested_fields.limit",
    "mapping.nested_objects.limit", "mapping.field_name_length.limit",
    "write.wait_for_active_shards", "unassigned.node_left.delayed_timeout",
    "max_slices_per_scroll", "requests.cache.enable", "blocks.read_only",
    "blocks.read_only_allow_delete", "blocks.read", "blocks.write", "blocks.metadata",
    "translog.durability", "translog.sync_interval", "translog.flush_threshold_size",
    "max_adjacency_matrix_filters", "routing.allocation.total_shards_per_node",
    "routing.rebalance.enable", "routing.allocation.enable", "merge.scheduler.max_thread_count",
}
STATIC_SETTINGS = {"number_of_shards", "codec", "number_of_routing_shards",
                   "routing_partition_size", "shard.check_on_startup",
                   "soft_deletes.enabled", "load_fixed_bitset_filters_eagerly", "sort.field",
                   "sort.order", "sort.mode", "sort.missing", "mode"}
DYNAMIC_PREFIXES = ("routing.allocation.", "blocks.", "translog.", "merge.",
                    "search.slowlog.", "indexing.slowlog.", "lifecycle.", "unassigned.",
                    "plugins.", "opendistro.", "store.", "soft_deletes.retention",
                    "similarity.", "mapping.")
STATIC_PREFIXES = ("analysis.", "sort.", "similarity.", "store.")
SYSTEM_SETTINGS = {"uuid", "creation_date", "provided_name", "version.created", "version.upgraded"}


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

class ESError(Exception):
    """An Elasticsearch exception: rendered as {"error":{root_cause,type,reason,...},"status"}.

    `extra` holds extra fields (index, resource.id, ...) that ES puts both in
    the root cause and at the top level; `root` overrides the root cause (ES
    reports the innermost cause there); `caused_by` nests one level.
    """

    def __init__(self, status, etype, reason, caused_by=None, root=None, **extra):
        super().__init__(reason)
        self.status, self.etype, self.reason = status, etype, reason
        self.caused_by, self.root, self.extra = caused_by, root, extra

    def obj(self):
        o = {"type": self.etype, "reason": self.reason}
        o.update(self.extra)
        if self.caused_by:
            o["caused_by"] = self.caused_by
        return o

    def body(self):
        top = self.obj()
        rc = self.root if self.root is not None else {k: v for k, v in top.items() if k != "caused_by"}
        top = dict(top)
        return {"error": dict({"root_cause": [rc]}, **top), "status": self.status}


class SimpleError(Exception):
    """ES's plain error shape {"error":"message","status":N} (no handler, 406, ...)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def err_obj(etype, reason, caused_by=None, **extra):
    o = {"type": etype, "reason": reason}
    o.update(extra)
    if caused_by:
        o["caused_by"] = caused_by
    return o


def illegal(reason, status=400):
    return ESError(status, "illegal_argument_exception", reason)


def validation_failed(msgs):
    text = "Validation Failed: " + "".join("%d: %s;" % (i + 1, m) for i, m in enumerate(msgs))
    return ESError(400, "action_request_validation_exception", text)


def index_not_found(name, extra_reason=""):
    return ESError(404, "index_not_found_exception", "no such index [%s]%s" % (name, extra_reason),
                   **{"resource.type": "index_or_alias", "resource.id": name,
                      "index_uuid": "_na_", "index": name})


def _no_dupes(pairs):
    """object_pairs_hook: ES rejects duplicate keys in JSON objects."""
    d = dict(pairs)
    if len(d) != len(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise ValueError("Duplicate field '%s'" % k)
            seen.add(k)
    return d


_decoder = json.JSONDecoder(object_pairs_hook=_no_dupes)


def jloads(b):
    if isinstance(b, (bytes, bytearray)):
        b = b.decode("utf-8")
    return _decoder.decode(b)


def parse_json_body(body, what="request body"):
    try:
        o = jloads(body)
    except (ValueError, UnicodeDecodeError) as e:
        if "Duplicate field" in str(e):
            raise ESError(400, "x_content_parse_exception", str(e))
        raise ESError(400, "json_parse_exception", "Unexpected character or end of input: %s" % e)
    if not isinstance(o, dict):
        raise ESError(400, "parse_exception", "request body or source parameter is required"
                      if o is None else "Malformed content, must start with an object")
    return o


# --------------------------------------------------------------------------
# Names, settings, time values, dates
# --------------------------------------------------------------------------

BAD_NAME_CHARS = '\\/*?"<>| ,#'


def name_problem(name, kind="index"):
    """Return the ES reason why `name` is not a valid index/alias name, or None."""
    if not name:
        return "must not be empty"
    if name != name.lower():
        return "must be lowercase"
    for c in BAD_NAME_CHARS:
        if c in name:
            return 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'
    if ":" in name:
        return "must not contain ':'"
    if name[0] in "_-+":
        return "must not start with '_', '-', or '+'"
    if name in (".", ".."):
        return "must not be '.' or '..'"
    n = len(name.encode("utf-8"))
    if n > 255:
        return "index name is too long, (%d > 255)" % n
    return None


def check_index_name(name):
    p = name_problem(name)
    if p:
        sep = ", " if not p.startswith("index name is too long") else ", "
        raise ESError(400, "invalid_index_name_exception", "Invalid index name [%s]%s%s" % (name, sep, p),
                      index_uuid="_na_", index=name)


TIME_RE = re.compile(r"^(\d+)(nanos|micros|ms|s|m|h|d)$")
TIME_MS = {"nanos": 1e-6, "micros": 1e-3, "ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}


def parse_time_ms(value, setting):
    """Parse an ES time value ("1s", "30m", "-1") into milliseconds (-1 = disabled)."""
    s = str(value).strip()
    if s in ("-1",):
        return -1
    if s == "0":
        return 0
    m = TIME_RE.match(s)
    if not m:
        raise illegal("failed to parse setting [%s] with value [%s] as a time value: unit is "
                      "missing or unrecognized" % (setting, s))
    return int(m.group(1)) * TIME_MS[m.group(2)]


def flatten_settings(obj, prefix=""):
    out = {}
    for k, v in obj.items():
        key = prefix + k
        if isinstance(v, dict):
            out.update(flatten_settings(v, key + "."))
        else:
            out[key] = v
    return out


def setting_str(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return [setting_str(x) for x in v]
    if v is None:
        return None
    return str(v)


def normalize_settings(raw):
    """Flatten {"index":{...}} or flat/dotted settings into {"index.x": "str"}."""
    if not isinstance(raw, dict):
        raise ESError(400, "parse_exception", "Failed to parse settings: expected an object")
    out = {}
    for k, v in flatten_settings(raw).items():
        key = k if k.startswith("index.") else "index." + k
        out[key] = setting_str(v)
    return out


def known_setting(short):
    if short in DYNAMIC_SETTINGS or short in STATIC_SETTINGS or short in SYSTEM_SETTINGS:
        return True
    return short.startswith(DYNAMIC_PREFIXES) or short.startswith(STATIC_PREFIXES)


def validate_settings(flat):
    for key, v in flat.items():
        short = key[len("index."):]
        if not known_setting(short):
            raise illegal("unknown setting [%s] please check that any required plugins are installed, "
                          "or check the breaking changes documentation for removed settings" % key)
        if short in ("number_of_shards", "number_of_replicas", "max_result_window",
                     "mapping.total_fields.limit", "number_of_routing_shards"):
            try:
                n = int(v)
            except (TypeError, ValueError):
                raise illegal("Failed to parse value [%s] for setting [%s]" % (v, key))
            lo = 1 if short in ("number_of_shards", "max_result_window", "number_of_routing_shards") else 0
            if n < lo:
                raise illegal("Failed to parse value [%s] for setting [%s] must be >= %d" % (v, key, lo))
            if short == "number_of_shards" and n > 1024:
                raise illegal("Failed to parse value [%s] for setting [%s] must be <= 1024" % (v, key))
        if short == "refresh_interval":
            parse_time_ms(v, key)


DATE_OPT_TIME_RE = re.compile(
    r"^[+-]?\d{4,9}(-\d{2}(-\d{2}([T ]\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?)?)?)?"
    r"(Z|[+-]\d{2}(:?\d{2})?)?$")
DETECT_DATE_RES = [
    re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"),
    re.compile(r"^\d{4}/\d{2}/\d{2}( \d{2}:\d{2}:\d{2})?( ?[+-]\d{4}| ?Z)?$"),
]
EPOCH_RE = re.compile(r"^-?\d+(\.\d+)?$")


def _valid_ymd(s):
    m = re.match(r"^(\d{4})[-/](\d{2})[-/](\d{2})", s)
    if not m:
        m2 = re.match(r"^(\d{4})-(\d{2})", s)
        return not m2 or 1 <= int(m2.group(2)) <= 12
    try:
        datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return False
    t = re.search(r"[T ](\d{2})(?::(\d{2}))?(?::(\d{2}))?", s[10:])
    if t and (int(t.group(1)) > 23 or int(t.group(2) or 0) > 59 or int(t.group(3) or 0) > 59):
        return False
    return True


def java_format_regex(fmt):
    """Translate a simple Java date pattern (yyyy-MM-dd HH:mm:ss) into a regex."""
    out, i = [], 0
    tokens = {"yyyy": r"\d{4}", "uuuu": r"\d{4}", "MM": r"\d{2}", "dd": r"\d{2}", "HH": r"\d{2}",
              "mm": r"\d{2}", "ss": r"\d{2}", "SSS": r"\d{3}", "SSSSSS": r"\d{6}", "Z": r"[+-]\d{4}",
              "XXX": r"(Z|[+-]\d{2}:\d{2})", "X": r"(Z|[+-]\d{2})", "yy": r"\d{2}", "M": r"\d{1,2}",
              "d": r"\d{1,2}", "H": r"\d{1,2}"}
    while i < len(fmt):
        if fmt[i] == "'":
            j = fmt.index("'", i + 1) if "'" in fmt[i + 1:] else len(fmt)
            out.append(re.escape(fmt[i + 1:j]))
            i = j + 1
            continue
        for tok in sorted(tokens, key=len, reverse=True):
            if fmt.startswith(tok, i):
                out.append(tokens[tok])
                i += len(tok)
                break
        else:
            out.append(re.escape(fmt[i]))
            i += 1
    return re.compile("^" + "".join(out) + "$")


NAMED_DATE_FORMATS = {
    "strict_date_optional_time": lambda s: bool(DATE_OPT_TIME_RE.match(s)) and _valid_ymd(s),
    "date_optional_time": lambda s: bool(DATE_OPT_TIME_RE.match(s)) and _valid_ymd(s),
    "strict_date_optional_time_nanos": lambda s: bool(DATE_OPT_TIME_RE.match(s)) and _valid_ymd(s),
    "epoch_millis": lambda s: bool(EPOCH_RE.match(s)),
    "epoch_second": lambda s: bool(EPOCH_RE.match(s)),
    "strict_date": lambda s: bool(re.match(r"^\d{4}-\d{2}-\d{2}$", s)) and _valid_ymd(s),
    "date": lambda s: bool(re.match(r"^\d{4}-\d{2}-\d{2}$", s)) and _valid_ymd(s),
    "basic_date": lambda s: bool(re.match(r"^\d{8}$", s)),
}


@functools.lru_cache(maxsize=256)
def date_checker(fmt):
    parts = []
    for f in fmt.split("||"):
        f = f.strip()
        if f in NAMED_DATE_FORMATS:
            parts.append(NAMED_DATE_FORMATS[f])
        elif f.startswith(("strict_", "basic_")) or f in ("date_time", "date_hour_minute_second"):
            parts.append(lambda s: True)  # a named format we do not model: accept
        else:
            rx = java_format_regex(f)
            parts.append(lambda s, rx=rx: bool(rx.match(s)))
    return lambda s: any(p(s) for p in parts)


def to_epoch_millis(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return int(v)
    s = str(v)
    if EPOCH_RE.match(s):
        return int(float(s))
    try:
        s2 = s.replace("Z", "+00:00").replace(" ", "T").replace("/", "-")
        if len(s2) == 4:
            s2 += "-01-01"
        elif len(s2) == 7:
            s2 += "-01"
        dt = datetime.datetime.fromisoformat(s2)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=datetime.timezone.utc)
        return int(dt.timestamp() * 1000)
    except ValueError:
        return None


# --------------------------------------------------------------------------
# Mappings
# --------------------------------------------------------------------------

def java_map(v):
    """Render a JSON value roughly like Java's Map.toString (used in ES messages)."""
    if isinstance(v, dict):
        return "{" + ", ".join("%s=%s" % (k, java_map(x)) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(java_map(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def mapping_error(reason, type_name="_doc"):
    return ESError(400, "mapper_parsing_exception", "Failed to parse mapping [%s]: %s" % (type_name, reason),
                   caused_by=err_obj("mapper_parsing_exception", reason),
                   root=err_obj("mapper_parsing_exception", reason))


def validate_root_mapping(m, flavor, type_name="_doc"):
    if not isinstance(m, dict):
        raise mapping_error("Expected map for root mapping but got %s" % java_map(m), type_name)
    allowed = ROOT_MAPPING_PARAMS | ({"_all"} if flavor == "es6" else set())
    bad = [k for k in m if k not in allowed]
    if bad:
        raise mapping_error("Root mapping definition has unsupported parameters:  " + " ".join(
            "[%s : %s]" % (k, java_map(m[k])) for k in bad), type_name)
    props = m.get("properties", {})
    if not isinstance(props, dict):
        raise mapping_error("Expected map for property [properties] but got %s" % java_map(props), type_name)
    validate_properties(props, flavor, type_name)


def validate_properties(props, flavor, type_name, multi=False):
    missing = FLAVOR_MISSING_TYPES.get(flavor, set())
    for name, d in props.items():
        if not isinstance(d, dict):
            raise mapping_error("Expected map for property [fields] on field [%s] but got a class "
                                "java.lang.String" % name, type_name)
        t = d.get("type", "object")
        if t not in FIELD_TYPES or t in missing:
            raise mapping_error("No handler for type [%s] declared on field [%s]" % (t, name), type_name)
        for p in d:
            if p not in FIELD_PARAMS:
                raise mapping_error("unknown parameter [%s] on mapper [%s] of type [%s]" % (p, name, t),
                                    type_name)
        if t in ("object", "nested"):
            sub = d.get("properties", {})
            if not isinstance(sub, dict):
                raise mapping_error("Expected map for property [properties] on field [%s]" % name, type_name)
            validate_properties(sub, flavor, type_name)
        elif "properties" in d:
            raise mapping_error("unknown parameter [properties] on mapper [%s] of type [%s]" % (name, t),
                                type_name)
        if "fields" in d:
            if not isinstance(d["fields"], dict):
                raise mapping_error("Expected map for property [fields] on field [%s]" % name, type_name)
            validate_properties(d["fields"], flavor, type_name, multi=True)


def merge_mapping(old, new, path=""):
    """Merge `new` properties into `old` in place; type changes are rejected like ES."""
    for name, d in new.items():
        full = path + name
        if name not in old:
            old[name] = json.loads(json.dumps(d))
            continue
        ot, nt = old[name].get("type", "object"), d.get("type", "object")
        if ot != nt:
            raise illegal("mapper [%s] cannot be changed from type [%s] to [%s]" % (full, ot, nt))
        if "properties" in d:
            merge_mapping(old[name].setdefault("properties", {}), d["properties"], full + ".")
        for k, v in d.items():
            if k not in ("properties", "type"):
                old[name][k] = v


def count_fields(props):
    n = 0
    for d in props.values():
        n += 1
        if "properties" in d:
            n += count_fields(d["properties"])
        if "fields" in d:
            n += len(d["fields"])
    return n


# --------------------------------------------------------------------------
# Index
# --------------------------------------------------------------------------

class Index:
    """One index: settings, mapping, documents.

    Documents are dict id -> (source_bytes, version, seq_no, ordinal); records
    are immutable tuples so `visible` (the last refreshed snapshot, what
    search/count see) can be a cheap shallow dict copy.
    """

    def __init__(self, srv, name, settings, mapping, doc_type):
        fl = FLAVORS[srv.flavor]
        self.srv, self.name = srv, name
        self.uuid = base64.urlsafe_b64encode(uuid.uuid4().bytes)[:22].decode()
        s = {"index.number_of_shards": str(fl["shards"]), "index.number_of_replicas": "1"}
        s.update(settings)
        s.update({"index.uuid": self.uuid, "index.provided_name": name,
                  "index.creation_date": str(int(time.time() * 1000)),
                  "index.version.created": fl["created"]})
        self.settings = s
        self.mapping = mapping or {}
        self.mapping.setdefault("properties", {})
        self.doc_type = doc_type  # es6: the single mapping type; else "_doc"
        self.docs, self.visible = {}, {}
        self.dirty, self.last_refresh = False, time.monotonic()
        self.seq, self.ordinal, self.generation = -1, 0, 0
        self.aliases = {}  # alias -> properties dict
        self.rebuild_flat()

    # -- mapping lookup tables ----------------------------------------------
    def rebuild_flat(self):
        self.flat = {}  # path -> field definition (objects included)
        self.nfields = count_fields(self.mapping["properties"])

        def walk(props, prefix):
            for k, d in props.items():
                self.flat[prefix + k] = d
                if "properties" in d:
                    walk(d["properties"], prefix + k + ".")
        walk(self.mapping["properties"], "")

    def field_type(self, path):
        d = self.flat.get(path)
        if d is not None:
            return d.get("type", "object"), d
        if "." in path:  # multi-field such as name.keyword
            parent, sub = path.rsplit(".", 1)
            pd = self.flat.get(parent)
            if pd and sub in pd.get("fields", {}):
                sd = pd["fields"][sub]
                return sd.get("type", "object"), dict(sd, _parent=parent)
        return None, None

    def setting(self, short, default=None):
        return self.settings.get("index." + short, default)

    def replicas(self):
        auto = self.setting("auto_expand_replicas")
        if auto and auto != "false":
            return int(auto.split("-")[0])
        return int(self.setting("number_of_replicas", "1"))

    def shards(self):
        return int(self.setting("number_of_shards", "1"))

    def health(self):
        return "green" if self.replicas() == 0 else "yellow"

    def shards_obj(self):
        return {"total": 1 + self.replicas(), "successful": 1, "failed": 0}

    # -- refresh model --------------------------------------------------------
    def refresh(self):
        if self.dirty:
            self.visible = dict(self.docs)
            self.dirty = False
            self.generation += 1
        self.last_refresh = time.monotonic()

    def maybe_auto_refresh(self):
        """Model ES refresh scheduling as seen by a searcher.

        No explicit refresh_interval: shards are "search idle" and a search
        triggers a refresh first, so everything written is visible.  "-1":
        only explicit refreshes.  Explicit interval: refreshed when due.
        """
        ri = self.setting("refresh_interval")
        if not self.dirty:
            return
        if ri is None:
            self.refresh()
            return
        ms = parse_time_ms(ri, "index.refresh_interval")
        if ms >= 0 and (time.monotonic() - self.last_refresh) * 1000 >= ms:
            self.refresh()

    # -- document validation against the mapping -------------------------------
    def check_source(self, doc, doc_id):
        """Validate a parsed source against the mapping; add dynamic fields.

        Returns None or a per-item error object.  New dynamic fields are only
        committed when the whole document is valid (ES does the same).
        """
        new = {}
        root_dyn = str(self.mapping.get("dynamic", "true")).lower()
        err = self._walk(doc, "", root_dyn, new, doc_id)
        if err:
            return err
        if new:
            err = self._add_dynamic(new)
        return err

    def _walk(self, obj, prefix, dynamic, new, doc_id):
        flat = self.flat
        for k, v in obj.items():
            if not prefix and k[:1] == "_" and k in METADATA_FIELDS:
                return err_obj("mapper_parsing_exception",
                               "Field [%s] is a metadata field and cannot be added inside a document. "
                               "Use the index API request parameters." % k)
            if not k or k.strip(".") == "" or k[0] == "." or k[-1] == ".":
                if not k or k.strip(".") == "":
                    return err_obj("mapper_parsing_exception", "failed to parse",
                                   caused_by=err_obj("illegal_argument_exception",
                                                     "field name cannot be an empty string"))
                return err_obj("mapper_parsing_exception", "failed to parse",
                               caused_by=err_obj("illegal_argument_exception",
                                                 "field name starting or ending with a [.] makes object "
                                                 "resolution ambiguous: [%s]" % k))
            path = prefix + k
            d = flat.get(path)
            if d is None:
                d = new.get(path)
            if d is None:
                if v is None or v == []:
                    continue
                if dynamic == "strict":
                    return err_obj("strict_dynamic_mapping_exception",
                                   "mapping set to strict, dynamic introduction of [%s] within [%s] is not "
                                   "allowed" % (k, prefix[:-1] or self.doc_type or "_doc"))
                if dynamic == "false":
                    continue
                d = self._dynamic_def(path, k, v)
                if d is None:
                    continue
                new[path] = d
            t = d.get("type", "object")
            err = self._check_value(t, d, path, k, v, dynamic, new, doc_id)
            if err:
                return err
        return None

    def _check_value(self, t, d, path, k, v, dynamic, new, doc_id):
        if v is None:
            return None
        if isinstance(v, list):
            for x in v:
                e = self._check_value(t, d, path, k, x, dynamic, new, doc_id)
                if e:
                    return e
            return None
        if t in ("object", "nested"):
            if isinstance(v, dict):
                if d.get("enabled", True) in (False, "false"):
                    return None
                sub = str(d.get("dynamic", dynamic)).lower()
                return self._walk(v, path + ".", sub, new, doc_id)
            return err_obj("mapper_parsing_exception",
                           "object mapping for [%s] tried to parse field [%s] as object, but found a "
                           "concrete value" % (path, k))
        if isinstance(v, dict) and t not in ("flattened", "geo_point", "geo_shape", "shape", "point",
                                             "join", "completion", "rank_features", "percolator",
                                             "integer_range", "float_range", "long_range",
                                             "double_range", "date_range", "ip_range", "histogram",
                                             "aggregate_metric_double"):
            return self._field_error(t, path, v, doc_id, err_obj(
                "illegal_state_exception", "Can't get text on a START_OBJECT at 1:1"))
        checker = VALUE_CHECKS.get(t)
        if checker is not None:
            cause = checker(v, d)
            if cause is not None and d.get("ignore_malformed") not in (True, "true"):
                return self._field_error(t, path, v, doc_id, cause)
        return None

    def _field_error(self, t, path, v, doc_id, cause):
        prev = v if not isinstance(v, (dict, list)) else java_map(v)
        if isinstance(prev, bool):
            prev = "true" if prev else "false"
        return err_obj("mapper_parsing_exception",
                       "failed to parse field [%s] of type [%s] in document with id '%s'. Preview of "
                       "field's value: '%s'" % (path, t, doc_id, prev), caused_by=cause)

    def _dynamic_def(self, path, name, v):
        sample = v
        if isinstance(v, list):
            sample = next((x for x in v if x is not None), None)
            if sample is None:
                return None
        if isinstance(sample, bool):
            mtype = "boolean"
        elif isinstance(sample, int):
            mtype = "long"
        elif isinstance(sample, float):
            mtype = "float"
        elif isinstance(sample, dict):
            mtype = "object"
        elif isinstance(sample, str):
            mtype = "string"
            if self.mapping.get("date_detection", True) not in (False, "false") and \
                    any(r.match(sample) for r in DETECT_DATE_RES) and _valid_ymd(sample):
                mtype = "date"
            elif self.mapping.get("numeric_detection") in (True, "true"):
                try:
                    int(sample)
                    mtype = "long"
                except ValueError:
                    try:
                        float(sample)
                        mtype = "float"
                    except ValueError:
                        pass
        else:
            return None
        for tpl in self.mapping.get("dynamic_templates", []):
            (tname, spec), = tpl.items()
            mmt = spec.get("match_mapping_type")
            if mmt and mmt != "*" and mmt != mtype and not (mmt == "double" and mtype == "float"):
                continue
            if "match" in spec and not fnmatch.fnmatchcase(name, spec["match"]):
                continue
            if "unmatch" in spec and fnmatch.fnmatchcase(name, spec["unmatch"]):
                continue
            if "path_match" in spec and not fnmatch.fnmatchcase(path, spec["path_match"]):
                continue
            if "path_unmatch" in spec and fnmatch.fnmatchcase(path, spec["path_unmatch"]):
                continue
            m = json.loads(json.dumps(spec.get("mapping", {})).replace("{name}", name).replace(
                "{dynamic_type}", "text" if mtype == "string" else mtype))
            if "type" not in m and mtype != "object":
                m["type"] = "text" if mtype == "string" else mtype
            return m
        if mtype == "string":
            return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
        if mtype == "object":
            return {"properties": {}}
        return {"type": mtype}

    def _add_dynamic(self, new):
        added = sum(1 + len(d.get("fields", {})) for d in new.values())
        limit = int(self.setting("mapping.total_fields.limit", "1000"))
        if self.nfields + added > limit:
            return err_obj("illegal_argument_exception",
                           "Limit of total fields [%d] has been exceeded while adding new fields [%d]"
                           % (limit, added))
        for path in sorted(new, key=lambda p: p.count(".")):
            parts = path.split(".")
            props = self.mapping["properties"]
            for i, part in enumerate(parts[:-1]):
                sub = ".".join(parts[:i + 1])
                if sub not in self.flat and sub not in new:
                    props.setdefault(part, {"properties": {}})
                    self.flat[sub] = props[part]
                    self.nfields += 1
                props = props[part].setdefault("properties", {})
            d = new[path]
            props[parts[-1]] = d
            self.flat[path] = d
        self.nfields += added
        return None


# -- per-type value checks (return a caused_by object when the value is bad) --

def _check_int(v, d, t):
    if isinstance(v, bool):
        return err_obj("illegal_argument_exception",
                       "Current token (VALUE_%s) not numeric, can not use numeric value accessors"
                       % ("TRUE" if v else "FALSE"))
    lo, hi = INT_RANGES[t]
    if isinstance(v, int):
        if lo <= v <= hi:
            return None
        return err_obj("illegal_argument_exception", "Value [%s] is out of range for %s" % (v, t))
    if isinstance(v, float):
        if math.isfinite(v) and lo <= v <= hi:
            if d.get("coerce") in (False, "false") and v != int(v):
                return err_obj("illegal_argument_exception", "Value [%s] has a decimal part" % v)
            return None
        return err_obj("illegal_argument_exception", "Value [%s] is out of range for %s" % (v, t))
    s = str(v).strip()
    if d.get("coerce") in (False, "false"):
        return err_obj("illegal_argument_exception", "Cannot parse a string when coerce is false")
    try:
        n = float(s) if not re.match(r"^[+-]?\d+$", s) else int(s)
    except ValueError:
        return err_obj("illegal_argument_exception" if t == "long" else "number_format_exception",
                       'For input string: "%s"' % s)
    if isinstance(n, float) and not math.isfinite(n):
        return err_obj("number_format_exception", 'For input string: "%s"' % s)
    if not lo <= n <= hi:
        return err_obj("illegal_argument_exception", "Value [%s] is out of range for %s" % (s, t))
    return None


def _check_float(v, d):
    if isinstance(v, bool):
        return err_obj("illegal_argument_exception",
                       "Current token (VALUE_%s) not numeric, can not use numeric value accessors"
                       % ("TRUE" if v else "FALSE"))
    if isinstance(v, (int, float)):
        return None
    s = str(v).strip()
    try:
        f = float(s)
    except ValueError:
        return err_obj("number_format_exception", 'For input string: "%s"' % s)
    if not math.isfinite(f):
        return err_obj("illegal_argument_exception", "[float] supports only finite values, but got [%s]" % s)
    return None


def _check_bool(v, d):
    if isinstance(v, bool) or v in ("true", "false", ""):
        return None
    return err_obj("illegal_argument_exception",
                   "Failed to parse value [%s] as only [true] or [false] are allowed." % v)


def _check_date(v, d):
    if isinstance(v, bool):
        return err_obj("illegal_argument_exception", "failed to parse date field [%s]" % v)
    fmt = d.get("format", "strict_date_optional_time||epoch_millis")
    if isinstance(v, (int, float)) and "epoch_" in fmt:
        return None
    if date_checker(fmt)(str(v)):
        return None
    return err_obj("illegal_argument_exception",
                   "failed to parse date field [%s] with format [%s]" % (v, fmt),
                   caused_by=err_obj("date_time_parse_exception",
                                     "Failed to parse with all enclosed parsers"))


IP_RE = re.compile(r"^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-fA-F:]+(%\w+)?$")


def _check_ip(v, d):
    s = str(v)
    if IP_RE.match(s) and (":" in s or all(int(p) < 256 for p in s.split("."))):
        return None
    return err_obj("illegal_argument_exception", "'%s' is not an IP string literal." % s)


def _check_binary(v, d):
    try:
        base64.b64decode(str(v), validate=True)
        return None
    except ValueError:
        return err_obj("illegal_argument_exception", "Illegal base64 character")


VALUE_CHECKS = {
    "long": lambda v, d: None if type(v) is int and LONG_MIN <= v <= LONG_MAX else _check_int(v, d, "long"),
    "integer": lambda v, d: _check_int(v, d, "integer"),
    "short": lambda v, d: _check_int(v, d, "short"),
    "byte": lambda v, d: _check_int(v, d, "byte"),
    "unsigned_long": lambda v, d: _check_int(v, d, "unsigned_long"),
    "double": lambda v, d: None if type(v) in (int, float) else _check_float(v, d),
    "float": lambda v, d: None if type(v) in (int, float) else _check_float(v, d),
    "half_float": lambda v, d: None if type(v) in (int, float) else _check_float(v, d),
    "scaled_float": lambda v, d: None if type(v) in (int, float) else _check_float(v, d),
    "boolean": _check_bool,
    "date": lambda v, d: _check_date(v, d),
    "date_nanos": lambda v, d: _check_date(v, d),
    "ip": _check_ip,
    "binary": _check_binary,
}
