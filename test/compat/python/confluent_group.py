#!/usr/bin/python3
"""Consumer-group scenarios with confluent-kafka-python (librdkafka), as
Debian ships it: apt-get install python3-confluent-kafka.

    /usr/bin/python3 confluent_group.py ADDR {resume|split} TOPIC GROUP

TOPIC must exist with at least 2 partitions; GROUP must be new.

resume: produce 40 records, one consumer subscribes, reads all of them,
        commits synchronously and closes; the committed offsets are the
        log end offsets. 12 more records are produced; a new consumer in the
        same group reads exactly those 12 (nothing committed is re-delivered).
split:  two consumers in one group; once the group has split the
        partitions between them (disjoint, both non-empty, covering the
        topic) 40 records are produced; together they read each exactly
        once, each only from its own partitions; both commit and close, and
        the group's committed offsets are the log end offsets.

Exits 0 and prints "OK <scenario>" on success, non-zero on any mismatch.
"""

import os

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

import scenario
from scenario import Mismatch, expect, log

TIMEOUT = 30  # seconds for each wait on the broker


def consumer_conf(addr, group):
    conf = {
        "bootstrap.servers": addr,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 500,
    }
    if os.environ.get("ARUS_COMPAT_DEBUG"):
        # librdkafka debug contexts, e.g. cgrp,protocol (logged to stderr).
        conf["debug"] = os.environ["ARUS_COMPAT_DEBUG"]
    return conf


class Member:
    """One group member and what it has read."""

    def __init__(self, name, addr, topic, group):
        self.name = name
        self.topic = topic
        self.assigned = set()
        self.eof = set()
        self.got = []  # (partition, offset, value)
        self.consumer = Consumer(consumer_conf(addr, group))
        self.consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, consumer, partitions):
        self.assigned = {p.partition for p in partitions}
        self.eof = set()
        log("%s: assigned %s" % (self.name, sorted(self.assigned)))

    def _on_revoke(self, consumer, partitions):
        log("%s: revoked %s" % (self.name, sorted(p.partition for p in partitions)))
        self.assigned = set()
        self.eof = set()

    def poll(self, timeout=0.1):
        m = self.consumer.poll(timeout)
        if m is None:
            return
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                self.eof.add(m.partition())
                return
            raise Mismatch("%s: consumer error: %s" % (self.name, m.error()))
        expect(m.topic() == self.topic, "%s: record from topic %r" % (self.name, m.topic()))
        self.eof.discard(m.partition())
        self.got.append((m.partition(), m.offset(), m.value().decode()))

    def at_end(self):
        """Every assigned partition has reported EOF since its last record."""
        return bool(self.assigned) and self.assigned <= self.eof

    def commit(self):
        offsets = self.consumer.commit(asynchronous=False)
        for tp in offsets or []:
            expect(tp.error is None, "%s: commit of partition %d: %s" % (self.name, tp.partition, tp.error))
        log("%s: committed %s" % (self.name, sorted((tp.partition, tp.offset) for tp in offsets or [])))

    def close(self):
        self.consumer.close()


def partition_count(addr, topic):
    c = Consumer({"bootstrap.servers": addr, "group.id": "metadata-only"})
    try:
        md = c.list_topics(topic, timeout=TIMEOUT)
        t = md.topics[topic]
        expect(t.error is None, "metadata for %s: %s" % (topic, t.error))
        n = len(t.partitions)
        expect(n >= 2, "topic %s has %d partitions, the scenario needs at least 2" % (topic, n))
        return n
    finally:
        c.close()


def produce(addr, topic, vals, partitions):
    """Produces vals round-robin over the partitions, key = value."""
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append("%s: %s" % (msg.value(), err))

    p = Producer({"bootstrap.servers": addr, "linger.ms": 5})
    for i, v in enumerate(vals):
        p.produce(topic, value=v.encode(), key=v.encode(), partition=i % partitions, on_delivery=on_delivery)
    left = p.flush(TIMEOUT)
    expect(left == 0, "producer: %d of %d records not delivered after %ds" % (left, len(vals), TIMEOUT))
    expect(not errors, "producer: delivery errors: %s" % errors[:10])
    log("produced %d records" % len(vals))


