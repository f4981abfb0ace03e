package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/observability"
)

// TestReloadEmptyFileKeepsConfig is an editor's truncate-then-write: the
// reload loop sees the empty file (here via POST /admin/reload, and the
// file watch sees it too). The empty file is refused, the last good config
// keeps serving every request and the admin token, the gauge reads 0, and
// the next valid file reloads through the admin API with the same token.
func TestReloadEmptyFileKeepsConfig(t *testing.T) {
	v1 := startModel(t, "fraud", "v1")
	v2 := startModel(t, "fraud", "v2")
	good1 := "tenants:\n" + tenantYAML("acme", "fraud", "", "v1:1:"+v1.URL, "v2:0:"+v2.URL)
	good2 := "tenants:\n" + tenantYAML("acme", "fraud", "", "v1:0:"+v1.URL, "v2:1:"+v2.URL)
	h := startGateway(t, good1)
	key, _ := testKey("acme")
	const ok = "modelgate_config_last_reload_successful"
	auth := []string{"Authorization", "Bearer " + adminToken}

	load := h.startLoad(4, "POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
	load.waitFor(0, 20, 10*time.Second)
	load.setPhase(1)
	// Truncated in place, as an editor does before writing.
	if err := os.WriteFile(h.cfgPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.doAdmin("POST", "/admin/reload", "", auth...)
	if r.code != 422 || !strings.Contains(r.body, "tenants: at least one tenant is required") {
		t.Errorf("reload of an empty file: got %d %s, want 422 naming tenants", r.code, r.body)
	}
	if m := h.scrape(); m[ok] != 0 {
		t.Errorf("after the empty file: %s = %v, want 0", ok, m[ok])
	}
	load.waitFor(1, load.get(1).total+20, 10*time.Second)
	load.setPhase(2)
	h.writeConfig(good2)
	r = h.doAdmin("POST", "/admin/reload", "", auth...)
	if r.code != 200 {
		t.Fatalf("reload of the rewritten file with the admin token: got %d %s, want 200", r.code, r.body)
	}
	if m := h.scrape(); m[ok] != 1 {
		t.Errorf("after the valid file: %s = %v, want 1", ok, m[ok])
	}
	load.waitFor(2, 20, 10*time.Second)
	load.stop()
	for p := range 3 {
		if tl := load.get(p); tl.errors() != 0 {
			t.Errorf("phase %d: %d of %d requests failed (first: %s), want none", p, tl.errors(), tl.total, tl.firstErr)
		}
	}
	if got := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key).header.Get(HeaderVersion); got != "v2" {
		t.Errorf("after the valid file: got version %q, want v2", got)
	}
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 with the
// given serial (also usable as a CA bundle) and its key; it returns the
// certificate PEM.
func writeSelfSigned(t *testing.T, certPath, keyPath string, serial int64) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("test-%d", serial)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	writeAtomic(t, certPath, certPEM)
	if keyPath != "" {
		writeAtomic(t, keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	}
	return certPEM
}

// writeAtomic replaces path's contents by rename, as deployments do.
func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// TestReloadFileFailureFailsWholeReload: a certificate or upstream CA file
// that does not load fails the reload as a whole: POST /admin/reload
// answers 422 naming the setting and the file (not its contents), the
// gauge is 0, and the previous certificate, CAs and routing keep serving;
// once the files load, everything applies at once.
func TestReloadFileFailureFailsWholeReload(t *testing.T) {
	dir := t.TempDir()
	crt, key, ca := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "upstream-ca.pem")
	writeSelfSigned(t, crt, key, 10)
	writeSelfSigned(t, ca, "", 90)
	v1 := startModel(t, "fraud", "v1")
	v2 := startModel(t, "fraud", "v2")
	server := fmt.Sprintf("server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n  upstream_ca_file: %q\n  tls: {cert_file: %q, key_file: %q}\n", ca, crt, key)
	good1 := server + "tenants:\n" + tenantYAML("acme", "fraud", "", "v1:1:"+v1.URL, "v2:0:"+v2.URL)
	good2 := server + "tenants:\n" + tenantYAML("acme", "fraud", "", "v1:0:"+v1.URL, "v2:1:"+v2.URL)
	h := startGateway(t, good1)
	addr := strings.TrimPrefix(h.url, "http://")
	auth := []string{"Authorization", "Bearer " + adminToken}
	const ok = "modelgate_config_last_reload_successful"
	apiKey, _ := testKey("acme")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}} //nolint:gosec // reads the served certificate
	t.Cleanup(client.CloseIdleConnections)
	// served returns the serial of the traffic listener's certificate and
	// the version that answers a prediction.
	served := func() (int64, string) {
		t.Helper()
		resp := doURL(t, client, "POST", "https://"+addr+"/v2/models/fraud/infer", inferBody, "X-API-Key", apiKey)
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reads the served certificate
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), resp.header.Get(HeaderVersion)
	}
	if serial, version := served(); serial != 10 || version != "v1" {
		t.Fatalf("at start: got certificate %d, version %s; want 10, v1", serial, version)
	}
	roots := h.gw.st.upstreams.Roots()

	tests := []struct {
		desc        string
		prepare     func()
		wantCode    int
		wantBody    []string
		wantSerial  int64
		wantVersion string
		wantGauge   float64
	}{
		{desc: "broken certificate with a routing change", prepare: func() {
			writeAtomic(t, crt, []byte("not a certificate"))
			h.writeConfig(good2)
		}, wantCode: 422, wantBody: []string{"server.tls: ", crt, "previous config, certificates and CAs keep serving"},
			wantSerial: 10, wantVersion: "v1", wantGauge: 0},
		{desc: "good certificate, broken upstream CA bundle", prepare: func() {
			writeSelfSigned(t, crt, key, 11)
			writeAtomic(t, ca, []byte("not a CA bundle"))
		}, wantCode: 422, wantBody: []string{"server.upstream_ca_file: ", ca}, wantSerial: 10, wantVersion: "v1", wantGauge: 0},
		{desc: "every file loads", prepare: func() { writeSelfSigned(t, ca, "", 91) },
			wantCode: 200, wantBody: []string{`"status": "reloaded"`}, wantSerial: 11, wantVersion: "v2", wantGauge: 1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tt.prepare()
			r := h.doAdmin("POST", "/admin/reload", "", auth...)
			if r.code != tt.wantCode {
				t.Errorf("POST /admin/reload: got %d %s, want %d", r.code, r.body, tt.wantCode)
			}
			for _, want := range tt.wantBody {
				if !strings.Contains(r.body, want) {
					t.Errorf("POST /admin/reload: body %s lacks %q", r.body, want)
				}
			}
			for _, contents := range []string{"not a certificate", "not a CA bundle"} {
				if strings.Contains(r.body, contents) {
					t.Errorf("POST /admin/reload: body shows the file's contents %q", contents)
				}
			}
			if serial, version := served(); serial != tt.wantSerial || version != tt.wantVersion {
				t.Errorf("after reload: got certificate %d, version %s; want %d, %s", serial, version, tt.wantSerial, tt.wantVersion)
			}
			if m := h.scrape(); m[ok] != tt.wantGauge {
				t.Errorf("after reload: %s = %v, want %v", ok, m[ok], tt.wantGauge)
			}
			if changed := h.gw.st.upstreams.Roots() != roots; changed != (tt.wantCode == 200) {
				t.Errorf("upstream CA pool replaced: got %v, want %v", changed, tt.wantCode == 200)
			}
		})
	}
}

