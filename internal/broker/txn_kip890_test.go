package broker_test

// KIP-890 (transactions server-side defense) and producer-state expiry
// with raw requests at the versions each behaviour belongs to, and with
// franz-go's transactional client in both protocols.

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/record"
)

// capped is a client that sends at most the given versions, and Produce
// at most v12 (v13 names topics by id, which rawProduce does not).
func capped(t *testing.T, addr string, caps map[kmsg.Key]int16) *kgo.Client {
	t.Helper()
	v := kversion.Stable()
	v.SetMaxKeyVersion(int16(kmsg.Produce), 12)
	for k, max := range caps {
		v.SetMaxKeyVersion(int16(k), max)
	}
	return newFranz(t, addr, kgo.MaxVersions(v))
}

// batch builds one record batch of producer pid/epoch at sequence seq.
func batch(t *testing.T, pid int64, epoch int16, seq int32, transactional bool, values ...string) []byte {
	t.Helper()
	b := record.NewBuilder()
	b.ProducerID, b.ProducerEpoch, b.BaseSequence = pid, epoch, seq
	if transactional {
		b.Attributes = record.AttrTransactional
	}
	for _, v := range values {
		b.Add(time.Now().UnixMilli(), nil, []byte(v))
	}
	out, err := b.Build(record.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rawProduce sends one batch to topic/partition with cl (whose version
// cap picks the Produce version) and returns the partition's error.
func rawProduce(t *testing.T, ctx context.Context, cl *kgo.Client, txnID *string, topic string, partition int32, records []byte) int16 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.TransactionID, req.Acks, req.TimeoutMillis = txnID, -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

func initTxnProducer(t *testing.T, ctx context.Context, cl *kgo.Client, id string) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = &id, 60000
	var resp *kmsg.InitProducerIDResponse
	arustest.Eventually(t, 20*time.Second, "InitProducerId of "+id, func() bool {
		var err error
		resp, err = req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); kerr.IsRetriable(err) {
			return false
		}
		return true
	})
	if resp.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp.ProducerID, resp.ProducerEpoch
}

func addPartitionsV3(t *testing.T, ctx context.Context, cl *kgo.Client, id string, pid int64, epoch int16, topic string, partitions ...int32) {
	t.Helper()
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pid, epoch
	req.Topics = append(req.Topics, kmsg.AddPartitionsToTxnRequestTopic{Topic: topic, Partitions: partitions})
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("AddPartitionsToTxn %s-%d: %v", rt.Topic, p.Partition, kerr.ErrorForCode(p.ErrorCode))
			}
		}
	}
}

func endTxn(t *testing.T, ctx context.Context, cl *kgo.Client, id string, pid int64, epoch int16, commit bool) *kmsg.EndTxnResponse {
	t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
	var resp *kmsg.EndTxnResponse
	arustest.Eventually(t, 20*time.Second, "EndTxn not CONCURRENT_TRANSACTIONS", func() bool {
		var err error
		resp, err = req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ErrorCode != kerr.ConcurrentTransactions.Code
	})
	return resp
}

// endOffset is the partition's high watermark (control batches count).
func endOffset(t *testing.T, ctx context.Context, adm *kadm.Client, topic string, partition int32) int64 {
	t.Helper()
	offs, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offs.Lookup(topic, partition)
	if !ok || o.Err != nil {
		t.Fatalf("end offset of %s-%d: %v", topic, partition, o.Err)
	}
	return o.Offset
}

// producerEpochOn is the epoch a partition holds for pid (DescribeProducers), or -1.
func producerEpochOn(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, partition int32, pid int64) int16 {
	t.Helper()
	req := kmsg.NewPtrDescribeProducersRequest()
	req.Topics = append(req.Topics, kmsg.DescribeProducersRequestTopic{Topic: topic, Partitions: []int32{partition}})
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.Topics[0].Partitions[0].ActiveProducers {
		if p.ProducerID == pid {
			return int16(p.ProducerEpoch)
		}
	}
	return -1
}

