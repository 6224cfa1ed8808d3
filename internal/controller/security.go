package controller

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/arus-io/arus/internal/metadata"
)

// ErrResourceNotFound is returned by AlterScramCredentials for the
// deletion of a credential that does not exist.
var ErrResourceNotFound = errors.New("resource not found")

// CreateACLs commits new ACL bindings (validated by the caller). A binding
// equal to an existing one is not added again and succeeds, as in Kafka's
// AclControlManager.
func (c *Controller) CreateACLs(bindings []metadata.AccessControlEntryRecord) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.image.Load()
	existing := map[metadata.AccessControlEntryRecord]bool{}
	for _, a := range im.ACLs {
		a.ID = [16]byte{}
		existing[a] = true
	}
	var recs []metadata.Record
	for _, b := range bindings {
		b.ID = [16]byte{}
		if existing[b] {
			continue
		}
		existing[b] = true
		if _, err := rand.Read(b.ID[:]); err != nil {
			return fmt.Errorf("acl id: %w", err)
		}
		rec := b
		recs = append(recs, metadata.Record{AccessControlEntry: &rec})
	}
	return c.commitLocked(recs)
}

// DeleteACLs removes the bindings each filter matches and returns them,
// per filter (a binding matched by several filters is listed under each,
// and removed once).
func (c *Controller) DeleteACLs(filters []func(metadata.AccessControlEntryRecord) bool) ([][]metadata.AccessControlEntryRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.image.Load()
	out := make([][]metadata.AccessControlEntryRecord, len(filters))
	removed := map[[16]byte]bool{}
	var recs []metadata.Record
	for i, match := range filters {
		for id, a := range im.ACLs {
			if !match(a) {
				continue
			}
			out[i] = append(out[i], a)
			if !removed[id] {
				removed[id] = true
				recs = append(recs, metadata.Record{RemoveAccessControlEntry: &metadata.RemoveAccessControlEntryRecord{ID: id}})
			}
		}
	}
	if err := c.commitLocked(recs); err != nil {
		return nil, err
	}
	return out, nil
}

// AlterScramCredentials commits upserts and deletions of SCRAM
// credentials; errs has one entry per upsert, then one per deletion. A
// deletion of a credential that does not exist fails with
// ErrResourceNotFound; the others still commit.
func (c *Controller) AlterScramCredentials(upserts []metadata.UserScramCredentialRecord, deletions []metadata.ScramKey) ([]error, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.image.Load()
	errs := make([]error, len(upserts)+len(deletions))
	var recs []metadata.Record
	for i := range upserts {
		rec := upserts[i]
		recs = append(recs, metadata.Record{UserScramCredential: &rec})
	}
	for i, k := range deletions {
		if _, ok := im.ScramCredentials[k]; !ok {
			errs[len(upserts)+i] = fmt.Errorf("%w: no %d credential for user %q", ErrResourceNotFound, k.Mechanism, k.User)
			continue
		}
		recs = append(recs, metadata.Record{RemoveUserScramCredential: &metadata.RemoveUserScramCredentialRecord{Name: k.User, Mechanism: k.Mechanism}})
	}
	if err := c.commitLocked(recs); err != nil {
		return nil, err
	}
	return errs, nil
}

// AlterClientQuotas commits client quota changes (validated by the
// caller): each record sets or removes one key of one entity.
func (c *Controller) AlterClientQuotas(changes []metadata.ClientQuotaRecord) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	recs := make([]metadata.Record, 0, len(changes))
	for i := range changes {
		rec := changes[i]
		recs = append(recs, metadata.Record{ClientQuota: &rec})
	}
	return c.commitLocked(recs)
}
