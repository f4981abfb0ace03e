package rollout

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/rollout/judge"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// testRollout is a defaulted, valid rollout of v2 against v1.
func testRollout(t testing.TB, steps ...configs.RolloutStep) *configs.Model {
	t.Helper()
	m := configs.Model{Name: "fraud", Versions: []configs.Version{
		{Name: "v1", Weight: 100, Endpoints: []string{"http://127.0.0.1:1"}},
		{Name: "v2", Weight: 0, Endpoints: []string{"http://127.0.0.1:2"}}},
		Rollout: &configs.Rollout{Canary: "v2", Steps: steps}}
	cfg := configs.Config{Tenants: []configs.Tenant{{Name: "acme", APIKeys: []configs.APIKey{{SHA256: "0000000000000000000000000000000000000000000000000000000000000000"}}, Models: []configs.Model{m}}}}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &cfg.Tenants[0].Models[0]
}

func weightStep(w int, hold configs.Hold) configs.RolloutStep {
	return configs.RolloutStep{Weight: &w, Hold: &hold}
}

// errWindow is a window of n requests with errs errors and no latency.
func errWindow(n, errs uint64) judge.Window { return judge.Window{Requests: n, Errors: errs} }

func TestDecideNoTrafficNeverPasses(t *testing.T) {
	m := testRollout(t, weightStep(5, configs.Hold{MinRequests: ptr(0), MinDuration: ptr(time.Minute), MaxDuration: 10 * time.Minute}),
		weightStep(100, configs.Hold{}))
	st := start("acme", m, t0)
	for now := t0; now.Before(t0.Add(10 * time.Minute)); now = now.Add(time.Second) {
		o := decide(st, m.Rollout, evidence{baselineStep: -1}, now)
		if o.action != "" && o.action != ActionLook {
			t.Fatalf("at %s with no traffic: %s (%s)", now.Sub(t0), o.action, o.reason)
		}
		if o.looked && o.result != judge.Inconclusive {
			t.Fatalf("a look with no traffic gave %s", o.result)
		}
	}
	o := decide(st, m.Rollout, evidence{baselineStep: -1}, t0.Add(10*time.Minute))
	if o.action != ActionPaused || o.result != judge.Inconclusive {
		t.Fatalf("at max_duration with no traffic: %s %s, want paused (on_inconclusive default)", o.action, o.result)
	}
	if st.Looks > MaxLooks {
		t.Fatalf("%d looks, at most %d planned", st.Looks, MaxLooks)
	}
}

func TestDecideFailsAtTheFirstDueLook(t *testing.T) {
	m := testRollout(t, weightStep(25, configs.Hold{MinRequests: ptr(2000), MinDuration: ptr(time.Hour)}), weightStep(100, configs.Hold{}))
	m.Rollout.Gates.Skip = []string{judge.GateP99Ratio}
	st := start("acme", m, t0)
	if o := decide(st, m.Rollout, evidence{canary: errWindow(99, 99), baseline: errWindow(300, 0), baselineStep: -1}, t0.Add(time.Second)); o.looked {
		t.Fatalf("a look before %d canary requests: %+v", judge.MinSamples, o)
	}
	o := decide(st, m.Rollout, evidence{canary: errWindow(1000, 100), baseline: errWindow(3000, 0), baselineStep: -1}, t0.Add(2*time.Second))
	if o.action != ActionRolledBack || o.result != judge.Fail {
		t.Fatalf("10%% errors against 0%%: %s %s (%s)", o.action, o.result, o.reason)
	}
	if len(o.verdicts) != 1 || o.verdicts[0].Gate != judge.GateErrorRate || o.verdicts[0].Inputs.Canary.N != 1000 {
		t.Fatalf("verdicts %+v", o.verdicts)
	}
	want := judge.LookConfidence(0.95, MaxLooks)
	if got := o.verdicts[0].Inputs.Confidence; math.Abs(got-want) > 1e-12 {
		t.Fatalf("judged at confidence %g, want %g (per look, one gate)", got, want)
	}
	m.Rollout.OnFailure = configs.RolloutPause
	st = start("acme", m, t0)
	if o := decide(st, m.Rollout, evidence{canary: errWindow(1000, 100), baseline: errWindow(3000, 0), baselineStep: -1}, t0.Add(time.Second)); o.action != ActionPaused {
		t.Fatalf("on_failure pause: %s", o.action)
	}
}

