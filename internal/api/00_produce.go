package api

// Produce (key 0), versions 0-13, all served.
//   v0-v2 carry message format v0/v1 (message sets); each partition's set is
//   converted to one v2 batch (record.FromLegacy), as Kafka 3.x's
//   LogValidator does for topics on message format v2. Serving them for real
//   (rather than advertising and refusing them, as Kafka 4 does since
//   KAFKA-18659) keeps ApiVersions honest and still lets librdkafka enable
//   gzip/snappy/lz4, which it does only when Produce v0 is advertised
//   (librdkafka#4956). v1: throttle time. v2: timestamps (magic 1).
//   v3: TransactionalID, record batch v2 only. v5: LogStartOffset in the
//   response. v8: per-record errors (RecordErrors: batch index and message
//   of each rejected record, KIP-467) and ErrorMessage. v9: flexible.
//   v10-v11: no semantic change for us (KIP-951 leader hints are optional).
//   v11: TRANSACTION_ABORTABLE. v12 (KIP-890 part 2): the broker adds the
//   partition to the transaction itself. v13: topics by id.
//
// Transactional batches are appended like idempotent ones and open the
// producer's transaction on the partition (internal/partition/txn.go).
// Transactional records need a transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED without one, as Kafka) and one
// producer id per request (INVALID_PRODUCER_ID_MAPPING). With
// transaction.partition.verification.enable (default true), a batch that
// would open a transaction on a partition is first checked with the
// transactional id's coordinator (txn_verify.go): before v12 the
// partition must already be in the producer's ongoing transaction (KIP-890
// part 1: INVALID_TXN_STATE, TRANSACTION_ABORTABLE from v11, and nothing
// appended); from v12 the coordinator adds it (part 2). The coordinator
// also checks the producer id and epoch against the transactional id
// (a fenced producer gets INVALID_PRODUCER_EPOCH). A marker written
// between the verification and the append voids it
// (partition.AppendVerified).
//
// Each partition's bytes must be one v2 batch. Batches are validated, then
// appended to every partition, and only then do we wait for durability, so
// the fsyncs of all partitions in a request overlap. With acks=0 nothing is
// sent back; on any error the connection is closed so the client refreshes
// its metadata, as Kafka does.

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/metrics"
	"github.com/arus-io/arus/internal/partition"
	"github.com/arus-io/arus/internal/record"
	"github.com/arus-io/arus/internal/txn"
)

type pendingAppend struct {
	resp *kmsg.ProduceResponseTopicPartition
	p    *partition.Partition
	end  int64
}

// produceTarget is a partition's batch that passed the checks before
// appending.
type produceTarget struct {
	resp    *kmsg.ProduceResponseTopicPartition
	p       *partition.Partition
	records []byte
	metrics **metrics.TopicMetrics
	name    string
	// txn is set for a transactional batch; guard is its verification.
	txn   bool
	guard uint64
}

