#!/usr/bin/python3
"""A confluent-kafka-python (librdkafka) consume-transform-produce
processor for TestClusterConsumeTransformProducePython (eos_test.go),
which kills nodes of the cluster while it runs.

    /usr/bin/python3 confluent_ctp.py BOOTSTRAP IN OUT GROUP TXNID PER_PARTITION DEADLINE_S PAUSE_AT

It reads IN (read_committed, group GROUP, from the earliest offset) in
small batches and, for each batch, in one transaction writes "VALUE|tN" to
the same partition of OUT and commits the batch's offsets with
send_offsets_to_transaction. Every fifth transaction is aborted on purpose
after its writes were delivered. It stops once the group's committed
offsets reached PER_PARTITION in every partition of IN, or fails after
DEADLINE_S seconds.

PAUSE_AT is a comma-separated list of progress counts. The first
transaction that would commit after progress reached the next of them is
paused with its writes delivered and the transaction open: the script
prints "PAUSED k" and reads one line from stdin before it commits, so that
the test can kill a node while a transaction is in flight.

Errors are handled as an application would: a retriable error of a
transactional call retries the call; an abortable one (txn_requires_abort)
aborts the transaction and rewinds the consumer to the batch's first
offsets (its committed offsets); a fatal or otherwise unknown one closes
the consumer and producer and starts both anew (the new producer's
init_transactions fences the old one and ends its open transaction; the
new consumer resumes from the committed offsets).

stdout, one line each, for the Go test:
    PROGRESS N          N input records in committed transactions so far
    PAUSED k            the k-th pause (1-based) began; waits for a line on stdin
    ABORTED tN JSON     a deliberately aborted transaction and its delivered writes
    DONE                finished
Diagnostics go to stderr.
"""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

CALL_TIMEOUT = 10  # seconds for one transactional call


def log(msg):
    print("%.3f %s" % (time.time(), msg), file=sys.stderr, flush=True)


def emit(line):
    print(line, flush=True)


class NeedAbort(Exception):
    pass


class Restart(Exception):
    pass


class Processor:
    def __init__(self, bootstrap, in_topic, out_topic, group, txn_id, deadline):
        self.in_topic, self.out_topic, self.deadline = in_topic, out_topic, deadline
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "max.partition.fetch.bytes": 300,
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 500,
        })
        self.consumer.subscribe([in_topic])
        self.producer = Producer({
            "bootstrap.servers": bootstrap,
            "transactional.id": txn_id,
            "transaction.timeout.ms": 30000,
            # A write that cannot be delivered within 10 s (librdkafka 2.0
            # can stall a partition that long after its leader died) fails
            # the transaction as abortable: abort, rewind and retry, rather
            # than wait for the 30 s default (the transaction timeout).
            "message.timeout.ms": 10000,
            "linger.ms": 5,
        })
        self.call(lambda: self.producer.init_transactions(CALL_TIMEOUT), "init_transactions")

    def call(self, fn, what):
        """Runs a transactional call; retries retriable errors until the
        deadline; raises NeedAbort or Restart for the others."""
        for attempt in range(1000):
            try:
                return fn()
            except KafkaException as e:
                err = e.args[0]
                if err.fatal():
                    raise Restart("%s: fatal: %s" % (what, err))
                if err.txn_requires_abort():
                    raise NeedAbort("%s: %s" % (what, err))
                if err.retriable() and time.time() < self.deadline:
                    log("%s: retriable: %s (attempt %d)" % (what, err, attempt + 1))
                    continue
                raise Restart("%s: %s" % (what, err))
        raise Restart("%s: too many attempts" % what)

    def close(self):
        try:
            self.consumer.close()
        except KafkaException as e:
            log("consumer close: %s" % e)
        # The producer goes with its references; its successor fences it.
        self.producer = None


def rewind(proc, msgs):
    first = {}
    for m in msgs:
        first[m.partition()] = min(first.get(m.partition(), m.offset()), m.offset())
    for p, o in sorted(first.items()):
        proc.consumer.seek(TopicPartition(proc.in_topic, p, o))


