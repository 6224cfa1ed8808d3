// Package auth owns who a connection is and what it may do: SASL
// mechanisms (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) as server-side
// exchanges, TLS server configuration from Kafka's PEM keystore and
// truststore files (reloaded when the files change), the mapping of a
// client certificate's subject to a principal (ssl.principal.mapping.rules),
// and an ACL authorizer with the semantics of Kafka's StandardAuthorizer.
//
// Nothing here does network I/O: internal/server drives the SASL exchanges
// and the TLS handshakes, internal/api asks the Authorizer. The Authorizer
// is read on every request: a decision reads one immutable index through
// an atomic pointer and allocates nothing; Update swaps in a new index
// built from the ACLs of a metadata image.
//
// Credentials: SCRAM credentials arrive as stored (salt, iterations,
// StoredKey, ServerKey, never the password), looked up through a
// CredentialStore on every login; PLAIN users come from the listener's JAAS
// config (Kafka's PlainLoginModule user_<name>="<password>" options).
package auth
