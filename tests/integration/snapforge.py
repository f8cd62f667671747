"""Forging snapshots for integrity tests: read a real .tar.zst's members, change them, and write
them back, optionally with end.json recomputed so that every sum in it agrees with the forgery
(what a careless or hostile rewrite of a snapshot would do)."""
import hashlib
import io
import json
import subprocess
import tarfile


def read_members(path):
    """The members of a .tar.zst in order: [(name, bytes)]."""
    raw = subprocess.run(["zstd", "-q", "-d", "-c", path], check=True, capture_output=True).stdout
    out = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as t:
        for m in t.getmembers():
            out.append((m.name, t.extractfile(m).read()))
    return out


def write_members(path, members):
    """Writes members as a ustar compressed by the zstd CLI (a valid frame checksum)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:", format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    subprocess.run(["zstd", "-q", "-f", "-o", path], input=buf.getvalue(), check=True)


def chunk_headers(members, db=None):
    """[(index, name, header)] of the pg data chunk headers (of database db)."""
    out = []
    for i, (name, data) in enumerate(members):
        parts = name.split("/")
        if len(parts) == 4 and parts[0] == "pg" and parts[2] == "data" and name.endswith(".json"):
            if db is None or parts[1] == db:
                out.append((i, name, json.loads(data)))
    return out


def refresh_end(members):
    """Rewrites end.json so that its member count, member_sums and per-database, per-table and
    per-index sums all agree with members (the chunk headers are trusted)."""
    body = [(n, d) for n, d in members if n != "end.json"]
    end = json.loads(dict(members)["end.json"])
    end["members"] = len(body)
    if "member_sums" in end:
        end["member_sums"] = [{"name": n, "bytes": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                              for n, d in body]
    for db in end["databases"]:
        db["rows"] = db["bytes"] = db["chunks"] = 0
        for t in db.get("tables", []):
            t["rows"] = t["bytes"] = t["chunks"] = 0
        for _, _, h in chunk_headers(body, db["name"]):
            db["rows"] += h["rows"]
            db["bytes"] += h["bytes"]
            db["chunks"] += 1
            for t in db.get("tables", []):
                if (t["schema"], t["name"]) == (h["schema"], h["table"]):
                    t["rows"] += h["rows"]
                    t["bytes"] += h["bytes"]
                    t["chunks"] += 1
    for ix in end.get("indices", []):
        ix["docs"] = ix["bytes"] = ix["chunks"] = 0
        prefix = "es/%s/docs." % ix["name"]
        for n, d in body:
            if n.startswith(prefix) and n.endswith(".json"):
                h = json.loads(d)
                ix["docs"] += h["docs"]
                ix["bytes"] += h["bytes"]
                ix["chunks"] += 1
    return body + [("end.json", json.dumps(end, indent=1).encode())]


def as_format_1_1(members):
    """The same snapshot as format 1.1 wrote it: manifest minor 1, no member_sums."""
    out = []
    for name, data in members:
        if name == "manifest.json":
            m = json.loads(data)
            m["format_minor"] = 1
            data = json.dumps(m, indent=1).encode()
        elif name == "end.json":
            e = json.loads(data)
            e.pop("member_sums", None)
            data = json.dumps(e, indent=1).encode()
        out.append((name, data))
    return out
