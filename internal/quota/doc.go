// Package quota measures clients' byte rates against the client quotas
// of the cluster metadata and computes Kafka's throttle times.
//
// A quota is found for a (user, client id) pair with Kafka's precedence
// (ClientQuotaManager's default callback), most specific first:
//
//	/users/<user>/clients/<client-id>
//	/users/<user>/clients/<default>
//	/users/<user>
//	/users/<default>/clients/<client-id>
//	/users/<default>/clients/<default>
//	/users/<default>
//	/clients/<client-id>
//	/clients/<default>
//
// Usage is measured per matched entity as Kafka tags its sensors: the
// user's name when the entity names a user part (default or not), the
// client id when it names a client part; so /users/alice is shared by all
// of alice's clients, while /users/<default> gives each user its own.
//
// Rates are Kafka's sampled rates: quota.window.num samples of
// quota.window.size.seconds each; the rate is the sum of the live samples
// over the elapsed window, counted as at least (samples-1) windows. A
// client above its bound is throttled for (rate-bound)/bound times the
// window: the time it must stay silent for its rate to come back to the
// bound (QuotaUtils.throttleTime).
//
// A Manager is safe for concurrent use. Its sensors are created on first
// use and dropped after an hour without use.
package quota
