#!/usr/bin/python3
"""Transactional consume-transform-produce with confluent-kafka-python
(librdkafka), as Debian ships it: apt-get install python3-confluent-kafka.

    /usr/bin/python3 confluent_txn.py ADDR ctp TOPIC GROUP

TOPIC (the input) and TOPIC-out (the output) must exist with the same
number of partitions (at least 2); GROUP must be new.

ctp: 30 records per partition are produced to TOPIC. A processor (a
     read_committed consumer in GROUP and a transactional producer) reads
     them in small batches and, for each batch, in one transaction writes
     "out-VALUE|bN" to the same partition of TOPIC-out and commits the
     batch's offsets with send_offsets_to_transaction. Every third batch is
     aborted on purpose (after its writes were flushed) and the consumer
     rewinds to the batch's first offsets. Half way through, the processor
     "crashes": it writes a batch inside an open transaction and goes away
     without ending it. A new processor with the same transactional.id
     fences it (init_transactions aborts the open transaction) and resumes
     from the group's committed offsets.

     Then a read_committed reader of TOPIC-out must see every input exactly
     once, in partition order, and nothing of an aborted or abandoned
     transaction; a read_uncommitted reader must see all of the aborted and
     abandoned writes.

Exits 0 and prints "OK ctp" on success, non-zero on any mismatch.
"""

import os

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

import scenario
from scenario import Mismatch, expect, log

TIMEOUT = 30  # seconds for each wait on the broker
PER_PARTITION = 30
TXN_ID = "confluent-ctp"


def debug(conf):
    if os.environ.get("ARUS_COMPAT_DEBUG"):
        conf["debug"] = os.environ["ARUS_COMPAT_DEBUG"]
    return conf


def partition_count(addr, topic):
    c = Consumer({"bootstrap.servers": addr, "group.id": "metadata-only"})
    try:
        md = c.list_topics(topic, timeout=TIMEOUT)
        t = md.topics[topic]
        expect(t.error is None, "metadata for %s: %s" % (topic, t.error))
        return len(t.partitions)
    finally:
        c.close()


def fill(addr, topic, partitions):
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append("%s: %s" % (msg.value(), err))

    p = Producer(debug({"bootstrap.servers": addr, "linger.ms": 5, "batch.num.messages": 5}))
    for i in range(PER_PARTITION):
        for part in range(partitions):
            p.produce(topic, value=("%d-%d" % (part, i)).encode(), partition=part, on_delivery=on_delivery)
        if i % 5 == 4:
            p.flush(TIMEOUT)  # small batches: small fetches, many transactions
    left = p.flush(TIMEOUT)
    expect(left == 0 and not errors, "fill: %d undelivered, errors %s" % (left, errors[:10]))
    log("filled %s with %d records" % (topic, PER_PARTITION * partitions))


class Processor:
    """A read_committed group member and a transactional producer."""

    def __init__(self, name, addr, topic, group):
        self.name = name
        self.topic = topic
        self.out = topic + "-out"
        self.consumer = Consumer(debug({
            "bootstrap.servers": addr,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "max.partition.fetch.bytes": 200,
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 500,
        }))
        self.consumer.subscribe([topic])
        self.producer = Producer(debug({
            "bootstrap.servers": addr,
            "transactional.id": TXN_ID,
            "transaction.timeout.ms": 60000,
            "linger.ms": 5,
        }))
        self.producer.init_transactions(TIMEOUT)
        log("%s: init_transactions done" % name)

    def batch(self):
        """The next batch of input records (possibly empty)."""
        msgs = self.consumer.consume(num_messages=8, timeout=0.5)
        out = []
        for m in msgs:
            if m.error():
                raise Mismatch("%s: consumer error: %s" % (self.name, m.error()))
            out.append(m)
        return out

    def write(self, msgs, tag):
        """Writes the transformed batch inside the open transaction and
        returns the written values once librdkafka has delivered them."""
        errors = []

        def on_delivery(err, msg):
            if err is not None:
                errors.append("%s: %s" % (msg.value(), err))

        vals = []
        for m in msgs:
            v = "out-%s|%s" % (m.value().decode(), tag)
            vals.append(v)
            self.producer.produce(self.out, value=v.encode(), partition=m.partition(), on_delivery=on_delivery)
        left = self.producer.flush(TIMEOUT)
        expect(left == 0 and not errors, "%s: %d writes undelivered, errors %s" % (self.name, left, errors[:10]))
        return vals

    def offsets_after(self, msgs):
        last = {}
        for m in msgs:
            last[m.partition()] = max(last.get(m.partition(), -1), m.offset())
        return [TopicPartition(self.topic, p, o + 1) for p, o in sorted(last.items())]

    def rewind(self, msgs):
        first = {}
        for m in msgs:
            first[m.partition()] = min(first.get(m.partition(), m.offset()), m.offset())
        for p, o in first.items():
            self.consumer.seek(TopicPartition(self.topic, p, o))

    def close(self):
        self.consumer.close()


