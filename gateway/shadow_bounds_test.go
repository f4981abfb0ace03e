package gateway

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/gateway/shadow"
	"github.com/valyala/fasthttp"
)

// smallAnswer is a valid 2xx JSON answer for the stand-in containers below.
const smallAnswer = `{"model_name":"fraud","outputs":[{"name":"probability","datatype":"FP64","shape":[1,1],"data":[0.5]}]}`

// bombInflated is what every decompression bomb inflates to: a valid JSON
// answer with a 64 MiB string in it.
const bombInflated = 64 << 20

var (
	bombsOnce sync.Once
	bombs     map[string][]byte // by Content-Encoding
)

// bomb returns smallAnswer with a 64 MiB pad, compressed with enc. Built
// once per test binary (compressing takes seconds under -race).
func bomb(enc string) []byte {
	bombsOnce.Do(func() {
		var b bytes.Buffer
		b.Grow(bombInflated + 200)
		b.WriteString(strings.TrimSuffix(smallAnswer, "}"))
		b.WriteString(`,"pad":"`)
		b.Write(bytes.Repeat([]byte("a"), bombInflated))
		b.WriteString(`"}`)
		src := b.Bytes()
		bombs = map[string][]byte{
			"gzip":    fasthttp.AppendGzipBytesLevel(nil, src, fasthttp.CompressBestSpeed),
			"deflate": fasthttp.AppendDeflateBytesLevel(nil, src, fasthttp.CompressBestSpeed),
			"br":      fasthttp.AppendBrotliBytesLevel(nil, src, fasthttp.CompressBrotliBestSpeed),
			"zstd":    fasthttp.AppendZstdBytesLevel(nil, src, fasthttp.CompressZstdBestSpeed),
		}
	})
	return bombs[enc]
}

// startAnswering starts a loopback container that answers every request
// with 200, body and (if not empty) Content-Encoding enc.
func startAnswering(t *testing.T, body []byte, enc string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if enc != "" {
			w.Header().Set("Content-Encoding", enc)
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// heldShadow is a loopback shadow container that holds every POST until
// released, then answers 503 (health checks are answered at once).
type heldShadow struct {
	url      string
	arrived  atomic.Int64
	release  chan struct{}
	released sync.Once
}

func startHeldShadow(t *testing.T) *heldShadow {
	t.Helper()
	s := &heldShadow{release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			return
		}
		s.arrived.Add(1)
		select {
		case <-s.release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	s.url = srv.URL
	t.Cleanup(srv.Close)
	t.Cleanup(s.let) // before srv.Close (cleanups run last-in first-out)
	return s
}

// letAtCleanup releases the held requests before the test's cleanups
// registered so far run (the gateway's shutdown waits for its shadow calls).
func (s *heldShadow) letAtCleanup(t *testing.T) { t.Cleanup(s.let) }

// let releases every held request and those still to come.
func (s *heldShadow) let() { s.released.Do(func() { close(s.release) }) }

func TestShadowDecompressionBomb(t *testing.T) {
	const n = 4 // one per worker, at once
	for _, side := range []string{"shadow", "primary"} {
		for _, enc := range []string{"gzip", "deflate", "br", "zstd"} {
			t.Run(side+" answers a "+enc+" bomb", func(t *testing.T) {
				b := bomb(enc)         // first: fasthttp's compressors start process-wide goroutines
				verifyNoShadowLeaks(t) // the workers' decoders are closed
				plain := startAnswering(t, []byte(smallAnswer), "")
				bombing := startAnswering(t, b, enc)
				primaryURL, shadowURL, want := plain, bombing, "shadow_error"
				if side == "primary" {
					primaryURL, shadowURL, want = bombing, plain, "primary_error"
				}
				h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud",
					"shadow: {version: v2, max_in_flight: 4}", "v1:1:"+primaryURL, "v2:0:"+shadowURL))
				key, _ := testKey("acme")

				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						// An explicit Accept-Encoding keeps the test's own
						// client from inflating the primary's bomb.
						r := doURL(t, h.client, "POST", h.url+"/v2/models/fraud/infer", inferBody,
							"X-API-Key", key, "Accept-Encoding", enc)
						if r.code != 200 {
							t.Errorf("request %d: got %d, want 200 (the client gets the primary's answer as is)", i, r.code)
						}
					})
				}
				wg.Wait()
				var st shadow.StatsView
				eventuallyf(t, 20*time.Second, func() bool { st = h.shadowStatsOf("acme", "fraud"); return st.Requests >= n },
					"outcomes %v, want %d counted", st.Outcomes, n)
				runtime.ReadMemStats(&after)
				if st.Outcomes[want] != n || st.Requests != n {
					t.Errorf("got outcomes %v, want %d %s (unreadable: inflates past max_body_bytes)", st.Outcomes, n, want)
				}
				// Allocated while serving n bombs, whatever the GC reclaimed
				// since: per bomb the decode buffer growing to max_body_bytes
				// (1 MiB; about 2 MiB allocated on the way), the decoder's
				// state and the requests themselves (more under -race, where
				// sync.Pool drops items); br's state includes ring buffers
				// for the stream's window (4 MiB here, 16 MiB at most by the
				// format). Far below the 64 MiB each inflates to (the
				// unbounded decoder allocated about 600 MiB per bomb).
				budget := uint64(8 << 20)
				if enc == "br" {
					budget += 12 << 20
				}
				allocated := after.TotalAlloc - before.TotalAlloc
				if allocated > n*budget {
					t.Errorf("allocated %d MiB while comparing %d %s bombs of %d KiB (%d MiB inflated each), want ≤ %d MiB",
						allocated>>20, n, enc, len(b)>>10, bombInflated>>20, n*budget>>20)
				}
				// Kept afterwards (two GCs empty the decoders' sync.Pools):
				// at most the workers' two buffers of ≤ 1 MiB each.
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&after)
				grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
				if grown > n*3<<20 {
					t.Errorf("heap grew by %d MiB and stayed, want ≤ %d MiB", grown>>20, n*3)
				}
				t.Logf("%d bombs of %d KiB: allocated %.1f MiB, heap grew %.1f MiB", n, len(b)>>10, float64(allocated)/(1<<20), float64(grown)/(1<<20))
			})
		}
	}
}

