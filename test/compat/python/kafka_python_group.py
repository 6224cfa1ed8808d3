#!/usr/bin/python3
"""Consumer-group scenarios with kafka-python, as Debian ships it:
apt-get install python3-kafka.

    /usr/bin/python3 kafka_python_group.py ADDR {resume|split} TOPIC GROUP

The scenarios are the ones of confluent_group.py (see there). kafka-python
joins the group inside poll(), so in the split scenario each member polls
in its own thread (a KafkaConsumer is used by one thread only).

Exits 0 and prints "OK <scenario>" on success, non-zero on any mismatch.
"""

import threading

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener

import scenario
from scenario import Mismatch, expect, log

TIMEOUT = 30  # seconds for each wait on the broker


def new_consumer(addr, group, **extra):
    return KafkaConsumer(
        bootstrap_servers=addr,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=10000,
        heartbeat_interval_ms=500,
        request_timeout_ms=TIMEOUT * 1000 + 5000,
        **extra)


class Member(ConsumerRebalanceListener):
    """One group member and what it has read. Only the thread that polls
    may call step(), commit() and close()."""

    def __init__(self, name, addr, topic, group):
        self.name = name
        self.topic = topic
        self.lock = threading.Lock()
        self.assigned = set()
        self.got = []  # (partition, offset, value)
        self.at_end = False
        self.consumer = new_consumer(addr, group)
        self.consumer.subscribe([topic], listener=self)

    def on_partitions_revoked(self, revoked):
        log("%s: revoked %s" % (self.name, sorted(tp.partition for tp in revoked)))
        with self.lock:
            self.assigned = set()
            self.at_end = False

    def on_partitions_assigned(self, assigned):
        log("%s: assigned %s" % (self.name, sorted(tp.partition for tp in assigned)))
        with self.lock:
            self.assigned = {tp.partition for tp in assigned}
            self.at_end = False

    def step(self):
        batches = self.consumer.poll(timeout_ms=100)
        with self.lock:
            for tp, records in batches.items():
                expect(tp.topic == self.topic, "%s: record from topic %r" % (self.name, tp.topic))
                for r in records:
                    self.got.append((tp.partition, r.offset, r.value.decode()))
            assigned = set(self.assigned)
        at_end = False
        if assigned and not batches:
            tps = [TopicPartition(self.topic, p) for p in sorted(assigned)]
            ends = self.consumer.end_offsets(tps)
            at_end = all(self.consumer.position(tp) >= ends[tp] for tp in tps)
        with self.lock:
            self.at_end = at_end and self.assigned == assigned

    def snapshot(self):
        with self.lock:
            return set(self.assigned), list(self.got), self.at_end

    def commit(self):
        self.consumer.commit()
        log("%s: committed" % self.name)

    def close(self):
        self.consumer.close(autocommit=False)


def partition_count(addr, topic):
    c = KafkaConsumer(bootstrap_servers=addr)
    try:
        parts = c.partitions_for_topic(topic)
        expect(parts, "metadata: topic %s unknown" % topic)
        expect(parts == set(range(len(parts))), "topic %s: partitions %s" % (topic, sorted(parts)))
        expect(len(parts) >= 2, "topic %s has %d partitions, the scenario needs at least 2" % (topic, len(parts)))
        return len(parts)
    finally:
        c.close()


def produce(addr, topic, vals, partitions):
    """Produces vals round-robin over the partitions, key = value."""
    p = KafkaProducer(bootstrap_servers=addr, linger_ms=5, acks="all")
    try:
        futures = [p.send(topic, value=v.encode(), key=v.encode(), partition=i % partitions)
                   for i, v in enumerate(vals)]
        p.flush(timeout=TIMEOUT)
        for v, f in zip(vals, futures):
            try:
                f.get(timeout=TIMEOUT)
            except Exception as e:
                raise Mismatch("producer: %s not delivered: %r" % (v, e))
    finally:
        p.close(timeout=TIMEOUT)
    log("produced %d records" % len(vals))


def check_committed_at_end(addr, topic, group, partitions):
    """A new client (not a member) reads the group's committed offsets
    with OffsetFetch; each must equal the partition's log end offset."""
    c = new_consumer(addr, group)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = c.end_offsets(tps)
        got = [(tp.partition, c.committed(tp)) for tp in tps]
        for tp, (p, committed) in zip(tps, got):
            expect(committed == ends[tp], "group %s partition %d: committed offset %s, log end offset %d"
                   % (group, p, committed, ends[tp]))
        log("committed offsets are the log end offsets: %s" % got)
    finally:
        c.close(autocommit=False)