def main():
    bootstrap, in_topic, out_topic, group, txn_id = sys.argv[1:6]
    per_partition, deadline = int(sys.argv[6]), time.time() + float(sys.argv[7])
    pause_at = [int(x) for x in sys.argv[8].split(",") if x]
    pauses = 0
    md = Consumer({"bootstrap.servers": bootstrap, "group.id": group + "-md"})
    partitions = len(md.list_topics(in_topic, timeout=30).topics[in_topic].partitions)
    md.close()

    def new_proc():
        for attempt in range(100):
            try:
                return Processor(bootstrap, in_topic, out_topic, group, txn_id, deadline)
            except (Restart, NeedAbort, KafkaException) as e:
                if time.time() > deadline:
                    raise
                log("start processor: %s (attempt %d)" % (e, attempt + 1))
        raise SystemExit("could not start a processor")

    def finished(proc):
        tps = [TopicPartition(in_topic, p) for p in range(partitions)]
        try:
            got = proc.consumer.committed(tps, timeout=5)
        except KafkaException as e:
            log("committed: %s" % e)
            return False
        return all(tp.error is None and tp.offset >= per_partition for tp in got)

    proc = new_proc()
    progress, tx, restarts, needed_abort = 0, 0, 0, 0
    for _ in range(100000):
        if time.time() > deadline:
            raise SystemExit("deadline passed with %d input records committed" % progress)
        msgs = []
        for m in proc.consumer.consume(num_messages=10, timeout=0.5):
            if m.error():
                log("consumer: %s" % m.error())
            else:
                msgs.append(m)
        if not msgs:
            if finished(proc):
                break
            continue
        tx += 1
        tag = "t%d" % tx
        deliberate = tx % 5 == 0
        delivered = []

        def on_delivery(err, msg):
            if err is None:
                delivered.append(msg.value().decode())

        try:
            proc.call(proc.producer.begin_transaction, "begin_transaction")
            for m in msgs:
                v = "%s|%s" % (m.value().decode(), tag)
                proc.call(lambda: proc.producer.produce(out_topic, value=v.encode(), partition=m.partition(),
                                                        on_delivery=on_delivery), "produce")
            if deliberate:
                # This transaction is never committed, whatever happens next.
                proc.producer.flush(CALL_TIMEOUT)
                emit("ABORTED %s %s" % (tag, json.dumps(delivered)))
                proc.call(lambda: proc.producer.abort_transaction(CALL_TIMEOUT), "abort_transaction")
                rewind(proc, msgs)
                continue
            if pauses < len(pause_at) and progress >= pause_at[pauses]:
                proc.producer.flush(CALL_TIMEOUT)
                pauses += 1
                emit("PAUSED %d" % pauses)
                log("transaction %s paused open with %d delivered writes" % (tag, len(delivered)))
                if not sys.stdin.readline():
                    raise SystemExit("stdin closed during a pause")
                log("transaction %s resumed" % tag)
            last = {}
            for m in msgs:
                last[m.partition()] = max(last.get(m.partition(), -1), m.offset())
            offsets = [TopicPartition(in_topic, p, o + 1) for p, o in sorted(last.items())]
            proc.call(lambda: proc.producer.send_offsets_to_transaction(
                offsets, proc.consumer.consumer_group_metadata(), CALL_TIMEOUT), "send_offsets_to_transaction")
            proc.call(lambda: proc.producer.commit_transaction(CALL_TIMEOUT), "commit_transaction")
            progress += len(msgs)
            emit("PROGRESS %d" % progress)
        except NeedAbort as e:
            needed_abort += 1
            log("transaction %s: %s; abort and rewind" % (tag, e))
            try:
                proc.call(lambda: proc.producer.abort_transaction(CALL_TIMEOUT), "abort_transaction")
                rewind(proc, msgs)
            except (Restart, NeedAbort, KafkaException) as e2:
                log("transaction %s: abort/rewind: %s; restart" % (tag, e2))
                restarts += 1
                proc.close()
                proc = new_proc()
        except (Restart, KafkaException) as e:
            log("transaction %s: %s; restart" % (tag, e))
            restarts += 1
            proc.close()
            proc = new_proc()
    else:
        raise SystemExit("loop bound reached")
    proc.close()
    log("%d transactions, %d abortable errors, %d restarts" % (tx, needed_abort, restarts))
    emit("DONE %d %d %d" % (tx, needed_abort, restarts))


if __name__ == "__main__":
    main()