def read_output(addr, topic, partitions, committed):
    """Reads TOPIC to its end (the last stable offset for read_committed)
    with an assigned consumer; returns (partition, offset, value) tuples."""
    c = Consumer(debug({
        "bootstrap.servers": addr,
        "group.id": "reader-%s" % ("committed" if committed else "uncommitted"),
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "isolation.level": "read_committed" if committed else "read_uncommitted",
    }))
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        got, eof = [], set()

        def step():
            m = c.poll(0.2)
            if m is None:
                return
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    return
                raise Mismatch("reader: %s" % m.error())
            eof.discard(m.partition())
            got.append((m.partition(), m.offset(), m.value().decode()))

        scenario.wait_until("%s reader to reach the end of every partition" %
                            ("read_committed" if committed else "read_uncommitted"),
                            lambda: len(eof) == partitions, TIMEOUT, step)
        return got
    finally:
        c.close()


def ctp(addr, topic, group):
    n = partition_count(addr, topic)
    expect(n >= 2 and partition_count(addr, topic + "-out") == n,
           "%s and %s-out need the same number (>= 2) of partitions" % (topic, topic))
    fill(addr, topic, n)
    total = PER_PARTITION * n

    aborted_tags, aborted_vals = set(), []
    done = 0  # input records in committed transactions
    batch_no = 0
    proc = Processor("processor-1", addr, topic, group)
    crashed = False
    for _ in range(2000):
        if done >= total:
            break
        msgs = proc.batch()
        if not msgs:
            continue
        batch_no += 1
        tag = "b%d" % batch_no
        proc.producer.begin_transaction()
        vals = proc.write(msgs, tag)
        if not crashed and done >= total // 2:
            # Crash with the transaction open: no commit, no abort.
            crashed = True
            aborted_tags.add(tag)
            aborted_vals += vals
            log("processor-1: abandons transaction %s (%d writes) and goes away" % (tag, len(vals)))
            proc.close()  # the consumer leaves; its offsets were not committed
            proc = Processor("processor-2", addr, topic, group)  # fences processor-1
            continue
        if batch_no % 3 == 0:
            proc.producer.abort_transaction(TIMEOUT)
            aborted_tags.add(tag)
            aborted_vals += vals
            proc.rewind(msgs)
            continue
        proc.producer.send_offsets_to_transaction(proc.offsets_after(msgs),
                                                  proc.consumer.consumer_group_metadata(), TIMEOUT)
        proc.producer.commit_transaction(TIMEOUT)
        done += len(msgs)
    expect(done == total, "transformed %d of %d inputs in committed transactions" % (done, total))
    expect(crashed, "the processor never crashed mid-transaction")
    proc.close()
    log("%d batches: %d inputs committed, %d transactions aborted or abandoned with %d writes"
        % (batch_no, done, len(aborted_tags), len(aborted_vals)))

    out = topic + "-out"
    rc = read_output(addr, out, n, True)
    last = {}
    for p, o, v in rc:
        body, _, tag = v.partition("|")
        expect(tag not in aborted_tags, "read_committed %d/%d: %r of an aborted transaction" % (p, o, v))
        want = "out-%d-%d" % (p, last.get(p, -1) + 1)
        expect(body == want, "read_committed %d/%d: %r, want %s (every input once, in order)" % (p, o, v, want))
        last[p] = last.get(p, -1) + 1
    for p in range(n):
        expect(last.get(p, -1) == PER_PARTITION - 1,
               "read_committed partition %d holds %d of %d inputs" % (p, last.get(p, -1) + 1, PER_PARTITION))
    ru = {v for _, _, v in read_output(addr, out, n, False)}
    missing = [v for v in aborted_vals if v not in ru]
    expect(not missing, "aborted writes not visible to read_uncommitted: %s" % missing[:10])
    log("read_committed: %d records, each input once; read_uncommitted: %d records incl. all %d aborted writes"
        % (len(rc), len(ru), len(aborted_vals)))


if __name__ == "__main__":
    scenario.run({"ctp": ctp})
