package upstream

// Headers the gateway sets toward model containers (after removing any
// the client sent; see gateway/headers.go).
const (
	// HeaderTenant names the calling tenant.
	HeaderTenant = "X-Modelgate-Tenant"
	// HeaderVersion names the version the request was routed to (also
	// sent back to the client: the version that served).
	HeaderVersion = "X-Modelgate-Version"
	// HeaderRequestID is the request's id, the client's when it sent a
	// printable one of at most 128 bytes (also sent back to the client).
	HeaderRequestID = "X-Request-ID"
	// HeaderShadow marks the copies sent to a shadow version.
	HeaderShadow = "X-Modelgate-Shadow"
	// HeaderHealthCheck is sent on every active health check, so a model
	// container can tell probes from traffic.
	HeaderHealthCheck = "X-Modelgate-Health-Check"
)
