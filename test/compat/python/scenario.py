"""Shared parts of the Python consumer-group scenarios (confluent_group.py,
kafka_python_group.py): arguments, an overall deadline, the records each
scenario produces and the checks on what came back.

Every check raises Mismatch; main() turns that, or any other error, into a
non-zero exit with the reason on stderr. Nothing here talks to Kafka.
"""

import collections
import faulthandler
import os
import signal
import sys
import time
import traceback

# Whole-script deadline; the Go test kills the process a little later.
DEADLINE_SECONDS = 90

# Records produced before the first consumer, and after its commit.
FIRST_BATCH = 40
SECOND_BATCH = 12


class Mismatch(Exception):
    """What a client saw differs from correct Kafka behaviour."""


def log(msg):
    print("[%6.2fs] %s" % (time.monotonic() - _START, msg), file=sys.stderr, flush=True)


_START = time.monotonic()


def expect(cond, msg):
    if not cond:
        raise Mismatch(msg)


def values(tag, n):
    """n distinct record values, e.g. resume-a-007."""
    return ["%s-%03d" % (tag, i) for i in range(n)]


def wait_until(what, cond, timeout, step):
    """Calls step() (which polls the client) until cond() is true."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise Mismatch("timed out after %.0fs waiting for %s" % (timeout, what))
        step()


def check_exactly(what, got, want):
    """got is a list of (partition, offset, value); want a list of values.
    Every wanted value must be there exactly once and nothing else."""
    counts = collections.Counter(v for _, _, v in got)
    dups = sorted(v for v, c in counts.items() if c > 1)
    missing = sorted(set(want) - set(counts))
    extra = sorted(set(counts) - set(want))
    expect(not dups and not missing and not extra,
           "%s: %d records, %d distinct; duplicates %s; missing %s; unexpected %s"
           % (what, len(got), len(counts), dups[:20], missing[:20], extra[:20]))
    # Within a partition offsets grow strictly.
    last = {}
    for p, o, v in got:
        expect(o > last.get(p, -1), "%s: partition %d offset %d (%s) after offset %d"
               % (what, p, o, v, last.get(p, -1)))
        last[p] = o


def partitions_of(got):
    return sorted({p for p, _, _ in got})


def run(scenarios):
    """Entry point: argv is ADDR SCENARIO TOPIC GROUP."""
    if len(sys.argv) != 5 or sys.argv[2] not in scenarios:
        print("usage: %s ADDR {%s} TOPIC GROUP" % (sys.argv[0], "|".join(sorted(scenarios))),
              file=sys.stderr)
        sys.exit(2)
    addr, name, topic, group = sys.argv[1:]
    faulthandler.enable()

    def on_alarm(signum, frame):
        print("FAIL %s: still running after %ds; thread stacks follow" % (name, DEADLINE_SECONDS),
              file=sys.stderr, flush=True)
        faulthandler.dump_traceback(all_threads=True)
        os._exit(3)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(DEADLINE_SECONDS)
    try:
        scenarios[name](addr, topic, group)
    except Mismatch as e:
        print("FAIL %s: %s" % (name, e), file=sys.stderr, flush=True)
        os._exit(1)
    except Exception:
        print("FAIL %s: error" % name, file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    print("OK %s" % name, flush=True)
    # Client threads must not keep a finished scenario alive.
    sys.stdout.flush()
    os._exit(0)
