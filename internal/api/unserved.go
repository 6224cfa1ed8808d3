package api

// Requests for keys arus does not serve. Kafka 4 closes the connection
// for a key that is not enabled on the listener (SocketServer.parseRequestHeader
// throws InvalidRequestException when ApiVersionManager.isApiEnabled is
// false), and answers a key its broker serves but whose feature is off
// with the response's error set to UNSUPPORTED_VERSION (KafkaApis, e.g.
// ConsumerGroupHeartbeat and the share-group keys when their protocol is
// disabled). arus does the same: for a key Kafka's broker listener serves
// that arus does not, it answers UNSUPPORTED_VERSION when the response
// has a top-level error code (so the client cannot mistake it for an
// empty success). Everything else closes the connection.

import (
	"reflect"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// brokerListenerKeys are the keys Kafka's broker listener serves ("listeners":
// ["broker", ...] in clients/src/main/resources/common/message/*Request.json).
var brokerListenerKeys = func() map[int16]bool {
	m := map[int16]bool{}
	for _, k := range []int16{0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
		29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 55, 57, 60, 61, 64, 65,
		66, 68, 69, 71, 72, 74, 75, 76, 77, 78, 79, 80, 81, 83, 84, 85, 86, 87} {
		m[k] = true
	}
	return m
}()

// UnservedResponse returns the answer to a request of a key arus does not
// serve, or nil when the connection should be closed.
func UnservedResponse(key, version int16) kmsg.Response {
	if _, served := registry[key]; served || !brokerListenerKeys[key] {
		return nil
	}
	req := kmsg.RequestForKey(key)
	if req == nil || version < 0 || version > req.MaxVersion() {
		return nil
	}
	resp := req.ResponseKind()
	resp.SetVersion(version)
	code := kerr.UnsupportedVersion.Code
	f := reflect.ValueOf(resp).Elem().FieldByName("ErrorCode")
	if !f.IsValid() || f.Kind() != reflect.Int16 || !f.CanSet() {
		return nil
	}
	f.SetInt(int64(code))
	return resp
}
