#!/usr/bin/python3
"""Secured listeners with confluent-kafka-python (librdkafka) and
kafka-python, as Debian ships them.

    /usr/bin/python3 secure_clients.py CLIENT SCENARIO CONFIG_JSON

CLIENT is confluent or kafka-python. CONFIG_JSON is an object with
bootstrap, protocol (SSL, SASL_PLAINTEXT, SASL_SSL), mechanism (PLAIN,
SCRAM-SHA-256, SCRAM-SHA-512; "" for SSL), user, password, ca, cert, key
(PEM files; cert and key for SSL), topic, group and, for expiry, lifetime_ms.

roundtrip: produce 5 records (acks=all); one consumer in GROUP subscribes,
           reads all 5, commits synchronously and closes.
refused:   the login (or the TLS handshake) must fail; prints the error the
           client reports as "REFUSED <error>".
expiry:    produce a record, wait past the broker's session lifetime
           (connections.max.reauth.ms), produce again. Neither client
           re-authenticates (KIP-368 is librdkafka >= 2.2, kafka-python
           none), so the broker closes the connection at the first request
           after the lifetime; the client must see that close, reconnect and
           deliver. Prints "CLOSED <what the client reported>".

Exits 0 and prints "OK <scenario>" on success, non-zero on any mismatch.
"""

import faulthandler
import json
import logging
import os
import signal
import sys
import time
import traceback

from scenario import DEADLINE_SECONDS, Mismatch, expect, log

N = 5
TIMEOUT = 30


# --- confluent-kafka-python --------------------------------------------------


def confluent_conf(c, errors=None):
    conf = {"bootstrap.servers": c["bootstrap"], "security.protocol": c["protocol"]}
    if c["mechanism"]:
        conf.update({"sasl.mechanisms": c["mechanism"], "sasl.username": c["user"], "sasl.password": c["password"]})
    if c["protocol"] in ("SSL", "SASL_SSL"):
        conf["ssl.ca.location"] = c["ca"]
        if c.get("cert"):
            conf.update({"ssl.certificate.location": c["cert"], "ssl.key.location": c["key"]})
    if errors is not None:
        conf["error_cb"] = lambda err: errors.append(err)
    return conf


def confluent_roundtrip(c):
    from confluent_kafka import Consumer, KafkaError, Producer

    p = Producer(dict(confluent_conf(c), acks="all"))
    delivered = []
    for i in range(N):
        p.produce(c["topic"], value=b"v%d" % i, on_delivery=lambda err, msg: delivered.append(err))
    left = p.flush(TIMEOUT)
    expect(left == 0 and len(delivered) == N and all(e is None for e in delivered), "produce: %d left, %r" % (left, delivered))
    log("produced %d" % N)
    cons = Consumer(dict(confluent_conf(c), **{"group.id": c["group"], "auto.offset.reset": "earliest", "enable.auto.commit": False}))
    cons.subscribe([c["topic"]])
    got = set()
    deadline = time.monotonic() + TIMEOUT
    while len(got) < N and time.monotonic() < deadline:
        m = cons.poll(1.0)
        if m is None:
            continue
        if m.error():
            raise Mismatch("consume: %s" % m.error())
        got.add(m.value())
    expect(len(got) == N, "consumed %d of %d" % (len(got), N))
    cons.commit(asynchronous=False)
    cons.close()
    log("consumed and committed %d in group %s" % (N, c["group"]))


def confluent_refused(c):
    from confluent_kafka import Producer

    errors = []
    p = Producer(confluent_conf(c, errors))
    deadline = time.monotonic() + TIMEOUT
    while not errors and time.monotonic() < deadline:
        p.poll(0.2)
    expect(errors, "no error reported")
    try:
        p.list_topics(timeout=1)
    except Exception as e:  # KafkaException: no broker answered the metadata request
        log("list_topics: %s" % e)
        return "%s: %s" % (errors[0].name(), errors[0].str())
    raise Mismatch("metadata was served; errors: %r" % errors)


def confluent_expiry(c):
    from confluent_kafka import KafkaError, Producer

    errors = []
    logs = []

    class Capture(logging.Handler):
        def emit(self, record):
            logs.append(record.getMessage())

    logger = logging.getLogger("librdkafka")
    logger.addHandler(Capture())
    logger.setLevel(logging.DEBUG)
    p = Producer(dict(confluent_conf(c, errors), acks="all", logger=logger))

    def produce(v):
        res = []
        p.produce(c["topic"], value=v, on_delivery=lambda err, msg: res.append(err))
        expect(p.flush(TIMEOUT) == 0 and res == [None], "produce %r: %r" % (v, res))

    produce(b"before")
    time.sleep(c["lifetime_ms"] / 1000 + 0.5)  # past the session lifetime, on purpose
    produce(b"after")
    # The close shows as a transport error: "Disconnected", or under TLS
    # "Receive failed: ... unexpected eof".
    closes = [str(e) for e in errors if e.code() == KafkaError._TRANSPORT]
    expect(closes, "the broker did not close the expired session (errors %r, logs %r)" % (errors, logs[-5:]))
    return closes[0]


