package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/standin"
)

// badIrisBody has three features where the iris model expects four: a
// KServe container answers it 500 "X has 3 features, but ... is expecting
// 4 features as input." (the caller's fault, in a server-error status).
const badIrisBody = `{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP64","data":[1.0,0.5,-0.3]}]}`

// TestOneTenantsBadInputOpensNoBreaker: a tenant flooding KServe-like
// containers with bad input (answered 500) and with calls the server does
// not implement (501) opens no breaker of the endpoints it shares with
// another tenant, whose requests all succeed meanwhile.
func TestOneTenantsBadInputOpensNoBreaker(t *testing.T) {
	k1, k2 := standin.NewKServe("iris", standin.Iris(), false), standin.NewKServe("iris", standin.Iris(), false)
	u1, _ := standin.Start(t, k1)
	u2, _ := standin.Start(t, k2)
	// Breakers as strict as they go: one failure opens them, for a minute.
	brk := "breaker: {consecutive_failures: 1, min_requests: 1, failure_ratio: 0.01, open_for: 1m}\n" + fastHealth
	// acme's version "kv" is the same containers, told to send them
	// version "1": KServe answers every versioned call 501 "Model
	// versioning not supported yet.".
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "iris", brk, "v1:1:"+u1+","+u2, "kv:0:"+u1+","+u2+"@1")+
		tenantYAML("globex", "iris", brk, "v1:1:"+u1+","+u2))
	attacker, _ := testKey("acme")
	victim, _ := testKey("globex")
	if r := h.do("POST", "/v2/models/iris/infer", badIrisBody, "X-API-Key", attacker); r.code != 500 || !strings.Contains(r.body, "X has 3 features") {
		t.Fatalf("bad input: got %d %s, want KServe's 500", r.code, r.body)
	}
	notImplemented := "/v2/models/iris/versions/kv/infer"
	if r := h.do("POST", notImplemented, inferBody, "X-API-Key", attacker); r.code != 501 {
		t.Fatalf("pinned call: got %d %s, want KServe's 501", r.code, r.body)
	}

	good := h.startLoad(2, "POST", "/v2/models/iris/infer", inferBody, "X-API-Key", victim)
	bad := h.startLoad(2, "POST", "/v2/models/iris/infer", badIrisBody, "X-API-Key", attacker)
	unsupported := h.startLoad(1, "POST", notImplemented, inferBody, "X-API-Key", attacker)
	bad.waitFor(0, 300, 60*time.Second)
	unsupported.waitFor(0, 100, 60*time.Second)
	good.waitFor(0, 200, 60*time.Second)
	bad.stop()
	unsupported.stop()
	good.stop()

	g, b, u := good.get(0), bad.get(0), unsupported.get(0)
	t.Logf("victim %d requests %v; attacker %d bad inputs %v, %d unsupported calls %v", g.total, g.codes, b.total, b.codes, u.total, u.codes)
	if g.errors() != 0 {
		t.Errorf("victim: %d of %d requests failed (first: %s), want 0", g.errors(), g.total, g.firstErr)
	}
	if b.codes[500] != b.total || u.codes[501] != u.total {
		t.Errorf("attacker: got %v and %v, want only the model's 500s and 501s", b.codes, u.codes)
	}
	for _, url := range []string{u1, u2} {
		if s := h.endpoint(url).BreakerState(); s != 0 {
			t.Errorf("breaker of %s: state %d, want 0 (closed)", url, s)
		}
	}
	if k1.PathCount("/v2/models/iris/infer") == 0 || k2.PathCount("/v2/models/iris/infer") == 0 {
		t.Errorf("both replicas should have served: %v, %v", k1.Paths(), k2.Paths())
	}
}

// TestServerErrorsOfEveryTenantOpenTheBreaker: a replica answering 500 to
// every tenant is corroborated and taken out; the tenants' requests then
// go to the healthy replica.
func TestServerErrorsOfEveryTenantOpenTheBreaker(t *testing.T) {
	broken, ok := startModel(t, "fraud", "v1"), startModel(t, "fraud", "v1")
	broken.Server.SetFailStatus(500)
	brk := "breaker: {consecutive_failures: 3, open_for: 1m}"
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", brk, "v1:1:"+broken.URL+","+ok.URL)+
		tenantYAML("globex", "fraud", brk, "v1:1:"+broken.URL+","+ok.URL))
	a, _ := testKey("acme")
	b, _ := testKey("globex")
	ep := h.endpoint(broken.URL)
	fives := 0
	await.Until(t, 20*time.Second, "the broken replica's breaker to open", func() bool {
		for _, key := range []string{a, b} {
			switch r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code {
			case 200:
			case 500:
				fives++
			default:
				t.Fatalf("got %d %s, want 200 or the model's 500", r.code, r.body)
			}
		}
		return ep.BreakerState() == 2
	})
	t.Logf("%d answers of 500 before the breaker opened", fives)
	broken.Server.ResetRequests()
	for range 20 {
		for _, key := range []string{a, b} {
			if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 200 {
				t.Fatalf("breaker open: got %d %s, want 200 from the healthy replica", r.code, r.body)
			}
		}
	}
	if n := len(broken.Server.Requests()); n != 0 {
		t.Errorf("the replica with an open breaker got %d requests, want 0", n)
	}
}
