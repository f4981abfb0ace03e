package gateway

import "github.com/modelgate/modelgate/admin"

// The admin API reads a gateway (Config, Readiness, ShadowView) and reloads
// through its reload loop.
var (
	_ admin.Source   = (*Gateway)(nil)
	_ admin.Reloader = (*Reloader)(nil)
)
