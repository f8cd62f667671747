#!/usr/bin/env python3
"""Deterministic generator of a synthetic, gen3-shaped dataset.

Writes pg_dump-style plain SQL files (one per service), elasticdump-style
ES mapping/settings/data files, and a manifest.json describing them.

    python3 bench/gen3gen.py --out DIR --size 200MB --seed 1 \
        [--services fence,indexd,arborist,sheepdog] [--es-docs N | --es-size 50MB]

Everything is derived from random.Random seeded from --seed; no wall-clock
values are used, so the same arguments always produce byte-identical output.
Memory use does not grow with --size: rows are spooled to per-table temporary
files while generating, then concatenated into the final SQL file.
"""

import argparse
import json
import os
import random
import shutil
import sys
import time
from datetime import datetime, timedelta
from urllib.parse import quote

GENERATOR_VERSION = 1
DEFAULT_SERVICES = ["fence", "indexd", "arborist", "sheepdog"]
ALL_SERVICES = DEFAULT_SERVICES + ["metadata"]
# Share of the COPY byte budget per service (renormalised over the selection).
SERVICE_SHARE = {"indexd": 0.42, "sheepdog": 0.45, "fence": 0.06,
                 "arborist": 0.07, "metadata": 0.10}
DID_PREFIX = "dg.4503/"
FLUSH_EVERY = 128           # parent records between spool flushes/budget checks
BASE_TIME = datetime(2017, 1, 1)

# Awkward-but-valid text. None is SQL NULL; '' is an empty string.
AWKWARD = [
    "C:\\data\\raw\\sample.bam",
    "tab\tseparated\tvalue",
    "multi\nline\ndescription",
    "windows\r\nline ending",
    "quote \" and apostrophe ' and backtick `",
    "unicode: Zürich — 東京 — naïve café — 🧬",
    "",
    None,
    "\\N is not null here",
    "braces {a,b} and \"quoted, comma\"",
    "trailing backslash \\",
    "  leading and trailing spaces  ",
]

PROGRAMS = ["DEV", "TCGA", "TARGET", "CPTAC", "HTAN"]
DISEASES = ["Adenomas and Adenocarcinomas", "Squamous Cell Neoplasms",
            "Gliomas", "Ductal and Lobular Neoplasms", "Myeloid Leukemias",
            "Nevi and Melanomas", "Cystic, Mucinous and Serous Neoplasms"]
SITES = ["Breast", "Lung", "Brain", "Kidney", "Colon", "Skin", "Ovary",
         "Bronchus and lung", "Hematopoietic and reticuloendothelial systems"]
GENDERS = ["female", "male", "unknown", "not reported"]
RACES = ["white", "black or african american", "asian",
         "american indian or alaska native", "not reported"]
ETHNICITIES = ["hispanic or latino", "not hispanic or latino", "not reported"]
VITAL = ["Alive", "Dead", "Unknown"]
SAMPLE_TYPES = ["Primary Tumor", "Blood Derived Normal", "Solid Tissue Normal",
                "Metastatic", "Recurrent Tumor"]
COMPOSITIONS = ["Solid Tissue", "Whole Blood", "Buffy Coat", "Cell"]
PRESERVATION = ["FFPE", "Frozen", "OCT", "Fresh"]
DATA_FORMATS = ["BAM", "VCF", "FASTQ", "CRAM", "TSV", "MAF", "PDF", "DICOM"]
DATA_TYPES = ["Aligned Reads", "Simple Nucleotide Variation",
              "Unaligned Reads", "Gene Expression Quantification",
              "Clinical Supplement", "Slide Image"]
DATA_CATEGORIES = ["Sequencing Reads", "Variant Calling", "Transcriptome Profiling",
                   "Clinical", "Biospecimen", "Imaging"]
STRATEGIES = ["WGS", "WXS", "RNA-Seq", "miRNA-Seq", "Targeted Sequencing", "Imaging"]
FILE_TYPES = ["submitted_aligned_reads", "submitted_unaligned_reads",
              "simple_germline_variation", "clinical_supplement", "slide_image"]
STATES = ["validated", "submitted", "released"]
FILE_STATES = ["registered", "uploading", "uploaded", "validating", "validated"]
UPLOADERS = [None, "", "alice@example.org", "bob.o'neil@example.org",
             "jürgen@example.de", "svc-data-ingest"]
ACLS = [[], ["open"], ["phs000178", "phs000178.c1"], ["*"],
        ["weird \"acl\"", "back\\slash", "NULL", ""]]
CONSENTS = ["GRU", "HMB", "DS-CA", "NPU", "IRB"]
FIRST = ["alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi",
         "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert",
         "sybil", "trent", "victor", "walter", "zoë", "józef", "李"]
LAST = ["smith", "jones", "o'brien", "müller", "garcía", "nguyen", "kowalski",
        "tanaka", "dubois", "rossi", "ivanov", "chen"]
DOMAINS = ["example.org", "uchicago.edu", "example.com", "gen3.test"]


# ---------------------------------------------------------------- helpers

def parse_size(s):
    s = s.strip().upper().replace(" ", "")
    mult = 1
    for suf, m in (("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30),
                   ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1)):
        if s.endswith(suf):
            s, mult = s[:-len(suf)], m
            break
    val = float(s)
    if val < 0:
        raise ValueError("negative size")
    return int(val * mult)


def cp(s):
    """Escape a Python value for COPY text format."""
    if s is None:
        return "\\N"
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = (s.replace("\\", "\\\\").replace("\t", "\\t")
             .replace("\n", "\\n").replace("\r", "\\r"))
    return s


