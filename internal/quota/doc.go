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
// request_percentage counts request handling time the same way, in
// percent of one thread (Kafka's ClientRequestQuotaManager; the throttle
// time is at most one window). controller_mutation_rate (KIP-599) is a
// token bucket of partition mutations per second holding at most
// rate x samples x window tokens: a mutation may take it below zero,
// after which strict requests fail with THROTTLING_QUOTA_EXCEEDED and the
// throttle time is what it takes to refill to zero
// (ControllerMutationQuotaManager).
//
// A Manager is safe for concurrent use. Its sensors are created on first
// use and dropped after an hour without use.
package quota