func (h *Handlers) produce(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.ProduceRequest)
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	im := h.deps.Metadata.Image()

	fail := func(code int16) {
		for _, t := range r.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}
	switch {
	case r.Acks != 0 && r.Acks != 1 && r.Acks != -1:
		fail(kerr.InvalidRequiredAcks.Code)
		return h.produceOutcome(r, resp, true)
	case hasTransactionalBatch(r) && (r.TransactionID == nil || !h.authorized(req, auth.OpWrite, auth.ResourceTransactionalID, *r.TransactionID)):
		// KafkaApis.handleProduceRequest: transactional records need a
		// transactional id the principal may WRITE.
		fail(kerr.TransactionalIDAuthorizationFailed.Code)
		return h.produceOutcome(r, resp, true)
	}
	txnPID, txnEpoch, txnBatches, mixed := transactionalProducer(r)
	switch {
	case txnBatches && r.TransactionID == nil:
		// KafkaApis.handleProduceRequest: transactional records need an
		// authorized transactional id.
		fail(kerr.TransactionalIDAuthorizationFailed.Code)
		return h.produceOutcome(r, resp, true)
	case mixed:
		// ReplicaManager.handleProduceAppend: "Transactional records
		// contained more than one producer ID".
		fail(kerr.InvalidProducerIDMapping.Code)
		return h.produceOutcome(r, resp, true)
	}

	var targets []produceTarget
	anyErr := false
	for _, t := range r.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name := t.Topic
		if r.Version >= 13 {
			name = im.TopicIDs[t.TopicID]
		}
		rt.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(t.Partitions))
		writable := h.authorized(req, auth.OpWrite, auth.ResourceTopic, name)
		var topicMetrics *metrics.TopicMetrics // resolved at the first append: unknown names get no series
		for i, p := range t.Partitions {
			rp := &rt.Partitions[i]
			rp.Default()
			rp.Partition = p.Partition
			if !writable {
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				anyErr = true
				continue
			}
			if t, ok := im.Topics[name]; ok && config.IsInternalTopic(name) && p.Partition >= 0 && int(p.Partition) < len(t.Partitions) {
				// Kafka's ReplicaManager.appendToLocalLog: INVALID_TOPIC_EXCEPTION,
				// "Cannot append to internal topic". (Kafka exempts the client
				// id "__admin_client"; arus exempts no client.)
				rp.ErrorCode = kerr.InvalidTopicException.Code
				msg := "Cannot append to internal topic " + name
				rp.ErrorMessage = &msg
				anyErr = true
				continue
			}
			part, code := h.leaderFor(im, name, p.Partition)
			if code != 0 {
				rp.ErrorCode = code
				if r.Version >= 13 && name == "" {
					rp.ErrorCode = kerr.UnknownTopicID.Code
				}
				anyErr = true
				continue
			}
			records := p.Records
			if r.Version < 3 {
				converted, err := record.FromLegacy(records)
				if err != nil {
					rp.ErrorCode = errorCode(h.deps.Logger, err)
					anyErr = true
					continue
				}
				records = converted
			}
			targets = append(targets, produceTarget{resp: rp, p: part, records: records, metrics: &topicMetrics, name: name,
				txn: txnBatches && isTransactional(records)})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if txnBatches && (r.Version >= 12 || h.verifyTxns()) {
		// From v12 the partition must be added whatever the setting: the
		// client no longer sends AddPartitionsToTxn.
		targets = h.verifyProduce(ctx, im, r, txnPID, txnEpoch, targets)
		anyErr = anyErr || slices.ContainsFunc(targets, func(t produceTarget) bool { return t.resp.ErrorCode != 0 })
	}
	var pending []pendingAppend
	for _, t := range targets {
		rp := t.resp
		if rp.ErrorCode != 0 {
			continue
		}
		res, err := t.p.AppendVerified(ctx, t.records, r.Acks, t.guard)
		if err != nil {
			rp.ErrorCode = errorCode(h.deps.Logger, err)
			rp.ErrorMessage = errorMessage(err)
			rp.ErrorRecords = recordErrors(err)
			rp.BaseOffset = -1
			anyErr = true
			continue
		}
		if !res.Duplicate && h.deps.Metrics != nil {
			if *t.metrics == nil {
				*t.metrics = h.deps.Metrics.Topic(t.name)
			}
			(*t.metrics).Produced(int64(len(t.records)), res.End-res.BaseOffset)
		}
		rp.BaseOffset = res.BaseOffset
		rp.LogAppendTime = res.LogAppendTime
		rp.LogStartOffset = res.LogStartOffset
		pending = append(pending, pendingAppend{resp: rp, p: t.p, end: res.End})
	}
	if r.Acks == 0 || len(pending) == 0 {
		return h.produceOutcome(r, resp, anyErr)
	}
	// The timeout starts now, not when the writer gets to this request.
	timeout := time.Duration(r.TimeoutMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = time.Millisecond
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	return Outcome{Wait: func() Outcome {
		defer cancel()
		for _, pa := range pending {
			wait := pa.p.WaitReplicated
			if r.Acks == 1 {
				wait = pa.p.WaitDurable
			}
			if err := wait(wctx, pa.end); err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					err = kerr.RequestTimedOut
				}
				pa.resp.ErrorCode = errorCode(h.deps.Logger, err)
				pa.resp.BaseOffset = -1
			}
		}
		return respond(resp)
	}}
}

