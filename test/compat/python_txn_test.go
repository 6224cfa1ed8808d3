//go:build integration

package compat

import (
	"testing"

	"github.com/arus-io/arus/internal/arustest"
)

// TestConfluentKafkaTransactions runs python/confluent_txn.py: a
// transactional consume-transform-produce loop with confluent-kafka-python
// (librdkafka's idempotent, transactional producer, send_offsets_to_transaction,
// a read_committed consumer), deliberate aborts and a processor that dies
// with its transaction open and is fenced by its successor. The script
// checks the output read_committed (every input once, in order, nothing
// aborted) and read_uncommitted (the aborted writes are there); here the
// group's committed offsets must be the input's log end offsets.
func TestConfluentKafkaTransactions(t *testing.T) {
	t.Parallel()
	python := pythonModules(t, "python3-confluent-kafka", "confluent_kafka")
	addr := startGroupBroker(t, arustest.WithGroupInitialRebalanceDelay(0))
	adm := adminClient(t, addr)
	topic, group := "confluent-ctp", "confluent-ctp-group"
	createTopic(t, adm, topic)
	createTopic(t, adm, topic+"-out")
	out := runScenario(t, "python", true, python, "confluent_txn.py", addr, "ctp", topic, group)
	requireOK(t, out, "ctp")
	checkCommittedAtEnd(t, adm, group, topic)
}