// answerPad is the primary's answer in TestShadowQueueBytes: 600 KiB, so
// three copies fit the 2 MiB max_queue_bytes and a fourth does not.
var answerPad = strings.Repeat("x", 600<<10)

func TestShadowQueueBytes(t *testing.T) {
	verifyNoShadowLeaks(t)
	const maxQueueBytes = 2 << 20
	big := []byte(strings.TrimSuffix(smallAnswer, "}") + `,"pad":"` + answerPad + `"}`)
	huge := []byte(strings.TrimSuffix(smallAnswer, "}") + `,"pad":"` + strings.Repeat(answerPad, 2) + `"}`) // over max_body_bytes
	primary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("huge") != "" {
			w.Write(huge)
			return
		}
		w.Write(big)
	}))
	t.Cleanup(primary.Close)
	shadowSrv := startHeldShadow(t)
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud",
		"shadow: {version: v2, max_in_flight: 1, max_queue: 100, max_queue_bytes: "+strconv.Itoa(maxQueueBytes)+"}",
		"v1:1:"+primary.URL, "v2:0:"+shadowSrv.url))
	shadowSrv.letAtCleanup(t)
	key, _ := testKey("acme")
	route := h.gw.snap.Load().tenants[0].models["fraud"].shadow
	send := func(query string) {
		t.Helper()
		if r := h.do("POST", "/v2/models/fraud/infer"+query, inferBody, "X-API-Key", key); r.code != 200 || len(r.body) < len(big) {
			t.Fatalf("got %d with %d bytes, want 200 with the primary's whole answer", r.code, len(r.body))
		}
		if held := route.View().Queue.Bytes; held > maxQueueBytes {
			t.Fatalf("shadow copies hold %d bytes, want ≤ max_queue_bytes %d", held, maxQueueBytes)
		}
	}

	send("")
	eventuallyf(t, 10*time.Second, func() bool { return shadowSrv.arrived.Load() == 1 }, "the first copy did not reach the shadow")
	const n = 12
	for range n - 1 {
		send("")
	}
	send("?huge=1")
	st := h.shadowStatsOf("acme", "fraud")
	// One copy in the hung call and two queued hold 3 × 600 KiB; every
	// further one would take the total over 2 MiB.
	if st.Queue.Length != 2 || st.Dropped["queue_bytes"] != n-3 || st.Dropped["answer_too_large"] != 1 || st.Dropped["queue_full"] != 0 {
		t.Errorf("got queue length %d, drops %v; want 2 queued, %d queue_bytes, 1 answer_too_large", st.Queue.Length, st.Dropped, n-3)
	}
	if st.Queue.Bytes > st.Queue.MaxBytes || st.Queue.MaxBytes != maxQueueBytes || st.Queue.Bytes < int64(3*len(big)) {
		t.Errorf("admin view queue %+v, want 3 answers' bytes held, at most max_bytes %d", st.Queue, maxQueueBytes)
	}

	shadowSrv.let()
	eventuallyf(t, 10*time.Second, func() bool { st = h.shadowStatsOf("acme", "fraud"); return st.Requests == n+1 },
		"outcomes %v, want %d counted", st.Outcomes, n+1)
	if st.Outcomes["shadow_error"] != 3 || st.Outcomes["dropped"] != n-2 {
		t.Errorf("got outcomes %v, want 3 shadow_error (held, then 503) and %d dropped", st.Outcomes, n-2)
	}
	eventuallyf(t, 5*time.Second, func() bool { return route.View().Queue.Bytes == 0 }, "copies still hold %d bytes after draining", route.View().Queue.Bytes)
	if st = h.shadowStatsOf("acme", "fraud"); st.Queue.Bytes != 0 || st.Queue.Length != 0 {
		t.Errorf("admin view queue %+v after draining, want empty", st.Queue)
	}
}