// TestKIP890VerifyRejectsUnaddedPartition (part 1, the classic protocol):
// a transactional produce to a partition the transaction never added is
// refused after the broker asks the coordinator, with INVALID_TXN_STATE
// before Produce v11 and TRANSACTION_ABORTABLE from v11, and nothing is
// appended; an added partition takes the write; after the commit, a late
// write with the same epoch cannot open a hanging transaction.
func TestKIP890VerifyRejectsUnaddedPartition(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithTransactionStatePartitions(1))
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "kv", 2, nil)
	adm := kadm.NewClient(newFranz(t, b.Addr()))
	classic := map[kmsg.Key]int16{kmsg.InitProducerID: 4, kmsg.AddPartitionsToTxn: 3, kmsg.EndTxn: 4, kmsg.Produce: 11}
	v11 := capped(t, b.Addr(), classic)
	classic[kmsg.Produce] = 10
	v10 := capped(t, b.Addr(), classic)
	id := "kip890-p1"
	pid, epoch := initTxnProducer(t, ctx, v11, id)
	addPartitionsV3(t, ctx, v11, id, pid, epoch, "kv", 0)

	if code := rawProduce(t, ctx, v10, &id, "kv", 1, batch(t, pid, epoch, 0, true, "stray")); code != kerr.InvalidTxnState.Code {
		t.Fatalf("Produce v10 to an unadded partition: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	if code := rawProduce(t, ctx, v11, &id, "kv", 1, batch(t, pid, epoch, 0, true, "stray")); code != kerr.TransactionAbortable.Code {
		t.Fatalf("Produce v11 to an unadded partition: %v, want TRANSACTION_ABORTABLE", kerr.ErrorForCode(code))
	}
	if off := endOffset(t, ctx, adm, "kv", 1); off != 0 {
		t.Fatalf("kv-1 end offset %d after refused writes, want 0", off)
	}
	if code := rawProduce(t, ctx, v11, &id, "kv", 0, batch(t, pid, epoch, 0, true, "in-txn")); code != 0 {
		t.Fatalf("Produce to the added partition: %v", kerr.ErrorForCode(code))
	}
	// A second batch of the open transaction needs no verification.
	if code := rawProduce(t, ctx, v11, &id, "kv", 0, batch(t, pid, epoch, 1, true, "in-txn-2")); code != 0 {
		t.Fatalf("second batch: %v", kerr.ErrorForCode(code))
	}
	if resp := endTxn(t, ctx, v11, id, pid, epoch, true); resp.ErrorCode != 0 {
		t.Fatalf("EndTxn: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	arustest.Eventually(t, 10*time.Second, "the commit marker on kv-0", func() bool { return endOffset(t, ctx, adm, "kv", 0) == 3 })
	// The late write: same producer, same epoch, transaction finished.
	// Until the coordinator has written CompleteCommit (the marker can be
	// on kv-0 before), verification answers CONCURRENT_TRANSACTIONS, which
	// Produce v10 turns into the retriable NOT_ENOUGH_REPLICAS, as Kafka.
	var code int16
	arustest.Eventually(t, 10*time.Second, "the coordinator completed the commit", func() bool {
		code = rawProduce(t, ctx, v10, &id, "kv", 0, batch(t, pid, epoch, 2, true, "late"))
		return code != kerr.NotEnoughReplicas.Code
	})
	if code != kerr.InvalidTxnState.Code {
		t.Fatalf("late write after the commit: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	if off := endOffset(t, ctx, adm, "kv", 0); off != 3 {
		t.Fatalf("kv-0 end offset %d after the late write, want 3", off)
	}
	// A producer id that is not the transactional id's.
	if code := rawProduce(t, ctx, v11, &id, "kv", 1, batch(t, pid+1000, 0, 0, true, "other")); code != kerr.InvalidProducerIDMapping.Code {
		t.Fatalf("foreign producer id: %v, want INVALID_PRODUCER_ID_MAPPING", kerr.ErrorForCode(code))
	}
	// The committed records are readable, the refused ones never were.
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	got := consumeValues(t, short, b.Addr(), "kv", 3, false)
	if !slices.Equal(got[0], []string{"in-txn", "in-txn-2"}) || len(got[1]) != 0 {
		t.Fatalf("read_uncommitted: %v", got)
	}
}

// TestKIP890RequestChecks: transactional records need a transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and one producer id per request
// (INVALID_PRODUCER_ID_MAPPING), as Kafka's produce path checks.
func TestKIP890RequestChecks(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithTransactionStatePartitions(1))
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "chk", 2, nil)
	cl := capped(t, b.Addr(), nil)
	if code := rawProduce(t, ctx, cl, nil, "chk", 0, batch(t, 7, 0, 0, true, "x")); code != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("transactional batch without a transactional id: %v", kerr.ErrorForCode(code))
	}
	id := "chk-id"
	req := kmsg.NewPtrProduceRequest()
	req.TransactionID, req.Acks, req.TimeoutMillis = &id, -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "chk"
	for i, pid := range []int64{7, 8} {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = int32(i), batch(t, pid, 0, 0, true, "x")
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != kerr.InvalidProducerIDMapping.Code {
			t.Fatalf("two producer ids in one request, partition %d: %v", p.Partition, kerr.ErrorForCode(p.ErrorCode))
		}
	}
}

