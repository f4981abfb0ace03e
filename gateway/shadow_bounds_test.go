package gateway

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
				var st shadowStatsView
				eventuallyf(t, 20*time.Second, func() bool { st = h.shadowStatsOf("acme", "fraud"); return st.Requests >= n },
					"outcomes %v, want %d counted", st.Outcomes, n)
				runtime.ReadMemStats(&after)
				if st.Outcomes[want] != n || st.Requests != n {
					t.Errorf("got outcomes %v, want %d %s (unreadable: inflates past max_body_bytes)", st.Outcomes, n, want)
				}
				// Allocated while serving n bombs, whatever the GC reclaimed
				// since: per bomb two answers of at most max_body_bytes
				// (1 MiB) and the decoder's state; br's includes ring
				// buffers for the stream's window (4 MiB here, 16 MiB at
				// most by the format). Far below the 64 MiB each inflates to.
				budget := uint64(4 << 20)
				if enc == "br" {
					budget += 10 << 20
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
				shadow := startAnswering(t, compress[enc](body), enc)
				h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud",
					"shadow: {version: v2, max_body_bytes: "+strconv.Itoa(maxBody)+", ignore_fields: [pad]}",
					"v1:1:"+primary, "v2:0:"+shadow))
				key, _ := testKey("acme")
				if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 200 {
					t.Fatalf("got %d, want 200", r.code)
				}
				var st shadowStatsView
				eventuallyf(t, 10*time.Second, func() bool { st = h.shadowStatsOf("acme", "fraud"); return st.Requests == 1 },
					"outcomes %v, want 1 counted", st.Outcomes)
				if st.Outcomes[tc.want] != 1 {
					t.Errorf("got outcomes %v, want %s", st.Outcomes, tc.want)
				}
			})
		}
	}
}
