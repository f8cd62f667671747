#!/usr/bin/env python3
"""Deterministic generator of the benchmark's dataset shapes.

Each shape is a dataset of its own, built to stress one part of a restore:

  a  dominant  one big table (text primary key, four secondary btree
               indexes) and two child tables with foreign keys, like indexd
  b  many      300 small tables with primary keys; a third of them
               lookups with a unique key, the rest items with a foreign key
               to a lookup and a btree index on it
  c  jsonb     a sheepdog-like jsonb table with two GIN indexes as the
               biggest part, an edge table with foreign keys to it, and an
               ltree table with a GiST index (arborist's resource paths)
  d  wide      wide rows: several KB of text per row (TOASTed), a btree
               index or two, and a small child table with a foreign key
  e  mix       gen3gen.py's four services (fence, indexd, arborist,
               sheepdog), one database each

    python3 bench/shapes.py --shape a --out DIR --size 50MB --seed 1 [--quiet]

writes DIR/pg/<database>.sql, pg_dump-style plain SQL (header and SETs,
tables, COPY blocks, primary keys and unique constraints, indexes, foreign
keys, as pg_dump orders them), and DIR/manifest.json (the shape, its
databases and per table rows, bytes and largest row). --size is each
shape's approximate bytes of COPY data. bench/run.py loads these files into
its throwaway PostgreSQL and benchmarks the files the real pg_dump writes
of them.

Everything comes from random.Random seeded from the seed, the shape and the
table: the same arguments give byte-identical files. Memory stays flat
whatever the size: tables are written one after the other straight into the
output file (a child's foreign keys name its parent's rows by number, so no
key is kept).
"""
import argparse
import hashlib
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen3gen  # noqa: E402
from gen3gen import Table, cp, jdump, qi, cols  # noqa: E402

SHAPE_VERSION = 1
SHAPES = {"a": "dominant", "b": "many", "c": "jsonb", "d": "wide", "e": "mix"}
BATCH = 512                    # rows per write
V = "character varying"
TS = "timestamp without time zone"
TSTZ = "timestamp with time zone"
WORDS = ("sample case file project aliquot read genome variant cohort study "
         "tumor normal blood tissue slide image clinical submitter program "
         "sequencing alignment quality index portal consent release batch "
         "donor analyte protocol assay panel depth coverage reference").split()


def did(seed, i):
    """The i-th record's GUID, the same for the parent and its children."""
    h = hashlib.md5(("%s:%d" % (seed, i)).encode()).hexdigest()
    return "dg.4503/%s-%s-4%s-%s%s-%s" % (h[:8], h[8:12], h[13:16], "89ab"[int(h[16], 16) & 3],
                                          h[17:20], h[20:])


def ts(r, base_day=0):
    return "20%02d-%02d-%02d %02d:%02d:%02d.%06d" % (
        17 + (base_day + r.randrange(2000)) // 400 % 9, r.randint(1, 12), r.randint(1, 28),
        r.randrange(24), r.randrange(60), r.randrange(60), r.randrange(1000000))


class Shape(gen3gen.Service):
    """One database of a shape: schema() as gen3gen's services, and
    rows(table) yielding each table's COPY lines, the tables written in
    order (parents first), each until its share of the budget is used or
    its rows run out."""
    shares = {}                # table -> share of the budget (default: even)
    min_rows = 1

    def __init__(self, seed, budget):
        self.seed = seed
        super().__init__(seed, budget, 0)

    def rng(self, table):
        return random.Random("shapes:%s:%s:%s" % (self.seed, self.name, table))

    def budget_of(self, t):
        share = self.shares.get(t.name)
        if share is None:
            share = (1.0 - sum(self.shares.values())) / sum(
                1 for x in self.tables if x.name not in self.shares)
        return int(self.budget * share)

    def write(self, path, pg_version="15.5"):
        with open(path, "wb", buffering=1 << 20) as out:
            w = lambda s: out.write(s.encode("utf-8"))
            w(self.header(pg_version))
            w(self.pre_data())
            for t in self.tables:
                w("--\n-- Data for Name: %s; Type: TABLE DATA; Schema: public; Owner: -\n--\n\n"
                  % t.name)
                w("COPY %s (%s) FROM stdin;\n" % (t.q, cols(c for c, _ in t.columns)))
                self.fill(t, out)
                w("\\.\n\n\n")
            for t in self.tables:
                if t.serial:
                    w("SELECT pg_catalog.setval('public.%s', %d, true);\n\n\n"
                      % (qi(t.seq_name).replace("'", "''"), max(t.rows, 1)))
            w(self.post_data())
            w("--\n-- PostgreSQL database dump complete\n--\n\n")

    def fill(self, t, out):
        budget = self.budget_of(t)
        buf, pending = [], 0
        for row in self.rows(t):
            buf.append(row)
            pending += len(row)
            if len(buf) >= BATCH or t.bytes + pending >= budget:
                self.emit(t, buf, out)
                pending = 0
                if t.bytes >= budget and t.rows >= self.min_rows:
                    return
        self.emit(t, buf, out)

    @staticmethod
    def emit(t, buf, out):
        if not buf:
            return
        data = "".join(buf).encode("utf-8")
        out.write(data)
        t.bytes += len(data)
        t.rows += len(buf)
        t.max_row = max(t.max_row, max(len(x.encode("utf-8")) for x in buf))
        buf.clear()

    def rows(self, t):
        return getattr(self, "rows_" + t.name)(self.rng(t.name))


