package metadata

import (
	"reflect"
	"testing"
)

func TestClientQuotasApplyAndSnapshot(t *testing.T) {
	alice, app := "alice", "app"
	recs := []Record{
		{ClientQuota: &ClientQuotaRecord{Entity: []ClientQuotaEntityData{{EntityType: QuotaEntityUser, EntityName: &alice}, {EntityType: QuotaEntityClientID, EntityName: &app}}, Key: "producer_byte_rate", Value: 1024}},
		{ClientQuota: &ClientQuotaRecord{Entity: []ClientQuotaEntityData{{EntityType: QuotaEntityUser}}, Key: "consumer_byte_rate", Value: 2048}},
		{ClientQuota: &ClientQuotaRecord{Entity: []ClientQuotaEntityData{{EntityType: QuotaEntityUser}}, Key: "request_percentage", Value: 50}},
		{ClientQuota: &ClientQuotaRecord{Entity: []ClientQuotaEntityData{{EntityType: QuotaEntityUser}}, Key: "request_percentage", Remove: true}},
	}
	im := Empty()
	for i, r := range recs {
		next, err := im.Apply(int64(i), r)
		if err != nil {
			t.Fatal(err)
		}
		im = next
	}
	want := map[QuotaEntity]map[string]float64{
		{User: Named("alice"), ClientID: Named("app")}: {"producer_byte_rate": 1024},
		{User: DefaultEntity}:                          {"consumer_byte_rate": 2048},
	}
	if !reflect.DeepEqual(im.ClientQuotas, want) {
		t.Fatalf("quotas %v, want %v", im.ClientQuotas, want)
	}
	b, err := EncodeSnapshot(im)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSnapshot(b, im.Offset)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.ClientQuotas, want) {
		t.Fatalf("after snapshot %v, want %v", back.ClientQuotas, want)
	}
	bad := "x"
	if _, err := im.Apply(9, Record{ClientQuota: &ClientQuotaRecord{Entity: []ClientQuotaEntityData{{EntityType: "group", EntityName: &bad}}, Key: "k"}}); err == nil {
		t.Fatal("unknown entity type applied")
	}
}