def consume_alone(m, n, what):
    def done():
        _, got, at_end = m.snapshot()
        return len(got) >= n and at_end
    scenario.wait_until(what, done, TIMEOUT, m.step)
    return m.snapshot()


def resume(addr, topic, group):
    n = partition_count(addr, topic)
    first = scenario.values("resume-a", scenario.FIRST_BATCH)
    produce(addr, topic, first, n)

    m1 = Member("consumer-1", addr, topic, group)
    assigned, got, _ = consume_alone(m1, len(first), "consumer-1 to read %d records to the end of every partition" % len(first))
    scenario.check_exactly("consumer-1", got, first)
    expect(assigned == set(range(n)), "consumer-1 alone was assigned %s of %d partitions" % (sorted(assigned), n))
    m1.commit()
    m1.close()
    check_committed_at_end(addr, topic, group, n)

    second = scenario.values("resume-b", scenario.SECOND_BATCH)
    produce(addr, topic, second, n)
    m2 = Member("consumer-2", addr, topic, group)
    _, got, _ = consume_alone(m2, len(second), "consumer-2 (same group, after the commit) to read to the end of every partition")
    scenario.check_exactly("consumer-2 after restart (only records produced after the commit)", got, second)
    m2.commit()
    m2.close()
    check_committed_at_end(addr, topic, group, n)


class Poller(threading.Thread):
    """Polls one member until told to stop, then commits and closes it
    (leaves the group) once every member has committed."""

    def __init__(self, member, committed):
        super().__init__(name=member.name, daemon=True)
        self.member = member
        self.stop = threading.Event()
        self.committed = committed  # barrier: every member commits before any leaves
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                self.member.step()
            self.member.commit()
            self.committed.wait(TIMEOUT)
            self.member.close()
        except Exception as e:  # reported by the main thread
            self.error = e
            self.committed.abort()


def split(addr, topic, group):
    n = partition_count(addr, topic)
    members = [Member("consumer-%d" % i, addr, topic, group) for i in (1, 2)]
    committed = threading.Barrier(len(members))
    pollers = [Poller(m, committed) for m in members]
    for p in pollers:
        p.start()

    def check_threads():
        for p in pollers:
            if p.error is not None:
                raise Mismatch("%s: %r" % (p.name, p.error))
        # wait_until's step: the threads poll, the main thread only looks.
        threading.Event().wait(0.02)

    def balanced():
        a, b = members[0].snapshot()[0], members[1].snapshot()[0]
        return a and b and not (a & b) and (a | b) == set(range(n))

    scenario.wait_until("both members to share the %d partitions" % n, balanced, TIMEOUT, check_threads)
    log("group split: %s / %s" % (sorted(members[0].snapshot()[0]), sorted(members[1].snapshot()[0])))

    vals = scenario.values("split", scenario.FIRST_BATCH)
    produce(addr, topic, vals, n)

    def done():
        snaps = [m.snapshot() for m in members]
        return sum(len(s[1]) for s in snaps) >= len(vals) and all(s[2] for s in snaps)

    scenario.wait_until("the two members to read %d records to the end" % len(vals), done, TIMEOUT, check_threads)
    expect(balanced(), "assignment changed while consuming: %s / %s"
           % (sorted(members[0].snapshot()[0]), sorted(members[1].snapshot()[0])))
    snaps = [m.snapshot() for m in members]
    scenario.check_exactly("both members together", snaps[0][1] + snaps[1][1], vals)
    for m, (assigned, got, _) in zip(members, snaps):
        expect(got, "%s read nothing" % m.name)
        stray = set(scenario.partitions_of(got)) - assigned
        expect(not stray, "%s read partitions %s it was not assigned (%s)" % (m.name, sorted(stray), sorted(assigned)))

    for p in pollers:
        p.stop.set()
    for p in pollers:
        p.join(TIMEOUT)
        expect(not p.is_alive(), "%s: commit and close did not finish within %ds" % (p.name, TIMEOUT))
        expect(p.error is None, "%s: %r" % (p.name, p.error))
    check_committed_at_end(addr, topic, group, n)


if __name__ == "__main__":
    scenario.run({"resume": resume, "split": split})
