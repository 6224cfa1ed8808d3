package api

// UpdateFeatures (key 57), versions 0-2.
//   v1: ValidateOnly; UpgradeType (1 upgrade, 2 safe downgrade, 3 unsafe
//   downgrade) replaces AllowDowngrade. v2: no per-feature results.
// Runs on the active controller (forwarded from any broker), with the
// checks of Kafka's FeatureControlManager.updateFeature, in its order: an
// unknown upgrade type, a negative level, a level the controller does not
// support ("Local controller N only supports versions 21", or "does not
// support this feature" for features it does not know), a downgrade asked
// as an upgrade and an upgrade asked as a downgrade are each
// INVALID_UPDATE_VERSION, and the first failure fails the whole request
// ("The update failed for all features since the following feature had an
// error: ..."). arus supports one level per feature (features.go), so a
// request that passes asks for the level already finalized and changes
// nothing: there is no record to commit.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Upgrade types of UpdateFeatures v1+ (FeatureUpdate.UpgradeType).
const (
	upgradeTypeUpgrade         = 1
	upgradeTypeSafeDowngrade   = 2
	upgradeTypeUnsafeDowngrade = 3
)

func (h *Handlers) updateFeatures(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.UpdateFeaturesRequest)
	resp := r.ResponseKind().(*kmsg.UpdateFeaturesResponse)
	if !h.deps.Channel.ServesLocally() {
		resp.ErrorCode = kerr.NotController.Code
		return respond(resp)
	}
	for _, u := range r.FeatureUpdates {
		upgradeType := u.UpgradeType
		if r.Version == 0 {
			upgradeType = upgradeTypeUpgrade
			if u.AllowDowngrade {
				upgradeType = upgradeTypeSafeDowngrade
			}
		}
		if msg := h.checkFeatureUpdate(u.Feature, u.MaxVersionLevel, upgradeType); msg != "" {
			resp.ErrorCode = kerr.InvalidUpdateVersion.Code
			m := fmt.Sprintf("The update failed for all features since the following feature had an error: Invalid update version %d for feature %s. %s",
				u.MaxVersionLevel, u.Feature, msg)
			resp.ErrorMessage = &m
			return respond(resp)
		}
	}
	if r.Version <= 1 {
		for _, u := range r.FeatureUpdates {
			res := kmsg.NewUpdateFeaturesResponseResult()
			res.Feature = u.Feature
			resp.Results = append(resp.Results, res)
		}
	}
	return respond(resp)
}

// checkFeatureUpdate returns why setting feature to level fails, or "".
func (h *Handlers) checkFeatureUpdate(name string, level int16, upgradeType int8) string {
	if upgradeType < upgradeTypeUpgrade || upgradeType > upgradeTypeUnsafeDowngrade {
		return "The controller does not support the given upgrade type."
	}
	f, known := lookupFeature(name)
	current := f.level // 0 for a feature arus does not know
	if level < 0 {
		return "A feature version cannot be less than 0."
	}
	self := fmt.Sprintf("Local controller %d", h.deps.Broker.NodeID)
	switch {
	case !known && level != 0:
		return self + " does not support this feature."
	case !known:
		// Level 0 is "not enabled", which Kafka's range check accepts;
		// it then fails to find the feature.
		return fmt.Sprintf("Feature %s not found.", name)
	case level != f.level:
		return fmt.Sprintf("%s only supports versions %d", self, f.level)
	}
	// With one level per feature these cannot fail yet; they are Kafka's
	// rules for when a feature gains a range.
	switch {
	case level < current && upgradeType == upgradeTypeUpgrade:
		return "Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade."
	case level > current && upgradeType != upgradeTypeUpgrade:
		return "Can't downgrade to a newer version."
	}
	return ""
}
