package gateway

import (
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/standin"
)

// TestShadowClassLabels: two KServe sklearn-like versions that answer INT64
// class labels (the server's default) and disagree on border rows. The
// shadow comparison counts top-1 agreement over the labels, keeps the flips
// findable in last_top1_flips, and reports no numeric max_abs_diff for a
// changed class id (issue 12).
func TestShadowClassLabels(t *testing.T) {
	primary, _ := standin.Start(t, standin.NewKServe("iris", standin.Iris(), false))
	alt, _ := standin.Start(t, standin.NewKServe("iris", standin.IrisAlt(), false))
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "iris",
		"health_check: {disabled: true}\nshadow: {version: v2}", "v1:1:"+primary, "v2:0:"+alt))
	key, _ := testKey("acme")
	body := func(row string) string {
		return `{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[` + row + `]}]}`
	}
	const clear, border = "5.1,3.5,1.4,0.2", "6.3,2.8,5.1,1.5" // setosa for both; 1 under v1, 2 under v2
	for range 3 {
		for _, row := range []string{clear, border} {
			if r := h.do("POST", "/v2/models/iris/infer", body(row), "X-API-Key", key); r.code != 200 {
				t.Fatalf("got %d %s, want 200", r.code, r.body)
			}
		}
	}
	var st = h.shadowStatsOf("acme", "iris")
	eventuallyf(t, 10*time.Second, func() bool { st = h.shadowStatsOf("acme", "iris"); return st.Requests == 6 },
		"shadow compared %d of 6", st.Requests)
	if st.Outcomes["match"] != 3 || st.Outcomes["mismatch"] != 3 {
		t.Errorf("outcomes %v, want 3 matches (clear rows) and 3 mismatches (border rows)", st.Outcomes)
	}
	if st.Top1Compared != 6 || st.Top1AgreementRate == nil || *st.Top1AgreementRate != 0.5 {
		t.Errorf("top-1: compared %d, agreement %v; want 6 compared at 0.5", st.Top1Compared, st.Top1AgreementRate)
	}
	if len(st.LastTop1Flips) != 3 {
		t.Fatalf("last_top1_flips: got %d, want the 3 flips", len(st.LastTop1Flips))
	}
	for _, f := range st.LastTop1Flips {
		if f.MaxAbsDiff != 0 || f.Top1Agree == nil || *f.Top1Agree || len(f.Diffs) != 1 || f.Diffs[0].Primary != "1" || f.Diffs[0].Shadow != "2" {
			t.Errorf("flip record %+v: want max_abs_diff 0 and one diff 1 → 2", f)
		}
	}
}