func TestDecidePassWaitsForTheHold(t *testing.T) {
	m := testRollout(t, weightStep(50, configs.Hold{MinRequests: ptr(500), MinDuration: ptr(time.Minute)}), weightStep(100, configs.Hold{}))
	m.Rollout.Gates.Skip = []string{judge.GateP99Ratio}
	st := start("acme", m, t0)
	ev := evidence{canary: errWindow(5000, 0), baseline: errWindow(5000, 0), baselineStep: -1}
	if o := decide(st, m.Rollout, ev, t0.Add(10*time.Second)); o.action != ActionLook || o.result != judge.Pass {
		t.Fatalf("before min_duration: %s %s, want a passing look that holds", o.action, o.result)
	}
	if o := decide(st, m.Rollout, ev, t0.Add(20*time.Second)); o.looked {
		t.Fatal("a second look without new evidence or a met hold")
	}
	if o := decide(st, m.Rollout, ev, t0.Add(time.Minute)); o.action != ActionAdvanced {
		t.Fatalf("hold met and passing: %s", o.action)
	}
	st.advance(m.Rollout, t0.Add(time.Minute))
	if st.Step != 1 || st.Weights["v2"] != 100 || st.Weights["v1"] != 0 {
		t.Fatalf("after advancing: step %d weights %v", st.Step, st.Weights)
	}
}

func TestDecideInconclusivePolicies(t *testing.T) {
	for policy, want := range map[string]string{configs.RolloutPause: ActionPaused, configs.RolloutRollback: ActionRolledBack, configs.RolloutProceed: ActionAdvanced} {
		m := testRollout(t, weightStep(5, configs.Hold{MinRequests: ptr(100000), MaxDuration: time.Hour}), weightStep(100, configs.Hold{}))
		m.Rollout.OnInconclusive = policy
		st := start("acme", m, t0)
		o := decide(st, m.Rollout, evidence{canary: errWindow(50, 0), baseline: errWindow(950, 0), baselineStep: -1}, t0.Add(time.Hour))
		if o.action != want {
			t.Errorf("on_inconclusive %s: %s, want %s", policy, o.action, want)
		}
	}
}

// TestSimulatedSteps runs whole weight steps — a window growing by 100
// canary and 900 baseline requests per evaluation, judged by the
// controller's look plan until it decides or reaches max_duration — many
// times with known truth: equal versions must be failed at most 1 −
// confidence of the time, and a canary exactly at the gate's limit
// (the hardest case to refuse) passed at most 1 − confidence.
func TestSimulatedSteps(t *testing.T) {
	const runs, confidence = 1000, 0.95
	for _, tc := range []struct {
		name    string
		pc, pb  float64
		maxFail float64
		maxPass float64
		minPass float64
	}{
		{name: "equal versions", pc: 0.02, pb: 0.02, maxFail: 1 - confidence, maxPass: 1, minPass: 0.9},
		{name: "canary at the limit (+1%)", pc: 0.03, pb: 0.02, maxFail: 1, maxPass: 1 - confidence},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 11))
			var fails, passes, undecided int
			for range runs {
				m := testRollout(t, weightStep(10, configs.Hold{MinRequests: ptr(500), MaxDuration: 200 * time.Second}), weightStep(100, configs.Hold{}))
				m.Rollout.Gates.Skip = []string{judge.GateP99Ratio}
				m.Rollout.Confidence = confidence
				st := start("acme", m, t0)
				var cw, bw judge.Window
				result := ""
				for s := 1; s <= 200 && result == ""; s++ {
					cw.Requests += 100
					cw.Errors += binomial(r, 100, tc.pc)
					bw.Requests += 900
					bw.Errors += binomial(r, 900, tc.pb)
					o := decide(st, m.Rollout, evidence{canary: cw, baseline: bw, baselineStep: -1}, t0.Add(time.Duration(s)*time.Second))
					switch o.action {
					case ActionRolledBack:
						result = "fail"
					case ActionAdvanced:
						result = "pass"
					case ActionPaused:
						result = "undecided"
					}
				}
				switch result {
				case "fail":
					fails++
				case "pass":
					passes++
				default:
					undecided++
				}
				if st.Looks > MaxLooks {
					t.Fatalf("%d looks in a step, at most %d", st.Looks, MaxLooks)
				}
			}
			t.Logf("%d steps: %d failed, %d passed, %d undecided", runs, fails, passes, undecided)
			slack := 3 * math.Sqrt(0.05*0.95/runs)
			if f := float64(fails) / runs; f > tc.maxFail+slack {
				t.Errorf("failed %.4f of steps, want at most %.4f", f, tc.maxFail)
			}
			if p := float64(passes) / runs; p > tc.maxPass+slack || p < tc.minPass {
				t.Errorf("passed %.4f of steps, want %.2f–%.4f", p, tc.minPass, tc.maxPass)
			}
		})
	}
}

// binomial draws Binomial(n, p) by skipping the geometric gaps between
// successes: O(n·p) draws.
func binomial(r *rand.Rand, n int, p float64) uint64 {
	logQ := math.Log1p(-p)
	var k uint64
	for pos := 0; ; k++ {
		pos += int(math.Floor(math.Log(1-r.Float64())/logQ)) + 1
		if pos > n {
			return k
		}
	}
}

func ptr[T any](v T) *T { return &v }