// TestKIP890VerificationDisabled: transaction.partition.verification.enable
// =false restores the unchecked append (the hole KIP-890 part 1 closes).
func TestKIP890VerificationDisabled(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithTransactionStatePartitions(1), arustest.WithPartitionVerification(false))
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "unchecked", 1, nil)
	cl := capped(t, b.Addr(), map[kmsg.Key]int16{kmsg.Produce: 11})
	id := "unchecked-id"
	pid, epoch := initTxnProducer(t, ctx, cl, id)
	if code := rawProduce(t, ctx, cl, &id, "unchecked", 0, batch(t, pid, epoch, 0, true, "x")); code != 0 {
		t.Fatalf("unverified produce with verification off: %v", kerr.ErrorForCode(code))
	}
}

// TestKIP890EpochBumpFencesLateWrites (part 2): Produce v12 adds the
// partition itself; EndTxn v5 bumps the epoch, returns it and writes the
// markers with it, so a late write of the finished transaction gets
// INVALID_PRODUCER_EPOCH on every partition, whether or not it was in the
// transaction, and nothing is appended. A retried EndTxn with the old epoch
// answers the same outcome; an empty abort only bumps the epoch; an empty
// commit is INVALID_TXN_STATE.
func TestKIP890EpochBumpFencesLateWrites(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithTransactionStatePartitions(1))
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "tv2", 2, nil)
	adm := kadm.NewClient(newFranz(t, b.Addr()))
	cl := capped(t, b.Addr(), nil)
	id := "kip890-p2"
	pid, e := initTxnProducer(t, ctx, cl, id)

	if code := rawProduce(t, ctx, cl, &id, "tv2", 0, batch(t, pid, e, 0, true, "one")); code != 0 {
		t.Fatalf("Produce v12 (implicit add): %v", kerr.ErrorForCode(code))
	}
	resp := endTxn(t, ctx, cl, id, pid, e, true)
	if resp.ErrorCode != 0 || resp.ProducerID != pid || resp.ProducerEpoch != e+1 {
		t.Fatalf("EndTxn v5: %v, producer %d epoch %d, want %d epoch %d", kerr.ErrorForCode(resp.ErrorCode), resp.ProducerID, resp.ProducerEpoch, pid, e+1)
	}
	arustest.Eventually(t, 10*time.Second, "the commit marker on tv2-0", func() bool { return endOffset(t, ctx, adm, "tv2", 0) == 2 })
	if got := producerEpochOn(t, ctx, cl, "tv2", 0, pid); got != e+1 {
		t.Fatalf("tv2-0 holds epoch %d for the producer after the marker, want %d", got, e+1)
	}
	for _, p := range []int32{0, 1} {
		// CONCURRENT_TRANSACTIONS (retriable) while the coordinator still
		// completes the commit.
		var code int16
		arustest.Eventually(t, 10*time.Second, "the coordinator completed the commit", func() bool {
			code = rawProduce(t, ctx, cl, &id, "tv2", p, batch(t, pid, e, 1, true, "late"))
			return code != kerr.ConcurrentTransactions.Code
		})
		if code != kerr.InvalidProducerEpoch.Code {
			t.Fatalf("late write of the finished transaction to tv2-%d: %v, want INVALID_PRODUCER_EPOCH", p, kerr.ErrorForCode(code))
		}
	}
	if a, b := endOffset(t, ctx, adm, "tv2", 0), endOffset(t, ctx, adm, "tv2", 1); a != 2 || b != 0 {
		t.Fatalf("end offsets %d, %d after late writes, want 2, 0", a, b)
	}
	if retry := endTxn(t, ctx, cl, id, pid, e, true); retry.ErrorCode != 0 || retry.ProducerEpoch != e+1 {
		t.Fatalf("retried EndTxn: %v epoch %d", kerr.ErrorForCode(retry.ErrorCode), retry.ProducerEpoch)
	}
	if retry := endTxn(t, ctx, cl, id, pid, e, false); retry.ErrorCode != kerr.InvalidTxnState.Code {
		t.Fatalf("retried EndTxn with the other outcome: %v", kerr.ErrorForCode(retry.ErrorCode))
	}

	// The next transaction runs at the new epoch, and aborts.
	e++
	if code := rawProduce(t, ctx, cl, &id, "tv2", 1, batch(t, pid, e, 0, true, "aborted")); code != 0 {
		t.Fatalf("next transaction: %v", kerr.ErrorForCode(code))
	}
	if resp := endTxn(t, ctx, cl, id, pid, e, false); resp.ErrorCode != 0 || resp.ProducerEpoch != e+1 {
		t.Fatalf("abort: %v epoch %d", kerr.ErrorForCode(resp.ErrorCode), resp.ProducerEpoch)
	}
	e++
	if resp := endTxn(t, ctx, cl, id, pid, e, true); resp.ErrorCode != kerr.InvalidTxnState.Code {
		t.Fatalf("commit with nothing ongoing: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	if resp := endTxn(t, ctx, cl, id, pid, e, false); resp.ErrorCode != 0 || resp.ProducerEpoch != e+1 {
		t.Fatalf("empty abort: %v epoch %d", kerr.ErrorForCode(resp.ErrorCode), resp.ProducerEpoch)
	}
	if resp := endTxn(t, ctx, cl, id, pid, e-2, true); resp.ErrorCode != kerr.ProducerFenced.Code {
		t.Fatalf("EndTxn two epochs back: %v, want PRODUCER_FENCED", kerr.ErrorForCode(resp.ErrorCode))
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	got := consumeValues(t, short, b.Addr(), "tv2", 3, true)
	if !slices.Equal(got[0], []string{"one"}) || len(got[1]) != 0 {
		t.Fatalf("read_committed: %v", got)
	}
}

// TestKIP890TxnOffsetCommit: before v5 the group's offsets partition must
// have been added (AddOffsetsToTxn): INVALID_TXN_STATE (v3),
// TRANSACTION_ABORTABLE (v4); v5 adds it, and the commit makes the offset
// the group's.
func TestKIP890TxnOffsetCommit(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithTransactionStatePartitions(1))
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "src", 1, nil)
	id, grp := "offsets-id", "offsets-group"
	commit := func(version int16, pid int64, epoch int16, offset int64) int16 {
		t.Helper()
		cl := capped(t, b.Addr(), map[kmsg.Key]int16{kmsg.TxnOffsetCommit: version})
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, req.Generation = id, grp, pid, epoch, -1
		req.Topics = append(req.Topics, kmsg.TxnOffsetCommitRequestTopic{Topic: "src",
			Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 0, Offset: offset, LeaderEpoch: -1}}})
		var code int16
		arustest.Eventually(t, 20*time.Second, "TxnOffsetCommit without a retriable error", func() bool {
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			code = resp.Topics[0].Partitions[0].ErrorCode
			return !kerr.IsRetriable(kerr.ErrorForCode(code))
		})
		return code
	}
	cl := newFranz(t, b.Addr())
	pid, epoch := initTxnProducer(t, ctx, cl, id)
	if code := commit(3, pid, epoch, 5); code != kerr.InvalidTxnState.Code {
		t.Fatalf("TxnOffsetCommit v3 without AddOffsetsToTxn: %v", kerr.ErrorForCode(code))
	}
	if code := commit(4, pid, epoch, 5); code != kerr.TransactionAbortable.Code {
		t.Fatalf("TxnOffsetCommit v4 without AddOffsetsToTxn: %v", kerr.ErrorForCode(code))
	}
	if code := commit(5, pid, epoch, 5); code != 0 {
		t.Fatalf("TxnOffsetCommit v5: %v", kerr.ErrorForCode(code))
	}
	if resp := endTxn(t, ctx, cl, id, pid, epoch, true); resp.ErrorCode != 0 {
		t.Fatalf("EndTxn: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	adm := kadm.NewClient(cl)
	arustest.Eventually(t, 10*time.Second, "the transactional offset committed", func() bool {
		offs, err := adm.FetchOffsets(ctx, grp)
		if err != nil {
			return false
		}
		o, ok := offs.Lookup("src", 0)
		return ok && o.At == 5
	})
}

// TestKIP890FranzGoBothProtocols: franz-go's transactional producer on
// the classic protocol (Produce capped at v11, so it sends
// AddPartitionsToTxn and its partitions are verified) and on KIP-890
// part 2 (transaction.version 2 is finalized: Produce v12, EndTxn v5,
// an epoch bump per transaction) writes exactly what it committed.
func TestKIP890FranzGoBothProtocols(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithTransactionStatePartitions(1))
	ctx := testContext(t)
	adm := kadm.NewClient(newFranz(t, b.Addr()))
	for _, tc := range []struct {
		name     string
		opts     []kgo.Opt
		epochsUp bool
	}{
		{name: "classic", opts: []kgo.Opt{kgo.MaxVersions(func() *kversion.Versions {
			v := kversion.Stable()
			v.SetMaxKeyVersion(int16(kmsg.Produce), 11)
			return v
		}())}},
		{name: "tv2", epochsUp: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "both-" + tc.name
			createTopic(t, ctx, b.Addr(), topic, 2, nil)
			id := "both-id-" + tc.name
			cl := newFranz(t, b.Addr(), append([]kgo.Opt{kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic),
				kgo.RecordPartitioner(kgo.RoundRobinPartitioner())}, tc.opts...)...)
			var want []string
			for round := 0; round < 4; round++ {
				commit := round != 2
				prefix := fmt.Sprintf("r%d", round)
				produceTxn(t, ctx, cl, topic, prefix, 6, commit)
				if commit {
					for i := 0; i < 6; i++ {
						want = append(want, fmt.Sprintf("%s-%d", prefix, i))
					}
				}
			}
			described, err := adm.DescribeTransactions(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			d, ok := described[id]
			if !ok || d.Err != nil {
				t.Fatalf("describe %s: %+v", id, d)
			}
			if bumped := d.ProducerEpoch >= 4; bumped != tc.epochsUp {
				t.Fatalf("producer epoch %d after 4 transactions; epoch bump per transaction: got %v, want %v", d.ProducerEpoch, bumped, tc.epochsUp)
			}
			short, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			var got []string
			for _, vs := range consumeValues(t, short, b.Addr(), topic, len(want)+1, true) {
				got = append(got, vs...)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("read_committed %v, want %v", got, want)
			}
		})
	}
}

