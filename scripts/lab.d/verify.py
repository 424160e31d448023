#!/usr/bin/env python3
"""scripts/lab verify: nothing lost, nothing duplicated, nothing reordered.

An independent referee for the lab's sample application (scripts/lab-app):
Python's standard library and Kafka's own CLI tools only, no kdrill code.

Every record the app writes is `{"side","topic","run","seq","ts_ms"}`: `run`
names one app process, `seq` counts 0, 1, 2, ... per run and topic. For each
side (dc, dr) and topic it takes the end offsets first (kafka-get-offsets),
then reads every record up to them with the console consumer, and judges
only records that carry a `run` (older records are counted as unidentified):

* per side and topic: records, distinct (run, seq), duplicates (extra
  copies), per run the seq range held and its gaps;
* across sides: (run, seq) held by the side that wrote them (the record's
  `side`; its own log is the truth of what was written) and missing on the
  other side: lost by replication;
* order: per partition and key, one run's seqs never go back;
* the app's final `produced` / `dropped` lines (logs/app-<side>.log and .1)
  tell the app's own losses (failed deliveries) apart from Kafka's.

Prints one JSON report on stdout. Exit 0: ok; 1: something lost, duplicated
or reordered; 2: could not read everything (the report's "errors" say why).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

EXIT_OK, EXIT_BAD, EXIT_INCOMPLETE = 0, 1, 2
# A seq beyond this is not the app's (it would need years at the lab's rates);
# refusing it keeps one hand-made record from allocating gigabytes.
MAX_SEQ = 50_000_000
# Long range lists say little more than their count.
MAX_RANGES = 50

PRODUCED = re.compile(
    r"produced (?P<topic>\S+) run=(?P<run>\S+) first=0 last=(?P<last>-?\d+) "
    r"delivered=(?P<delivered>\d+) failed=(?P<failed>\d+)(?: pending=(?P<pending>\d+))?"
)
DROPPED = re.compile(r"dropped (?P<topic>\S+) (?P<run>\S+) (?P<lo>\d+)\.\.(?P<hi>\d+)")
ZEROS = re.compile(rb"\x00+")
ONES = re.compile(rb"\x01+")
# bytes.translate table: any count > 0 becomes 1.
PRESENT = bytes([0] + [1] * 255)


def parse_args(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(prog="scripts/lab verify", description=__doc__.split("\n\n")[0])
    p.add_argument("--lab", default=os.path.join(os.path.dirname(here), "lab"), help="the scripts/lab to run tools with")
    p.add_argument("--state", default=os.environ.get("KDRILL_LAB_DIR", "/tmp/kdrill-lab"), help="lab state dir")
    p.add_argument("--bootstrap", action="append", default=[], metavar="SIDE=HOST:PORT",
                   help="a cluster to read (default: dc and dr from <state>/lab.env)")
    p.add_argument("--topics", default="orders,redis-writes", help="comma-separated topics (default: %(default)s)")
    p.add_argument("--runs", default="", help="judge only these runs (comma-separated); all are still read")
    p.add_argument("--since", type=int, default=None, metavar="MS",
                   help="read only records stamped at or after MS (ms since the epoch) and judge only the runs "
                        "started then or later (a run is named <side>-<start ms>-<pid>)")
    p.add_argument("--timeout", type=float, default=float(os.environ.get("KDRILL_LAB_WAIT_VERIFY", "600")),
                   help="seconds for the whole verification (default: %(default)s)")
    p.add_argument("--idle-timeout", type=float, default=30.0,
                   help="seconds a consumer may receive nothing before it gives up (default: %(default)s)")
    return p.parse_args(argv)


def bootstraps(args):
    """{side: bootstrap} from --bootstrap or lab.env."""
    if args.bootstrap:
        out = {}
        for b in args.bootstrap:
            side, _, addr = b.partition("=")
            if not side or not addr:
                raise SystemExit(f"--bootstrap wants SIDE=HOST:PORT, not {b!r}")
            out[side] = addr
        return out
    env = {}
    try:
        with open(os.path.join(args.state, "lab.env"), encoding="utf-8") as f:
            for line in f:
                k, sep, v = line.strip().partition("=")
                if sep:
                    env[k] = v
    except OSError as e:
        raise SystemExit(f"cannot read {args.state}/lab.env ({e}): run scripts/lab up")
    return {"dc": env.get("KDRILL_LAB_DC_BOOTSTRAP", "127.0.0.1:19092"),
            "dr": env.get("KDRILL_LAB_DR_BOOTSTRAP", "127.0.0.1:29092")}


def run_tool(args, deadline, tool_args):
    """Runs `scripts/lab tool ...` to completion within the deadline: (rc, stdout, stderr)."""
    left = deadline - time.monotonic()
    if left <= 0:
        return None, "", "no time left"
    try:
        done = subprocess.run([args.lab, "tool", *tool_args], capture_output=True, text=True, timeout=left,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, "", f"still running after {left:.0f}s"
    return done.returncode, done.stdout, done.stderr


def offsets(args, deadline, bootstrap, topics, time_spec):
    """{(topic, partition): offset} at `time_spec` (-1 latest, -2 earliest), or an error string."""
    # GetOffsetShell reads topic names as regexes: quote them, match exactly below.
    pattern = ",".join(re.escape(t) for t in topics)
    rc, out, err = run_tool(args, deadline, ["kafka-get-offsets", "--bootstrap-server", bootstrap,
                                             "--topic-partitions", pattern, "--time", str(time_spec)])
    found = {}
    for line in out.splitlines():
        parts = line.rsplit(":", 2)
        if len(parts) == 3 and parts[0] in topics and parts[1].isdigit() and parts[2].lstrip("-").isdigit():
            found[(parts[0], int(parts[1]))] = int(parts[2])
    if rc != 0 and not found:
        last = (err.strip().splitlines() or ["no output"])[-1]
        return f"kafka-get-offsets --time {time_spec} on {bootstrap} failed (rc {rc}): {last}"
    return found


class RunSeen:
    """One run's records on one side and topic."""
    __slots__ = ("writer", "counts", "records", "duplicates", "max_seq")

    def __init__(self, writer):
        self.writer = writer
        self.counts = bytearray()  # copies held of each seq, saturating at 255
        self.records = 0
        self.duplicates = 0
        self.max_seq = -1