def arr(items):
    """PostgreSQL array literal for text[] (before COPY escaping)."""
    out = []
    for it in items:
        if it is None:
            out.append("NULL")
        elif (it == "" or it.upper() == "NULL"
              or any(c in it for c in '{}," \\\t\n\r')):
            out.append('"' + it.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            out.append(it)
    return "{" + ",".join(out) + "}"


def jdump(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def b(v):
    return "t" if v else "f"


class Ctx:
    """Per-service RNG plus cheap deterministic helpers."""

    def __init__(self, seed, name):
        self.r = random.Random("gen3gen:%s:%s" % (seed, name))
        self.clock = 0.0

    def uuid4(self):
        h = "%032x" % self.r.getrandbits(128)
        return "%s-%s-4%s-%s%s-%s" % (h[:8], h[8:12], h[13:16],
                                     "89ab"[int(h[16], 16) & 3], h[17:20], h[20:])

    def hexd(self, bits):
        return "%0*x" % (bits // 4, self.r.getrandbits(bits))

    def tick(self, max_step=900):
        self.clock += self.r.random() * max_step
        return self.clock

    def ts(self, t=None):
        if t is None:
            t = self.tick()
        return (BASE_TIME + timedelta(seconds=t)).isoformat(" ", "microseconds")

    def tstz(self, t=None):
        return self.ts(t) + "+00"

    def iso(self, t=None):
        if t is None:
            t = self.tick()
        return (BASE_TIME + timedelta(seconds=t)).isoformat("T", "microseconds") + "+00:00"

    def awk(self, p=0.05, normal=None):
        """Mostly `normal`, sometimes an awkward string (may be None)."""
        if self.r.random() < p:
            return self.r.choice(AWKWARD)
        return normal


def large_text(size, salt=""):
    chunk = ("Long free-text note " + salt + ": tabs\there, newlines\nthere, "
             "back\\slashes, \"quotes\", unicode Zürich 東京 🧬. ")
    n = max(1, size // len(chunk.encode("utf-8")))
    return chunk * n


# ---------------------------------------------------------------- SQL model

class Table:
    def __init__(self, name, columns, pk=None, uniques=(), indexes=(), fks=(),
                 serial=None, serial_type="integer"):
        self.name = name                  # bare name, e.g. User
        self.columns = columns            # [(col, ddl_type)]
        self.pk = pk                      # tuple of column names
        self.uniques = uniques            # [(constraint, cols)]
        self.indexes = indexes            # [(index_name, "USING ... (...)")]
        self.fks = fks                    # [(constraint, cols, ref_table, ref_cols, extra)]
        self.serial = serial              # column backed by a sequence
        self.serial_type = serial_type
        self.rows = 0
        self.bytes = 0
        self.max_row = 0
        self.buf = []
        self.f = None
        self.path = None
        self.seq_last = 0

    @property
    def q(self):
        return "public." + qi(self.name)

    @property
    def seq_name(self):
        return "%s_%s_seq" % (self.name, self.serial)

    def open(self, path):
        self.path = path
        self.f = open(path, "wb", buffering=1 << 20)

    def add(self, *fields):
        self.buf.append("\t".join(fields) + "\n")

    def flush(self):
        buf = self.buf
        if not buf:
            return
        m = max(map(len, buf))
        if m * 4 > self.max_row:
            for row in buf:
                if len(row) * 4 > self.max_row:
                    self.max_row = max(self.max_row, len(row.encode("utf-8")))
        data = "".join(buf).encode("utf-8")
        self.f.write(data)
        self.bytes += len(data)
        self.rows += len(buf)
        buf.clear()

    def close(self):
        self.flush()
        self.f.close()


def qi(name):
    if name.islower() and name.replace("_", "").isalnum() and not name[0].isdigit() \
            and name not in ("user", "order", "group", "table"):
        return name
    return '"' + name.replace('"', '""') + '"'


def cols(names):
    return ", ".join(qi(c) for c in names)


class Service:
    name = None
    extensions = ()

    def __init__(self, seed, budget, big_row):
        self.c = Ctx(seed, self.name)
        self.budget = budget
        self.big_row = big_row
        self.tables = self.schema()
        self.t = {t.name: t for t in self.tables}

    def used(self):
        return sum(t.bytes for t in self.tables)

    def flush(self):
        for t in self.tables:
            t.flush()

    def over_budget(self):
        self.flush()
        return self.used() >= self.budget

    def chunk(self):
        """Parent records to generate before the next budget check: large
        batches while far from the budget, single records near the end."""
        self.batches = getattr(self, "batches", 0) + 1
        used, done = self.used(), getattr(self, "parents", 0)
        if done == 0 or used == 0:
            n = 8
        else:
            n = int((self.budget - used) / (used / done) / 2)
            n = max(1, min(FLUSH_EVERY, n))
        self.parents = done + n
        return n

    def generate(self):
        raise NotImplementedError

    # -------------------------------------------------------------- output
    def write(self, path, pg_version="15.5"):
        spool_dir = path + ".spool"
        os.makedirs(spool_dir, exist_ok=True)
        for i, t in enumerate(self.tables):
            t.open(os.path.join(spool_dir, "%02d.copy" % i))
        try:
            self.generate()
            for t in self.tables:
                t.close()
            with open(path, "wb", buffering=1 << 20) as out:
                w = lambda s: out.write(s.encode("utf-8"))
                w(self.header(pg_version))
                w(self.pre_data())
                for t in self.tables:
                    w("--\n-- Data for Name: %s; Type: TABLE DATA; Schema: public; Owner: -\n--\n\n"
                      % t.name)
                    w("COPY %s (%s) FROM stdin;\n" % (t.q, cols(c for c, _ in t.columns)))
                    with open(t.path, "rb") as f:
                        shutil.copyfileobj(f, out, 1 << 20)
                    w("\\.\n\n\n")
                for t in self.tables:
                    if t.serial:
                        w("--\n-- Name: %s; Type: SEQUENCE SET; Schema: public; Owner: -\n--\n\n"
                          % t.seq_name)
                        w("SELECT pg_catalog.setval('public.%s', %d, %s);\n\n\n" % (
                            qi(t.seq_name).replace("'", "''"), max(t.seq_last, 1),
                            "true" if t.seq_last else "false"))
                w(self.post_data())
                w("--\n-- PostgreSQL database dump complete\n--\n\n")
        finally:
            for t in self.tables:
                if t.f and not t.f.closed:
                    t.f.close()
                if t.path and os.path.exists(t.path):
                    os.unlink(t.path)
            if os.path.isdir(spool_dir):
                os.rmdir(spool_dir)

    def header(self, pg_version):
        s = ("--\n-- PostgreSQL database dump\n--\n\n"
             "-- Dumped from database version %s\n-- Dumped by pg_dump version %s\n\n"
             "SET statement_timeout = 0;\n"
             "SET lock_timeout = 0;\n"
             "SET idle_in_transaction_session_timeout = 0;\n"
             "SET client_encoding = 'UTF8';\n"
             "SET standard_conforming_strings = on;\n"
             "SELECT pg_catalog.set_config('search_path', '', false);\n"
             "SET check_function_bodies = false;\n"
             "SET xmloption = content;\n"
             "SET client_min_messages = warning;\n"
             "SET row_security = off;\n\n" % (pg_version, pg_version))
        for ext in self.extensions:
            s += ("--\n-- Name: %s; Type: EXTENSION; Schema: -; Owner: -\n--\n\n"
                  "CREATE EXTENSION IF NOT EXISTS %s WITH SCHEMA public;\n\n\n" % (ext, ext))
        s += "SET default_tablespace = '';\n\nSET default_table_access_method = heap;\n\n"
        return s

    def pre_data(self):
        out = []
        for t in self.tables:
            out.append("--\n-- Name: %s; Type: TABLE; Schema: public; Owner: -\n--\n\n" % t.name)
            body = ",\n".join("    %s %s" % (qi(c), ty) for c, ty in t.columns)
            out.append("CREATE TABLE %s (\n%s\n);\n\n\n" % (t.q, body))
            if t.serial:
                seq = "public." + qi(t.seq_name)
                out.append("--\n-- Name: %s; Type: SEQUENCE; Schema: public; Owner: -\n--\n\n"
                           % t.seq_name)
                out.append("CREATE SEQUENCE %s\n    AS %s\n    START WITH 1\n"
                           "    INCREMENT BY 1\n    NO MINVALUE\n    NO MAXVALUE\n"
                           "    CACHE 1;\n\n\n" % (seq, t.serial_type))
                out.append("--\n-- Name: %s; Type: SEQUENCE OWNED BY; Schema: public; Owner: -\n--\n\n"
                           % t.seq_name)
                out.append("ALTER SEQUENCE %s OWNED BY %s.%s;\n\n\n" % (seq, t.q, qi(t.serial)))
        for t in self.tables:
            if t.serial:
                seq = "public." + qi(t.seq_name)
                out.append("--\n-- Name: %s %s; Type: DEFAULT; Schema: public; Owner: -\n--\n\n"
                           % (t.name, t.serial))
                out.append("ALTER TABLE ONLY %s ALTER COLUMN %s SET DEFAULT nextval('%s'::regclass);\n\n\n"
                           % (t.q, qi(t.serial), seq.replace("'", "''")))
        return "".join(out)

    def post_data(self):
        out = []
        for t in self.tables:
            if t.pk:
                cn = "%s_pkey" % t.name
                out.append("--\n-- Name: %s %s; Type: CONSTRAINT; Schema: public; Owner: -\n--\n\n"
                           % (t.name, cn))
                out.append("ALTER TABLE ONLY %s\n    ADD CONSTRAINT %s PRIMARY KEY (%s);\n\n\n"
                           % (t.q, qi(cn), cols(t.pk)))
            for cn, cs in t.uniques:
                out.append("--\n-- Name: %s %s; Type: CONSTRAINT; Schema: public; Owner: -\n--\n\n"
                           % (t.name, cn))
                out.append("ALTER TABLE ONLY %s\n    ADD CONSTRAINT %s UNIQUE (%s);\n\n\n"
                           % (t.q, qi(cn), cols(cs)))
        for t in self.tables:
            for iname, spec in t.indexes:
                out.append("--\n-- Name: %s; Type: INDEX; Schema: public; Owner: -\n--\n\n" % iname)
                out.append("CREATE INDEX %s ON %s %s;\n\n\n" % (qi(iname), t.q, spec))
        for t in self.tables:
            for cn, cs, rt, rc, extra in t.fks:
                out.append("--\n-- Name: %s %s; Type: FK CONSTRAINT; Schema: public; Owner: -\n--\n\n"
                           % (t.name, cn))
                out.append("ALTER TABLE ONLY %s\n    ADD CONSTRAINT %s FOREIGN KEY (%s) "
                           "REFERENCES public.%s(%s)%s;\n\n\n"
                           % (t.q, qi(cn), cols(cs), qi(rt), cols(rc), extra))
        return "".join(out)

    def manifest(self):
        return {
            "tables": {t.name: {"rows": t.rows, "bytes": t.bytes, "max_row_bytes": t.max_row}
                       for t in self.tables},
            "copy_order": [t.name for t in self.tables],
            "extensions": list(self.extensions),
        }


# ---------------------------------------------------------------- indexd

class Indexd(Service):
    name = "indexd"

    def schema(self):
        V = "character varying"
        TS = "timestamp without time zone"
        CASC = " ON DELETE CASCADE"
        return [
            Table("index_schema_version", [("version", "integer NOT NULL")], pk=("version",)),
            Table("base_version", [("baseid", V + " NOT NULL")], pk=("baseid",)),
            Table("index_record", [
                ("did", V + " NOT NULL"), ("baseid", V), ("rev", V), ("form", V),
                ("size", "bigint"), ("created_date", TS), ("updated_date", TS),
                ("file_name", V), ("version", V), ("uploader", V), ("description", V),
                ("content_created_date", TS), ("content_updated_date", TS)],
                pk=("did",),
                indexes=[("ix_index_record_baseid", "USING btree (baseid)"),
                         ("ix_index_record_size", "USING btree (size)"),
                         ("ix_index_record_uploader", "USING btree (uploader)")],
                fks=[("index_record_baseid_fkey", ("baseid",), "base_version", ("baseid",), "")]),
            Table("index_record_url", [("did", V + " NOT NULL"), ("url", V + " NOT NULL")],
                  pk=("did", "url"),
                  indexes=[("index_record_url_idx", "USING btree (did)")],
                  fks=[("index_record_url_did_fkey", ("did",), "index_record", ("did",), CASC)]),
            Table("index_record_url_metadata", [
                ("did", V + " NOT NULL"), ("url", V + " NOT NULL"),
                ("key", V + " NOT NULL"), ("value", V)],
                pk=("did", "url", "key"),
                indexes=[("ix_index_record_url_metadata_did", "USING btree (did)")],
                fks=[("index_record_url_metadata_did_url_fkey", ("did", "url"),
                      "index_record_url", ("did", "url"), CASC)]),
            Table("index_record_hash", [
                ("did", V + " NOT NULL"), ("hash_type", V + " NOT NULL"), ("hash_value", V)],
                pk=("did", "hash_type"),
                indexes=[("index_record_hash_idx", "USING btree (did)"),
                         ("ix_index_record_hash_hash_value", "USING btree (hash_value)")],
                fks=[("index_record_hash_did_fkey", ("did",), "index_record", ("did",), CASC)]),
            Table("index_record_authz", [("did", V + " NOT NULL"), ("resource", V + " NOT NULL")],
                  pk=("did", "resource"),
                  indexes=[("index_record_authz_idx", "USING btree (did)")],
                  fks=[("index_record_authz_did_fkey", ("did",), "index_record", ("did",), CASC)]),
            Table("index_record_ace", [("did", V + " NOT NULL"), ("ace", V + " NOT NULL")],
                  pk=("did", "ace"),
                  indexes=[("index_record_ace_idx", "USING btree (did)")],
                  fks=[("index_record_ace_did_fkey", ("did",), "index_record", ("did",), CASC)]),
            Table("index_record_metadata", [
                ("did", V + " NOT NULL"), ("key", V + " NOT NULL"), ("value", V)],
                pk=("did", "key"),
                indexes=[("index_record_metadata_idx", "USING btree (did)")],
                fks=[("index_record_metadata_did_fkey", ("did",), "index_record", ("did",), CASC)]),
        ]

    def generate(self):
        c, r = self.c, self.c.r
        T = self.t
        T["index_schema_version"].add("7")
        base = T["base_version"].add
        rec = T["index_record"].add
        url = T["index_record_url"].add
        urlm = T["index_record_url_metadata"].add
        hsh = T["index_record_hash"].add
        authz = T["index_record_authz"].add
        ace = T["index_record_ace"].add
        meta = T["index_record_metadata"].add
        baseid, ver = None, 0
        n = 0
        while True:
            for _ in range(self.chunk()):
                did = DID_PREFIX + c.uuid4()
                if baseid is None or r.random() > 0.1:
                    baseid, ver = c.uuid4(), 1
                    base(baseid)
                else:
                    ver += 1
                prog = PROGRAMS[n % len(PROGRAMS)]
                proj = "P%03d" % (n % 37)
                fmt = r.choice(DATA_FORMATS)
                if r.random() < 0.03:
                    fname = r.choice(["résumé final.%s", "with space & ampersand.%s",
                                      "tab\there.%s", "back\\slash.%s", "quote'd \"name\".%s",
                                      "数据文件.%s", "%%41 percent.%s"]) % fmt.lower()
                else:
                    fname = "%s_%s_%07d.%s" % (prog, proj, n, fmt.lower())
                created = c.tick(120)
                rec(did, baseid, c.hexd(32)[:8], r.choice(("object", "object", "object", "multipart")),
                    str(r.randint(0, 1 << 40) if r.random() < 0.98 else r.choice((0, 9223372036854775807))),
                    c.ts(created), c.ts(created + r.random() * 86400),
                    cp(fname), str(ver), cp(r.choice(UPLOADERS)),
                    cp(c.awk(0.04)),
                    c.ts(created - 86400 * r.randint(1, 900)) if r.random() < 0.5 else "\\N",
                    c.ts(created - 3600) if r.random() < 0.3 else "\\N")
                key = "%s/%s" % (did[len(DID_PREFIX):], quote(fname))
                u1 = "s3://gen3-%s-data/%s" % (prog.lower(), key)
                url(did, u1)
                if r.random() < 0.5:
                    u2 = "gs://gen3-%s-data/%s" % (prog.lower(), key)
                    url(did, u2)
                if r.random() < 0.1:
                    urlm(did, u1, "storage_class", r.choice(("STANDARD", "GLACIER", "INTELLIGENT_TIERING")))
                    urlm(did, u1, "note", cp(c.awk(0.5, "ok")))
                hsh(did, "md5", c.hexd(128))
                if r.random() < 0.6:
                    hsh(did, "sha256", c.hexd(256))
                if r.random() < 0.2:
                    hsh(did, "crc", "%08x" % r.getrandbits(32))
                authz(did, "/programs/%s/projects/%s" % (prog, proj))
                if r.random() < 0.05:
                    authz(did, "/open")
                if r.random() < 0.3:
                    ace(did, "phs%06d.c%d" % (n % 1000, r.randint(1, 3)))
                if r.random() < 0.4:
                    meta(did, "release_number", str(r.randint(1, 40)))
                    meta(did, "consent_code", r.choice(CONSENTS))
                    if r.random() < 0.2:
                        meta(did, "comment", cp(c.awk(0.8, "plain comment")))
                if n == 0:
                    meta(did, "large_note", cp(large_text(self.big_row, did)))
                n += 1
            if self.over_budget():
                return


# ---------------------------------------------------------------- fence

class Fence(Service):
    name = "fence"
    N_PROJECTS = 200

    def schema(self):
        V = "character varying"
        TS = "timestamp without time zone"
        return [
            Table("identity_provider", [("id", "integer NOT NULL"), ("name", "character varying(255)"),
                                        ("description", V)],
                  pk=("id",), uniques=[("identity_provider_name_key", ("name",))], serial="id"),
            Table("project", [("id", "integer NOT NULL"), ("name", V), ("auth_id", V),
                              ("description", V), ("parent_id", "integer")],
                  pk=("id",), uniques=[("project_auth_id_key", ("auth_id",))], serial="id",
                  fks=[("project_parent_id_fkey", ("parent_id",), "project", ("id",), "")]),
            Table("User", [
                ("id", "integer NOT NULL"), ("username", "character varying(255)"),
                ("id_from_idp", V), ("display_name", V), ("phone_number", V), ("email", V),
                ("_last_auth", TS + " DEFAULT now()"), ("idp_id", "integer"),
                ("google_proxy_group_id", V), ("department_id", "integer"),
                ("active", "boolean"), ("is_admin", "boolean"),
                ("additional_info", "jsonb DEFAULT '{}'::jsonb")],
                pk=("id",), uniques=[("User_username_key", ("username",))], serial="id",
                indexes=[("ix_User_email", "USING btree (email)")],
                fks=[("User_idp_id_fkey", ("idp_id",), "identity_provider", ("id",), "")]),
            Table("access_privilege", [
                ("id", "integer NOT NULL"), ("user_id", "integer"), ("group_id", "integer"),
                ("project_id", "integer"), ("privilege", "character varying[]"),
                ("provider_id", "integer")],
                pk=("id",), serial="id",
                uniques=[("uniq_ap", ("user_id", "group_id", "project_id"))],
                indexes=[("ix_access_privilege_project_id", "USING btree (project_id)")],
                fks=[("access_privilege_user_id_fkey", ("user_id",), "User", ("id",), " ON DELETE CASCADE"),
                     ("access_privilege_project_id_fkey", ("project_id",), "project", ("id",), " ON DELETE CASCADE")]),
            Table("client", [
                ("client_id", "character varying(40) NOT NULL"), ("client_secret", "character varying(60)"),
                ("name", V + " NOT NULL"), ("description", V), ("user_id", "integer"),
                ("auto_approve", "boolean"), ("is_confidential", "boolean"),
                ("_allowed_scopes", "text NOT NULL"), ("_redirect_uris", "text"),
                ("grant_types", "text"), ("response_types", "text"), ("expires_at", "integer")],
                pk=("client_id",), uniques=[("client_name_key", ("name",))],
                fks=[("client_user_id_fkey", ("user_id",), "User", ("id",), " ON DELETE CASCADE")]),
            Table("google_service_account", [
                ("id", "integer NOT NULL"), ("google_unique_id", V + " NOT NULL"),
                ("client_id", "character varying(40)"), ("user_id", "integer NOT NULL"),
                ("google_project_id", V + " NOT NULL"), ("email", V + " NOT NULL")],
                pk=("id",), serial="id",
                uniques=[("google_service_account_google_unique_id_key", ("google_unique_id",)),
                         ("google_service_account_email_key", ("email",))],
                fks=[("google_service_account_user_id_fkey", ("user_id",), "User", ("id",), " ON DELETE CASCADE"),
                     ("google_service_account_client_id_fkey", ("client_id",), "client", ("client_id",), " ON DELETE CASCADE")]),
        ]

    def generate(self):
        c, r = self.c, self.c.r
        T = self.t
        idps = ["google", "fence", "ras", "InCommon", "orcid"]
        for i, nm in enumerate(idps, 1):
            T["identity_provider"].add(str(i), nm, cp(c.awk(0.3, "%s login" % nm)))
        T["identity_provider"].seq_last = len(idps)
        for i in range(1, self.N_PROJECTS + 1):
            prog = PROGRAMS[i % len(PROGRAMS)]
            parent = "\\N" if i <= len(PROGRAMS) else str(1 + i % len(PROGRAMS))
            T["project"].add(str(i), "%s-P%03d" % (prog, i), "phs%06d" % i,
                             cp(c.awk(0.2, "Project %d of %s" % (i, prog))), parent)
        T["project"].seq_last = self.N_PROJECTS
        user = T["User"].add
        ap = T["access_privilege"].add
        uid = apid = gsaid = 0
        privs = ["read", "read-storage", "write-storage", "upload", "create", "update", "delete"]
        while True:
            for _ in range(self.chunk()):
                uid += 1
                fn, ln = r.choice(FIRST), r.choice(LAST)
                uname = "%s.%s%d@%s" % (fn, ln, uid, r.choice(DOMAINS))
                info = {"registration_info": {"name": "%s %s" % (fn.title(), ln.title()),
                                              "organization": r.choice(["UChicago", "NIH", "Ünïversität", ""])}}
                if r.random() < 0.1:
                    info["note"] = c.awk(0.9, "x")
                user(str(uid), cp(uname), "\\N" if r.random() < 0.5 else c.hexd(64)[:21],
                     cp(c.awk(0.1, "%s %s" % (fn.title(), ln.title()))),
                     "\\N" if r.random() < 0.8 else "+1-555-%04d" % r.randint(0, 9999),
                     cp(uname) if r.random() < 0.9 else "\\N",
                     c.ts(), str(r.randint(1, len(idps))),
                     "\\N" if r.random() < 0.5 else c.hexd(64)[:16], "\\N",
                     b(r.random() < 0.95), b(r.random() < 0.01), cp(jdump(info)))
                for pid in sorted(r.sample(range(1, self.N_PROJECTS + 1), r.randint(0, 5))):
                    apid += 1
                    ap(str(apid), str(uid), "\\N", str(pid),
                       cp(arr(r.sample(privs, r.randint(1, 4)))), "\\N")
                client_id = None
                if uid % 40 == 1:
                    client_id = c.hexd(160)[:40]
                    uris = "\n".join("https://app%d.example.org/callback?x=%d" % (uid, k)
                                     for k in range(r.randint(1, 3)))
                    T["client"].add(client_id, "$2b$12$" + c.hexd(212)[:53],
                                    "client %d — %s" % (uid, fn), cp(c.awk(0.3, "an OIDC client")),
                                    str(uid), b(r.random() < 0.5), b(r.random() < 0.7),
                                    "openid user data google_credentials",
                                    cp(uris), cp("authorization_code\nrefresh_token"), "code",
                                    "\\N" if r.random() < 0.5 else str(1600000000 + r.randint(0, 10**8)))
                if r.random() < 0.05 or client_id:
                    gsaid += 1
                    T["google_service_account"].add(
                        str(gsaid), str(r.getrandbits(60)), client_id or "\\N", str(uid),
                        "gen3-proj-%d" % r.randint(1, 500),
                        "svc-%d-%s@gen3-proj.iam.gserviceaccount.com" % (gsaid, c.hexd(32)))
            T["User"].seq_last = uid
            T["access_privilege"].seq_last = apid
            T["google_service_account"].seq_last = gsaid
            if self.over_budget():
                return


# ---------------------------------------------------------------- arborist

class Arborist(Service):
    name = "arborist"
    extensions = ("ltree",)

    def schema(self):
        TS = "timestamp without time zone"
        return [
            Table("resource", [("id", "bigint NOT NULL"), ("tag", "text NOT NULL"),
                               ("name", "text NOT NULL"), ("description", "text"),
                               ("path", "public.ltree NOT NULL")],
                  pk=("id",), serial="id", serial_type="bigint",
                  uniques=[("resource_tag_key", ("tag",)), ("resource_path_key", ("path",))],
                  indexes=[("resource_path_idx", "USING gist (path)")]),
            Table("role", [("id", "integer NOT NULL"), ("name", "text NOT NULL"),
                           ("description", "text")],
                  pk=("id",), serial="id", uniques=[("role_name_key", ("name",))]),
            Table("permission", [("role_id", "integer NOT NULL"), ("name", "text NOT NULL"),
                                 ("service", "text NOT NULL"), ("method", "text NOT NULL"),
                                 ("constraints", "jsonb DEFAULT '{}'::jsonb"),
                                 ("description", "text")],
                  pk=("role_id", "name"),
                  fks=[("permission_role_id_fkey", ("role_id",), "role", ("id",), " ON DELETE CASCADE")]),
            Table("policy", [("id", "integer NOT NULL"), ("name", "text NOT NULL"),
                             ("description", "text")],
                  pk=("id",), serial="id", uniques=[("policy_name_key", ("name",))]),
            Table("policy_role", [("policy_id", "integer NOT NULL"), ("role_id", "integer NOT NULL")],
                  pk=("policy_id", "role_id"),
                  fks=[("policy_role_policy_id_fkey", ("policy_id",), "policy", ("id",), " ON DELETE CASCADE"),
                       ("policy_role_role_id_fkey", ("role_id",), "role", ("id",), " ON DELETE CASCADE")]),
            Table("policy_resource", [("policy_id", "integer NOT NULL"),
                                      ("resource_id", "bigint NOT NULL")],
                  pk=("policy_id", "resource_id"),
                  fks=[("policy_resource_policy_id_fkey", ("policy_id",), "policy", ("id",), " ON DELETE CASCADE"),
                       ("policy_resource_resource_id_fkey", ("resource_id",), "resource", ("id",), " ON DELETE CASCADE")]),
            Table("usr", [("id", "integer NOT NULL"), ("name", "text NOT NULL")],
                  pk=("id",), serial="id", uniques=[("usr_name_key", ("name",))]),
            Table("grp", [("id", "integer NOT NULL"), ("name", "text NOT NULL")],
                  pk=("id",), serial="id", uniques=[("grp_name_key", ("name",))]),
            Table("usr_grp", [("usr_id", "integer NOT NULL"), ("grp_id", "integer NOT NULL"),
                              ("expires_at", TS)],
                  pk=("usr_id", "grp_id"),
                  fks=[("usr_grp_usr_id_fkey", ("usr_id",), "usr", ("id",), " ON DELETE CASCADE"),
                       ("usr_grp_grp_id_fkey", ("grp_id",), "grp", ("id",), " ON DELETE CASCADE")]),
            Table("usr_policy", [("usr_id", "integer NOT NULL"), ("policy_id", "integer NOT NULL"),
                                 ("expires_at", TS)],
                  pk=("usr_id", "policy_id"),
                  indexes=[("usr_policy_policy_id_idx", "USING btree (policy_id)")],
                  fks=[("usr_policy_usr_id_fkey", ("usr_id",), "usr", ("id",), " ON DELETE CASCADE"),
                       ("usr_policy_policy_id_fkey", ("policy_id",), "policy", ("id",), " ON DELETE CASCADE")]),
            Table("grp_policy", [("grp_id", "integer NOT NULL"), ("policy_id", "integer NOT NULL")],
                  pk=("grp_id", "policy_id"),
                  fks=[("grp_policy_grp_id_fkey", ("grp_id",), "grp", ("id",), " ON DELETE CASCADE"),
                       ("grp_policy_policy_id_fkey", ("policy_id",), "policy", ("id",), " ON DELETE CASCADE")]),
        ]

    def generate(self):
        c, r = self.c, self.c.r
        T = self.t
        res, pol = T["resource"].add, T["policy"].add
        roles = [("reader", "peregrine", "read"), ("storage_reader", "fence", "read-storage"),
                 ("creator", "sheepdog", "create"), ("updater", "sheepdog", "update"),
                 ("deleter", "sheepdog", "delete"), ("uploader", "fence", "file_upload"),
                 ("admin", "*", "*"), ("workspace_user", "jupyterhub", "access"),
                 ("indexd_admin", "indexd", "*"), ("mds_user", "mds_gateway", "access")]
        for i, (nm, svc, meth) in enumerate(roles, 1):
            T["role"].add(str(i), nm, cp(c.awk(0.3, "Role %s" % nm)))
            T["permission"].add(str(i), nm, svc, meth, "{}", "\\N")
            if i == 7:
                T["permission"].add(str(i), "admin_extra", "*", "*",
                                    cp(jdump({"note": "tab\there", "ns": ["a", "ö"]})), "")
        T["role"].seq_last = len(roles)
        grps = ["anonymous", "logged-in", "admins", "data-submitters", "Gruppe Ä"]
        for i, g in enumerate(grps, 1):
            T["grp"].add(str(i), cp(g))
        T["grp"].seq_last = len(grps)
        rid = pid = uid = 0

        def add_res(path_labels, name):
            nonlocal rid
            rid += 1
            res(str(rid), c.hexd(64)[:8].upper() + "%d" % rid, cp(name),
                cp(c.awk(0.08, "resource %s" % name)), ".".join(path_labels))
            return rid

        def add_pol(name, role_ids, res_ids):
            nonlocal pid
            pid += 1
            pol(str(pid), cp(name), cp(c.awk(0.1, "policy for %s" % name)))
            for ro in role_ids:
                T["policy_role"].add(str(pid), str(ro))
            for re_ in res_ids:
                T["policy_resource"].add(str(pid), str(re_))
            return pid

        top = add_res(["programs"], "programs")
        add_res(["open"], "open")
        add_pol("all_programs_reader", [1, 2], [top])
        add_pol("open_data_reader", [1, 2], [2])
        T["grp_policy"].add("1", "2")
        T["grp_policy"].add("2", "2")
        T["grp_policy"].add("3", "1")
        progs = []
        for p in PROGRAMS:
            rp = add_res(["programs", p], p)
            progs.append((p, rp))
            add_pol("%s_admin" % p, [3, 4, 5, 7], [rp])
        T["grp_policy"].add("3", "3")
        n = 0
        while True:
            for _ in range(self.chunk()):
                p, _rp = progs[n % len(progs)]
                proj = "P%06d" % n
                rr = add_res(["programs", p, "projects", proj], proj)
                if r.random() < 0.3:
                    add_res(["programs", p, "projects", proj, "data_file_%d" % n], "data file %d ü" % n)
                first_pol = pid + 1
                add_pol("%s.%s.reader" % (p, proj), [1, 2], [rr])
                add_pol("%s.%s.submitter" % (p, proj), [1, 2, 3, 4, 6], [rr])
                if n % 20 == 0:
                    T["grp_policy"].add("4", str(first_pol + 1))
                for _u in range(r.randint(1, 4)):
                    uid += 1
                    T["usr"].add(str(uid), cp("%s.%s%d@%s" % (r.choice(FIRST), r.choice(LAST),
                                                              uid, r.choice(DOMAINS))))
                    exp = c.ts(c.clock + 86400 * 365) if r.random() < 0.5 else "\\N"
                    for g in sorted(r.sample(range(2, len(grps) + 1), r.randint(0, 2))):
                        T["usr_grp"].add(str(uid), str(g), exp)
                    for po in sorted(r.sample(range(1, pid + 1), min(pid, r.randint(1, 4)))):
                        T["usr_policy"].add(str(uid), str(po), exp)
                    c.tick()
                n += 1
            T["resource"].seq_last, T["policy"].seq_last, T["usr"].seq_last = rid, pid, uid
            if self.over_budget():
                return


# ---------------------------------------------------------------- sheepdog

NODE_TABLES = ["program", "project", "case", "sample", "file"]
# (edge table, src node, dst node)
EDGES = [("edge_projectmemberofprogram", "project", "program"),
         ("edge_casememberofproject", "case", "project"),
         ("edge_samplederivedfromcase", "sample", "case"),
         ("edge_filedatafromsample", "file", "sample")]


class Sheepdog(Service):
    name = "sheepdog"
    N_PROJECTS = 12

    def schema(self):
        TSZ = "timestamp with time zone DEFAULT now() NOT NULL"
        tables = []
        for n in NODE_TABLES:
            t = "node_" + n
            tables.append(Table(t, [("created", TSZ), ("acl", "text[]"), ("_sysan", "jsonb"),
                                    ("_props", "jsonb"), ("node_id", "text NOT NULL")],
                                pk=("node_id",),
                                indexes=[("ix_%s__props" % t, "USING gin (_props)"),
                                         ("ix_%s__sysan" % t, "USING gin (_sysan)"),
                                         ("ix_%s__sysan__props" % t, "USING gin (_sysan, _props)"),
                                         ("%s_submitter_id_idx" % t,
                                          "USING btree (((_props ->> 'submitter_id'::text)))")]))
        for e, s, d in EDGES:
            tables.append(Table(e, [("created", TSZ), ("acl", "text[]"), ("_sysan", "jsonb"),
                                    ("_props", "jsonb"), ("src_id", "text NOT NULL"),
                                    ("dst_id", "text NOT NULL")],
                                pk=("src_id", "dst_id"),
                                indexes=[("ix_%s_src_id" % e, "USING btree (src_id)"),
                                         ("ix_%s_dst_id" % e, "USING btree (dst_id)")],
                                fks=[("%s_src_id_fkey" % e, ("src_id",), "node_" + s, ("node_id",), " ON DELETE CASCADE"),
                                     ("%s_dst_id_fkey" % e, ("dst_id",), "node_" + d, ("node_id",), " ON DELETE CASCADE")]))
        return tables

    def sysan(self):
        r = self.c.r
        s = {"last_transaction_id": r.randint(1, 10**6)}
        if r.random() < 0.1:
            s["_voided"] = False
        return s

    def node(self, table, nid, props):
        c, r = self.c, self.c.r
        self.t[table].add(c.tstz(), cp(arr(r.choice(ACLS) if r.random() < 0.05 else [])),
                          cp(jdump(self.sysan())), cp(jdump(props)), nid)

    def edge(self, table, src, dst):
        c = self.c
        self.t[table].add(c.tstz(), "{}", "{}", "{}", src, dst)

    def generate(self):
        c, r = self.c, self.c.r
        progs = []
        for p in PROGRAMS:
            nid = c.uuid4()
            self.node("node_program", nid, {"type": "program", "name": p,
                                            "dbgap_accession_number": "phs%06d" % r.randint(1, 999999)})
            progs.append((p, nid))
        projs = []
        for i in range(self.N_PROJECTS):
            p, pnid = progs[i % len(progs)]
            code = "P%03d" % i
            nid = c.uuid4()
            self.node("node_project", nid, {
                "type": "project", "code": code, "name": "%s %s — synthetic" % (p, code),
                "dbgap_accession_number": "phs%06d" % (1000 + i), "state": "open",
                "availability_type": r.choice(["Open", "Restricted"]),
                "releasable": r.random() < 0.5, "released": r.random() < 0.5,
                "intended_release_date": c.iso()})
            self.edge("edge_projectmemberofprogram", nid, pnid)
            projs.append(("%s-%s" % (p, code), nid))
        n = nf = 0
        while True:
            for _ in range(self.chunk()):
                project_id, projnid = projs[n % len(projs)]
                cnid = c.uuid4()
                csub = "case-%07d" % n
                props = {
                    "type": "case", "submitter_id": csub, "project_id": project_id,
                    "state": r.choice(STATES), "disease_type": r.choice(DISEASES),
                    "primary_site": r.choice(SITES), "gender": r.choice(GENDERS),
                    "race": r.choice(RACES), "ethnicity": r.choice(ETHNICITIES),
                    "vital_status": r.choice(VITAL), "year_of_birth": r.randint(1920, 2015),
                    "age_at_index": r.randint(0, 90), "bmi": round(r.uniform(14, 45), 2),
                    "days_to_death": r.randint(0, 4000) if r.random() < 0.3 else None,
                    "consent_codes": r.sample(CONSENTS, r.randint(0, 3)),
                    "created_datetime": c.iso(), "updated_datetime": c.iso(),
                }
                note = c.awk(0.05)
                if note is not None:
                    props["comment"] = note
                self.node("node_case", cnid, props)
                self.edge("edge_casememberofproject", cnid, projnid)
                for s in range(r.randint(1, 3)):
                    snid = c.uuid4()
                    self.node("node_sample", snid, {
                        "type": "sample", "submitter_id": "%s-sample-%d" % (csub, s),
                        "project_id": project_id, "state": r.choice(STATES),
                        "sample_type": r.choice(SAMPLE_TYPES), "composition": r.choice(COMPOSITIONS),
                        "tissue_type": r.choice(["Tumor", "Normal", "Not Reported"]),
                        "days_to_collection": r.randint(0, 3000),
                        "is_ffpe": r.random() < 0.2, "preservation_method": r.choice(PRESERVATION),
                        "initial_weight": round(r.uniform(0.1, 900), 3),
                        "created_datetime": c.iso(), "updated_datetime": c.iso()})
                    self.edge("edge_samplederivedfromcase", snid, cnid)
                    for f in range(r.randint(1, 4)):
                        fnid = c.uuid4()
                        fmt = r.choice(DATA_FORMATS)
                        props = {
                            "type": r.choice(FILE_TYPES),
                            "submitter_id": "%s-sample-%d-file-%d" % (csub, s, f),
                            "project_id": project_id, "state": r.choice(STATES),
                            "file_state": r.choice(FILE_STATES),
                            "file_name": "%s_%d_%d.%s" % (csub, s, f, fmt.lower()),
                            "file_size": r.randint(1, 1 << 38), "md5sum": c.hexd(128),
                            "object_id": DID_PREFIX + c.uuid4(),
                            "data_format": fmt, "data_type": r.choice(DATA_TYPES),
                            "data_category": r.choice(DATA_CATEGORIES),
                            "experimental_strategy": r.choice(STRATEGIES),
                            "platform": r.choice(["Illumina", "PacBio", "Oxford Nanopore", "Aperio"]),
                            "created_datetime": c.iso(), "updated_datetime": c.iso(),
                            "urls": ["s3://gen3-data/%s/%s" % (project_id, fnid)],
                        }
                        if nf == 0:
                            props["description"] = large_text(self.big_row, fnid)
                        elif r.random() < 0.03:
                            props["file_name"] = r.choice(["spaces in name.bam", "ümlaut_データ.vcf",
                                                           "back\\slash.bam", "tab\tname.tsv"])
                        nf += 1
                        self.node("node_file", fnid, props)
                        self.edge("edge_filedatafromsample", fnid, snid)
                n += 1
            if self.over_budget():
                return


# ---------------------------------------------------------------- metadata (optional)

class Metadata(Service):
    name = "metadata"

    def schema(self):
        return [
            Table("metadata", [("guid", "character varying NOT NULL"), ("data", "jsonb"),
                               ("authz", "jsonb")],
                  pk=("guid",), indexes=[("ix_metadata_data", "USING gin (data)")]),
            Table("metadata_alias", [("alias", "character varying NOT NULL"),
                                     ("guid", "character varying NOT NULL")],
                  pk=("alias",),
                  fks=[("metadata_alias_guid_fkey", ("guid",), "metadata", ("guid",), " ON DELETE CASCADE")]),
        ]

    def generate(self):
        c, r = self.c, self.c.r
        n = 0
        while True:
            for _ in range(self.chunk()):
                guid = DID_PREFIX + c.uuid4()
                data = {"_guid_type": r.choice(["discovery_metadata", "indexed_file_object"]),
                        "gen3_discovery": {"study_title": c.awk(0.1, "Study %d" % n),
                                           "tags": [{"name": r.choice(SITES), "category": "site"}],
                                           "subjects": r.randint(0, 5000)}}
                self.t["metadata"].add(guid, cp(jdump(data)),
                                       cp(jdump({"version": 0, "_resource_paths": ["/open"]})))
                if r.random() < 0.2:
                    self.t["metadata_alias"].add(cp("alias %d ✓" % n), guid)
                n += 1
            if self.over_budget():
                return


SERVICES = {"indexd": Indexd, "fence": Fence, "arborist": Arborist,
            "sheepdog": Sheepdog, "metadata": Metadata}


# ---------------------------------------------------------------- Elasticsearch

def kw():
    return {"type": "keyword", "fields": {"analyzed": {
        "type": "text", "analyzer": "ngram_analyzer", "search_analyzer": "search_analyzer",
        "term_vector": "with_positions_offsets"}}}


ES_SETTINGS_INDEX = {
    "number_of_shards": "1",
    "max_ngram_diff": "20",
    "analysis": {
        "analyzer": {
            "search_analyzer": {"filter": "lowercase", "type": "custom", "tokenizer": "keyword"},
            "ngram_analyzer": {"filter": ["lowercase"], "type": "custom", "tokenizer": "ngram_tokenizer"},
        },
        "tokenizer": {
            "ngram_tokenizer": {"token_chars": ["letter", "digit", "whitespace", "punctuation", "symbol"],
                                "min_gram": "1", "type": "ngram", "max_gram": "20"},
        },
    },
    "number_of_replicas": "0",
}

CASE_FIELDS = {
    "node_id": "k", "submitter_id": "k", "project_id": "k", "program_name": "k",
    "project_code": "k", "auth_resource_path": "k", "disease_type": "k",
    "primary_site": "k", "gender": "k", "race": "k", "ethnicity": "k",
    "vital_status": "k", "year_of_birth": "long", "age_at_index": "long",
    "days_to_death": "long", "bmi": "float", "_samples_count": "long",
    "_files_count": "long", "data_format": "k", "data_type": "k", "sample_type": "k",
    "consent_codes": "k", "created_datetime": "k", "updated_datetime": "k", "comment": "k",
}
CASE_ARRAYS = ["consent_codes", "data_format", "data_type", "sample_type"]
FILE_FIELDS = {
    "node_id": "k", "object_id": "k", "submitter_id": "k", "file_name": "k",
    "file_size": "long", "md5sum": "k", "data_format": "k", "data_type": "k",
    "data_category": "k", "experimental_strategy": "k", "project_id": "k",
    "auth_resource_path": "k", "case_ids": "k", "source_node": "k", "state": "k",
    "file_state": "k", "created_datetime": "k", "updated_datetime": "k",
    "quality_score": "float", "tags": "k",
}
FILE_ARRAYS = ["case_ids", "tags"]
AWKWARD_IDS = ["file with spaces.bam", "a/b/c", "what?is=this&x=1", "hash#fragment",
               "percent%20encoded%2F", "ünïcødé-файл-文件-🧬", "plus+sign and ~tilde",
               "quote\"and'apostrophe", "back\\slash", "..", "colon:semi;comma,"]


def es_props(fields):
    out = {}
    for k, ty in sorted(fields.items()):
        out[k] = kw() if ty == "k" else {"type": ty}
    return out


def es_indices():
    case_props = es_props(CASE_FIELDS)
    case_props["diagnoses"] = {"type": "nested", "properties": {
        "primary_diagnosis": kw(), "tumor_stage": kw(), "age_at_diagnosis": {"type": "long"},
        "treatments": {"type": "nested", "properties": {"treatment_type": kw(),
                                                       "days_to_treatment": {"type": "long"}}}}}
    file_props = es_props(FILE_FIELDS)
    arr_props = {"array": kw(), "timestamp": {"type": "date"}}
    return [("dev_case", case_props), ("dev_file", file_props), ("dev_array-config", arr_props)]


def write_es(out_dir, seed, budget, docs):
    """budget: approx total bytes of the data files; docs: per data index (overrides budget)."""
    es_dir = os.path.join(out_dir, "es")
    os.makedirs(es_dir, exist_ok=True)
    c = Ctx(seed, "es")
    r = c.r
    result = {}
    shares = {"dev_case": 0.4, "dev_file": 0.6}
    for alias, props in es_indices():
        concrete = alias + "_0"
        with open(os.path.join(es_dir, alias + "__mapping.json"), "w", encoding="utf-8") as f:
            f.write(json.dumps({concrete: {"mappings": {"properties": props}}},
                               ensure_ascii=False, separators=(",", ":")) + "\n")
        settings = dict(ES_SETTINGS_INDEX)
        settings["provided_name"] = concrete
        with open(os.path.join(es_dir, alias + "__settings.json"), "w", encoding="utf-8") as f:
            f.write(json.dumps({concrete: {"settings": {"index": settings}}},
                               ensure_ascii=False, separators=(",", ":")) + "\n")
        path = os.path.join(es_dir, alias + "__data.json")
        nbytes = ndocs = 0
        with open(path, "wb", buffering=1 << 20) as f:
            def emit(doc_id, src):
                nonlocal nbytes, ndocs
                line = json.dumps({"_index": concrete, "_type": "_doc", "_id": doc_id,
                                   "_score": 1, "_source": src},
                                  ensure_ascii=False, separators=(",", ":")) + "\n"
                data = line.encode("utf-8")
                f.write(data)
                nbytes += len(data)
                ndocs += 1

            if alias == "dev_array-config":
                ts = c.iso().replace("+00:00", "")
                emit("dev_case", {"timestamp": ts, "array": CASE_ARRAYS})
                emit("dev_file", {"timestamp": ts, "array": FILE_ARRAYS})
            else:
                gen = case_doc if alias == "dev_case" else file_doc
                limit = budget * shares[alias]
                i = 0
                while (docs is not None and i < docs) or (docs is None and nbytes < limit):
                    doc_id, src = gen(c, i)
                    emit(doc_id, src)
                    i += 1
        result[alias] = {"concrete_index": concrete, "docs": ndocs, "bytes": nbytes,
                         "mapping": "es/%s__mapping.json" % alias,
                         "settings": "es/%s__settings.json" % alias,
                         "data": "es/%s__data.json" % alias}
    return result


def _project(r, i):
    prog = PROGRAMS[i % len(PROGRAMS)]
    code = "P%03d" % (i % 12)
    return prog, code


def case_doc(c, i):
    r = c.r
    prog, code = _project(r, i)
    nid = c.uuid4()
    src = {
        "node_id": nid, "submitter_id": "case-%07d" % i, "project_id": "%s-%s" % (prog, code),
        "program_name": prog, "project_code": code,
        "auth_resource_path": "/programs/%s/projects/%s" % (prog, code),
        "disease_type": r.choice(DISEASES), "primary_site": r.choice(SITES),
        "gender": r.choice(GENDERS), "race": r.choice(RACES), "ethnicity": r.choice(ETHNICITIES),
        "vital_status": r.choice(VITAL), "year_of_birth": r.randint(1920, 2015),
        "age_at_index": r.randint(0, 90), "bmi": round(r.uniform(14, 45), 2),
        "_samples_count": r.randint(1, 3), "_files_count": r.randint(1, 12),
        "data_format": sorted(r.sample(DATA_FORMATS, r.randint(0, 3))),
        "data_type": sorted(r.sample(DATA_TYPES, r.randint(1, 3))),
        "sample_type": sorted(r.sample(SAMPLE_TYPES, r.randint(1, 2))),
        "consent_codes": r.sample(CONSENTS, r.randint(0, 2)),
        "created_datetime": c.iso(), "updated_datetime": c.iso(),
        "diagnoses": [{"primary_diagnosis": r.choice(DISEASES),
                       "tumor_stage": r.choice(["stage i", "stage ii", "stage iii", "stage iv", None]),
                       "age_at_diagnosis": r.randint(0, 32000),
                       "treatments": [{"treatment_type": r.choice(["Radiation", "Chemotherapy", "Surgery"]),
                                       "days_to_treatment": r.randint(0, 900)}
                                      for _ in range(r.randint(0, 2))]}
                      for _ in range(r.randint(0, 2))],
    }
    if r.random() < 0.3:
        src["days_to_death"] = r.randint(0, 4000)
    note = c.awk(0.05)
    if note is not None:
        src["comment"] = note
    return nid, src


def file_doc(c, i):
    r = c.r
    prog, code = _project(r, i)
    did = DID_PREFIX + c.uuid4()
    fmt = r.choice(DATA_FORMATS)
    doc_id = did
    if i % 97 == 5:
        doc_id = AWKWARD_IDS[(i // 97) % len(AWKWARD_IDS)] + "-%d" % i
    src = {
        "node_id": did, "object_id": did, "submitter_id": "file-%07d" % i,
        "file_name": "file_%07d.%s" % (i, fmt.lower()) if r.random() > 0.03 else
        r.choice(["spaces in name.bam", "ümlaut_データ.vcf", "back\\slash.bam", "tab\tname.tsv"]),
        "file_size": r.randint(1, 1 << 40), "md5sum": c.hexd(128),
        "data_format": fmt, "data_type": r.choice(DATA_TYPES),
        "data_category": r.choice(DATA_CATEGORIES),
        "experimental_strategy": r.choice(STRATEGIES),
        "project_id": "%s-%s" % (prog, code),
        "auth_resource_path": "/programs/%s/projects/%s" % (prog, code),
        "case_ids": [c.uuid4() for _ in range(r.randint(1, 3))],
        "source_node": r.choice(FILE_TYPES), "state": r.choice(STATES),
        "file_state": r.choice(FILE_STATES),
        "created_datetime": c.iso(), "updated_datetime": c.iso(),
        "quality_score": round(r.random() * 100, 4),
        "tags": r.sample(["raw", "harmonized", "qc-pass", "qc-fail", "légacy", "新"], r.randint(0, 3)),
    }
    return doc_id, src


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate a synthetic gen3-shaped dataset.")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--size", default="200MB",
                    help="approx total bytes of COPY data across all tables (KB/MB/GB, 1024-based)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--services", default=",".join(DEFAULT_SERVICES),
                    help="comma-separated subset of: " + ",".join(ALL_SERVICES))
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--es-docs", type=int, help="docs per data index (dev_case and dev_file each)")
    g.add_argument("--es-size", help="approx total bytes of ES data files (default: size/4)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)

    size = parse_size(a.size)
    services = [s.strip() for s in a.services.split(",") if s.strip()]
    for s in services:
        if s not in SERVICES:
            ap.error("unknown service %r (choose from %s)" % (s, ", ".join(ALL_SERVICES)))
    if len(set(services)) != len(services):
        ap.error("duplicate service in --services")
    es_budget = parse_size(a.es_size) if a.es_size else size // 4
    if a.es_docs is not None and a.es_docs < 0:
        ap.error("--es-docs must be >= 0")

    os.makedirs(os.path.join(a.out, "pg"), exist_ok=True)
    total_share = sum(SERVICE_SHARE[s] for s in services)
    big_row = max(8 << 10, min(1 << 20, size // 256))
    manifest = {"generator": "gen3gen", "generator_version": GENERATOR_VERSION,
                "seed": a.seed, "size": a.size, "size_bytes": size,
                "services": {}, "es": {}}
    t0 = time.perf_counter()
    copy_bytes = 0
    for s in sorted(services, key=ALL_SERVICES.index):
        budget = int(size * SERVICE_SHARE[s] / total_share)
        svc = SERVICES[s](a.seed, budget, big_row)
        path = os.path.join(a.out, "pg", s + ".sql")
        ts = time.perf_counter()
        svc.write(path)
        m = svc.manifest()
        m["file"] = "pg/%s.sql" % s
        m["file_bytes"] = os.path.getsize(path)
        m["copy_bytes"] = svc.used()
        copy_bytes += svc.used()
        manifest["services"][s] = m
        if not a.quiet:
            print("%-9s %8.1f MB COPY data in %6.1fs" % (s, svc.used() / 1e6, time.perf_counter() - ts),
                  file=sys.stderr)
    t_pg = time.perf_counter() - t0
    ts = time.perf_counter()
    manifest["es"] = write_es(a.out, a.seed, es_budget, a.es_docs)
    t_es = time.perf_counter() - ts
    es_bytes = sum(v["bytes"] for v in manifest["es"].values())
    manifest["es_size_bytes"] = es_budget if a.es_docs is None else None
    manifest["es_docs_per_index"] = a.es_docs
    manifest["totals"] = {"copy_bytes": copy_bytes, "es_bytes": es_bytes}
    with open(os.path.join(a.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    if not a.quiet:
        el = time.perf_counter() - t0
        print("pg: %.1f MB in %.1fs (%.1f MB/s); es: %.1f MB in %.1fs (%.1f MB/s); total %.1fs"
              % (copy_bytes / 1e6, t_pg, copy_bytes / 1e6 / max(t_pg, 1e-9),
                 es_bytes / 1e6, t_es, es_bytes / 1e6 / max(t_es, 1e-9), el), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