# ---------------------------------------------------------------- a: dominant

class Dominant(Shape):
    name = "dominant"
    shares = {"record": 0.70, "record_url": 0.18, "record_hash": 0.12}

    def schema(self):
        casc = " ON DELETE CASCADE"
        return [
            Table("record", [("did", V + " NOT NULL"), ("baseid", V), ("rev", V),
                             ("size", "bigint"), ("created_date", TS), ("updated_date", TS),
                             ("file_name", V), ("uploader", V), ("version", V)],
                  pk=("did",),
                  indexes=[("ix_record_baseid", "USING btree (baseid)"),
                           ("ix_record_size", "USING btree (size)"),
                           ("ix_record_created_date", "USING btree (created_date)"),
                           ("ix_record_uploader_file_name", "USING btree (uploader, file_name)")]),
            Table("record_url", [("did", V + " NOT NULL"), ("url", V + " NOT NULL")],
                  pk=("did", "url"),
                  fks=[("record_url_did_fkey", ("did",), "record", ("did",), casc)]),
            Table("record_hash", [("did", V + " NOT NULL"), ("hash_type", V + " NOT NULL"),
                                  ("hash_value", V)],
                  pk=("did", "hash_type"),
                  indexes=[("ix_record_hash_hash_value", "USING btree (hash_value)")],
                  fks=[("record_hash_did_fkey", ("did",), "record", ("did",), casc)]),
        ]

    def rows_record(self, r):
        uploaders = ["alice@example.org", "bob@example.org", "svc-ingest", "", "\\N"]
        i = 0
        while True:
            base = did(self.seed, -1 - i // 3)[8:]
            yield "%s\t%s\t%08x\t%d\t%s\t%s\t%s\t%s\t%d\n" % (
                did(self.seed, i), base, r.getrandbits(32), r.randint(0, 1 << 40), ts(r, i),
                ts(r, i + 1), "file_%08d.%s" % (i, r.choice(("bam", "vcf", "cram", "fastq"))),
                r.choice(uploaders), i % 3 + 1)
            i += 1

    def rows_record_url(self, r):
        n = self.t["record"].rows
        for i in range(n):
            d = did(self.seed, i)
            yield "%s\ts3://gen3-data/%s/file_%08d.bam\n" % (d, d[8:], i)
            if r.random() < 0.5:
                yield "%s\tgs://gen3-data/%s/file_%08d.bam\n" % (d, d[8:], i)

    def rows_record_hash(self, r):
        n = self.t["record"].rows
        for i in range(n):
            d = did(self.seed, i)
            yield "%s\tmd5\t%032x\n" % (d, r.getrandbits(128))
            if r.random() < 0.6:
                yield "%s\tsha256\t%064x\n" % (d, r.getrandbits(256))


# ---------------------------------------------------------------- b: many

class Many(Shape):
    name = "many"
    TABLES = 300
    LOOKUPS = 100

    def schema(self):
        out = []
        for k in range(self.TABLES):
            if k < self.LOOKUPS:
                out.append(Table("lookup_%03d" % k, [
                    ("id", "integer NOT NULL"), ("code", V + " NOT NULL"), ("label", "text"),
                    ("rank", "integer")],
                    pk=("id",), uniques=[("lookup_%03d_code_key" % k, ("code",))]))
            else:
                parent = "lookup_%03d" % (k % self.LOOKUPS)
                out.append(Table("item_%03d" % k, [
                    ("id", "bigint NOT NULL"), ("lookup_id", "integer NOT NULL"), ("name", V),
                    ("amount", "numeric(12,2)"), ("created", TSTZ), ("note", "text")],
                    pk=("id",), indexes=[("ix_item_%03d_lookup_id" % k, "USING btree (lookup_id)")],
                    fks=[("item_%03d_lookup_id_fkey" % k, ("lookup_id",), parent, ("id",), "")]))
        return out

    def budget_of(self, t):
        # lookups are a tenth of an item table
        unit = self.budget / (self.LOOKUPS * 0.1 + (self.TABLES - self.LOOKUPS))
        return int(unit * (0.1 if t.name.startswith("lookup_") else 1.0))

    def rows(self, t):
        r = self.rng(t.name)
        if t.name.startswith("lookup_"):
            return self.lookup_rows(r)
        k = int(t.name[5:])
        return self.item_rows(r, self.t["lookup_%03d" % (k % self.LOOKUPS)].rows)

    @staticmethod
    def lookup_rows(r):
        i = 1
        while True:
            yield "%d\tC%06d\t%s\t%d\n" % (i, i, cp(" ".join(r.choice(WORDS) for _ in range(4))),
                                            r.randrange(1000))
            i += 1

    @staticmethod
    def item_rows(r, parents):
        i = 1
        while True:
            yield "%d\t%d\titem %d %s\t%d.%02d\t%s+00\t%s\n" % (
                i, r.randint(1, parents), i, r.choice(WORDS), r.randrange(100000),
                r.randrange(100), ts(r, i), "\\N" if r.random() < 0.3 else
                " ".join(r.choice(WORDS) for _ in range(r.randint(3, 12))))
            i += 1


# ---------------------------------------------------------------- c: jsonb

class Jsonb(Shape):
    name = "jsonb"
    extensions = ("ltree",)
    shares = {"node": 0.78, "edge": 0.08, "resource": 0.14}

    def schema(self):
        return [
            Table("node", [("node_id", V + " NOT NULL"), ("created", TSTZ + " NOT NULL"),
                           ("acl", "text[]"), ("_sysan", "jsonb"), ("_props", "jsonb")],
                  pk=("node_id",),
                  indexes=[("ix_node_sysan", "USING gin (_sysan)"),
                           ("ix_node_props", "USING gin (_props)"),
                           ("ix_node_created", "USING btree (created)")]),
            Table("edge", [("src_id", V + " NOT NULL"), ("dst_id", V + " NOT NULL"),
                           ("created", TSTZ + " NOT NULL")],
                  pk=("src_id", "dst_id"),
                  indexes=[("ix_edge_dst_id", "USING btree (dst_id)")],
                  fks=[("edge_src_id_fkey", ("src_id",), "node", ("node_id",), ""),
                       ("edge_dst_id_fkey", ("dst_id",), "node", ("node_id",), "")]),
            Table("resource", [("id", "integer NOT NULL"), ("name", V + " NOT NULL"),
                               ("path", "public.ltree NOT NULL"), ("description", V)],
                  pk=("id",), uniques=[("resource_path_key", ("path",))],
                  indexes=[("resource_path_idx", "USING gist (path)")]),
        ]

    def rows_node(self, r):
        i = 0
        while True:
            props = {"submitter_id": "sub-%08d" % i, "project_id": "P%03d" % (i % 40),
                     "state": r.choice(("validated", "submitted", "released")),
                     "data_format": r.choice(("BAM", "VCF", "FASTQ", "CRAM")),
                     "file_size": r.randint(1, 1 << 40), "md5sum": "%032x" % r.getrandbits(128),
                     "tags": r.sample(WORDS, r.randint(1, 4)),
                     "description": " ".join(r.choice(WORDS) for _ in range(r.randint(4, 30)))}
            sysan = {"source": r.choice(("ingest", "portal", "api")), "batch": i // 1000,
                     "ok": r.random() < 0.9}
            yield "%s\t%s+00\t{%s}\t%s\t%s\n" % (did(self.seed, i)[8:], ts(r, i),
                                                 r.choice(("open", "phs000178", "phs001234")),
                                                 cp(jdump(sysan)), cp(jdump(props)))
            i += 1

    def rows_edge(self, r):
        n = self.t["node"].rows
        for i in range(n):
            j = r.randrange(n)
            if j != i:
                yield "%s\t%s\t%s+00\n" % (did(self.seed, i)[8:], did(self.seed, j)[8:], ts(r, i))

    def rows_resource(self, r):
        i = 1
        while True:
            p, q = i % 50, i // 50 % 400
            path = "programs.prog_%02d.projects.proj_%03d.files.f%d" % (p, q, i)
            yield "%d\tf%d\t%s\t%s\n" % (i, i, path, r.choice(WORDS))
            i += 1


# ---------------------------------------------------------------- d: wide

class Wide(Shape):
    name = "wide"
    shares = {"document": 0.95}

    def __init__(self, seed, budget):
        super().__init__(seed, budget)
        r = self.rng("sentences")
        self.sentences = [" ".join(r.choice(WORDS) for _ in range(r.randint(6, 18))) + ". "
                          for _ in range(2000)]

    def schema(self):
        return [
            Table("document", [("id", "bigint NOT NULL"), ("title", V), ("author", V),
                               ("created", TS), ("abstract", "text"), ("body", "text")],
                  pk=("id",),
                  indexes=[("ix_document_author", "USING btree (author)"),
                           ("ix_document_created", "USING btree (created)")]),
            Table("document_tag", [("document_id", "bigint NOT NULL"), ("tag", V + " NOT NULL")],
                  pk=("document_id", "tag"),
                  fks=[("document_tag_document_id_fkey", ("document_id",), "document", ("id",),
                        " ON DELETE CASCADE")]),
        ]

    def text(self, r, nbytes):
        return "".join(r.choices(self.sentences, k=max(1, nbytes // 70)))

    def rows_document(self, r):
        i = 1
        while True:
            yield "%d\t%s\t%s\t%s\t%s\t%s\n" % (
                i, "Document %d: %s" % (i, r.choice(WORDS)), r.choice(WORDS) + "@example.org",
                ts(r, i), self.text(r, 600), self.text(r, r.randint(4000, 12000)))
            i += 1

    def rows_document_tag(self, r):
        for i in range(1, self.t["document"].rows + 1):
            for tag in sorted(r.sample(WORDS, r.randint(1, 3))):
                yield "%d\t%s\n" % (i, tag)


CLASSES = {"a": [Dominant], "b": [Many], "c": [Jsonb], "d": [Wide]}


def generate(shape, out, size, seed):
    """Writes the shape's files and manifest under out; returns the manifest."""
    os.makedirs(os.path.join(out, "pg"), exist_ok=True)
    if shape == "e":
        gen3gen.main(["--out", out, "--size", str(size) + "B", "--seed", str(seed),
                      "--es-docs", "0", "--quiet"])
        with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
            g = json.load(f)
        dbs = {s: {"file": v["file"], "tables": v["tables"], "copy_bytes": v["copy_bytes"]}
               for s, v in g["services"].items()}
    else:
        dbs = {}
        for cls in CLASSES[shape]:
            db = cls(seed, size)
            path = os.path.join(out, "pg", db.name + ".sql")
            db.write(path)
            dbs[db.name] = {"file": "pg/%s.sql" % db.name, "copy_bytes": db.used(),
                            "tables": {t.name: {"rows": t.rows, "bytes": t.bytes,
                                                "max_row_bytes": t.max_row}
                                       for t in db.tables}}
    manifest = {"generator": "shapes", "version": SHAPE_VERSION, "shape": shape,
                "name": SHAPES[shape], "seed": seed, "size_bytes": size, "databases": dbs,
                "copy_bytes": sum(d["copy_bytes"] for d in dbs.values())}
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate one benchmark dataset shape.")
    ap.add_argument("--shape", required=True, choices=sorted(SHAPES),
                    help=", ".join("%s: %s" % kv for kv in sorted(SHAPES.items())))
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", default="50MB", help="approx bytes of COPY data (KB/MB/GB)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    m = generate(a.shape, a.out, gen3gen.parse_size(a.size), a.seed)
    if not a.quiet:
        for name, d in m["databases"].items():
            print("%s/%s: %d tables, %.1f MB COPY data" % (m["name"], name, len(d["tables"]),
                                                          d["copy_bytes"] / 1e6), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
