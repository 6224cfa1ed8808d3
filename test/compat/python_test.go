//go:build integration

package compat

import (
	"testing"
)

// The Python scenarios (python/*.py) use Debian's client packages:
// apt-get install -y python3-confluent-kafka python3-kafka. Each script
// takes ADDR SCENARIO TOPIC GROUP and exits non-zero on any mismatch; see
// the scripts' docstrings for what resume and split check.

var pythonScenarios = []string{"resume", "split"}

// TestConfluentKafkaGroup runs python/confluent_group.py
// (confluent-kafka-python on librdkafka).
func TestConfluentKafkaGroup(t *testing.T) {
	t.Parallel()
	python := pythonModules(t, "python3-confluent-kafka", "confluent_kafka")
	runPythonScenarios(t, python, "confluent", "confluent_group.py", true)
}

// TestKafkaPythonGroup runs python/kafka_python_group.py (kafka-python).
func TestKafkaPythonGroup(t *testing.T) {
	t.Parallel()
	python := pythonModules(t, "python3-kafka", "kafka")
	runPythonScenarios(t, python, "kafka-python", "kafka_python_group.py", false)
}

func runPythonScenarios(t *testing.T, python, client, script string, librdkafka bool) {
	addr := startGroupBroker(t)
	adm := adminClient(t, addr)
	for _, sc := range pythonScenarios {
		t.Run(sc, func(t *testing.T) {
			name := scenarioName(client, sc)
			topic, group := name, name+"-group"
			createTopic(t, adm, topic)
			out := runScenario(t, "python", librdkafka, python, script, addr, sc, topic, group)
			requireOK(t, out, sc)
			checkCommittedAtEnd(t, adm, group, topic)
		})
	}
}
