package admin

import "github.com/modelgate/modelgate/configs"

// The routing table as GET /admin/config shows it: no keys, no key hashes,
// no admin token hash.
type (
	TableView struct {
		Hash    string       `json:"hash"`
		Tenants []TenantView `json:"tenants"`
	}
	TenantView struct {
		Name    string         `json:"name"`
		APIKeys int            `json:"api_keys"`
		Limits  configs.Limits `json:"limits"`
		Models  []ModelView    `json:"models"`
	}
	ModelView struct {
		Name         string        `json:"name"`
		Timeout      string        `json:"timeout"`
		StickyHeader string        `json:"sticky_header,omitempty"`
		Fallback     string        `json:"fallback,omitempty"`
		Shadow       *ShadowView   `json:"shadow,omitempty"`
		Versions     []VersionView `json:"versions"`
	}
	ShadowView struct {
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
	VersionView struct {
		Name      string   `json:"name"`
		Weight    int      `json:"weight"`
		Share     float64  `json:"share_percent"`
		Endpoints []string `json:"endpoints"`
	}
)

// configView is cfg as GET /admin/config shows it.
func configView(cfg *configs.Config) TableView {
	tv := TableView{Hash: cfg.Hash, Tenants: []TenantView{}}
	for _, t := range cfg.Tenants {
		tw := TenantView{Name: t.Name, APIKeys: len(t.APIKeys), Limits: t.Limits}
		for _, m := range t.Models {
			mv := ModelView{Name: m.Name, Timeout: m.Timeout.String(), StickyHeader: m.StickyHeader, Fallback: m.Fallback}
			if sh := m.Shadow; sh != nil {
				mv.Shadow = &ShadowView{Version: sh.Version, Percent: sh.SharePercent(), Tolerance: sh.Tolerance,
					RelativeTolerance: sh.RelativeTolerance, IgnoreFields: sh.IgnoreFields, MaxInFlight: sh.MaxInFlight,
					MaxQueue: sh.QueueLen(), MaxQueueBytes: sh.MaxQueueBytes, MaxBodyBytes: sh.MaxBodyBytes, Timeout: sh.Timeout.String()}
			}
			total := 0
			for _, v := range m.Versions {
				total += v.Weight
			}
			for _, v := range m.Versions {
				share := 0.0
				if total > 0 {
					share = 100 * float64(v.Weight) / float64(total)
				}
				mv.Versions = append(mv.Versions, VersionView{Name: v.Name, Weight: v.Weight, Share: share, Endpoints: v.Endpoints})
			}
			tw.Models = append(tw.Models, mv)
		}
		tv.Tenants = append(tv.Tenants, tw)
	}
	return tv
}