# --- kafka-python ---------------------------------------------------------------


def kafka_python_conf(c):
    conf = {"bootstrap_servers": c["bootstrap"], "security_protocol": c["protocol"]}
    if c["mechanism"]:
        conf.update({"sasl_mechanism": c["mechanism"], "sasl_plain_username": c["user"], "sasl_plain_password": c["password"]})
    if c["protocol"] in ("SSL", "SASL_SSL"):
        conf["ssl_cafile"] = c["ca"]
        if c.get("cert"):
            conf.update({"ssl_certfile": c["cert"], "ssl_keyfile": c["key"]})
    return conf


def kafka_python_roundtrip(c):
    from kafka import KafkaConsumer, KafkaProducer

    p = KafkaProducer(acks="all", **kafka_python_conf(c))
    for i in range(N):
        p.send(c["topic"], b"v%d" % i).get(timeout=TIMEOUT)
    p.close()
    log("produced %d" % N)
    cons = KafkaConsumer(group_id=c["group"], auto_offset_reset="earliest", enable_auto_commit=False, **kafka_python_conf(c))
    cons.subscribe([c["topic"]])
    got = set()
    deadline = time.monotonic() + TIMEOUT
    while len(got) < N and time.monotonic() < deadline:
        for records in cons.poll(timeout_ms=1000).values():
            for r in records:
                got.add(r.value)
    expect(len(got) == N, "consumed %d of %d" % (len(got), N))
    cons.commit()
    cons.close()
    log("consumed and committed %d in group %s" % (N, c["group"]))


def kafka_python_refused(c):
    import socket

    from kafka.conn import BrokerConnection
    from kafka.protocol.metadata import MetadataRequest

    host, port = c["bootstrap"].rsplit(":", 1)
    conf = kafka_python_conf(c)
    del conf["bootstrap_servers"]
    conn = BrokerConnection(host, int(port), socket.AF_INET, api_version=(2, 5, 0), **conf)
    reported = []
    close = conn.close

    def capture(error=None):
        if error is not None:
            reported.append(error)
        return close(error)

    conn.close = capture
    try:
        ok = conn.connect_blocking(timeout=10)
    except Exception as e:  # an authentication error may surface as raised
        reported.append(e)
        ok = False
    if ok:
        # TLS 1.3: the client's handshake ends before the server checks
        # the client certificate; the refusal arrives with the first read.
        f = conn.send(MetadataRequest[1](topics=None))
        deadline = time.monotonic() + 10
        try:
            while not f.is_done and time.monotonic() < deadline:
                for resp, fut in conn.recv():
                    fut.success(resp)
        except Exception as e:  # kafka-python 2.0.2 lets ssl.SSLError out of recv
            reported.append(e)
            ok = False
        if f.failed():
            reported.append(f.exception)
            ok = False
    expect(not ok, "connected and authenticated")
    expect(reported, "refused without an error")
    e = reported[0]
    return "%s: %s" % (type(e).__name__, e)


def kafka_python_expiry(c):
    from kafka import KafkaProducer

    closes = []

    class Capture(logging.Handler):
        def emit(self, record):
            msg = record.getMessage()
            if "Closing connection" in msg or "Error receiving network data" in msg:
                closes.append(msg)

    logging.getLogger("kafka.conn").addHandler(Capture())
    logging.getLogger("kafka.conn").setLevel(logging.INFO)
    p = KafkaProducer(acks="all", retries=5, **kafka_python_conf(c))
    p.send(c["topic"], b"before").get(timeout=TIMEOUT)
    before = len(closes)
    time.sleep(c["lifetime_ms"] / 1000 + 0.5)  # past the session lifetime, on purpose
    p.send(c["topic"], b"after").get(timeout=TIMEOUT)
    p.close()
    after = closes[before:]
    expect(after, "the broker did not close the expired session")
    return after[0]


def main():
    if len(sys.argv) != 4:
        print("usage: %s {confluent|kafka-python} {roundtrip|refused|expiry} CONFIG_JSON" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    client, sc, conf = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    faulthandler.enable()
    signal.signal(signal.SIGALRM, lambda signum, frame: (faulthandler.dump_traceback(all_threads=True), os._exit(3)))
    signal.alarm(DEADLINE_SECONDS)
    fn = {
        ("confluent", "roundtrip"): confluent_roundtrip,
        ("confluent", "refused"): confluent_refused,
        ("confluent", "expiry"): confluent_expiry,
        ("kafka-python", "roundtrip"): kafka_python_roundtrip,
        ("kafka-python", "refused"): kafka_python_refused,
        ("kafka-python", "expiry"): kafka_python_expiry,
    }[(client, sc)]
    try:
        out = fn(conf)
    except Mismatch as e:
        print("FAIL %s: %s" % (sc, e), file=sys.stderr, flush=True)
        os._exit(1)
    except Exception:
        print("FAIL %s: error" % sc, file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    if sc == "refused":
        print("REFUSED %s" % out)
    elif sc == "expiry":
        print("CLOSED %s" % out)
    print("OK %s" % sc)


if __name__ == "__main__":
    main()