// TestTriggerCoalesces: triggers (SIGHUP) that arrive while a reload runs
// add one reload, not one each, and spawn nothing.
func TestTriggerCoalesces(t *testing.T) {
	m := startModel(t, "fraud", "v1")
	dir := t.TempDir()
	path := filepath.Join(dir, "modelgate.yaml")
	text := func(weight int) string {
		return fmt.Sprintf("server: {listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0}\ntenants:\n%s",
			tenantYAML("acme", "fraud", "health_check: {disabled: true}", fmt.Sprintf("v1:%d:%s", weight, m.URL)))
	}
	writeAtomic(t, path, []byte(text(1)))
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	metrics := observability.NewMetrics()
	gw := New(cfg, metrics, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	r := NewReloader(path, gw)
	entered, release := make(chan struct{}), make(chan struct{})
	var applied atomic.Int32
	r.Applied = func(*configs.Config) {
		if applied.Add(1) == 1 {
			close(entered)
			<-release
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		r.Run(ctx, nil)
	}()
	t.Cleanup(func() {
		cancel()
		<-loopDone
		if err := gw.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	reloads := func() float64 {
		fams, err := metrics.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() != "modelgate_config_reloads_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "result" && l.GetValue() == "success" {
						return m.GetCounter().GetValue()
					}
				}
			}
		}
		return 0
	}

	writeAtomic(t, path, []byte(text(2)))
	r.Trigger()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the triggered reload did not start")
	}
	const n = 50
	for range n {
		r.Trigger()
	}
	close(release)
	// The blocked reload, then the one the n triggers coalesced into.
	await.Until(t, 10*time.Second, "the coalesced reload", func() bool { return reloads() >= 2 })
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if err := r.Reload(rctx); err != nil { // queued behind any reload still pending
		t.Fatal(err)
	}
	if got := reloads(); got != 3 {
		t.Errorf("after 1 + %d triggers during a reload and one Reload: got %v reloads, want 3 (the %d coalesce into one)", n, got, n)
	}
}
