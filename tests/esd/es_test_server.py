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


BUILTIN_ANALYZERS = {
    "default", "standard", "simple", "whitespace", "stop", "keyword", "pattern", "fingerprint",
    "arabic", "armenian", "basque", "bengali", "brazilian", "bulgarian", "catalan", "cjk", "czech",
    "danish", "dutch", "english", "estonian", "finnish", "french", "galician", "german", "greek",
    "hindi", "hungarian", "indonesian", "irish", "italian", "latvian", "lithuanian", "norwegian",
    "persian", "portuguese", "romanian", "russian", "sorani", "spanish", "swedish", "turkish", "thai",
}
BUILTIN_NORMALIZERS = {"lowercase"}


def check_analysis_refs(props, settings, type_name="_doc"):
    """Analyzers and normalizers a mapping names must be built in or defined in
    the index's analysis settings (flat {"index.analysis.analyzer.<name>...": v})."""
    def defined(kind):
        pre = "index.analysis.%s." % kind
        return {k[len(pre):].split(".", 1)[0] for k in settings if k.startswith(pre)}
    analyzers = BUILTIN_ANALYZERS | defined("analyzer")
    normalizers = BUILTIN_NORMALIZERS | defined("normalizer")
    for name, d in props.items():
        if not isinstance(d, dict):
            continue
        for p in ("analyzer", "search_analyzer", "search_quote_analyzer"):
            if p in d and d[p] not in analyzers:
                raise mapping_error("analyzer [%s] has not been configured in mappings" % d[p], type_name)
        if "normalizer" in d and d["normalizer"] not in normalizers:
            raise mapping_error("normalizer [%s] not found for field [%s]" % (d["normalizer"], name),
                                type_name)
        for sub in ("properties", "fields"):
            if isinstance(d.get(sub), dict):
                check_analysis_refs(d[sub], settings, type_name)


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
        key = (self.settings.get("index.number_of_replicas"), self.settings.get("index.auto_expand_replicas"))
        if getattr(self, "_shards_key", None) != key:
            self._shards_key, self._shards_total = key, 1 + self.replicas()
        return {"total": self._shards_total, "successful": 1, "failed": 0}

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
            if not prefix and k in METADATA_FIELDS:
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
            tv = type(v)  # fast path: value kinds every value of which the field type accepts
            if (tv is str and t in FAST_STR) or (tv is float and t in FAST_FLOAT) or (tv is bool and t in FAST_BOOL) \
                    or (tv is int and t in FAST_INT and LONG_MIN <= v <= LONG_MAX):
                continue
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


FAST_STR = {"text", "keyword", "match_only_text", "wildcard", "search_as_you_type", "completion"}
FAST_INT = {"long", "double", "float", "half_float", "scaled_float", "text", "keyword",
            "wildcard", "match_only_text"}
FAST_FLOAT = {"double", "float", "half_float", "scaled_float", "text", "keyword", "wildcard",
              "match_only_text"}
FAST_BOOL = {"boolean", "text", "keyword", "wildcard", "match_only_text"}

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


# --------------------------------------------------------------------------
# Search helpers
# --------------------------------------------------------------------------

TOKEN_RE = re.compile(r"\w+", re.UNICODE)
MISSING_SENTINELS = {LONG_MAX, LONG_MIN, 1.7976931348623157e308, -1.7976931348623157e308}


def get_values(src, path):
    """All values at dotted `path` in a source (arrays flattened, dotted keys honoured)."""
    out = []

    def walk(o, parts):
        if isinstance(o, list):
            for x in o:
                walk(x, parts)
            return
        if not parts:
            if o is not None:
                out.append(o)
            return
        if not isinstance(o, dict):
            return
        for i in range(len(parts), 0, -1):
            key = ".".join(parts[:i])
            if key in o:
                walk(o[key], parts[i:])
    walk(src, path.split("."))
    return out


def field_values(idx, src, path):
    t, d = idx.field_type(path)
    if d is not None and "_parent" in d:
        vals = get_values(src, d["_parent"])
        if t == "keyword":
            lim = int(d.get("ignore_above", 1 << 31))
            vals = [v for v in vals if len(scalar_str(v)) <= lim]
        return t, vals
    return t, get_values(src, path)


