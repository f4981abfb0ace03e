package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
)

// TestDrainAnswersCarryConnectionClose: a keep-alive client whose request is
// in flight when shutdown begins gets its answer with Connection: close, so
// it opens a new connection (to another replica) for its next request
// instead of sending it into one the gateway closes. Before, the answer
// carried nothing and the client's next request was lost (EOF/reset).
func TestDrainAnswersCarryConnectionClose(t *testing.T) {
	arrived := make(chan struct{}, 16)
	release := make(chan struct{})
	model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(HeaderHealthCheck) != "" {
			return
		}
		arrived <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"outputs":[]}`)
	}))
	t.Cleanup(model.Close)
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "health_check: {disabled: true}", "v1:1:"+model.URL))
	key, _ := testKey("acme")
	addr := strings.TrimPrefix(h.url, "http://")

	const clients = 8
	conns := make([]net.Conn, clients)
	readers := make([]*bufio.Reader, clients)
	req := rawRequest("POST", "/v2/models/fraud/infer", key, inferBody)
	for i := range conns {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
			t.Fatal(err)
		}
		conns[i], readers[i] = c, bufio.NewReader(c)
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
	}
	for range clients {
		<-arrived // every request is at the model
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- h.gw.Shutdown(ctx)
	}()
	await.Until(t, 5*time.Second, "the gateway draining", h.gw.draining.Load)
	close(release)
	for i, r := range readers {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("client %d: request in flight at shutdown lost: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !resp.Close {
			t.Errorf("client %d: got %d with Connection %q, want 200 with Connection: close", i, resp.StatusCode, resp.Header.Get("Connection"))
		}
	}
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}