// TestTransactionVersionFeature: ApiVersions finalizes transaction.version
// 2 and serves EndTxn v5, WriteTxnMarkers v2 (inter-broker only);
// DescribeConfigs lists the transaction configs with Kafka's defaults.
func TestTransactionVersionFeature(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	cl := newFranz(t, b.Addr())
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "arus-test", "1"
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(resp.FinalizedFeatures, func(f kmsg.ApiVersionsResponseFinalizedFeature) bool { return f.Name == "transaction.version" })
	if i < 0 || resp.FinalizedFeatures[i].MaxVersionLevel != 2 {
		t.Fatalf("finalized features %+v", resp.FinalizedFeatures)
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == int16(kmsg.EndTxn) && k.MaxVersion != 5 {
			t.Fatalf("EndTxn max version %d", k.MaxVersion)
		}
	}
	adm := kadm.NewClient(cl)
	rcs, err := adm.DescribeBrokerConfigs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"transaction.max.timeout.ms":                                  "900000",
		"transactional.id.expiration.ms":                              "604800000",
		"transaction.state.log.num.partitions":                        "50",
		"transaction.state.log.replication.factor":                    "3",
		"transaction.state.log.min.isr":                               "2",
		"transaction.state.log.segment.bytes":                         "104857600",
		"transaction.state.log.load.buffer.size":                      "5242880",
		"transaction.partition.verification.enable":                   "true",
		"producer.id.expiration.ms":                                   "86400000",
		"producer.id.expiration.check.interval.ms":                    "600000",
		"transaction.abort.timed.out.transaction.cleanup.interval.ms": "10000",
		"transaction.remove.expired.transaction.cleanup.interval.ms":  "3600000",
		"add.partitions.to.txn.retry.backoff.ms":                      "20",
		"add.partitions.to.txn.retry.backoff.max.ms":                  "100",
	}
	got := map[string]string{}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Value != nil {
				got[c.Key] = *c.Value
			}
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// TestProducerIDExpiration: an idempotent producer that wrote nothing for
// producer.id.expiration.ms is forgotten by the partition
// (DescribeProducers no longer lists it). While it is known, a sequence
// gap is OUT_OF_ORDER_SEQUENCE_NUMBER; once expired, its next batch is
// accepted with any sequence, as Kafka accepts a producer it has no state
// for (KIP-360).
func TestProducerIDExpiration(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithProducerIDExpiration(300*time.Millisecond, 50*time.Millisecond))
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "exp", 1, nil)
	cl := capped(t, b.Addr(), nil)
	req := kmsg.NewPtrInitProducerIDRequest()
	ip, err := req.RequestWith(ctx, cl)
	if err != nil || ip.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %v", err, kerr.ErrorForCode(ip.ErrorCode))
	}
	pid := ip.ProducerID
	if code := rawProduce(t, ctx, cl, nil, "exp", 0, batch(t, pid, 0, 0, false, "a", "b")); code != 0 {
		t.Fatalf("first batch: %v", kerr.ErrorForCode(code))
	}
	if code := rawProduce(t, ctx, cl, nil, "exp", 0, batch(t, pid, 0, 7, false, "gap")); code != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence gap of a known producer: %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", kerr.ErrorForCode(code))
	}
	if producerEpochOn(t, ctx, cl, "exp", 0, pid) != 0 {
		t.Fatal("the producer is not listed")
	}
	arustest.Eventually(t, 10*time.Second, "the idle producer expires", func() bool {
		return producerEpochOn(t, ctx, cl, "exp", 0, pid) == -1
	})
	if code := rawProduce(t, ctx, cl, nil, "exp", 0, batch(t, pid, 0, 7, false, "after")); code != 0 {
		t.Fatalf("batch of an expired producer: %v, want it accepted", kerr.ErrorForCode(code))
	}
}

