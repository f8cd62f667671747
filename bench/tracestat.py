"""What a `gen3db restore --trace FILE` trace says about a restore: the
phases' wall time, how busy each connection was, and the server's CPU
seconds split over phases and jobs. Python standard library only; used by
bench/run.py, tested by bench/test_shapes.py.

A trace record (one JSON line) has conn (1..jobs a worker, 0 the leader and
the command's own phases), job (copy, index, constraint, attach, fk, analyze,
pre-data, statements, prepare, swap), object, table, start and end (seconds
since the trace was opened).

Phases: copy is "data"; index, constraint, fk and analyze are phases of
their own (a key's attach, its ALTER TABLE ... USING INDEX, counts as
constraint); the leader's records (pre-data, statements, prepare, swap) are
phases named by their job.

Server CPU per phase: the bench samples the server's CPU seconds (from
/proc) every SAMPLE_EVERY seconds while the restore runs, on the trace's
clock (time since the process started; the trace opens a few milliseconds
later, so the split is good to about one sample). Each sample interval's
CPU is shared among the worker jobs running in it, in proportion to how
long each ran inside the interval; an interval where no worker job runs
goes to the leader's records running then, and one where nothing runs to
"other" (start-up, provisioning not traced, exit).
"""
import json

SAMPLE_EVERY = 0.1
WORKER_PHASE = {"copy": "data", "index": "index", "constraint": "constraint",
                "attach": "constraint", "fk": "fk", "validate": "fk", "analyze": "analyze"}
PHASE_ORDER = ["prepare", "pre-data", "statements", "data", "index", "constraint", "fk",
               "analyze", "swap", "other"]


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def phase(rec):
    return WORKER_PHASE.get(rec["job"], rec["job"])


def union(intervals):
    """Total length of the union of (start, end) intervals."""
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def shifted(recs, offset):
    """The records moved offset seconds later (to lay restores of several
    databases, run one after the other, on one time line)."""
    return [dict(r, start=r["start"] + offset, end=r["end"] + offset) for r in recs]


def key(r):
    """A worker job's name: its job and object (and database when known)."""
    k = "%s %s" % (r["job"], r.get("object") or r.get("table") or "")
    return "%s: %s" % (r["database"], k) if r.get("database") else k


def attribute_cpu(samples, recs):
    """samples: [(t, cpu seconds so far)] ascending, on the trace's clock.
    Returns ({phase: cpu s}, {"job object": cpu s}); see the module's doc."""
    by_phase, by_job = {}, {}
    workers = [r for r in recs if r["conn"] > 0]
    leader = [r for r in recs if r["conn"] == 0]
    for (t0, c0), (t1, c1) in zip(samples, samples[1:]):
        d = c1 - c0
        if d <= 0 or t1 <= t0:
            continue
        for group in (workers, leader):
            share = [(r, min(r["end"], t1) - max(r["start"], t0)) for r in group]
            share = [(r, w) for r, w in share if w > 0]
            if share:
                break
        total = sum(w for _, w in share)
        if not share:
            by_phase["other"] = by_phase.get("other", 0.0) + d
            continue
        for r, w in share:
            p = phase(r)
            by_phase[p] = by_phase.get(p, 0.0) + d * w / total
            if r["conn"] > 0 and r["job"] != "copy":
                by_job[key(r)] = by_job.get(key(r), 0.0) + d * w / total
    return by_phase, by_job


def analyze(recs, wall, jobs, samples=None):
    """One restore: wall (the process's wall seconds), span (first worker
    job's start to the last's end), per worker connection
    its busy seconds (the union of its jobs), per phase the jobs, the wall
    (union of its jobs' intervals), job seconds (sum of their durations) and
    server CPU when samples are given, and each worker job's duration."""
    work = [(r["start"], r["end"]) for r in recs if r["conn"] > 0]
    span = (max(e for _, e in work) - min(s for s, _ in work)) if work else 0.0
    conns = {}
    for c in range(1, jobs + 1):
        conns[str(c)] = union([(r["start"], r["end"]) for r in recs if r["conn"] == c])
    phases = {}
    for r in recs:
        p = phases.setdefault(phase(r), {"jobs": 0, "job_s": 0.0, "iv": []})
        p["jobs"] += 1
        p["job_s"] += r["end"] - r["start"]
        p["iv"].append((r["start"], r["end"]))
    for p in phases.values():
        p["wall"] = union(p.pop("iv"))
        p["cpu"] = 0.0
    builds = {}
    if samples:
        cpu, builds = attribute_cpu(samples, recs)
        for k, v in cpu.items():
            phases.setdefault(k, {"jobs": 0, "job_s": 0.0, "wall": 0.0})["cpu"] = v
    durations = {}
    for r in recs:
        if r["conn"] > 0 and r["job"] != "copy":
            durations[key(r)] = durations.get(key(r), 0.0) + r["end"] - r["start"]
    return {"wall": wall, "span": span, "jobs": jobs, "conns": conns, "phases": phases,
            "builds": {k: {"s": v, "cpu": builds.get(k, 0.0)} for k, v in durations.items()}}


def merge(parts):
    """Analyses of restores run one after the other (a shape of several
    databases) as one: walls, busy seconds, job seconds and CPU add up."""
    out = {"wall": 0.0, "span": 0.0, "jobs": max([p["jobs"] for p in parts] + [0]), "conns": {},
           "phases": {}, "builds": {}}
    for p in parts:
        out["wall"] += p["wall"]
        out["span"] += p["span"]
        for c, v in p["conns"].items():
            out["conns"][c] = out["conns"].get(c, 0.0) + v
        for k, v in p["phases"].items():
            o = out["phases"].setdefault(k, {"jobs": 0, "job_s": 0.0, "wall": 0.0, "cpu": 0.0})
            for f in o:
                o[f] += v.get(f, 0)
        for k, v in p["builds"].items():
            out["builds"][k] = v
    return out


def busy(a, of="wall"):
    """Each worker connection's busy share of the wall time (of="span":
    of the load's span, from the first worker job's start to the last's
    end, leaving out provisioning, pre-data and the swap)."""
    return {c: (v / a[of] if a[of] else 0.0) for c, v in sorted(a["conns"].items())}


def ordered(phases):
    return sorted(phases, key=lambda p: (PHASE_ORDER.index(p) if p in PHASE_ORDER
                                         else len(PHASE_ORDER), p))