class TopicRead:
    """Reads one topic of one side with the console consumer and tallies it."""

    def __init__(self, side, topic, bootstrap, start, end, runs_filter, since=None):
        self.side, self.topic, self.bootstrap = side, topic, bootstrap
        self.start, self.end = start, end  # {partition: offset}
        self.runs_filter = runs_filter
        self.since = since
        self.records = self.beyond = self.unidentified = self.unparsable = 0
        self.runs = {}
        self.last_seq = {}  # (partition, key, run) -> highest seq so far
        self.order_violations = 0
        self.order_examples = []
        # Partitions still to read up to their end offset.
        self.pending = {p for p in end if end[p] > start.get(p, 0)}
        self.error = None
        self.proc = None

    def add(self, line):
        parts = line.split("\t", 3)
        if len(parts) != 4 or not parts[0].startswith("Partition:") or not parts[1].startswith("Offset:"):
            self.unparsable += 1
            return
        partition = int(parts[0][10:])
        offset = int(parts[1][7:])
        end = self.end.get(partition, 0)
        if offset >= end - 1:
            self.pending.discard(partition)  # read up to the snapshot
            if offset >= end:
                self.beyond += 1  # written after the snapshot
                return
        self.records += 1
        value = parts[3].rstrip("\n")
        if '"run"' not in value:
            self.unidentified += 1  # written before records carried a run
            return
        try:
            v = json.loads(value)
            run, seq, writer = v["run"], v["seq"], v.get("side")
        except (ValueError, KeyError, TypeError):
            self.unparsable += 1
            return
        if not isinstance(run, str) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
            self.unparsable += 1
            return
        if self.runs_filter is not None and run not in self.runs_filter:
            return
        if self.since is not None and run_start_ms(run) < self.since:
            return
        r = self.runs.get(run)
        if r is None:
            r = self.runs[run] = RunSeen(writer)
        r.records += 1
        counts = r.counts
        if seq >= len(counts):
            counts.extend(bytes(max(seq + 1 - len(counts), len(counts))))
        c = counts[seq]
        if c:
            r.duplicates += 1
        if c < 255:
            counts[seq] = c + 1
        if seq > r.max_seq:
            r.max_seq = seq
        k = (partition, parts[2], run)
        last = self.last_seq.get(k)
        if last is not None and seq < last:
            self.order_violations += 1
            if len(self.order_examples) < 10:
                self.order_examples.append({"partition": partition, "offset": offset, "key": parts[2],
                                            "run": run, "seq": seq, "after_seq": last})
        else:
            self.last_seq[k] = seq

    def read(self, args, deadline, stderr_file):
        if not self.pending:
            return
        # The console consumer starts at one offset per partition only through
        # a group's committed offsets: a throwaway group, set first, deleted after.
        group = None
        if self.since is not None:
            # Named so MM2 never mirrors it (its default `groups.exclude`).
            group = f"console-consumer-kdrill-verify-{os.getpid()}-{self.side}-{self.topic}"
            with tempfile.NamedTemporaryFile("w", suffix=".csv") as f:
                f.writelines(f"{self.topic},{p},{o}\n" for p, o in sorted(self.start.items()))
                f.flush()
                rc, _, err = run_tool(args, deadline, ["kafka-consumer-groups", "--bootstrap-server", self.bootstrap,
                                                       "--group", group, "--reset-offsets", "--from-file", f.name,
                                                       "--execute"])
            if rc != 0:
                last = (err.strip().splitlines() or ["no output"])[-1]
                self.error = f"{self.side}/{self.topic}: setting where to read from failed (rc {rc}): {last}"
                return
        try:
            self.consume(args, group, stderr_file)
        finally:
            if group is not None:
                # A member that did not leave is on the coordinator's books until
                # its session (6 s, below) times out.
                for _ in range(10):
                    rc, _, _ = run_tool(args, deadline + 30, ["kafka-consumer-groups", "--bootstrap-server",
                                                              self.bootstrap, "--delete", "--group", group])
                    if rc == 0:
                        break
                    time.sleep(2)

    def consume(self, args, group, stderr_file):
        # The group's shortest session a broker allows by default.
        start = ["--group", group, "--command-property", "session.timeout.ms=6000"] if group else ["--from-beginning"]
        cmd = [args.lab, "tool", "console-consumer", "--bootstrap-server", self.bootstrap, "--topic", self.topic,
               *start, "--timeout-ms", str(int(args.idle_timeout * 1000)),
               "--formatter-property", "print.partition=true", "--formatter-property", "print.offset=true",
               "--formatter-property", "print.key=true",
               "--command-property", "enable.auto.commit=false",
               "--command-property", "max.partition.fetch.bytes=8388608",
               "--command-property", "fetch.max.bytes=52428800"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr_file, stdin=subprocess.DEVNULL,
                                     text=True, bufsize=1 << 20)
        try:
            for line in self.proc.stdout:
                self.add(line)
                if not self.pending:
                    break
        except ValueError:
            pass  # stdout closed by the deadline watchdog
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.pending and self.error is None:
            stderr_file.seek(0)
            tail = [l for l in stderr_file.read().decode(errors="replace").splitlines() if l.strip()][-3:]
            behind = ", ".join(f"p{p}" for p in sorted(self.pending))
            self.error = (f"{self.side}/{self.topic}: console consumer ended (rc {self.proc.returncode}) before "
                          f"reaching the end offsets of {behind}" + (f": {' | '.join(tail)}" if tail else ""))

    def stop(self, why):
        self.error = self.error or f"{self.side}/{self.topic}: {why}"
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()