// transactionalProducer finds the producer of the request's
// transactional batches (Produce v3+; older versions carry none): txn
// reports whether there is any, mixed whether they name more than one
// producer id.
func transactionalProducer(r *kmsg.ProduceRequest) (pid int64, epoch int16, txn, mixed bool) {
	if r.Version < 3 {
		return -1, -1, false, false
	}
	pid, epoch = -1, -1
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			h, err := record.ParseHeader(p.Records)
			if err != nil || !h.IsTransactional() || h.IsControl() || h.ProducerID < 0 {
				continue // invalid batches fail their own validation
			}
			if txn && h.ProducerID != pid {
				mixed = true
			}
			pid, epoch, txn = h.ProducerID, h.ProducerEpoch, true
		}
	}
	return pid, epoch, txn, mixed
}

func isTransactional(batch []byte) bool {
	h, err := record.ParseHeader(batch)
	return err == nil && h.IsTransactional() && !h.IsControl() && h.ProducerID >= 0
}

// verifyProduce verifies (or, from v12, adds) the partitions where the
// request's transactional batches would open a transaction, and fails
// those the coordinator refuses; the others get their guard.
func (h *Handlers) verifyProduce(ctx context.Context, im *metadata.Image, r *kmsg.ProduceRequest, pid int64, epoch int16,
	targets []produceTarget) []produceTarget {
	var idx []int
	var tps []txn.TopicPartition
	for i := range targets {
		t := &targets[i]
		if !t.txn || t.resp.ErrorCode != 0 {
			continue
		}
		guard, err := t.p.StartTxnVerification(pid, epoch)
		if err != nil {
			t.resp.ErrorCode = errorCode(h.deps.Logger, err)
			continue
		}
		if guard == 0 {
			continue // the transaction is already open here
		}
		t.guard = guard
		idx = append(idx, i)
		tps = append(tps, txn.TopicPartition{Topic: t.p.Topic(), Partition: t.p.Index()})
	}
	if len(tps) == 0 {
		return targets
	}
	codes := h.verifyTxnPartitions(ctx, im, txnCheck{id: *r.TransactionID, pid: pid, epoch: epoch,
		add: r.Version >= 12, abortable: r.Version >= 11}, tps)
	for j, i := range idx {
		if codes[j] == 0 {
			continue
		}
		rp := targets[i].resp
		code, msg := produceVerifyError(codes[j], r.Version)
		rp.ErrorCode, rp.BaseOffset = code, -1
		if msg != "" {
			rp.ErrorMessage = &msg
		}
	}
	return targets
}

// recordErrors lists the records a batch was rejected for (KIP-467; the
// field exists from v8, older versions drop it when encoding).
func recordErrors(err error) []kmsg.ProduceResponseTopicPartitionErrorRecord {
	var ve *record.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	out := make([]kmsg.ProduceResponseTopicPartitionErrorRecord, len(ve.Records))
	for i, r := range ve.Records {
		out[i].RelativeOffset = r.Index
		msg := r.Message
		out[i].ErrorMessage = &msg
	}
	return out
}

func (h *Handlers) produceOutcome(r *kmsg.ProduceRequest, resp *kmsg.ProduceResponse, anyErr bool) Outcome {
	if r.Acks == 0 {
		return Outcome{Close: anyErr}
	}
	return respond(resp)
}

// hasTransactionalBatch reports whether a partition's records are a
// transactional batch (v2 attributes, bytes 21-22, bit 4), as Kafka's
// RequestUtils.hasTransactionalRecords asks before authorizing.
func hasTransactionalBatch(r *kmsg.ProduceRequest) bool {
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if len(p.Records) > 22 && p.Records[16] == 2 && p.Records[22]&0x10 != 0 {
				return true
			}
		}
	}
	return false
}