def scalar_str(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def typed_value(t, v):
    """Convert a source value to the comparable value ES would use for `t`."""
    if t in INT_RANGES or t in FLOAT_TYPES:
        try:
            f = float(v) if not isinstance(v, bool) else None
        except (TypeError, ValueError):
            return None
        if f is None:
            return None
        return int(f) if t in INT_RANGES else f
    if t in ("date", "date_nanos"):
        return to_epoch_millis(v)
    if t == "boolean":
        return 1 if v in (True, "true") else 0
    return scalar_str(v)


class Query:
    """A compiled query: `match(idx, doc_id, src)`; `needs_source` avoids parsing when not needed."""

    def __init__(self, q):
        q = q if q is not None else {"match_all": {}}
        self.needs_source = not (isinstance(q, dict) and len(q) == 1 and
                                 next(iter(q)) in ("match_all", "match_none", "ids"))
        self.fn = self.compile(q)

    def compile(self, q):
        if not isinstance(q, dict) or len(q) != 1:
            raise ESError(400, "parsing_exception", "[_na] query malformed, must start with start_object"
                          if not isinstance(q, dict) else
                          "[%s] malformed query, expected [END_OBJECT] but found [FIELD_NAME]"
                          % (next(iter(q)) if q else "_na"))
        (kind, body), = q.items()
        if kind == "match_all":
            return lambda idx, i, s: True
        if kind == "match_none":
            return lambda idx, i, s: False
        if kind == "ids":
            vals = set(str(v) for v in body.get("values", []))
            return lambda idx, i, s: i in vals
        if kind in ("term", "terms"):
            body = dict(body)
            body.pop("boost", None)
            if len(body) != 1:
                raise ESError(400, "parsing_exception", "[%s] query doesn't support multiple fields" % kind)
            (field, spec), = body.items()
            if kind == "term":
                vals = [spec.get("value") if isinstance(spec, dict) else spec]
            else:
                if not isinstance(spec, list):
                    raise ESError(400, "parsing_exception", "[terms] query does not support [%s]" % field)
                vals = spec
            return lambda idx, i, s: term_match(idx, i, s, field, vals)
        if kind == "exists":
            f = body.get("field")
            return lambda idx, i, s: bool(field_values(idx, s, f)[1])
        if kind == "range":
            (field, spec), = body.items()
            return lambda idx, i, s: range_match(idx, s, field, spec)
        if kind == "match":
            (field, spec), = body.items()
            text = spec.get("query") if isinstance(spec, dict) else spec
            op = (spec.get("operator", "or") if isinstance(spec, dict) else "or").lower()
            return lambda idx, i, s: match_match(idx, s, field, text, op)
        if kind == "bool":
            def subs(key):
                v = body.get(key, [])
                return [self.compile(x) for x in (v if isinstance(v, list) else [v])]
            must, flt, should, must_not = subs("must"), subs("filter"), subs("should"), subs("must_not")
            msm = body.get("minimum_should_match", 1 if should and not (must or flt) else 0)
            msm = int(str(msm).rstrip("%")) if not str(msm).endswith("%") else \
                math.floor(len(should) * int(str(msm)[:-1]) / 100)

            def fn(idx, i, s):
                return all(f(idx, i, s) for f in must + flt) and not any(f(idx, i, s) for f in must_not) \
                    and sum(1 for f in should if f(idx, i, s)) >= msm
            return fn
        raise ESError(400, "parsing_exception", "unknown query [%s]" % kind,
                      caused_by=err_obj("named_object_not_found_exception",
                                        "[1:%d] unknown field [%s]" % (12 + len(kind), kind)))


def term_match(idx, doc_id, src, field, vals):
    if field == "_id":
        return doc_id in [str(v) for v in vals]
    if field == "_index":
        return idx.name in [str(v) for v in vals]
    t, have = field_values(idx, src, field)
    if t is None:
        return False
    if t in ("text", "match_only_text"):
        toks = set(tok for v in have for tok in TOKEN_RE.findall(scalar_str(v).lower()))
        return any(scalar_str(v) in toks for v in vals)
    hv = set(typed_value(t, v) for v in have)
    return any(typed_value(t, v) in hv for v in vals)


def range_match(idx, src, field, spec):
    t, have = field_values(idx, src, field)
    if t is None:
        return False
    for v in have:
        tv = typed_value(t, v)
        if tv is None:
            continue
        ok = True
        for op, bound in spec.items():
            if op not in ("gt", "gte", "lt", "lte"):
                continue
            b = typed_value(t, bound)
            if b is None:
                continue
            ok = ok and {"gt": tv > b, "gte": tv >= b, "lt": tv < b, "lte": tv <= b}[op]
        if ok:
            return True
    return False


def match_match(idx, src, field, text, op):
    t, have = field_values(idx, src, field)
    if t is None:
        return False
    if t not in ("text", "match_only_text"):
        return term_match(idx, "", src, field, [text])
    toks = set(tok for v in have for tok in TOKEN_RE.findall(scalar_str(v).lower()))
    want = TOKEN_RE.findall(scalar_str(text).lower())
    return bool(want) and (all if op == "and" else any)(w in toks for w in want)


def filter_source(src, spec):
    """Apply _source includes/excludes (top-level and dotted paths, * wildcards)."""
    if spec is True or spec is None:
        return src
    if spec is False:
        return None
    if isinstance(spec, str):
        spec = {"includes": [spec]}
    elif isinstance(spec, list):
        spec = {"includes": spec}
    inc = spec.get("includes", spec.get("include", []))
    exc = spec.get("excludes", spec.get("exclude", []))
    inc = [inc] if isinstance(inc, str) else inc
    exc = [exc] if isinstance(exc, str) else exc

    def walk(o, prefix):
        out = {}
        for k, v in o.items():
            p = prefix + k
            if any(fnmatch.fnmatchcase(p, e) for e in exc):
                continue
            full = not inc or any(fnmatch.fnmatchcase(p, i) for i in inc)
            if full:
                out[k] = v
            elif isinstance(v, dict) and any(i.startswith(p + ".") or i.startswith("*") for i in inc):
                sub = walk(v, p + ".")
                if sub:
                    out[k] = sub
        return out
    return walk(src, "")


# -- filter_path ---------------------------------------------------------------

_MISSING = object()


def _advance(pat, key):
    if not pat:
        return []
    if pat[0] == "**":
        return [pat] + _advance(pat[1:], key)
    return [pat[1:]] if fnmatch.fnmatchcase(key, pat[0]) else []


def _full(pats):
    return any(all(p == "**" for p in pat) for pat in pats)


def _include(o, pats):
    if _full(pats):
        return o
    if isinstance(o, dict):
        r = {}
        for k, v in o.items():
            nxt = [q for p in pats for q in _advance(p, k)]
            if nxt:
                fv = _include(v, nxt)
                if fv is not _MISSING:
                    r[k] = fv
        return r if r else _MISSING
    if isinstance(o, list):
        r = [x for x in (_include(x, pats) for x in o) if x is not _MISSING]
        return r if r else _MISSING
    return _MISSING


def _exclude(o, pats):
    if _full(pats):
        return _MISSING
    if isinstance(o, dict):
        r = {}
        for k, v in o.items():
            nxt = [q for p in pats for q in _advance(p, k)]
            fv = _exclude(v, nxt) if nxt else v
            if fv is not _MISSING:
                r[k] = fv
        return r
    if isinstance(o, list):
        return [x for x in (_exclude(x, pats) for x in o) if x is not _MISSING]
    return o


def apply_filter_path(obj, spec):
    """ES `filter_path`: comma list of dotted patterns, `*`/`**` wildcards, `-` excludes."""
    pats = [p.strip() for p in spec.split(",") if p.strip()]
    inc = [p.split(".") for p in pats if not p.startswith("-")]
    exc = [p[1:].split(".") for p in pats if p.startswith("-")]
    if inc:
        obj = _include(obj, inc)
        if obj is _MISSING:
            return {}
    if exc:
        obj = _exclude(obj, exc)
        if obj is _MISSING:
            return {}
    return obj


# --------------------------------------------------------------------------
# The cluster state and the ES operations
# --------------------------------------------------------------------------

BULK_META = {"_index", "_id", "routing", "version", "version_type", "if_seq_no", "if_primary_term",
             "pipeline", "require_alias", "retry_on_conflict", "_source", "dynamic_templates",
             "_type"}
UPDATE_KEYS = {"doc", "upsert", "doc_as_upsert", "script", "scripted_upsert", "detect_noop", "_source"}
SEARCH_KEYS = {"query", "size", "from", "sort", "search_after", "_source", "track_total_hits", "pit",
               "timeout", "track_scores", "version", "seq_no_primary_term", "stored_fields",
               "docvalue_fields", "aggs", "aggregations", "highlight", "explain", "min_score",
               "post_filter", "collapse", "slice", "terminate_after", "profile", "fields",
               "runtime_mappings", "indices_boost", "rescore", "suggest", "script_fields", "stats", "ext"}
SEARCH_IMPLEMENTED = {"query", "size", "from", "sort", "search_after", "_source", "track_total_hits",
                      "pit", "timeout", "track_scores", "version", "seq_no_primary_term", "stored_fields"}


def new_id():
    return base64.urlsafe_b64encode(os.urandom(15)).decode()


def deep_merge(base, upd):
    out = dict(base)
    for k, v in upd.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


class SortKey:
    """Comparison wrapper implementing ES sort order (missing values _last by default)."""
    __slots__ = ("vals", "specs", "tie")

    def __init__(self, vals, specs, tie=()):
        self.vals, self.specs, self.tie = vals, specs, tie

    def cmp(self, other):
        for a, b, sp in zip(self.vals, other.vals, self.specs):
            if a == b:
                continue
            first = sp["missing"] == "_first"
            if a is None:
                return -1 if first else 1
            if b is None:
                return 1 if first else -1
            try:
                c = -1 if a < b else 1
            except TypeError:
                c = -1 if str(a) < str(b) else 1
            return -c if sp["order"] == "desc" else c
        if self.tie and other.tie:
            return (self.tie > other.tie) - (self.tie < other.tie)
        return 0

    def __lt__(self, other):
        return self.cmp(other) < 0


class Store:
    def __init__(self, flavor):
        self.flavor = flavor
        self.lock = threading.RLock()
        self.indices = {}
        self.pits, self.scrolls = {}, {}
        self.sort_cache = {}
        self.templates = {}  # legacy index templates: name -> stored body

    @property
    def fl(self):
        return FLAVORS[self.flavor]

    # -- resolution -------------------------------------------------------------
    def aliases(self):
        out = {}
        for idx in self.indices.values():
            for a, props in idx.aliases.items():
                out.setdefault(a, []).append((idx, props))
        return out

    def resolve(self, expr, ignore_unavailable=False, allow_no_indices=True, aliases_ok=True):
        """Resolve an index expression (names, aliases, wildcards, commas, _all) to indices."""
        if expr in (None, "", "_all", "*"):
            return [self.indices[n] for n in sorted(self.indices)]
        out, als = [], self.aliases()
        for part in expr.split(","):
            if part.startswith("-") and out:
                out = [i for i in out if not fnmatch.fnmatchcase(i.name, part[1:])]
                continue
            if "*" in part:
                out += [self.indices[n] for n in sorted(self.indices) if fnmatch.fnmatchcase(n, part)]
                if aliases_ok:
                    for a in sorted(als):
                        if fnmatch.fnmatchcase(a, part):
                            out += [i for i, _ in als[a]]
            elif part in self.indices:
                out.append(self.indices[part])
            elif aliases_ok and part in als:
                out += [i for i, _ in als[part]]
            elif not ignore_unavailable:
                raise index_not_found(part)
        seen, res = set(), []
        for i in out:
            if i.name not in seen:
                seen.add(i.name)
                res.append(i)
        if not res and not allow_no_indices:
            raise index_not_found(expr)
        return res

    def get_index(self, name):
        idx = self.indices.get(name)
        if idx is None:
            raise index_not_found(name)
        return idx

    # -- index lifecycle ----------------------------------------------------------
    def create_index(self, name, body, auto=False):
        check_index_name(name)
        if name in self.aliases():
            raise ESError(400, "invalid_index_name_exception",
                          "Invalid index name [%s], already exists as alias" % name,
                          index_uuid="_na_", index=name)
        if name in self.indices:
            ex = self.indices[name]
            raise ESError(400, "resource_already_exists_exception",
                          "index [%s/%s] already exists" % (name, ex.uuid), index_uuid=ex.uuid, index=name)
        body = body or {}
        for k in body:
            if k not in ("settings", "mappings", "aliases"):
                raise ESError(400, "parse_exception", "unknown key [%s] for create index" % k)
        body = self.apply_templates(name, body)
        settings = normalize_settings(body.get("settings", {}))
        validate_settings(settings)
        mappings = body.get("mappings", {}) or {}
        if not isinstance(mappings, dict):
            raise mapping_error("Expected map for mappings but got %s" % java_map(mappings))
        doc_type, root = ("_doc" if self.flavor != "es6" else None), {}
        if self.flavor == "es6":
            if len(mappings) > 1:
                raise illegal("Rejecting mapping update to [%s] as the final mapping would have more than "
                              "1 type: [%s]" % (name, ", ".join(sorted(mappings))))
            if mappings:
                (doc_type, root), = mappings.items()
                validate_root_mapping(root, self.flavor, doc_type)
        elif mappings:
            root = mappings
            if "_doc" in root and len(root) == 1 and isinstance(root["_doc"], dict) and self.flavor == "es7":
                pass  # ES 7 still accepts the `_doc` type name in create-index bodies
            validate_root_mapping(root if not ("_doc" in root and len(root) == 1) else root["_doc"],
                                  self.flavor)
            if "_doc" in root and len(root) == 1:
                if self.flavor != "es7":
                    validate_root_mapping(root, self.flavor)
                root = root["_doc"]
        aliases = body.get("aliases", {}) or {}
        for a in aliases:
            self._check_alias_name(a, name)
        check_analysis_refs(root.get("properties", {}) if isinstance(root, dict) else {}, settings,
                            doc_type or "_doc")
        idx = Index(self, name, settings, json.loads(json.dumps(root)), doc_type)
        if count_fields(idx.mapping["properties"]) > int(idx.setting("mapping.total_fields.limit", "1000")):
            raise illegal("Limit of total fields [%s] has been exceeded" % idx.setting(
                "mapping.total_fields.limit", "1000"))
        for a, props in aliases.items():
            idx.aliases[a] = props or {}
        self.indices[name] = idx
        return idx

    # -- legacy index templates (_template) -----------------------------------------
    def matching_templates(self, name):
        """Templates whose index_patterns match name, lowest order first (applied first)."""
        hits = [(t.get("order", 0), n, t) for n, t in self.templates.items()
                if any(fnmatch.fnmatchcase(name, p) for p in t["index_patterns"])]
        return [t for _, _, t in sorted(hits, key=lambda h: (h[0], h[1]))]

    def apply_templates(self, name, body):
        """The create body with the matching templates merged under it, as ES does:
        settings and aliases by key, root mapping keys and top-level properties by
        name; the request wins over templates, higher orders over lower."""
        tpls = self.matching_templates(name)
        if not tpls:
            return body
        settings, mappings, aliases, type_name = {}, {}, {}, None
        for t in tpls + [body]:
            settings.update(normalize_settings(t.get("settings", {}) or {}))
            m = t.get("mappings", {}) or {}
            if self.flavor == "es6" and isinstance(m, dict) and len(m) == 1:
                (tn, m), = m.items()  # typed: the one type's mapping
                type_name = tn if t is body else (type_name or tn)
            if not isinstance(m, dict) or (self.flavor == "es6" and len(m) > 1 and t is body):
                mappings = None  # left to create_index to refuse
                break
            for k, v in m.items():
                mappings[k] = dict(mappings.get(k, {}), **v) if k == "properties" else v
            aliases.update(t.get("aliases", {}) or {})
        if mappings is None:
            mappings = body.get("mappings")
        elif self.flavor == "es6" and mappings:
            mappings = {type_name or "_doc": mappings}
        out = {"settings": settings}
        if mappings:
            out["mappings"] = mappings
        if aliases:
            out["aliases"] = aliases
        return json.loads(json.dumps(out))

    def put_template(self, name, body, create=False):
        if name != name.lower():
            raise ESError(400, "invalid_index_template_exception",
                          "index_template [%s] invalid, cause [name must be lower cased]" % name)
        if create and name in self.templates:
            raise illegal("index_template [%s] already exists" % name)
        for k in body:
            if k not in ("index_patterns", "template", "order", "version", "settings", "mappings",
                         "aliases"):
                raise ESError(400, "illegal_argument_exception", "unknown key [%s] in the template " % k)
        pats = body.get("index_patterns", body.get("template") if self.flavor == "es6" else None)
        if isinstance(pats, str):
            pats = [pats]
        if not pats:
            raise validation_failed(["index patterns are missing"])
        settings = normalize_settings(body.get("settings", {}) or {})
        validate_settings(settings)
        mappings = body.get("mappings", {}) or {}
        if not isinstance(mappings, dict):
            raise mapping_error("Expected map for mappings but got %s" % java_map(mappings))
        if mappings and self.flavor != "es6":
            validate_root_mapping(mappings, self.flavor)
        aliases = body.get("aliases", {}) or {}
        for a in aliases:
            self._check_alias_name(a)
        t = {"order": int(body.get("order", 0)), "index_patterns": list(pats),
             "settings": settings, "mappings": json.loads(json.dumps(mappings)),
             "aliases": json.loads(json.dumps(aliases))}
        if "version" in body:
            t["version"] = int(body["version"])
        self.templates[name] = t

    def template_view(self, t):
        out = {"order": t["order"]}
        if "version" in t:
            out["version"] = t["version"]
        tree = {}
        for k, v in sorted(t["settings"].items()):
            node = tree
            parts = k.split(".")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = v
        out.update({"index_patterns": t["index_patterns"], "settings": tree,
                    "mappings": t["mappings"], "aliases": t["aliases"]})
        return out

    def get_templates(self, names):
        """GET _template[/names]: a missing exact name is a 404 with an empty body."""
        if names is None:
            return 200, {n: self.template_view(t) for n, t in sorted(self.templates.items())}
        out, missing = {}, False
        for n in names.split(","):
            hits = [k for k in self.templates if fnmatch.fnmatchcase(k, n)]
            if not hits and "*" not in n:
                missing = True
            for k in hits:
                out[k] = self.template_view(self.templates[k])
        return (404 if missing and not out else 200), out

    def delete_template(self, names):
        hits = [k for n in names.split(",") for k in self.templates if fnmatch.fnmatchcase(k, n)]
        if not hits:
            raise ESError(404, "index_template_missing_exception", "index_template [%s] missing" % names)
        for k in set(hits):
            del self.templates[k]

    def delete_index(self, expr):
        if self.flavor == "es8" and ("*" in expr or expr in ("_all",)):
            raise illegal("Wildcard expressions or all indices are not allowed")
        als = self.aliases()
        for part in expr.split(","):
            if part in als and part not in self.indices:
                raise illegal("The provided expression [%s] matches an alias, specify the corresponding "
                              "concrete indices instead." % part)
        for idx in self.resolve(expr, aliases_ok=False):
            del self.indices[idx.name]
        self.sort_cache.clear()

    def _check_alias_name(self, alias, index_name=None):
        p = name_problem(alias)
        if p:
            raise ESError(400, "invalid_alias_name_exception", "Invalid alias name [%s]: %s" % (alias, p))
        if alias in self.indices or alias == index_name:
            raise ESError(400, "invalid_alias_name_exception",
                          "Invalid alias name [%s]: an index or data stream exists with the same name as "
                          "the alias" % alias)

    def update_aliases(self, body):
        acts = body.get("actions")
        if not isinstance(acts, list) or not acts:
            raise validation_failed(["no action specified"])
        plan = []
        for a in acts:
            if not isinstance(a, dict) or len(a) != 1:
                raise ESError(400, "parsing_exception", "Expected a single action per object")
            (kind, spec), = a.items()
            if kind not in ("add", "remove", "remove_index"):
                raise ESError(400, "x_content_parse_exception",
                              "[1:%d] [alias_action] unknown field [%s]" % (len(kind) + 3, kind))
            names = spec.get("indices", [spec["index"]] if "index" in spec else [])
            names = [names] if isinstance(names, str) else names
            alias_names = spec.get("aliases", [spec["alias"]] if "alias" in spec else [])
            alias_names = [alias_names] if isinstance(alias_names, str) else alias_names
            if not names:
                raise validation_failed(["One of [index] or [indices] is required"])
            if kind != "remove_index" and not alias_names:
                raise validation_failed(["One of [alias] or [aliases] is required"])
            targets = []
            for n in names:
                targets += self.resolve(n, allow_no_indices=False, aliases_ok=False)
            props = {k: v for k, v in spec.items() if k in ("filter", "routing", "index_routing",
                                                            "search_routing", "is_write_index",
                                                            "is_hidden")}
            for al in alias_names:
                if kind == "add":
                    self._check_alias_name(al)
                elif kind == "remove":
                    if not any(al in t.aliases or ("*" in al and any(
                            fnmatch.fnmatchcase(x, al) for x in t.aliases)) for t in targets):
                        if spec.get("must_exist", True) is not False:
                            raise ESError(404, "aliases_not_found_exception", "aliases [%s] missing" % al,
                                          **{"resource.type": "aliases", "resource.id": al})
            plan.append((kind, targets, alias_names, props))
        for kind, targets, alias_names, props in plan:
            for t in targets:
                if kind == "remove_index":
                    self.indices.pop(t.name, None)
                for al in alias_names:
                    if kind == "add":
                        t.aliases[al] = props
                    elif kind == "remove":
                        for x in [x for x in t.aliases if fnmatch.fnmatchcase(x, al)]:
                            del t.aliases[x]
        return {"acknowledged": True}

    def update_settings(self, idxs, body):
        raw = body.get("settings", body) if isinstance(body, dict) else body
        flat = normalize_settings(raw)
        validate_settings(flat)
        static = [k for k in flat if k[6:] in STATIC_SETTINGS or k[6:].startswith(("analysis.", "sort."))]
        if static:
            raise illegal("Can't update non dynamic settings [[%s]] for open indices [%s]" % (
                ", ".join(sorted(static)), ", ".join("[%s/%s]" % (i.name, i.uuid) for i in idxs)))
        sys_keys = [k for k in flat if k[6:] in SYSTEM_SETTINGS]
        if sys_keys:
            raise illegal("final %s setting [%s], not updateable" % (idxs[0].name if idxs else "", sys_keys[0]))
        for i in idxs:
            for k, v in flat.items():
                if v is None:
                    i.settings.pop(k, None)
                else:
                    i.settings[k] = v
        return {"acknowledged": True}

    def put_mapping(self, idxs, body, type_name=None):
        if self.flavor == "es6":
            if type_name is None:
                if len(body) == 1 and isinstance(next(iter(body.values())), dict) and \
                        next(iter(body)) not in ROOT_MAPPING_PARAMS:
                    (type_name, body), = body.items()
                else:
                    raise validation_failed(["mapping type is missing"])
        validate_root_mapping(body, self.flavor, type_name or "_doc")
        for i in idxs:
            if self.flavor == "es6" and i.doc_type not in (None, type_name):
                raise illegal("Rejecting mapping update to [%s] as the final mapping would have more than 1 "
                              "type: [%s, %s]" % (i.name, i.doc_type, type_name))
        for i in idxs:
            check_analysis_refs(body.get("properties", {}), i.settings, type_name or "_doc")
        for i in idxs:
            merge_mapping(i.mapping["properties"], body.get("properties", {}))
            for k, v in body.items():
                if k != "properties":
                    i.mapping[k] = v
            if self.flavor == "es6":
                i.doc_type = type_name
            i.rebuild_flat()
        return {"acknowledged": True}

    def mapping_view(self, idx):
        m = {k: v for k, v in idx.mapping.items() if not (k == "properties" and not v)}
        if self.flavor == "es6":
            return {idx.doc_type: m} if idx.doc_type else {}
        return m

    def settings_view(self, idx):
        tree = {}
        for k, v in sorted(idx.settings.items()):
            node = tree
            parts = k.split(".")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
                if not isinstance(node, dict):
                    break
            else:
                node[parts[-1]] = v
        return tree

    # -- bulk ------------------------------------------------------------------------
    def parse_bulk(self, body, path_index, path_type, require_alias_default):
        """Parse a bulk body into ops; whole-request errors raise ESError like ES."""
        lines = body.split(b"\n")
        n = len(lines) - 1  # body ends with \n, so the last element is empty
        ops, invalid, i = [], [], 0
        types_mode = self.fl["types"]
        while i < n:
            line = lines[i]
            i += 1
            lineno = i
            if not line.strip():
                continue
            try:
                a = jloads(line)
            except UnicodeDecodeError as e:
                raise ESError(400, "json_parse_exception", "Invalid UTF-8 start byte: %s" % e)
            except ValueError as e:
                raise ESError(400, "x_content_parse_exception" if "Duplicate" in str(e) else "json_parse_exception",
                              "[%d:1] %s" % (lineno, e) if "Duplicate" not in str(e) else
                              "[%d:1] Duplicate field '%s'" % (lineno, str(e).split("'")[1]))
            if not isinstance(a, dict) or len(a) != 1:
                raise illegal("Malformed action/metadata line [%d], expected FIELD_NAME but found [%s]" % (
                    lineno, "END_OBJECT" if a == {} else "START_ARRAY" if isinstance(a, list) else "VALUE"))
            (act, meta), = a.items()
            if act not in ("index", "create", "update", "delete"):
                raise illegal("Malformed action/metadata line [%d], expected one of [create, delete, index, "
                              "update] but found [%s]" % (lineno, act))
            if not isinstance(meta, dict):
                raise illegal("Malformed action/metadata line [%d], expected START_OBJECT but found [%s]" % (
                    lineno, "VALUE_STRING" if isinstance(meta, str) else "START_ARRAY"
                    if isinstance(meta, list) else "VALUE_NUMBER"))
            for k, v in meta.items():
                if k not in BULK_META or (k == "_type" and types_mode == "removed") or \
                        (k == "retry_on_conflict" and act != "update") or \
                        (k == "_source" and act != "update") or (k == "dynamic_templates" and self.flavor != "es8"):
                    raise illegal("Action/metadata line [%d] contains an unknown parameter [%s]" % (lineno, k))
                if isinstance(v, (dict, list)) and k != "_source" and k != "dynamic_templates":
                    raise illegal("Malformed action/metadata line [%d], expected a simple value for field [%s] "
                                  "but found [%s]" % (lineno, k, "START_OBJECT" if isinstance(v, dict) else
                                                      "START_ARRAY"))
            index = meta.get("_index", path_index)
            dtype = meta.get("_type", path_type)
            doc_id = meta.get("_id")
            doc_id = None if doc_id is None else scalar_str(doc_id)
            payload, item_err, src = None, None, None
            if act != "delete":
                if i >= n:
                    break  # ES ignores a trailing action line without its source
                src = lines[i]
                i += 1
                if not src.strip():
                    invalid.append("source is missing" if act != "update" else "script or doc is missing")
                    continue
                try:
                    payload = jloads(src)
                except (ValueError, UnicodeDecodeError) as e:
                    if act == "update":
                        raise ESError(400, "x_content_parse_exception", "[%d:1] %s" % (i, e))
                    item_err = err_obj("mapper_parsing_exception", "failed to parse",
                                       caused_by=err_obj("json_parse_exception", str(e)))
                if item_err is None and not isinstance(payload, dict):
                    if act == "update":
                        raise ESError(400, "x_content_parse_exception",
                                      "[%d:1] [UpdateRequest] Expected START_OBJECT" % i)
                    item_err = err_obj("mapper_parsing_exception", "failed to parse",
                                       caused_by=err_obj("not_x_content_exception",
                                                         "Compressor detection can only be called on some "
                                                         "xcontent bytes or compressed xcontent bytes"))
                if act == "update" and item_err is None:
                    for k in payload:
                        if k not in UPDATE_KEYS:
                            raise ESError(400, "x_content_parse_exception",
                                          "[1:2] [UpdateRequest] unknown field [%s]" % k)
                    if "doc" not in payload and "script" not in payload:
                        invalid.append("script or doc is missing")
                    if "doc" in payload and not isinstance(payload["doc"], dict):
                        raise ESError(400, "x_content_parse_exception",
                                      "[1:8] [UpdateRequest] doc doesn't support values of type: VALUE_STRING")
            if not index:
                invalid.append("index is missing")
            if types_mode == "required" and not dtype:
                invalid.append("type is missing")
            if act in ("update", "delete") and doc_id is None:
                invalid.append("id is missing")
            if doc_id is not None and len(doc_id.encode("utf-8")) > MAX_ID_BYTES:
                invalid.append("id [%s] is too long, must be no longer than 512 bytes but was: %d" % (
                    doc_id, len(doc_id.encode("utf-8"))))
            if doc_id == "" and act != "delete":
                invalid.append("if _id is specified it must not be empty")
            ra = meta.get("require_alias", require_alias_default)
            ops.append((act, index, dtype, doc_id, meta, payload, item_err, ra in (True, "true"), src))
        if not ops and not invalid:
            invalid.append("no requests added")
        if invalid:
            raise validation_failed(invalid)
        return ops

    def write_target(self, name, require_alias):
        """Resolve the index a bulk item writes to (aliases, auto-create). Returns (Index, err)."""
        idx = self.indices.get(name)
        if idx is not None:
            if require_alias:
                return None, dict(index_not_found(name, " and [require_alias] request flag is [true] and [%s] "
                                                  "is not an alias" % name).obj(), status=404)
            return idx, None
        als = self.aliases().get(name)
        if als:
            if len(als) == 1 and als[0][1].get("is_write_index") is not False:
                return als[0][0], None
            w = [i for i, p in als if p.get("is_write_index") is True]
            if w:
                return w[0], None
            return None, dict(err_obj(
                "illegal_argument_exception",
                "no write index is defined for alias [%s]. The write index may be explicitly disabled using "
                "is_write_index=false or the alias points to multiple indices without one being designated "
                "as a write index" % name), status=400)
        if require_alias:
            return None, dict(index_not_found(name, " and [require_alias] request flag is [true] and [%s] "
                                              "is not an alias" % name).obj(), status=404)
        try:
            return self.create_index(name, {}, auto=True), None
        except ESError as e:
            return None, dict(e.obj(), status=e.status)

    def apply_ops(self, ops, reject):
        """Apply parsed ops under the lock. `reject(i)` says whether fault injection drops item i."""
        items, errors, touched = [], False, {}
        es6 = self.flavor == "es6"
        show_type = self.flavor in ("es6", "es7")
        with self.lock:
            for n, (act, index, dtype, doc_id, meta, payload, item_err, require_alias, src) in enumerate(ops):
                res = {"_index": index}
                if show_type:
                    res["_type"] = dtype or "_doc"
                if reject(n):
                    res.update(_id=doc_id, status=429, error=err_obj(
                        "es_rejected_execution_exception",
                        "rejected execution of primary operation [coordinating_and_primary_bytes=0, "
                        "replica_bytes=0, all_bytes=0] (fault injected by es_test_server)"))
                    items.append({act: res})
                    errors = True
                    continue
                idx, terr = self.write_target(index, require_alias)
                if idx is not None:
                    res["_index"] = idx.name
                if doc_id is None:
                    doc_id = new_id()
                res["_id"] = doc_id
                err = terr or (dict(item_err, status=400) if item_err else None)
                if err is None and es6 and dtype:
                    if idx.doc_type is None:
                        idx.doc_type = dtype
                    elif idx.doc_type != dtype:
                        err = dict(err_obj("illegal_argument_exception",
                                           "Rejecting mapping update to [%s] as the final mapping would have "
                                           "more than 1 type: [%s, %s]" % (idx.name, idx.doc_type, dtype)),
                                   status=400)
                if err is None:
                    err = self._apply_one(idx, act, doc_id, meta, payload, res, dtype, src)
                if err is not None:
                    status = err.pop("status")
                    res["status"] = status
                    res["error"] = err
                    errors = True
                else:
                    touched[idx.name] = idx
                items.append({act: res})
        return items, errors, touched

    def _conflict(self, idx, doc_id, reason, dtype):
        prefix = "[%s][%s]" % (dtype or idx.doc_type, doc_id) if self.flavor == "es6" else "[%s]" % doc_id
        return dict(err_obj("version_conflict_engine_exception", "%s: %s" % (prefix, reason),
                            index_uuid=idx.uuid, shard="0", index=idx.name), status=409)

    def _apply_one(self, idx, act, doc_id, meta, payload, res, dtype, src=None):
        cur = idx.docs.get(doc_id)
        if "if_seq_no" in meta or "if_primary_term" in meta:
            want_seq, want_term = int(meta.get("if_seq_no", -2)), int(meta.get("if_primary_term", 0))
            if cur is None:
                return self._conflict(idx, doc_id, "version conflict, required seqNo [%d], primary term [%d]. "
                                      "but no document was found" % (want_seq, want_term), dtype)
            if cur[2] != want_seq or want_term != 1:
                return self._conflict(idx, doc_id, "version conflict, required seqNo [%d], primary term [%d]. "
                                      "current document has seqNo [%d] and primary term [1]"
                                      % (want_seq, want_term, cur[2]), dtype)
        ext = meta.get("version_type") in ("external", "external_gte")
        if ext and cur is not None:
            v = int(meta.get("version", 0))
            if v < cur[1] or (v == cur[1] and meta["version_type"] == "external"):
                return self._conflict(idx, doc_id, "version conflict, current version [%d] is higher or equal "
                                      "to the one provided [%d]" % (cur[1], v), dtype)
        if act == "delete":
            idx.seq += 1
            if cur is None:
                res.update(_version=1, result="not_found", _shards=idx.shards_obj(), _seq_no=idx.seq,
                           _primary_term=1, status=404)
                return None
            del idx.docs[doc_id]
            idx.dirty = True
            res.update(_version=cur[1] + 1, result="deleted", _shards=idx.shards_obj(), _seq_no=idx.seq,
                       _primary_term=1, status=200)
            return None
        if act == "update":
            if "script" in payload:
                return dict(err_obj("illegal_argument_exception",
                                    "scripted updates are not supported by es_test_server (test double)"),
                            status=400)
            if cur is None:
                if payload.get("doc_as_upsert") in (True, "true"):
                    doc = payload["doc"]
                elif "upsert" in payload:
                    doc = payload["upsert"]
                else:
                    tp = "[%s][%s]" % (dtype or "_doc", doc_id) if self.flavor in ("es6", "es7") else \
                        "[%s]" % doc_id
                    return dict(err_obj("document_missing_exception", "%s: document missing" % tp,
                                        index_uuid=idx.uuid, shard="0", index=idx.name), status=404)
                act_src, created = doc, True
            else:
                old = json.loads(cur[0])
                act_src = deep_merge(old, payload["doc"])
                created = False
                if act_src == old and payload.get("detect_noop", True) not in (False, "false"):
                    res.update(_version=cur[1], result="noop",
                               _shards={"total": 0, "successful": 0, "failed": 0},
                               _seq_no=cur[2], _primary_term=1, status=200)
                    return None
            err = idx.check_source(act_src, doc_id)
            if err:
                return dict(err, status=400)
            raw = json.dumps(act_src, separators=(",", ":")).encode()
        else:
            if act == "create" and cur is not None:
                return self._conflict(idx, doc_id, "version conflict, document already exists (current version "
                                      "[%d])" % cur[1], dtype)
            err = idx.check_source(payload, doc_id)
            if err:
                return dict(err, status=400)
            raw = src.strip() if src is not None else json.dumps(payload, separators=(",", ":")).encode()
            created = cur is None
        idx.seq += 1
        version = int(meta["version"]) if ext else (1 if cur is None else cur[1] + 1)
        if cur is None:
            idx.ordinal += 1
            ordinal = idx.ordinal
        else:
            ordinal = cur[3]
        idx.docs[doc_id] = (raw, version, idx.seq, ordinal)
        idx.dirty = True
        res.update(_version=version, result="created" if created else "updated", _shards=idx.shards_obj(),
                   _seq_no=idx.seq, _primary_term=1, status=201 if created else 200)
        return None

    # -- search ------------------------------------------------------------------------
    def parse_sort(self, sort, idxs, pit):
        if sort is None:
            specs = []
        else:
            specs = []
            for s in (sort if isinstance(sort, list) else [sort]):
                if isinstance(s, str):
                    field, opts = s, {}
                    if ":" in s and not s.startswith("_"):
                        field, order = s.split(":", 1)
                        opts = {"order": order}
                elif isinstance(s, dict) and len(s) == 1:
                    (field, opts), = s.items()
                    opts = {"order": opts} if isinstance(opts, str) else dict(opts)
                else:
                    raise ESError(400, "parsing_exception", "malformed sort format, within the sort array, an "
                                  "object, or an actual string are allowed")
                order = str(opts.get("order", "desc" if field == "_score" else "asc")).lower()
                if order not in ("asc", "desc"):
                    raise illegal("Unknown SortOrder [%s]" % order)
                sp = {"field": field, "order": order, "missing": opts.get("missing", "_last"),
                      "unmapped_type": opts.get("unmapped_type")}
                if field not in ("_doc", "_score", "_id", "_shard_doc", "_index"):
                    types = [i.field_type(field)[0] for i in idxs]
                    t = next((x for x in types if x), None) or sp["unmapped_type"]
                    if t is None and idxs:
                        raise search_failure(ESError(400, "query_shard_exception",
                                                     "No mapping found for [%s] in order to sort on" % field,
                                                     index_uuid=idxs[0].uuid, index=idxs[0].name))
                    if t in ("text", "match_only_text"):
                        raise search_failure(illegal(
                            "Text fields are not optimised for operations that require per-document field data "
                            "like aggregations and sorting, so these operations are disabled by default. Please "
                            "use a keyword field instead. Alternatively, set fielddata=true on [%s] in order to "
                            "load field data by uninverting the inverted index. Note that this can use "
                            "significant memory." % field))
                    if t in ("object", "nested"):
                        raise search_failure(illegal("Fielddata is not supported on field [%s] of type [%s]"
                                                     % (field, t)))
                    sp["type"] = t
                if field == "_id" and self.flavor == "es8":
                    raise search_failure(illegal(
                        "Fielddata access on the _id field is disallowed, you can re-enable it by updating the "
                        "dynamic cluster setting: indices.id_field_data.enabled"))
                specs.append(sp)
        if pit and not any(s["field"] == "_shard_doc" for s in specs):
            specs.append({"field": "_shard_doc", "order": "asc", "missing": "_last", "implicit": True})
        return specs

    def run_query(self, idxs, body, snapshot=None):
        """Return matching (idx, id, record, parsed_source_or_None) from the visible documents."""
        q = Query(body.get("query"))
        out = []
        for pos, idx in enumerate(idxs):
            docs = snapshot[idx.name] if snapshot is not None else idx.visible
            if not q.needs_source:
                ids_only = body.get("query") and next(iter(body["query"])) == "ids"
                for doc_id, rec in docs.items():
                    if ids_only and not q.fn(idx, doc_id, None):
                        continue
                    if body.get("query") and next(iter(body["query"])) == "match_none":
                        break
                    out.append((pos, idx, doc_id, rec, None))
            else:
                for doc_id, rec in docs.items():
                    src = source_obj(rec)
                    if q.fn(idx, doc_id, src):
                        out.append((pos, idx, doc_id, rec, src))
        return out

    def sort_hits(self, hits, specs):
        if not specs:
            return hits, None
        keys = []
        for h in hits:
            pos, idx, doc_id, rec, src = h
            vals = []
            for sp in specs:
                f = sp["field"]
                if f == "_doc":
                    vals.append(rec[3])
                elif f == "_shard_doc":
                    vals.append((pos << 32) | rec[3])
                elif f == "_id":
                    vals.append(doc_id)
                elif f == "_index":
                    vals.append(idx.name)
                elif f == "_score":
                    vals.append(1.0)
                else:
                    if src is None:
                        src = source_obj(rec)
                    t, have = field_values(idx, src, f)
                    t = t or sp.get("type")
                    tv = [x for x in (typed_value(t, v) for v in have) if x is not None]
                    if sp["missing"] not in ("_last", "_first") and not tv:
                        tv = [typed_value(t, sp["missing"])]
                    vals.append((min(tv) if sp["order"] == "asc" else max(tv)) if tv else None)
            keys.append(SortKey(vals, specs, (pos, rec[3])))
        order = sorted(range(len(hits)), key=lambda k: keys[k])
        return [hits[k] for k in order], [keys[k] for k in order]

    def sort_value_out(self, v, sp):
        if v is not None:
            if sp.get("type") == "boolean":
                return v
            return v
        t = sp.get("type")
        if t in INT_RANGES or t in ("date", "date_nanos", "boolean"):
            return LONG_MAX if sp["order"] == "asc" else LONG_MIN
        if t in FLOAT_TYPES:
            return 1.7976931348623157e308 if sp["order"] == "asc" else -1.7976931348623157e308
        return None

    def search(self, idxs, body, params, pit_snapshot=None, pit_id=None, scroll=None):
        for k, v in body.items():
            if k not in SEARCH_KEYS:
                tok = "START_OBJECT" if isinstance(v, dict) else "START_ARRAY" if isinstance(v, list) else \
                    "VALUE_STRING" if isinstance(v, str) else "VALUE_BOOLEAN" if isinstance(v, bool) else \
                    "VALUE_NUMBER"
                raise ESError(400, "parsing_exception", "Unknown key for a %s in [%s]." % (tok, k))
            if k not in SEARCH_IMPLEMENTED:
                raise ESError(400, "illegal_argument_exception",
                              "search option [%s] is not implemented by es_test_server (a test double)" % k)
        size = int(params.get("size", body.get("size", 10)))
        frm = int(params.get("from", body.get("from", 0)))
        if size < 0:
            raise illegal("[size] parameter cannot be negative, found [%d]" % size)
        sort_spec = body.get("sort")
        if "sort" in params:
            sort_spec = params["sort"].split(",")
        specs = self.parse_sort(sort_spec, idxs, pit_id is not None)
        after = body.get("search_after")
        if after is not None:
            if not specs:
                raise illegal("Sort must contain at least one field.")
            if not isinstance(after, list) or len(after) != len(specs):
                raise illegal("search_after has %d value(s) but sort has %d." % (
                    len(after) if isinstance(after, list) else 1, len(specs)))
            if frm not in (0, -1):
                raise search_failure(illegal("`from` parameter must be set to 0 when `search_after` is used."))
        max_window = min([int(i.setting("max_result_window", "10000")) for i in idxs] or [10000])
        if scroll is None and frm + size > max_window:
            raise search_failure(illegal(
                "Result window is too large, from + size must be less than or equal to: [%d] but was [%d]. "
                "See the scroll api for a more efficient way to request large data sets. This limit can be set "
                "by changing the [index.max_result_window] index level setting." % (max_window, frm + size)))
        if pit_snapshot is None:
            for i in idxs:
                i.maybe_auto_refresh()
        ck = None
        if pit_snapshot is None and scroll is None:
            ck = (tuple((i.name, i.generation, id(i)) for i in idxs), json.dumps(body.get("query"), sort_keys=True),
                  json.dumps(specs, sort_keys=True, default=str))
        elif pit_id is not None:
            ck = (pit_id, json.dumps(body.get("query"), sort_keys=True), json.dumps(specs, sort_keys=True))
        cached = self.sort_cache.get(ck) if ck else None
        if cached is None:
            hits = self.run_query(idxs, body, pit_snapshot)
            hits, keys = self.sort_hits(hits, specs)
            if ck:
                if len(self.sort_cache) > 16:
                    self.sort_cache.clear()
                self.sort_cache[ck] = (hits, keys)
        else:
            hits, keys = cached
        total = len(hits)
        start = frm
        if after is not None:
            avals = []
            for v, sp in zip(after, specs):
                if v in MISSING_SENTINELS and sp.get("type"):
                    avals.append(None)
                elif sp["field"] in ("_doc", "_shard_doc"):
                    avals.append(int(v))
                elif sp.get("type"):
                    avals.append(typed_value(sp["type"], v))
                else:
                    avals.append(v)
            ak = SortKey(avals, specs)
            start = bisect.bisect_right(keys, ak)
        if scroll is not None:
            return hits, keys, specs, total
        page = hits[start:start + size]
        pkeys = keys[start:start + size] if keys else None
        return self.render_search(page, pkeys, specs, total, body, params, pit_id)

    def render_search(self, page, pkeys, specs, total, body, params, pit_id=None, scroll_id=None, nidx=1):
        src_spec = body.get("_source", True)
        if "_source" in params:
            src_spec = {"true": True, "false": False}.get(params["_source"], params["_source"].split(","))
        if "_source_includes" in params or "_source_excludes" in params:
            src_spec = {"includes": params.get("_source_includes", "").split(",") if params.get(
                "_source_includes") else [], "excludes": params.get("_source_excludes", "").split(",") if params.get(
                "_source_excludes") else []}
        sorted_ = bool(specs) and not all(s.get("implicit") for s in specs)
        score = None if sorted_ and not body.get("track_scores") else 1.0
        out_hits = []
        for n, (pos, idx, doc_id, rec, src) in enumerate(page):
            h = {"_index": idx.name}
            if self.flavor == "es6":
                h["_type"] = idx.doc_type or "_doc"
            elif self.flavor == "es7":
                h["_type"] = "_doc"
            h["_id"] = doc_id
            if body.get("version"):
                h["_version"] = rec[1]
            if body.get("seq_no_primary_term"):
                h["_seq_no"], h["_primary_term"] = rec[2], 1
            h["_score"] = score
            if src_spec is not False and body.get("stored_fields") != "_none_":
                h["_source"] = filter_source(source_obj(rec) if src is None else src, src_spec)
            if specs:
                h["sort"] = [self.sort_value_out(v, sp) for v, sp in zip(pkeys[n].vals, specs)]
            out_hits.append(h)
        tth = body.get("track_total_hits", params.get("track_total_hits", 10000))
        tth = {"true": True, "false": False}.get(tth, tth) if isinstance(tth, str) else tth
        hits_obj = {}
        if self.flavor == "es6":
            hits_obj["total"] = total
        elif tth is True:
            hits_obj["total"] = {"value": total, "relation": "eq"}
        elif tth is not False:
            lim = int(tth)
            hits_obj["total"] = {"value": min(total, lim), "relation": "eq" if total <= lim else "gte"}
        hits_obj["max_score"] = None if (score is None or not out_hits) else 1.0
        hits_obj["hits"] = out_hits
        shards = sum(i.shards() for i in {id(h[1]): h[1] for h in page}.values()) or nidx
        resp = {}
        if scroll_id:
            resp["_scroll_id"] = scroll_id
        if pit_id:
            resp["pit_id"] = pit_id
        resp.update({"took": 1, "timed_out": False,
                     "_shards": {"total": shards, "successful": shards, "skipped": 0, "failed": 0},
                     "hits": hits_obj})
        return resp


def source_obj(rec):
    raw = rec[0]
    if isinstance(raw, dict):
        return raw
    return json.loads(raw)


def search_failure(inner):
    """Wrap a shard-level failure in ES's search_phase_execution_exception."""
    o = inner.obj()
    return ESError(400, "search_phase_execution_exception", "all shards failed", root=o,
                   phase="query", grouped=True,
                   failed_shards=[{"shard": 0, "index": o.get("index"), "node": "esd-node", "reason": o}],
                   caused_by=o)


# --------------------------------------------------------------------------
# REST API
# --------------------------------------------------------------------------

GLOBAL_PARAMS = {"pretty", "human", "error_trace", "filter_path", "source", "source_content_type"}
BULK_PARAMS = {"refresh", "routing", "timeout", "wait_for_active_shards", "pipeline", "_source",
               "_source_includes", "_source_excludes", "require_alias", "type"}
SEARCH_PARAMS = {"size", "from", "sort", "_source", "_source_includes", "_source_excludes",
                 "track_total_hits", "scroll", "timeout", "ignore_unavailable", "allow_no_indices",
                 "expand_wildcards", "preference", "routing", "request_cache", "search_type",
                 "rest_total_hits_as_int", "typed_keys", "batched_reduce_size", "seq_no_primary_term",
                 "version", "track_scores", "allow_partial_search_results", "ccs_minimize_roundtrips",
                 "max_concurrent_shard_requests", "pre_filter_shard_size", "stored_fields"}
INDEX_PARAMS = {"wait_for_active_shards", "timeout", "master_timeout", "include_type_name",
                "ignore_unavailable", "allow_no_indices", "expand_wildcards", "local", "flat_settings",
                "include_defaults", "preserve_existing", "features"}
DOC_PARAMS = {"refresh", "routing", "timeout", "version", "version_type", "if_seq_no", "if_primary_term",
              "op_type", "pipeline", "require_alias", "wait_for_active_shards", "_source", "_source_includes",
              "_source_excludes", "realtime", "preference", "stored_fields"}
HEALTH_PARAMS = {"wait_for_status", "timeout", "level", "local", "master_timeout", "wait_for_nodes",
                 "wait_for_events", "wait_for_no_relocating_shards", "wait_for_no_initializing_shards",
                 "wait_for_active_shards", "expand_wildcards"}
CAT_PARAMS = {"format", "h", "v", "s", "bytes", "health", "pri", "expand_wildcards", "help", "local",
              "master_timeout", "time", "include_unloaded_segments"}

STATUS_RANK = {"green": 0, "yellow": 1, "red": 2}


class Request:
    def __init__(self, method, raw_path, segs, params, body, headers):
        self.method, self.raw_path, self.segs = method, raw_path, segs
        self.params, self.body, self.headers = params, body, headers

    def json(self, required=False):
        if not self.body or not self.body.strip():
            if required:
                raise ESError(400, "parse_exception", "request body is required")
            return {}
        return parse_json_body(self.body)


def R(pattern, methods, params=frozenset(), flavors=None):
    return (tuple(x for x in pattern.split("/") if x), methods, frozenset(params), flavors)


ROUTES = [
    R("", {"GET": "root", "HEAD": "root"}),
    R("_bulk", {"POST": "bulk", "PUT": "bulk"}, BULK_PARAMS),
    R("{index}/_bulk", {"POST": "bulk", "PUT": "bulk"}, BULK_PARAMS),
    R("{index}/{type}/_bulk", {"POST": "bulk", "PUT": "bulk"}, BULK_PARAMS, ("es6", "es7")),
    R("_refresh", {"GET": "refresh", "POST": "refresh"}, {"ignore_unavailable", "allow_no_indices",
                                                          "expand_wildcards"}),
    R("{index}/_refresh", {"GET": "refresh", "POST": "refresh"}, {"ignore_unavailable", "allow_no_indices",
                                                                  "expand_wildcards"}),
    R("_count", {"GET": "count", "POST": "count"}, SEARCH_PARAMS | {"q"}),
    R("{index}/_count", {"GET": "count", "POST": "count"}, SEARCH_PARAMS | {"q"}),
    R("_search", {"GET": "search", "POST": "search"}, SEARCH_PARAMS),
    R("{index}/_search", {"GET": "search", "POST": "search"}, SEARCH_PARAMS),
    R("_search/scroll", {"GET": "scroll", "POST": "scroll", "DELETE": "clear_scroll"},
      {"scroll", "scroll_id", "rest_total_hits_as_int"}),
    R("_search/scroll/{scroll_id}", {"GET": "scroll", "POST": "scroll", "DELETE": "clear_scroll"},
      {"scroll", "rest_total_hits_as_int"}),
    R("{index}/_pit", {"POST": "open_pit"}, {"keep_alive", "routing", "preference", "ignore_unavailable",
                                              "expand_wildcards"}, ("es7", "es8")),
    R("_pit", {"DELETE": "close_pit"}, (), ("es7", "es8")),
    R("_cluster/health", {"GET": "health"}, HEALTH_PARAMS),
    R("_cluster/health/{index}", {"GET": "health"}, HEALTH_PARAMS),
    R("_cat/indices", {"GET": "cat_indices"}, CAT_PARAMS),
    R("_cat/indices/{index}", {"GET": "cat_indices"}, CAT_PARAMS),
    R("_aliases", {"POST": "update_aliases", "GET": "get_alias"}, {"timeout", "master_timeout", "local"}),
    R("_alias", {"GET": "get_alias"}, {"local", "expand_wildcards", "ignore_unavailable", "allow_no_indices"}),
    R("_alias/{name}", {"GET": "get_alias", "HEAD": "get_alias"}, {"local", "expand_wildcards"}),
    R("{index}/_alias", {"GET": "get_alias"}, {"local", "expand_wildcards"}),
    R("{index}/_aliases", {"GET": "get_alias"}, {"local", "expand_wildcards"}),
    R("{index}/_alias/{name}", {"GET": "get_alias", "HEAD": "get_alias", "PUT": "put_alias",
                                "POST": "put_alias", "DELETE": "delete_alias"}, {"timeout", "master_timeout",
                                                                                 "local"}),
    R("{index}/_aliases/{name}", {"PUT": "put_alias", "POST": "put_alias", "DELETE": "delete_alias"},
      {"timeout", "master_timeout"}),
    R("_mapping", {"GET": "get_mapping"}, INDEX_PARAMS),
    R("{index}/_mapping", {"GET": "get_mapping", "PUT": "put_mapping", "POST": "put_mapping"}, INDEX_PARAMS
      | {"write_index_only"}),
    R("{index}/_mapping/{type}", {"GET": "get_mapping", "PUT": "put_mapping", "POST": "put_mapping"},
      INDEX_PARAMS, ("es6",)),
    R("{index}/{type}/_mapping", {"GET": "get_mapping", "PUT": "put_mapping", "POST": "put_mapping"},
      INDEX_PARAMS, ("es6",)),
    R("_template", {"GET": "get_template"}, {"local", "master_timeout", "flat_settings",
                                              "include_type_name"}),
    R("_template/{name}", {"GET": "get_template", "HEAD": "get_template", "PUT": "put_template",
                           "POST": "put_template", "DELETE": "delete_template"},
      {"local", "master_timeout", "flat_settings", "include_type_name", "create", "order", "timeout"}),
    R("_settings", {"GET": "get_settings"}, INDEX_PARAMS),
    R("{index}/_settings", {"GET": "get_settings", "PUT": "put_settings"}, INDEX_PARAMS),
    R("{index}/_doc/{id}", {"GET": "get_doc", "HEAD": "get_doc", "PUT": "index_doc", "POST": "index_doc",
                            "DELETE": "delete_doc"}, DOC_PARAMS, ("es7", "es8", "opensearch2")),
    R("{index}/_doc", {"POST": "index_doc"}, DOC_PARAMS, ("es7", "es8", "opensearch2")),
    R("{index}/_create/{id}", {"PUT": "create_doc", "POST": "create_doc"}, DOC_PARAMS,
      ("es7", "es8", "opensearch2")),
    R("{index}/{type}/{id}", {"GET": "get_doc", "HEAD": "get_doc", "PUT": "index_doc", "POST": "index_doc",
                              "DELETE": "delete_doc"}, DOC_PARAMS, ("es6",)),
    R("{index}", {"GET": "get_index", "HEAD": "head_index", "PUT": "create_index", "DELETE": "delete_index"},
      INDEX_PARAMS),
]


class EsApi:
    """Route handlers. Each returns (status, body_obj_or_None, extra_headers)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.flavor = cfg.flavor
        self.store = Store(cfg.flavor)
        self.stats_lock = threading.Lock()
        self.bulk_sem = threading.BoundedSemaphore(cfg.cluster_threads)
        self.reset_stats()
        self.clear_faults()

    # -- test control state --------------------------------------------------------
    def reset_stats(self):
        with self.stats_lock:
            self.stats = {"requests": 0, "bulk_requests": 0, "bulk_items": 0, "bulk_bytes": 0,
                          "bulk_bytes_decoded": 0, "gzip_requests": 0, "current_bulk": 0,
                          "max_concurrent_bulk": 0, "waiting_bulk": 0, "rejected_items": 0,
                          "rejected_requests_429": 0, "rejected_requests_503": 0, "closed_mid_response": 0,
                          "queue_rejected_requests": 0, "status_counts": {}}

    def clear_faults(self):
        with self.stats_lock:
            self.faults = {"reject_item_ratio": 0.0, "reject_requests_429": 0, "reject_requests_503": 0,
                           "close_mid_response": 0, "delay_ms": 0, "seed": None, "scope": "all"}
            self.rng = random.Random(0)

    def set_faults(self, body):
        known = {"reject_item_ratio", "reject_requests_429", "reject_requests_503", "close_mid_response",
                 "delay_ms", "seed", "scope"}
        bad = [k for k in body if k not in known]
        if bad:
            raise illegal("unknown fault parameter(s) %s; known: %s" % (bad, sorted(known)))
        with self.stats_lock:
            self.faults.update(body)
            if "seed" in body:
                self.rng = random.Random(body["seed"])
        return dict(self.faults)

    def take_fault(self, name):
        with self.stats_lock:
            if self.faults[name] > 0:
                self.faults[name] -= 1
                return True
        return False

    def bump(self, key, n=1):
        with self.stats_lock:
            self.stats[key] += n

    # -- misc ------------------------------------------------------------------------
    def root(self, req):
        fl = FLAVORS[self.flavor]
        v = {"number": fl["number"]}
        if self.flavor == "opensearch2":
            v = {"distribution": "opensearch", "number": fl["number"], "build_type": "tar"}
        else:
            v["build_flavor"] = "default"
            v["build_type"] = "docker"
        v.update({"build_hash": "0" * 40, "build_date": "2023-01-01T00:00:00.000000Z", "build_snapshot": False,
                  "lucene_version": fl["lucene"], "minimum_wire_compatibility_version": fl["wire"],
                  "minimum_index_compatibility_version": fl["index_compat"]})
        tag = "The OpenSearch Project: https://opensearch.org/" if self.flavor == "opensearch2" \
            else "You Know, for Search"
        body = {"name": "esd-node", "cluster_name": "gen3db-test", "cluster_uuid": "esd-cluster-uuid-0000000",
                "version": v, "tagline": tag}
        return 200, (None if req.method == "HEAD" else body), {}

    # -- index APIs --------------------------------------------------------------------
    def create_index(self, req, index):
        body = req.json()
        if req.params.get("include_type_name") in ("true", "") and self.flavor == "es7":
            m = body.get("mappings")
            if isinstance(m, dict) and len(m) == 1:
                body = dict(body, mappings=next(iter(m.values())))
        with self.store.lock:
            self.store.create_index(index, body)
        return 200, {"acknowledged": True, "shards_acknowledged": True, "index": index}, {}

    def head_index(self, req, index):
        with self.store.lock:
            try:
                ok = bool(self.store.resolve(index, allow_no_indices=False))
            except ESError:
                ok = False
        return (200 if ok else 404), None, {}

    def get_index(self, req, index):
        with self.store.lock:
            out = {}
            for i in self.store.resolve(index, ignore_unavailable=req.params.get("ignore_unavailable") == "true"):
                out[i.name] = {"aliases": {a: p for a, p in sorted(i.aliases.items())},
                               "mappings": self.store.mapping_view(i),
                               "settings": self.store.settings_view(i)}
        return 200, out, {}

    def delete_index(self, req, index):
        with self.store.lock:
            self.store.delete_index(index)
        return 200, {"acknowledged": True}, {}

    def get_mapping(self, req, index=None, type=None):
        with self.store.lock:
            return 200, {i.name: {"mappings": self.store.mapping_view(i)}
                         for i in self.store.resolve(index)}, {}

    def put_mapping(self, req, index, type=None):
        body = req.json(required=True)
        with self.store.lock:
            return 200, self.store.put_mapping(self.store.resolve(index, allow_no_indices=False), body,
                                               type), {}

    def get_settings(self, req, index=None):
        with self.store.lock:
            out = {}
            for i in self.store.resolve(index):
                out[i.name] = {"settings": dict(i.settings) if req.params.get("flat_settings") == "true"
                               else self.store.settings_view(i)}
        return 200, out, {}

    def put_settings(self, req, index):
        body = req.json(required=True)
        with self.store.lock:
            return 200, self.store.update_settings(self.store.resolve(index, allow_no_indices=False), body), {}

    # -- legacy index templates -------------------------------------------------------------
    def get_template(self, req, name=None):
        with self.store.lock:
            status, out = self.store.get_templates(name)
        return status, (None if req.method == "HEAD" else out), {}

    def put_template(self, req, name):
        body = req.json(required=True)
        with self.store.lock:
            self.store.put_template(name, body, create=req.params.get("create") == "true")
        return 200, {"acknowledged": True}, {}

    def delete_template(self, req, name):
        with self.store.lock:
            self.store.delete_template(name)
        return 200, {"acknowledged": True}, {}

    # -- aliases -------------------------------------------------------------------------
    def update_aliases(self, req):
        body = req.json(required=True)
        with self.store.lock:
            return 200, self.store.update_aliases(body), {}

    def put_alias(self, req, index, name):
        body = req.json()
        spec = dict(body, index=index, alias=name)
        with self.store.lock:
            return 200, self.store.update_aliases({"actions": [{"add": spec}]}), {}

    def delete_alias(self, req, index, name):
        with self.store.lock:
            return 200, self.store.update_aliases({"actions": [{"remove": {"index": index, "alias": name}}]}), {}

    def get_alias(self, req, index=None, name=None):
        with self.store.lock:
            idxs = self.store.resolve(index)
            out, found = {}, set()
            for i in idxs:
                al = {a: p for a, p in sorted(i.aliases.items())
                      if name is None or any(fnmatch.fnmatchcase(a, n) for n in name.split(","))}
                found.update(al)
                if al or name is None:
                    out[i.name] = {"aliases": al}
        if name is not None:
            missing = [n for n in name.split(",") if "*" not in n and n not in found]
            if req.method == "HEAD":
                return (404 if missing or not found else 200), None, {}
            if missing:
                msg = "alias [%s] missing" % missing[0] if len(missing) == 1 else \
                    "aliases [%s] missing" % ",".join(missing)
                return 404, dict(out, error=msg, status=404), {}
        return 200, out, {}

    # -- refresh / count / health / cat ----------------------------------------------------
    def refresh(self, req, index=None):
        with self.store.lock:
            idxs = self.store.resolve(index, ignore_unavailable=req.params.get("ignore_unavailable") == "true")
            for i in idxs:
                i.refresh()
            tot = sum(i.shards() * (1 + i.replicas()) for i in idxs)
            ok = sum(i.shards() for i in idxs)
        return 200, {"_shards": {"total": tot, "successful": ok, "failed": 0}}, {}

    def count(self, req, index=None):
        body = req.json()
        for k in body:
            if k not in ("query",):
                raise ESError(400, "parsing_exception", "request does not support [%s]" % k)
        with self.store.lock:
            idxs = self.store.resolve(index)
            for i in idxs:
                i.maybe_auto_refresh()
            n = len(self.store.run_query(idxs, body))
            sh = sum(i.shards() for i in idxs)
        return 200, {"count": n, "_shards": {"total": sh, "successful": sh, "skipped": 0, "failed": 0}}, {}

    def _health_of(self, index):
        st = self.store
        with st.lock:
            if index:
                try:
                    idxs = st.resolve(index, allow_no_indices=False)
                except ESError:
                    return "red", []
            else:
                idxs = list(st.indices.values())
            worst = max([STATUS_RANK[i.health()] for i in idxs] or [0])
            return ["green", "yellow", "red"][worst], idxs

    def health(self, req, index=None):
        want = req.params.get("wait_for_status")
        if want is not None and want not in STATUS_RANK:
            raise illegal("unknown cluster health status [%s]" % want)
        timeout = parse_time_ms(req.params.get("timeout", "30s"), "timeout") / 1000.0
        deadline = time.monotonic() + timeout
        status, idxs = self._health_of(index)
        timed_out = False
        while want is not None and STATUS_RANK[status] > STATUS_RANK[want]:
            if time.monotonic() >= deadline:
                timed_out = True
                break
            time.sleep(0.05)
            status, idxs = self._health_of(index)
        pri = sum(i.shards() for i in idxs)
        unassigned = sum(i.shards() * i.replicas() for i in idxs)
        body = {"cluster_name": "gen3db-test", "status": status, "timed_out": timed_out,
                "number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": pri,
                "active_shards": pri, "relocating_shards": 0, "initializing_shards": 0,
                "unassigned_shards": unassigned, "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0,
                "number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0,
                "active_shards_percent_as_number": 100.0 * pri / (pri + unassigned) if pri + unassigned else 100.0}
        if self.flavor == "opensearch2":
            body["discovered_master"] = True
            body["discovered_cluster_manager"] = True
        if req.params.get("level") in ("indices", "shards"):
            body["indices"] = {i.name: {"status": i.health(), "number_of_shards": i.shards(),
                                        "number_of_replicas": i.replicas(), "active_primary_shards": i.shards(),
                                        "active_shards": i.shards(), "relocating_shards": 0,
                                        "initializing_shards": 0,
                                        "unassigned_shards": i.shards() * i.replicas()} for i in idxs}
        return (408 if timed_out else 200), body, {}

    def cat_indices(self, req, index=None):
        with self.store.lock:
            rows = []
            for i in self.store.resolve(index):
                rows.append({"health": i.health(), "status": "open", "index": i.name, "uuid": i.uuid,
                             "pri": str(i.shards()), "rep": str(i.replicas()),
                             "docs.count": str(len(i.visible)), "docs.deleted": "0",
                             "store.size": "%db" % sum(len(r[0]) for r in i.visible.values()),
                             "pri.store.size": "%db" % sum(len(r[0]) for r in i.visible.values())})
        if "s" in req.params:
            key = req.params["s"].split(":")[0]
            rows.sort(key=lambda r: r.get(key, ""), reverse=req.params["s"].endswith(":desc"))
        if "h" in req.params:
            cols = req.params["h"].split(",")
            rows = [{c: r.get(c) for c in cols} for r in rows]
        if req.params.get("format") == "json":
            return 200, rows, {}
        cols = list(rows[0].keys()) if rows else (req.params.get("h", "").split(",") if "h" in req.params else [])
        lines = []
        if req.params.get("v") in ("", "true"):
            lines.append(cols)
        lines += [[str(r[c]) for c in cols] for r in rows]
        widths = [max(len(l[n]) for l in lines) for n in range(len(cols))] if lines else []
        text = "".join(" ".join(v.ljust(w) for v, w in zip(l, widths)).rstrip() + "\n" for l in lines)
        return 200, text.encode(), {"Content-Type": "text/plain; charset=UTF-8"}

    # -- search / PIT / scroll --------------------------------------------------------------------
    def search(self, req, index=None):
        body = req.json()
        st = self.store
        pit = body.get("pit")
        if pit is not None:
            if index is not None:
                raise validation_failed(["[indices] cannot be used with point in time. Do not specify any "
                                         "index with point in time."])
            if "scroll" in req.params:
                raise validation_failed(["using [point in time] is not allowed in a scroll context"])
            with st.lock:
                p = st.pits.get(pit.get("id"))
                if p is None or p["expires"] < time.monotonic():
                    raise ESError(404, "search_phase_execution_exception", "all shards failed",
                                  root=err_obj("search_context_missing_exception",
                                               "No search context found for id [%s]" % pit.get("id")),
                                  phase="query", grouped=True)
                if "keep_alive" in pit:
                    p["expires"] = time.monotonic() + parse_time_ms(pit["keep_alive"], "keep_alive") / 1000.0
                idxs = [st.indices[n] for n in p["snapshot"] if n in st.indices]
                resp = st.search(idxs, body, req.params, p["snapshot"], pit["id"])
            return 200, self._totals_as_int(resp, req), {}
        with st.lock:
            idxs = st.resolve(index, ignore_unavailable=req.params.get("ignore_unavailable") == "true")
            if "scroll" in req.params:
                if "search_after" in body:
                    raise validation_failed(["using [search_after] is not allowed in a scroll context"])
                keep = parse_time_ms(req.params["scroll"], "scroll") / 1000.0
                hits, keys, specs, total = st.search(idxs, body, req.params, scroll=True)
                sid = base64.urlsafe_b64encode(os.urandom(18)).decode()
                size = int(req.params.get("size", body.get("size", 10)))
                sc = {"hits": hits, "keys": keys, "specs": specs, "total": total, "body": body,
                      "params": dict(req.params), "pos": 0, "size": size, "expires": time.monotonic() + keep,
                      "nidx": len(idxs)}
                st.scrolls[sid] = sc
                resp = self._scroll_page(sc, sid)
            else:
                resp = st.search(idxs, body, req.params)
        return 200, self._totals_as_int(resp, req), {}

    def _totals_as_int(self, resp, req):
        if req.params.get("rest_total_hits_as_int") == "true" and isinstance(resp["hits"].get("total"), dict):
            resp["hits"]["total"] = resp["hits"]["total"]["value"]
        return resp

    def _scroll_page(self, sc, sid):
        a, b = sc["pos"], sc["pos"] + sc["size"]
        sc["pos"] = b
        return self.store.render_search(sc["hits"][a:b], sc["keys"][a:b] if sc["keys"] else None, sc["specs"],
                                        sc["total"], sc["body"], sc["params"], scroll_id=sid, nidx=sc["nidx"])

    def scroll(self, req, scroll_id=None):
        body = req.json()
        sid = body.get("scroll_id", req.params.get("scroll_id", scroll_id))
        keep = body.get("scroll", req.params.get("scroll"))
        with self.store.lock:
            sc = self.store.scrolls.get(sid)
            if sc is None or sc["expires"] < time.monotonic():
                self.store.scrolls.pop(sid, None)
                raise ESError(404, "search_phase_execution_exception", "all shards failed",
                              root=err_obj("search_context_missing_exception",
                                           "No search context found for id [%s]" % sid),
                              phase="query", grouped=True)
            if keep:
                sc["expires"] = time.monotonic() + parse_time_ms(keep, "scroll") / 1000.0
            resp = self._scroll_page(sc, sid)
        return 200, self._totals_as_int(resp, req), {}

    def clear_scroll(self, req, scroll_id=None):
        body = req.json()
        ids = body.get("scroll_id", scroll_id or req.params.get("scroll_id"))
        ids = ids.split(",") if isinstance(ids, str) else (ids or [])
        with self.store.lock:
            if ids == ["_all"]:
                n = len(self.store.scrolls)
                self.store.scrolls.clear()
            else:
                n = sum(1 for i in ids if self.store.scrolls.pop(i, None) is not None)
        return (200 if n or not ids else 404), {"succeeded": True, "num_freed": n}, {}

    def open_pit(self, req, index):
        if "keep_alive" not in req.params:
            raise validation_failed(["[keep_alive] is not specified"])
        keep = parse_time_ms(req.params["keep_alive"], "keep_alive") / 1000.0
        with self.store.lock:
            idxs = self.store.resolve(index, allow_no_indices=False)
            for i in idxs:
                i.maybe_auto_refresh()
            pid = base64.urlsafe_b64encode(os.urandom(24)).decode()
            self.store.pits[pid] = {"snapshot": {i.name: i.visible for i in idxs},
                                    "expires": time.monotonic() + keep}
        return 200, {"id": pid}, {}

    def close_pit(self, req):
        body = req.json(required=True)
        with self.store.lock:
            ok = self.store.pits.pop(body.get("id"), None) is not None
        return (200 if ok else 404), {"succeeded": True, "num_freed": 1 if ok else 0}, {}

    # -- single document APIs -------------------------------------------------------------------
    def get_doc(self, req, index, id, type=None):
        with self.store.lock:
            idx = self.store.resolve(index, allow_no_indices=False)[0]
            rec = idx.docs.get(id)
        base = {"_index": idx.name}
        if self.flavor in ("es6", "es7"):
            base["_type"] = type or idx.doc_type or "_doc"
        base["_id"] = id
        if req.method == "HEAD":
            return (200 if rec else 404), None, {}
        if rec is None:
            return 404, dict(base, found=False), {}
        out = dict(base, _version=rec[1], _seq_no=rec[2], _primary_term=1, found=True)
        spec = req.params.get("_source")
        out["_source"] = filter_source(source_obj(rec), {"false": False, "true": True}.get(spec, spec)
                                       if spec is not None else True)
        if out["_source"] is None:
            del out["_source"]
        return 200, out, {}

    def _single_write(self, req, act, index, doc_id, type=None):
        meta = {k: req.params[k] for k in ("version", "version_type", "if_seq_no", "if_primary_term",
                                           "routing", "require_alias") if k in req.params}
        if act == "delete":
            line = json.dumps({"delete": dict(meta, _index=index, _id=doc_id)}).encode() + b"\n"
        else:
            if not req.body or not req.body.strip():
                raise validation_failed(["source is missing"])
            m = dict(meta, _index=index)
            if doc_id is not None:
                m["_id"] = doc_id
            line = json.dumps({act: m}).encode() + b"\n" + req.body.replace(b"\n", b" ") + b"\n"
        with self.store.lock:
            ops = self.store.parse_bulk(line, None, type, False)
            items, errors, touched = self.store.apply_ops(ops, lambda n: False)
            if req.params.get("refresh") in ("", "true", "wait_for"):
                for i in touched.values():
                    i.refresh()
        (res,) = items[0].values()
        if "error" in res:
            e = res["error"]
            if e["type"] == "mapper_parsing_exception" and e.get("reason") == "failed to parse":
                raise ESError(res["status"], e["type"], e["reason"], caused_by=e.get("caused_by"))
            raise ESError(res["status"], e["type"], e["reason"], caused_by=e.get("caused_by"),
                          **{k: v for k, v in e.items() if k not in ("type", "reason", "caused_by")})
        status = res.pop("status")
        return status, res, {}

    def index_doc(self, req, index, id=None, type=None):
        act = "create" if req.params.get("op_type") == "create" else "index"
        if req.method == "PUT" and id is None:
            raise SimpleError(405, "Incorrect HTTP method for uri [%s] and method [PUT], allowed: [POST]"
                              % req.raw_path)
        return self._single_write(req, act, index, id, type)

    def create_doc(self, req, index, id):
        return self._single_write(req, "create", index, id)

    def delete_doc(self, req, index, id, type=None):
        return self._single_write(req, "delete", index, id, type)

    # -- bulk -------------------------------------------------------------------------------------
    def bulk(self, req, index=None, type=None):
        cfg, st = self.cfg, self.store
        refresh = req.params.get("refresh", "false")
        if refresh not in ("", "true", "false", "wait_for"):
            raise illegal("Unknown value for refresh: [%s]." % refresh)
        if type is not None or "type" in req.params:
            if self.flavor == "es8":
                raise illegal("request [%s] contains unrecognized parameter: [type]" % req.raw_path)
        if not req.body:
            raise ESError(400, "parse_exception", "request body is required")
        if not req.body.endswith(b"\n"):
            raise illegal("The bulk request must be terminated by a newline [\\n]")
        ops = st.parse_bulk(req.body, index, type or req.params.get("type"),
                            req.params.get("require_alias") in ("", "true"))
        headers = {}
        if self.flavor == "es7" and (type or any(o[4].get("_type") for o in ops[:1000])):
            headers["Warning"] = ('299 Elasticsearch-%s "[types removal] Specifying types in bulk requests is '
                                  'deprecated."' % FLAVORS["es7"]["number"])
        self.bump("bulk_items", len(ops))
        if self.take_fault("close_mid_response"):
            self.bump("closed_mid_response")
            return "CLOSE", None, {}
        ratio = float(self.faults["reject_item_ratio"] or 0)
        rejected = [0]

        def reject(n):
            if ratio <= 0:
                return False
            with self.stats_lock:
                r = self.rng.random() < ratio
            if r:
                rejected[0] += 1
            return r

        t0 = time.monotonic()
        cluster = cfg.mode == "cluster"
        if cluster and not self.bulk_sem.acquire(blocking=False):
            with self.stats_lock:
                self.stats["waiting_bulk"] += 1
                full = cfg.cluster_queue is not None and self.stats["waiting_bulk"] > cfg.cluster_queue
                if full:
                    self.stats["waiting_bulk"] -= 1
                    self.stats["queue_rejected_requests"] += 1
            if full:
                items, errors, _ = st.apply_ops(ops, lambda n: True)
                for it in items:
                    (res,) = it.values()
                    res["error"] = err_obj(
                        "es_rejected_execution_exception",
                        "rejected execution of coordinating operation on EsThreadPoolExecutor[name = esd-node/"
                        "write, queue capacity = %d] (modelled by es_test_server)" % cfg.cluster_queue)
                self.bump("rejected_items", len(items))
                return 200, {"took": 0, "errors": True, "items": items}, headers
            self.bulk_sem.acquire()
            self.bump("waiting_bulk", -1)
        with self.stats_lock:
            self.stats["current_bulk"] += 1
            self.stats["max_concurrent_bulk"] = max(self.stats["max_concurrent_bulk"], self.stats["current_bulk"])
        try:
            if cluster:
                time.sleep(len(ops) * cfg.cluster_us_per_doc / 1e6)
            items, errors, touched = st.apply_ops(ops, reject)
            if refresh in ("", "true", "wait_for"):
                with st.lock:
                    for i in touched.values():
                        i.refresh()
                if refresh != "wait_for":
                    for it in items:
                        (res,) = it.values()
                        if "error" not in res:
                            res["forced_refresh"] = True
        finally:
            with self.stats_lock:
                self.stats["current_bulk"] -= 1
            if cluster:
                self.bulk_sem.release()
        if rejected[0]:
            self.bump("rejected_items", rejected[0])
        took = int((time.monotonic() - t0) * 1000)
        return 200, {"took": took, "errors": errors, "items": items}, headers

    # -- control API (not Elasticsearch) ----------------------------------------------------------
    def control(self, req):
        segs, m = req.segs[1:], req.method
        if segs == ["faults"] and m in ("POST", "PUT"):
            return 200, self.set_faults(req.json(required=True)), {}
        if segs == ["faults"] and m == "GET":
            return 200, dict(self.faults), {}
        if segs == ["faults"] and m == "DELETE":
            self.clear_faults()
            return 200, dict(self.faults), {}
        if segs == ["stats"] and m == "GET":
            with self.stats_lock:
                return 200, json.loads(json.dumps(self.stats)), {}
        if segs == ["stats"] and m == "DELETE":
            self.reset_stats()
            return 200, {"acknowledged": True}, {}
        if segs == ["reset"] and m == "POST":
            with self.store.lock:
                self.store.indices.clear()
                self.store.templates.clear()
                self.store.pits.clear()
                self.store.scrolls.clear()
                self.store.sort_cache.clear()
            self.clear_faults()
            self.reset_stats()
            return 200, {"acknowledged": True}, {}
        if len(segs) == 2 and segs[0] == "docs" and m == "GET":
            with self.store.lock:
                idx = self.store.get_index(segs[1])
                return 200, {k: source_obj(r) for k, r in idx.docs.items()}, {}
        raise SimpleError(400, "no handler found for uri [%s] and method [%s]" % (req.raw_path, m))

    # -- dispatch ---------------------------------------------------------------------------------
    def dispatch(self, req):
        segs = req.segs
        best = []
        for pat, methods, params, flavors in ROUTES:
            if len(pat) != len(segs) or (flavors and self.flavor not in flavors):
                continue
            args, lits = {}, 0
            for p, s in zip(pat, segs):
                if p.startswith("{"):
                    args[p[1:-1]] = s
                elif p == s:
                    lits += 1
                else:
                    break
            else:
                best.append((lits, methods, params, args))
        best.sort(key=lambda b: -b[0])
        best = [b for b in best if b[0] == best[0][0]]  # literal path segments win (ES path trie)
        for lits, methods, params, args in best:
            if req.method in methods:
                bad = [k for k in req.params if k not in params and k not in GLOBAL_PARAMS]
                if bad:
                    raise illegal("request [%s] contains unrecognized parameter%s: [%s]" % (
                        req.raw_path, "s" if len(bad) > 1 else "", "], [".join(bad)))
                return getattr(self, methods[req.method])(req, **args)
        if best:
            allowed = ", ".join(sorted(set(k for b in best if b[0] == best[0][0] for k in b[1])))
            raise SimpleError(405, "Incorrect HTTP method for uri [%s] and method [%s], allowed: [%s]" % (
                req.raw_path, req.method, allowed))
        raise SimpleError(400, "no handler found for uri [%s] and method [%s]" % (req.raw_path, req.method))


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

JSON_TYPES = ("application/json", "application/x-ndjson", "application/vnd.elasticsearch+json",
              "application/vnd.elasticsearch+x-ndjson")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body are written separately: without this, Nagle plus the
    # client's delayed ACK add about 40 ms to every request
    disable_nagle_algorithm = True
    server_version = "es_test_server"
    sys_version = ""
    api = None  # set on the subclass

    def log_message(self, fmt, *args):
        if self.api.cfg.verbose:
            sys.stderr.write("esd: %s - %s\n" % (self.address_string(), fmt % args))

    def handle_expect_100(self):
        # Defer "100 Continue" until the size check passed (ES answers 413 without reading the body).
        self._expect_continue = True
        return True

    def do_GET(self):
        self.process()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    # -- plumbing ------------------------------------------------------------------------------
    def send_body(self, status, payload, headers=None, content_type="application/json; charset=UTF-8"):
        self.send_response(status)
        hdrs = {"Content-Type": content_type}
        if self.api.flavor in ("es7", "es8"):
            hdrs["X-elastic-product"] = "Elasticsearch"
        hdrs.update(headers or {})
        for k, v in hdrs.items():
            if isinstance(v, list):
                for x in v:
                    self.send_header(k, x)
            else:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        with self.api.stats_lock:
            sc = self.api.stats["status_counts"]
            sc[str(status)] = sc.get(str(status), 0) + 1

    def read_body(self):
        """Read the request body (Content-Length or chunked), enforcing --max-content-length."""
        limit = self.api.cfg.max_content_length
        te = self.headers.get("Transfer-Encoding", "").lower()
        cl = self.headers.get("Content-Length")
        if cl is not None and int(cl) > limit:
            return None
        if getattr(self, "_expect_continue", False):
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
        if "chunked" in te:
            parts, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > limit:
                    return None
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        return self.rfile.read(int(cl)) if cl else b""

    def auth_error(self, path):
        cfg = self.api.cfg
        if not cfg.basic_auth and not cfg.api_key:
            return None
        h = self.headers.get("Authorization", "")
        if cfg.basic_auth and h == "Basic " + base64.b64encode(cfg.basic_auth.encode()).decode():
            return None
        if cfg.api_key and h == "ApiKey " + cfg.api_key:
            return None
        if not h:
            reason = "missing authentication credentials for REST request [%s]" % path
        elif h.startswith("Basic "):
            try:
                user = base64.b64decode(h[6:]).decode().split(":")[0]
            except (ValueError, UnicodeDecodeError):
                user = "?"
            reason = "unable to authenticate user [%s] for REST request [%s]" % (user, path)
        else:
            reason = "unable to authenticate with provided credentials and anonymous access is not allowed " \
                     "for this request"
        www = ['Basic realm="security" charset="UTF-8"', "ApiKey"]
        return ESError(401, "security_exception", reason, header={"WWW-Authenticate": www}), www

    def process(self):
        api = self.api
        method = self.command
        split = urlsplit(self.path)
        raw_path = split.path
        segs = [unquote(s) for s in raw_path.split("/") if s]
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        api.bump("requests")
        is_control = bool(segs) and segs[0] == "_test"
        pretty = "pretty" in params and params["pretty"] != "false"
        try:
            if not is_control:
                ae = self.auth_error(raw_path)
                if ae:
                    self.close_connection = True if self.headers.get("Content-Length", "0") != "0" else \
                        self.close_connection
                    if self.headers.get("Content-Length", "0") != "0":
                        self.read_body()
                    self.close_connection = False
                    self.send_body(401, json.dumps(ae[0].body(), separators=(",", ":")).encode(), {"WWW-Authenticate": ae[1]})
                    return
            body = self.read_body()
            if body is None:
                self.close_connection = True
                self.send_body(413, b"", content_type="text/plain; charset=UTF-8")
                return
            wire_len = len(body)
            enc = self.headers.get("Content-Encoding", "").lower()
            if body and enc in ("gzip", "x-gzip", "deflate"):
                try:
                    body = gzip.decompress(body) if "gzip" in enc else zlib.decompress(body)
                except (OSError, zlib.error, EOFError) as e:
                    raise ESError(400, "illegal_argument_exception", "failed to decompress request body: %s" % e)
                if len(body) > api.cfg.max_content_length:
                    self.close_connection = True
                    self.send_body(413, b"", content_type="text/plain; charset=UTF-8")
                    return
                if not is_control:
                    api.bump("gzip_requests")
            if body and not is_control:
                ct = self.headers.get("Content-Type")
                if ct is None:
                    raise SimpleError(406, "Content-Type header is missing")
                if ct.split(";")[0].strip().lower() not in JSON_TYPES:
                    raise SimpleError(406, "Content-Type header [%s] is not supported" % ct)
            req = Request(method, raw_path, segs, params, body, self.headers)
            if is_control:
                status, obj, headers = api.control(req)
            else:
                if api.faults["delay_ms"]:
                    time.sleep(api.faults["delay_ms"] / 1000.0)
                is_bulk = bool(segs) and segs[-1] == "_bulk"
                if api.faults["scope"] == "all" or is_bulk:
                    if api.take_fault("reject_requests_429"):
                        api.bump("rejected_requests_429")
                        raise ESError(429, "es_rejected_execution_exception",
                                      "rejected execution of coordinating operation [coordinating_and_primary_"
                                      "bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=%d, "
                                      "max_coordinating_and_primary_bytes=0] (fault injected)" % len(body))
                    if api.take_fault("reject_requests_503"):
                        api.bump("rejected_requests_503")
                        raise ESError(503, "cluster_block_exception",
                                      "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];")
                if is_bulk:
                    api.bump("bulk_requests")
                    api.bump("bulk_bytes", wire_len)
                    api.bump("bulk_bytes_decoded", len(body))
                status, obj, headers = api.dispatch(req)
            if status == "CLOSE":
                self.close_mid_response()
                return
            if isinstance(obj, (bytes, bytearray)):
                self.send_body(status, obj, {k: v for k, v in headers.items() if k != "Content-Type"},
                               headers.get("Content-Type", "application/json; charset=UTF-8"))
                return
            if obj is not None and "filter_path" in params:
                obj = apply_filter_path(obj, params["filter_path"])
            payload = b"" if obj is None else (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode() \
                if pretty else json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
            self.send_body(status, payload, headers)
        except ESError as e:
            obj = e.body()
            if "filter_path" in params:
                obj = apply_filter_path(obj, params["filter_path"])
            self.send_body(e.status, json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())
        except SimpleError as e:
            self.send_body(e.status, json.dumps({"error": e.message, "status": e.status}, separators=(",", ":")).encode())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug in the double: answer like ES would for an internal failure
            import traceback
            traceback.print_exc()
            err = ESError(500, "exception", "es_test_server internal error: %r" % e)
            try:
                self.send_body(500, json.dumps(err.body()).encode())
            except OSError:
                self.close_connection = True

    def close_mid_response(self):
        """Fault: promise a full body, send part of it, then drop the connection."""
        partial = b'{"took":1,"errors":false,"items":[{"index":{"_index":"'
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(partial) * 10))
        self.end_headers()
        self.wfile.write(partial)
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def build_server(cfg):
    api = EsApi(cfg)
    handler = type("BoundHandler", (Handler,), {"api": api})
    srv = Server((cfg.host, cfg.port), handler)
    if cfg.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
        orig_setup = handler.setup

        def setup(self):
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                pass
            orig_setup(self)
        handler.setup = setup
    srv.api = api
    return srv


def parse_size(s):
    m = re.match(r"^(\d+)\s*(b|kb|mb|gb)?$", str(s).strip().lower())
    if not m:
        raise argparse.ArgumentTypeError("bad size %r (use e.g. 104857600, 100mb)" % s)
    return int(m.group(1)) * {"b": 1, None: 1, "kb": 1024, "mb": 1 << 20, "gb": 1 << 30}[m.group(2)]


def make_parser():
    p = argparse.ArgumentParser(
        prog="es_test_server.py",
        description="In-memory Elasticsearch-compatible TEST DOUBLE for gen3db's test suite. "
                    "This is NOT Elasticsearch: it models the REST API subset gen3db uses, strictly "
                    "(it rejects what ES 7 rejects), plus a /_test/ control API for fault injection.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9200, help="0 picks a free port")
    p.add_argument("--port-file", help="write the bound port here (atomically) once listening")
    p.add_argument("--flavor", choices=sorted(FLAVORS), default="es7")
    p.add_argument("--mode", choices=["fast", "cluster"], default="fast",
                   help="cluster: bounded bulk thread pool + per-document latency")
    p.add_argument("--cluster-threads", type=int, default=4, help="concurrent bulk requests (cluster mode)")
    p.add_argument("--cluster-us-per-doc", type=float, default=20.0, help="modelled indexing cost per doc")
    p.add_argument("--cluster-queue", type=int, default=None,
                   help="max bulk requests waiting; beyond it items are rejected with 429 (cluster mode)")
    p.add_argument("--max-content-length", type=parse_size, default=100 << 20)
    p.add_argument("--basic-auth", metavar="USER:PASS")
    p.add_argument("--api-key", metavar="KEY", help="expect 'Authorization: ApiKey KEY'")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--verbose", action="store_true")
    return p


def main(argv=None):
    cfg = make_parser().parse_args(argv)
    if bool(cfg.tls_cert) != bool(cfg.tls_key):
        sys.exit("es_test_server: --tls-cert and --tls-key go together")
    srv = build_server(cfg)
    port = srv.server_address[1]
    if cfg.port_file:
        tmp = "%s.tmp.%d" % (cfg.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, cfg.port_file)
    sys.stderr.write("listening on %s:%d\n" % (cfg.host, port))
    sys.stderr.flush()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *a: stop.set())
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    while not stop.wait(0.5):
        pass
    srv.shutdown()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
