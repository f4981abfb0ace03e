package admin

import "github.com/modelgate/modelgate/configs"

// The routing table as GET /admin/config shows it: tenants with the number
// of their API keys, limits, models, shadows and versions with their share
// of traffic. Never keys, key hashes or the admin token hash: a field added
// here must not carry a secret.
type (
	tableView struct {
		Hash    string       `json:"hash"`
		Tenants []tenantView `json:"tenants"`
	}
	tenantView struct {
		Name    string         `json:"name"`
		APIKeys int            `json:"api_keys"`
		Limits  configs.Limits `json:"limits"`
		Models  []modelView    `json:"models"`
	}
	modelView struct {
		Name         string        `json:"name"`
		Timeout      string        `json:"timeout"`
		StickyHeader string        `json:"sticky_header,omitempty"`
		Fallback     string        `json:"fallback,omitempty"`
		Shadow       *shadowView   `json:"shadow,omitempty"`
		Versions     []versionView `json:"versions"`
	}
	shadowView struct {
		Version           string   `json:"version"`
		Percent           float64  `json:"percent"`
		Tolerance         float64  `json:"tolerance"`
		RelativeTolerance float64  `json:"relative_tolerance"`
		IgnoreFields      []string `json:"ignore_fields"`
		MaxInFlight       int      `json:"max_in_flight"`
		MaxQueue          int      `json:"max_queue"`
		MaxQueueBytes     int64    `json:"max_queue_bytes"`
		MaxBodyBytes      int64    `json:"max_body_bytes"`
		Timeout           string   `json:"timeout"`
	}
	versionView struct {
		Name      string   `json:"name"`
		Weight    int      `json:"weight"`
		Share     float64  `json:"share_percent"`
		Endpoints []string `json:"endpoints"`
		// ContainerVersion is the version named to its containers; empty:
		// they get the unversioned paths.
		ContainerVersion string `json:"container_version,omitempty"`
	}
)

// configView renders cfg for GET /admin/config. Shares are percentages of
// the model's total weight (0 when every weight is 0).
func configView(cfg *configs.Config, sees func(tenant string) bool) tableView {
	tv := tableView{Hash: cfg.Hash, Tenants: []tenantView{}}
	for _, t := range cfg.Tenants {
		if !sees(t.Name) {
			continue
		}
		tw := tenantView{Name: t.Name, APIKeys: len(t.APIKeys), Limits: t.Limits}
		for _, m := range t.Models {
			mv := modelView{Name: m.Name, Timeout: m.Timeout.String(), StickyHeader: m.StickyHeader, Fallback: m.Fallback}
			if sh := m.Shadow; sh != nil {
				mv.Shadow = &shadowView{Version: sh.Version, Percent: sh.SharePercent(), Tolerance: sh.Tolerance,
					RelativeTolerance: sh.RelativeTolerance, IgnoreFields: sh.IgnoreFields, MaxInFlight: sh.MaxInFlight,
					MaxQueue: sh.QueueLen(), MaxQueueBytes: sh.MaxQueueBytes, MaxBodyBytes: sh.MaxBodyBytes, Timeout: sh.Timeout.String()}
			}
			shares := sharesOf(m.Versions)
			for i, v := range m.Versions {
				mv.Versions = append(mv.Versions, versionView{Name: v.Name, Weight: v.Weight, Share: shares[i], Endpoints: v.Endpoints,
					ContainerVersion: v.ContainerVersion})
			}
			tw.Models = append(tw.Models, mv)
		}
		tv.Tenants = append(tv.Tenants, tw)
	}
	return tv
}

// sharesOf is each version's share of the model's total weight, in
// percent (all 0 when every weight is 0).
func sharesOf(vs []configs.Version) []float64 {
	total := 0
	for _, v := range vs {
		total += v.Weight
	}
	out := make([]float64, len(vs))
	for i, v := range vs {
		if total > 0 {
			out[i] = 100 * float64(v.Weight) / float64(total)
		}
	}
	return out
}