// TestKIP890RemoteCoordinator: when the transaction coordinator is on
// another broker than the partition leader, the leader verifies (and, for
// Produce v12, adds) the partition with AddPartitionsToTxn v4+ over the
// inter-broker listener.
func TestKIP890RemoteCoordinator(t *testing.T) {
	c := arustest.StartCluster(t, 2, arustest.WithTransactionStatePartitions(1))
	ctx := testContext(t)
	cl := newFranz(t, c.Addrs()[0], kgo.SeedBrokers(c.Addrs()...))
	id := "remote-id"
	pid, epoch := initTxnProducer(t, ctx, cl, id)
	coord, err := c.Leader("__transaction_state", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 4, 1, nil, "remote"); err != nil {
		t.Fatal(err)
	}
	var away []int32 // partitions led by the other broker
	arustest.Eventually(t, 10*time.Second, "partitions of remote placed", func() bool {
		away = away[:0]
		for p := int32(0); p < 4; p++ {
			leader, err := c.Leader("remote", p)
			if err != nil || leader < 0 {
				return false
			}
			if leader != coord {
				away = append(away, p)
			}
		}
		return true
	})
	if len(away) < 2 {
		t.Fatalf("partitions %v of 4 are led away from the coordinator %d; need 2", away, coord)
	}
	other := 3 - coord
	leaderNode := func(produceMax int16) *kgo.Broker {
		v := kversion.Stable()
		v.SetMaxKeyVersion(int16(kmsg.Produce), produceMax)
		return newFranz(t, c.Broker(other).Addr(), kgo.MaxVersions(v)).SeedBrokers()[0]
	}
	produce := func(node *kgo.Broker, partition int32, records []byte) int16 {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.TransactionID, req.Acks, req.TimeoutMillis = &id, -1, 10000
		req.Topics = []kmsg.ProduceRequestTopic{{Topic: "remote", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: partition, Records: records}}}}
		resp, err := node.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
	}
	v11, v12 := leaderNode(11), leaderNode(12)
	if code := produce(v11, away[0], batch(t, pid, epoch, 0, true, "stray")); code != kerr.TransactionAbortable.Code {
		t.Fatalf("unadded partition, remote coordinator: %v, want TRANSACTION_ABORTABLE", kerr.ErrorForCode(code))
	}
	capV3 := capped(t, c.Addrs()[0], map[kmsg.Key]int16{kmsg.AddPartitionsToTxn: 3})
	addPartitionsV3(t, ctx, capV3, id, pid, epoch, "remote", away[0])
	if code := produce(v11, away[0], batch(t, pid, epoch, 0, true, "verified")); code != 0 {
		t.Fatalf("added partition, remote coordinator: %v", kerr.ErrorForCode(code))
	}
	if code := produce(v12, away[1], batch(t, pid, epoch, 0, true, "implicit")); code != 0 {
		t.Fatalf("Produce v12, remote coordinator: %v", kerr.ErrorForCode(code))
	}
	described, err := kadm.NewClient(cl).DescribeTransactions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d := described[id]; len(d.Topics["remote"]) != 2 {
		t.Fatalf("transaction partitions %v, want %v", d.Topics, away[:2])
	}
	if resp := endTxn(t, ctx, cl, id, pid, epoch, true); resp.ErrorCode != 0 {
		t.Fatalf("EndTxn: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var got []string
	for _, vs := range consumeValues(t, short, c.Addrs()[0], "remote", 3, true) {
		got = append(got, vs...)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"implicit", "verified"}) {
		t.Fatalf("read_committed: %v", got)
	}
}