def check_committed_at_end(addr, topic, group, partitions):
    """A new client (not a member) reads the group's committed offsets
    with OffsetFetch; each must equal the partition's log end offset."""
    c = Consumer(consumer_conf(addr, group))
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        committed = c.committed(tps, timeout=TIMEOUT)
        for tp in committed:
            expect(tp.error is None, "committed offset of partition %d: %s" % (tp.partition, tp.error))
            _, high = c.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=TIMEOUT)
            expect(tp.offset == high, "group %s partition %d: committed offset %d, log end offset %d"
                   % (group, tp.partition, tp.offset, high))
        log("committed offsets are the log end offsets: %s" % [(tp.partition, tp.offset) for tp in committed])
    finally:
        c.close()


def resume(addr, topic, group):
    n = partition_count(addr, topic)
    first = scenario.values("resume-a", scenario.FIRST_BATCH)
    produce(addr, topic, first, n)

    m1 = Member("consumer-1", addr, topic, group)
    scenario.wait_until("consumer-1 to read %d records to the end of every partition" % len(first),
                        lambda: len(m1.got) >= len(first) and m1.at_end(), TIMEOUT, m1.poll)
    scenario.check_exactly("consumer-1", m1.got, first)
    expect(m1.assigned == set(range(n)), "consumer-1 alone was assigned %s of %d partitions" % (sorted(m1.assigned), n))
    m1.commit()
    m1.close()
    check_committed_at_end(addr, topic, group, n)

    second = scenario.values("resume-b", scenario.SECOND_BATCH)
    produce(addr, topic, second, n)
    m2 = Member("consumer-2", addr, topic, group)
    scenario.wait_until("consumer-2 (same group, after the commit) to read to the end of every partition",
                        lambda: len(m2.got) >= len(second) and m2.at_end(), TIMEOUT, m2.poll)
    scenario.check_exactly("consumer-2 after restart (only records produced after the commit)", m2.got, second)
    m2.commit()
    m2.close()
    check_committed_at_end(addr, topic, group, n)


def split(addr, topic, group):
    n = partition_count(addr, topic)
    members = [Member("consumer-%d" % i, addr, topic, group) for i in (1, 2)]

    def poll_all():
        for m in members:
            m.poll(0.05)

    def balanced():
        a, b = members[0].assigned, members[1].assigned
        return a and b and not (a & b) and (a | b) == set(range(n))

    scenario.wait_until("both members to share the %d partitions" % n, balanced, TIMEOUT, poll_all)
    log("group split: %s / %s" % (sorted(members[0].assigned), sorted(members[1].assigned)))

    vals = scenario.values("split", scenario.FIRST_BATCH)
    produce(addr, topic, vals, n)
    scenario.wait_until("the two members to read %d records to the end" % len(vals),
                        lambda: sum(len(m.got) for m in members) >= len(vals) and all(m.at_end() for m in members),
                        TIMEOUT, poll_all)
    expect(balanced(), "assignment changed while consuming: %s / %s"
           % (sorted(members[0].assigned), sorted(members[1].assigned)))
    scenario.check_exactly("both members together", members[0].got + members[1].got, vals)
    for m in members:
        expect(m.got, "%s read nothing" % m.name)
        stray = set(scenario.partitions_of(m.got)) - m.assigned
        expect(not stray, "%s read partitions %s it was not assigned (%s)" % (m.name, sorted(stray), sorted(m.assigned)))
    for m in members:
        m.commit()
    for m in members:
        m.close()
    check_committed_at_end(addr, topic, group, n)


if __name__ == "__main__":
    scenario.run({"resume": resume, "split": split})
