package metadata

import (
	"fmt"
	"maps"
	"sort"
)

// Client quota entity types, as Kafka names them (ClientQuotaEntity).
const (
	QuotaEntityUser     = "user"
	QuotaEntityClientID = "client-id"
	QuotaEntityIP       = "ip"
)

// ClientQuotaRecord sets (or, with Remove, deletes) one quota key of one
// entity (Kafka's ClientQuotaRecord). An entity name of nil is the
// default entity of its type.
type ClientQuotaRecord struct {
	Entity []ClientQuotaEntityData `json:"entity"`
	Key    string                  `json:"key"`
	Value  float64                 `json:"value"`
	Remove bool                    `json:"remove,omitempty"`
}

// ClientQuotaEntityData is one part of a quota entity.
type ClientQuotaEntityData struct {
	EntityType string  `json:"entityType"`
	EntityName *string `json:"entityName"`
}

// QuotaEntityName is one part of a QuotaEntity: absent, the default
// entity of its type, or a named one.
type QuotaEntityName struct {
	Set     bool
	Default bool
	Name    string
}

// Named returns the part for name; Default the default entity's.
func Named(name string) QuotaEntityName { return QuotaEntityName{Set: true, Name: name} }

// DefaultEntity is the default entity of a type.
var DefaultEntity = QuotaEntityName{Set: true, Default: true}

// QuotaEntity names what client quotas apply to: a user, a client id,
// both, or an IP. It is comparable, so images index quotas by it.
type QuotaEntity struct {
	User, ClientID, IP QuotaEntityName
}

// QuotaEntityOf converts a record's entity; an unknown or repeated type
// is an error.
func QuotaEntityOf(parts []ClientQuotaEntityData) (QuotaEntity, error) {
	var e QuotaEntity
	for _, p := range parts {
		var dst *QuotaEntityName
		switch p.EntityType {
		case QuotaEntityUser:
			dst = &e.User
		case QuotaEntityClientID:
			dst = &e.ClientID
		case QuotaEntityIP:
			dst = &e.IP
		default:
			return QuotaEntity{}, fmt.Errorf("unknown quota entity type %q", p.EntityType)
		}
		if dst.Set {
			return QuotaEntity{}, fmt.Errorf("quota entity type %q given twice", p.EntityType)
		}
		if p.EntityName == nil {
			*dst = DefaultEntity
		} else {
			*dst = Named(*p.EntityName)
		}
	}
	return e, nil
}

// Parts returns the entity as a record's entity data, in the order user,
// client-id, ip.
func (e QuotaEntity) Parts() []ClientQuotaEntityData {
	var out []ClientQuotaEntityData
	add := func(typ string, n QuotaEntityName) {
		if !n.Set {
			return
		}
		d := ClientQuotaEntityData{EntityType: typ}
		if !n.Default {
			name := n.Name
			d.EntityName = &name
		}
		out = append(out, d)
	}
	add(QuotaEntityUser, e.User)
	add(QuotaEntityClientID, e.ClientID)
	add(QuotaEntityIP, e.IP)
	return out
}

func (im *Image) applyClientQuota(r *ClientQuotaRecord, next *Image) error {
	e, err := QuotaEntityOf(r.Entity)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInconsistent, err)
	}
	next.ClientQuotas = maps.Clone(im.ClientQuotas)
	if next.ClientQuotas == nil {
		next.ClientQuotas = map[QuotaEntity]map[string]float64{}
	}
	values := maps.Clone(next.ClientQuotas[e])
	if values == nil {
		values = map[string]float64{}
	}
	if r.Remove {
		delete(values, r.Key)
	} else {
		values[r.Key] = r.Value
	}
	if len(values) == 0 {
		delete(next.ClientQuotas, e)
	} else {
		next.ClientQuotas[e] = values
	}
	return nil
}

// quotaRecords returns the records that rebuild the image's client
// quotas, in a deterministic order.
func (im *Image) quotaRecords() []Record {
	type kv struct {
		rec  ClientQuotaRecord
		sort string
	}
	var all []kv
	for e, values := range im.ClientQuotas {
		order := fmt.Sprintf("%v", e)
		for k, v := range values {
			all = append(all, kv{rec: ClientQuotaRecord{Entity: e.Parts(), Key: k, Value: v}, sort: order + "\x00" + k})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].sort < all[j].sort })
	out := make([]Record, len(all))
	for i := range all {
		rec := all[i].rec
		out[i] = Record{ClientQuota: &rec}
	}
	return out
}