func TestShadowNoQueue(t *testing.T) {
	verifyNoShadowLeaks(t)
	primary := startAnswering(t, []byte(smallAnswer), "")
	shadowSrv := startHeldShadow(t)
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud",
		"shadow: {version: v2, max_in_flight: 1, max_queue: 0}", "v1:1:"+primary, "v2:0:"+shadowSrv.url))
	shadowSrv.letAtCleanup(t)
	key, _ := testKey("acme")
	send := func() {
		t.Helper()
		if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 200 {
			t.Fatalf("got %d, want 200", r.code)
		}
	}
	if st := h.shadowStatsOf("acme", "fraud"); st.Queue.Capacity != 0 || st.Queue.Workers != 1 {
		t.Fatalf("got queue %+v, want capacity 0 (max_queue: 0) and 1 worker", st.Queue)
	}
	// The worker may not be waiting yet right after start: until it is,
	// copies are dropped. Once one reaches the shadow, the worker is busy.
	sent := 0
	eventuallyf(t, 10*time.Second, func() bool { send(); sent++; return shadowSrv.arrived.Load() == 1 },
		"no copy reached the idle worker")
	st := h.shadowStatsOf("acme", "fraud")
	before := st.Dropped["queue_full"]
	const busy = 5
	for range busy {
		send()
	}
	st = h.shadowStatsOf("acme", "fraud")
	if got := st.Dropped["queue_full"] - before; got != busy || st.Queue.Length != 0 {
		t.Errorf("with the only worker busy: got %d of %d copies dropped as queue_full, queue length %d; want all dropped, none queued",
			got, busy, st.Queue.Length)
	}
	shadowSrv.let()
	eventuallyf(t, 10*time.Second, func() bool {
		st = h.shadowStatsOf("acme", "fraud")
		return st.Outcomes["shadow_error"] == 1 && st.Requests == uint64(sent+busy)
	}, "outcomes %v, want the held copy as shadow_error and %d counted", st.Outcomes, sent+busy)
	// The worker is idle again: a copy is dispatched at once.
	eventuallyf(t, 10*time.Second, func() bool { send(); return shadowSrv.arrived.Load() >= 2 }, "no copy reached the worker once idle again")
}

// TestShadowCompressedAnswers checks the bound's edge: a compressed shadow
// answer that inflates to exactly shadow.max_body_bytes is compared, one
// byte more is unreadable.
func TestShadowCompressedAnswers(t *testing.T) {
	const maxBody = 64 << 10
	padded := func(size int) []byte {
		head := strings.TrimSuffix(smallAnswer, "}") + `,"pad":"`
		return []byte(head + strings.Repeat("z", size-len(head)-2) + `"}`)
	}
	compress := map[string]func([]byte) []byte{
		"gzip":    func(b []byte) []byte { return fasthttp.AppendGzipBytes(nil, b) },
		"deflate": func(b []byte) []byte { return fasthttp.AppendDeflateBytes(nil, b) },
		"br":      func(b []byte) []byte { return fasthttp.AppendBrotliBytes(nil, b) },
		"zstd":    func(b []byte) []byte { return fasthttp.AppendZstdBytes(nil, b) },
	}
	for _, enc := range []string{"gzip", "deflate", "br", "zstd"} {
		for _, tc := range []struct {
			desc string
			size int
			want string
		}{
			{"inflates to max_body_bytes", maxBody, "match"},
			{"inflates to one byte more", maxBody + 1, "shadow_error"},
		} {
			t.Run(enc+" "+tc.desc, func(t *testing.T) {
				body := padded(tc.size)
				if len(body) != tc.size {
					t.Fatalf("test answer has %d bytes, want %d", len(body), tc.size)
				}
				primary := startAnswering(t, []byte(strings.TrimSuffix(smallAnswer, "}")+`,"pad":""}`), "")
				shadowSrv := startAnswering(t, compress[enc](body), enc)
				h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud",
					"shadow: {version: v2, max_body_bytes: "+strconv.Itoa(maxBody)+", ignore_fields: [pad]}",
					"v1:1:"+primary, "v2:0:"+shadowSrv))
				key, _ := testKey("acme")
				if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 200 {
					t.Fatalf("got %d, want 200", r.code)
				}
				var st shadow.StatsView
				eventuallyf(t, 10*time.Second, func() bool { st = h.shadowStatsOf("acme", "fraud"); return st.Requests == 1 },
					"outcomes %v, want 1 counted", st.Outcomes)
				if st.Outcomes[tc.want] != 1 {
					t.Errorf("got outcomes %v, want %s", st.Outcomes, tc.want)
				}
			})
		}
	}
}