def run_start_ms(run):
    """When a run started, from its name `<side>-<start ms>-<pid>`; 0 if unnamed so."""
    parts = run.split("-")
    return int(parts[1]) if len(parts) >= 3 and parts[1].isdigit() else 0


def ranges(mask_bytes, pattern, limit=MAX_RANGES):
    """[[from, to], ...] of the runs of `pattern` in mask_bytes, and their total length."""
    out, total = [], 0
    for m in pattern.finditer(mask_bytes):
        total += m.end() - m.start()
        if len(out) < limit:
            out.append([m.start(), m.end() - 1])
    return out, total


def as_int(counts, length):
    """Bit i = seq i present (one byte per seq, little endian)."""
    return int.from_bytes(bytes(counts[:length]).translate(PRESENT).ljust(length, b"\0"), "little")


def app_reports(state):
    """{run: {topic: {...}}} from the apps' final lines."""
    out = {}
    for side in ("dc", "dr"):
        for name in (f"app-{side}.log.1", f"app-{side}.log"):
            try:
                with open(os.path.join(state, "logs", name), encoding="utf-8", errors="replace") as f:
                    lines = f.readlines()
            except OSError:
                continue
            for line in lines:
                m = PRODUCED.search(line)
                if m:
                    t = out.setdefault(m["run"], {}).setdefault(m["topic"], {"dropped": 0})
                    t.update(last=int(m["last"]), delivered=int(m["delivered"]), failed=int(m["failed"]),
                             pending=int(m["pending"] or 0))
                    continue
                m = DROPPED.search(line)
                if m:
                    t = out.setdefault(m["run"], {}).setdefault(m["topic"], {"dropped": 0})
                    t["dropped"] += int(m["hi"]) - int(m["lo"]) + 1
    return out