// TestKIP890GroupTransactSessionClassic: consume-transform-produce with
// franz-go on the classic protocol (AddPartitionsToTxn, AddOffsetsToTxn,
// TxnOffsetCommit v4, EndTxn v4), where every produce and offset commit is
// verified with the coordinator: the output has each input record once.
func TestKIP890GroupTransactSessionClassic(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithTransactionStatePartitions(1))
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "cl-in", 1, nil)
	createTopic(t, ctx, b.Addr(), "cl-out", 2, nil)
	const n = 60
	in := newFranz(t, b.Addr(), kgo.DefaultProduceTopic("cl-in"))
	for i := 0; i < n; i += 5 {
		var recs []*kgo.Record
		for j := i; j < i+5; j++ {
			recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprint(j))})
		}
		if err := in.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	classic := kversion.Stable()
	classic.SetMaxKeyVersion(int16(kmsg.Produce), 11)
	sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID("cl"), kgo.MaxVersions(classic),
		kgo.ConsumerGroup("cl-group"), kgo.ConsumeTopics("cl-in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DefaultProduceTopic("cl-out"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.FetchMaxPartitionBytes(200))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	done, round := 0, 0
	for done < n && ctx.Err() == nil {
		fs := sess.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		count := 0
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Value: append([]byte("out-"), r.Value...)}, nil)
			count++
		})
		round++
		commit := round%4 != 0
		if !commit {
			if err := sess.Client().Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		committed, err := sess.End(ctx, kgo.TransactionEndTry(commit))
		if err != nil {
			t.Fatalf("end: %v", err)
		}
		if committed {
			done += count
		}
	}
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var got []string
	for _, vs := range consumeValues(t, short, b.Addr(), "cl-out", n+1, true) {
		got = append(got, vs...)
	}
	if len(got) != n {
		t.Fatalf("read_committed output has %d records, want %d", len(got), n)
	}
	seen := map[string]bool{}
	for _, v := range got {
		if seen[v] {
			t.Fatalf("%s twice", v)
		}
		seen[v] = true
	}
	d, err := kadm.NewClient(newFranz(t, b.Addr())).DescribeTransactions(ctx, "cl")
	if err != nil || d["cl"].ProducerEpoch != 0 {
		t.Fatalf("classic protocol bumped the epoch: %+v %v", d["cl"], err)
	}
}
