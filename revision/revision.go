// Package revision keeps the history of the routing the gateway serves:
// every routing state is a Revision (a monotonic number, the full
// effective routing, its hash, source, actor, reason and a semantic diff
// against the revision before it), kept in an embedded store in the data
// directory (store.go, bbolt). Diff (diff.go) is pure: what changed between
// two routings, as operators read it ("acme/fraud: weight v2 10 → 25").
//
// The control plane (package control) decides when a revision is made and
// applies them; this package only records and compares them.
package revision

import (
	"time"

	"github.com/modelgate/modelgate/configs"
)

// Source is what made a revision.
type Source string

// The sources of a revision.
const (
	SourceFile     Source = "file"     // the config file was (re)loaded
	SourceAPI      Source = "api"      // an operator changed weights through the admin API
	SourceRollout  Source = "rollout"  // a progressive rollout moved a step
	SourceRollback Source = "rollback" // an operator or a rollout restored an earlier revision
)

// Revision is one routing state the gateway served.
type Revision struct {
	// N is the revision's number: 1 for the first, then each one more than
	// the one before. Set by Store.Append.
	N uint64 `json:"n"`
	// Time is when it was made (UTC). Set by Store.Append when zero.
	Time time.Time `json:"time"`
	// Source, Actor and Reason say who made it and why: Actor is the
	// operator's name, or "file" / "rollout" for automated revisions.
	Source Source `json:"source"`
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
	// FileHash is the configs.Config.Hash of the config file the revision
	// was based on: the file loaded, or the file running when an API change
	// or rollback was made on top of it. Restart compares it with the file.
	FileHash string `json:"file_hash"`
	// Hash is the hex SHA-256 of the routing's canonical encoding
	// (RoutingHash). Two revisions with the same Hash route identically.
	Hash string `json:"hash"`
	// Routing is the full effective routing: tenants with their key hashes,
	// models, versions, weights, endpoints, shadows and limits, defaults
	// applied. Never keys themselves: the config holds only their SHA-256.
	Routing []configs.Tenant `json:"routing"`
	// Changes is the semantic diff from the revision before (Diff); empty
	// for the first.
	Changes []Change `json:"changes"`
	// Overrode lists, for a file revision that replaced API or rollout
	// changes, what of theirs it undid (Diff from the running revision's
	// routing to the file's, restricted to what the file did not change
	// itself); empty otherwise.
	Overrode []Change `json:"overrode,omitempty"`
	// WeightSources says, per "tenant/model/version", which source set the
	// version's weight now in force: SourceFile when it equals the file's,
	// otherwise the source of the revision that last set it.
	WeightSources map[string]Source `json:"weight_sources"`
}

// Change is one semantic difference between two routings, as an operator
// reads it: "acme/fraud: weight v2 10 → 25". Tenant and Model are empty
// when the change is not about one (Model empty for a tenant-level
// change such as limits or an added tenant).
type Change struct {
	Tenant string `json:"tenant"`
	Model  string `json:"model,omitempty"`
	// Text is the change without the tenant/model prefix, e.g.
	// "weight v2 10 → 25", "endpoint http://10.0.0.7:8000 added to v3",
	// "model added", "shadow v3 percent 10 → 50".
	Text string `json:"text"`
}

// String is the change as one line: "tenant/model: text" ("tenant: text"
// without a model).
func (c Change) String() string {
	switch {
	case c.Model != "":
		return c.Tenant + "/" + c.Model + ": " + c.Text
	case c.Tenant != "":
		return c.Tenant + ": " + c.Text
	default:
		return c.Text
	}
}