def main(argv):
    t0 = time.monotonic()
    args = parse_args(argv)
    deadline = t0 + args.timeout
    sides = bootstraps(args)
    topics = [t for t in args.topics.split(",") if t]
    runs_filter = {r for r in args.runs.split(",") if r} or None
    errors = []

    # End offsets first: what exists now is what must be read. From the
    # log start, or from the first record stamped at or after --since
    # (every record of a run started then; MM2 keeps the source's stamps).
    first = -2 if args.since is None else args.since
    snap = {}
    threads = []
    for side, bs in sides.items():
        for spec in (-1, first):
            def take(side=side, bs=bs, spec=spec):
                snap[(side, spec)] = offsets(args, deadline, bs, topics, spec)
            threads.append(threading.Thread(target=take))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reads = []
    for side, bs in sides.items():
        end, start = snap[(side, -1)], snap[(side, first)]
        bad = [x for x in (end, start) if isinstance(x, str)]
        if bad:
            errors.extend(bad)
            continue
        for topic in topics:
            e = {p: o for (t, p), o in end.items() if t == topic}
            if not e:
                errors.append(f"topic {topic} not found on {side} ({bs})")
                continue
            # A partition with nothing stamped since then answers -1: nothing to read.
            s = {p: (o if o >= 0 else e.get(p, 0)) for (t, p), o in start.items() if t == topic}
            reads.append(TopicRead(side, topic, bs, s, e, runs_filter, args.since))

    if not errors:
        # Every consumer within the deadline; a watchdog kills what overruns.
        def watchdog():
            for r in reads:
                r.stop(f"not read completely within --timeout {args.timeout:.0f}s")
        timer = threading.Timer(max(0.0, deadline - time.monotonic()), watchdog)
        timer.daemon = True
        timer.start()
        files = [tempfile.TemporaryFile() for _ in reads]
        workers = [threading.Thread(target=r.read, args=(args, deadline, f)) for r, f in zip(reads, files)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        timer.cancel()
        for f in files:
            f.close()
        errors.extend(r.error for r in reads if r.error)

    report = judge(sides, topics, reads, runs_filter, app_reports(args.state), errors)
    report["elapsed_s"] = round(time.monotonic() - t0, 1)
    json.dump(report, sys.stdout, indent=1)
    sys.stdout.write("\n")
    if errors:
        return EXIT_INCOMPLETE
    return EXIT_OK if report["ok"] else EXIT_BAD


def judge(sides, topics, reads, runs_filter, apps, errors):
    by = {(r.side, r.topic): r for r in reads}
    out_sides = {s: {"bootstrap": b, "topics": {}} for s, b in sides.items()}
    totals = dict(records=0, unidentified=0, unparsable=0, duplicates=0, order_violations=0,
                  lost_by_replication=0, writer_missing_unexplained=0)
    for (side, topic), r in sorted(by.items()):
        runs = {}
        distinct = 0
        for run, seen in sorted(r.runs.items()):
            length = seen.max_seq + 1
            gaps, missing = ranges(bytes(seen.counts[:length]), ZEROS)
            held = length - missing
            distinct += held
            runs[run] = {"writer": seen.writer, "records": seen.records, "distinct": held,
                         "duplicates": seen.duplicates, "first": len(seen.counts) - len(seen.counts.lstrip(b"\0")),
                         "last": seen.max_seq, "gaps": gaps, "missing": missing}
        out_sides[side]["topics"][topic] = {
            "partitions": len(r.end), "expected": sum(o - r.start.get(p, 0) for p, o in r.end.items()),
            "records": r.records, "beyond_snapshot": r.beyond, "unidentified": r.unidentified,
            "unparsable": r.unparsable, "distinct": distinct,
            "duplicates": sum(s.duplicates for s in r.runs.values()),
            "order_violations": r.order_violations, "order_violation_examples": r.order_examples,
            "runs": runs,
        }
        for k in ("records", "unidentified", "unparsable", "duplicates", "order_violations"):
            totals[k] += out_sides[side]["topics"][topic][k]

    replication, writer_loss = [], []
    for topic in topics:
        all_runs = {}
        for side in sides:
            r = by.get((side, topic))
            for run, seen in (r.runs.items() if r else ()):
                all_runs.setdefault(run, seen.writer)
        for run, writer in sorted(all_runs.items()):
            w = by.get((writer, topic))
            if w is None:
                continue  # written on a side not read (or not readable: an error says so)
            wseen = w.runs.get(run)
            length = wseen.max_seq + 1 if wseen else 0
            # The writer's own holes: its app's failures and drops explain them.
            app = apps.get(run, {}).get(topic)
            app_last = app["last"] if app else -1
            span = max(length, app_last + 1)
            counts = bytes(wseen.counts[:length]) if wseen else b""
            _, wmissing = ranges(counts.ljust(span, b"\0"), ZEROS)
            if wmissing:
                explained = (app["failed"] + app["pending"] + app["dropped"]) if app else 0
                unexplained = max(0, wmissing - explained)
                writer_loss.append({"topic": topic, "run": run, "side": writer, "missing": wmissing,
                                    "app_failed": app["failed"] if app else None,
                                    "app_dropped": app["dropped"] if app else None,
                                    "unexplained": unexplained})
                totals["writer_missing_unexplained"] += unexplained
            for other in sides:
                if other == writer:
                    continue
                o = by.get((other, topic))
                if o is None:
                    continue
                oseen = o.runs.get(run)
                olen = oseen.max_seq + 1 if oseen else 0
                wbits = as_int(wseen.counts, length) if wseen else 0
                obits = as_int(oseen.counts, olen) if oseen else 0
                n = max(length, olen)
                lost_mask = (wbits & ~obits).to_bytes(n, "little") if n else b""
                extra_mask = (obits & ~wbits).to_bytes(n, "little") if n else b""
                lost_ranges, lost = ranges(lost_mask, ONES)
                _, extra = ranges(extra_mask, ONES)
                written = length - ranges(counts, ZEROS)[1]
                replication.append({"topic": topic, "run": run, "from": writer, "to": other, "written": written,
                                    "lost": lost, "lost_ranges": lost_ranges, "only_on_target": extra})
                totals["lost_by_replication"] += lost

    runs_seen = {run for r in reads for run in r.runs}
    runs_not_found = sorted(runs_filter - runs_seen) if runs_filter else []
    ok = (not errors and not runs_not_found and totals["duplicates"] == 0 and totals["order_violations"] == 0
          and totals["lost_by_replication"] == 0 and totals["writer_missing_unexplained"] == 0)
    if errors:
        summary = f"INCOMPLETE: {errors[0]}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")
    else:
        summary = (f"{'OK' if ok else 'NOT OK'}: {totals['records']} records read on {'+'.join(sides)} "
                   f"({len(runs_seen)} runs judged, {totals['unidentified']} without a run), "
                   f"{totals['duplicates']} duplicates, {totals['lost_by_replication']} lost by replication, "
                   f"{totals['writer_missing_unexplained']} missing on the writing side unexplained, "
                   f"{totals['order_violations']} order violations")
        if runs_not_found:
            summary += f"; runs not found: {', '.join(runs_not_found)}"
    return {"ok": ok, "summary": summary, "complete": not errors, "errors": errors, "topics": topics,
            "runs_filter": sorted(runs_filter) if runs_filter else None, "runs_not_found": runs_not_found,
            "totals": totals, "sides": out_sides, "replication": replication, "writer_loss": writer_loss,
            "app_reports": {run: {t: a for t, a in per_topic.items() if t in topics}
                            for run, per_topic in apps.items() if run in runs_seen}}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
