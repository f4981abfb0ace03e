package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/internal/testlog"
)

// testCA is a certificate authority generated in the test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue signs a leaf for 127.0.0.1 (server) or a client, returning PEM
// certificate and key.
func (ca *testCA) issue(t *testing.T, serial int64, client bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("leaf-%d", serial)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses = nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func (ca *testCA) pair(t *testing.T, serial int64, client bool) tls.Certificate {
	t.Helper()
	c, k := ca.issue(t, serial, client)
	p, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestTLS runs `serve` with TLS on both listeners (mTLS on admin) and an
// https:// model container verified with server.upstream_ca_file; then it
// rotates both listeners' certificates by reload.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, upstreamCA, otherCA := newTestCA(t, "server-ca"), newTestCA(t, "client-ca"), newTestCA(t, "upstream-ca"), newTestCA(t, "other-ca")
	path := func(name string) string { return filepath.Join(dir, name) }
	writeCert := func(prefix string, serial int64) {
		c, k := serverCA.issue(t, serial, false)
		writeFile(t, path(prefix+".key"), k)
		writeFile(t, path(prefix+".crt"), c)
	}
	writeCert("traffic", 10)
	writeCert("admin", 20)
	writeFile(t, path("client-ca.pem"), clientCA.pem)
	writeFile(t, path("upstream-ca.pem"), upstreamCA.pem)

	model := modelserver.Options{Model: modelserver.Model{Name: "fraud", Version: "v1", Weights: []float64{0.8, -0.4, 0.3, 0.1}}}
	trusted := httptest.NewUnstartedServer(modelserver.NewHandler(model))
	trusted.TLS = &tls.Config{Certificates: []tls.Certificate{upstreamCA.pair(t, 30, false)}}
	trusted.StartTLS()
	defer trusted.Close()
	untrusted := httptest.NewTLSServer(modelserver.NewHandler(model)) // httptest's own CA
	defer untrusted.Close()
	// risk's container has a certificate from otherCA: untrusted until a
	// reload adds otherCA to upstream_ca_file.
	riskModel := modelserver.Options{Model: modelserver.Model{Name: "risk", Version: "v1", Weights: []float64{0.1, 0.2, 0.3, 0.4}}}
	risk := httptest.NewUnstartedServer(modelserver.NewHandler(riskModel))
	risk.TLS = &tls.Config{Certificates: []tls.Certificate{otherCA.pair(t, 31, false)}}
	risk.StartTLS()
	defer risk.Close()

	const key, badKey, adminToken = "tls-tenant-key", "tls-untrusted-key", "tls-admin-token"
	cfgText := fmt.Sprintf(`server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  upstream_ca_file: %q
  tls: {cert_file: %q, key_file: %q, min_version: "1.3"}
  admin_tls: {cert_file: %q, key_file: %q, client_ca_file: %q}
admin:
  token_sha256: %q
tenants:
  - name: acme
    api_keys: [{sha256: %q}]
    models:
      - name: fraud
        versions: [{name: v1, weight: 1, endpoints: [%q]}]
      - name: risk
        versions: [{name: v1, weight: 1, endpoints: [%q]}]
  - name: other
    api_keys: [{sha256: %q}]
    models:
      - name: fraud
        versions: [{name: v1, weight: 1, endpoints: [%q]}]
`, path("upstream-ca.pem"), path("traffic.crt"), path("traffic.key"), path("admin.crt"), path("admin.key"), path("client-ca.pem"),
		sha256Hex(adminToken), sha256Hex(key), trusted.URL, risk.URL, sha256Hex(badKey), untrusted.URL)
	cfgPath := path("modelgate.yaml")
	writeFile(t, cfgPath, []byte(cfgText))
	cfg, err := configs.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var logs testlog.Buffer
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfgPath, t.TempDir(), cfg, &logs, func(a listenAddrs) { addrs <- [2]string{a.traffic.String(), a.admin.String()} })
	}()
	var trafficAddr, adminAddr string
	select {
	case a := <-addrs:
		trafficAddr, adminAddr = a[0], a[1]
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(serverCA.pem)
	// client makes a fresh connection per request (so each sees the
	// certificate served now).
	client := func(tc *tls.Config) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}
	}
	infer := `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1.0,0.5,-0.3,2.0]}]}`
	do := func(c *http.Client, method, url, body string, headers ...string) (int, string, *tls.ConnectionState, error) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.TLS, nil
	}
	goodClient := client(&tls.Config{RootCAs: roots})
	mtlsClient := client(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCA.pair(t, 40, true)}})

	t.Run("traffic over TLS to an https model", func(t *testing.T) {
		code, body, st, err := do(goodClient, "POST", "https://"+trafficAddr+"/v2/models/fraud/infer", infer, "Authorization", "Bearer "+key)
		if err != nil || code != 200 || !strings.Contains(body, `"outputs"`) {
			t.Fatalf("got %d %s %v, want 200 with outputs", code, body, err)
		}
		if st.Version != tls.VersionTLS13 {
			t.Errorf("got TLS version %x, want 1.3", st.Version)
		}
	})
	t.Run("untrusted https model is a 502", func(t *testing.T) {
		code, body, _, err := do(goodClient, "POST", "https://"+trafficAddr+"/v2/models/fraud/infer", infer, "X-API-Key", badKey)
		if err != nil || code != 502 || body != `{"error":"upstream model container failed"}` {
			t.Errorf("got %d %s %v, want 502 upstream model container failed", code, body, err)
		}
	})
	t.Run("TLS 1.2 refused by min_version 1.3", func(t *testing.T) {
		c := client(&tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS12})
		if code, _, _, err := do(c, "GET", "https://"+trafficAddr+"/v2/health/live", ""); err == nil {
			t.Errorf("got %d, want a handshake error", code)
		}
	})
	t.Run("plain HTTP refused", func(t *testing.T) {
		if code, _, _, err := do(client(nil), "GET", "http://"+trafficAddr+"/v2/health/live", ""); err == nil && code == 200 {
			t.Error("plain HTTP on the TLS listener got 200")
		}
	})
	t.Run("admin requires a client certificate", func(t *testing.T) {
		if code, _, _, err := do(goodClient, "GET", "https://"+adminAddr+"/healthz", ""); err == nil {
			t.Errorf("without a client certificate: got %d, want a handshake error", code)
		}
		other := client(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{otherCA.pair(t, 41, true)}})
		if code, _, _, err := do(other, "GET", "https://"+adminAddr+"/healthz", ""); err == nil {
			t.Errorf("with a certificate from another CA: got %d, want a handshake error", code)
		}
		if code, body, _, err := do(mtlsClient, "GET", "https://"+adminAddr+"/healthz", ""); err != nil || code != 200 {
			t.Errorf("with a client certificate: got %d %s %v, want 200", code, body, err)
		}
	})
	t.Run("certificates rotate on reload", func(t *testing.T) {
		writeCert("traffic", 11)
		writeCert("admin", 21)
		code, body, _, err := do(mtlsClient, "POST", "https://"+adminAddr+"/admin/reload", "", "Authorization", "Bearer "+adminToken)
		if err != nil || code != 200 {
			t.Fatalf("reload: got %d %s %v, want 200", code, body, err)
		}
		for _, tc := range []struct {
			c          *http.Client
			url        string
			wantSerial int64
		}{
			{goodClient, "https://" + trafficAddr + "/v2/health/live", 11},
			{mtlsClient, "https://" + adminAddr + "/healthz", 21},
		} {
			code, _, st, err := do(tc.c, "GET", tc.url, "")
			if err != nil || code != 200 {
				t.Fatalf("%s after rotation: got %d %v", tc.url, code, err)
			}
			if got := st.PeerCertificates[0].SerialNumber.Int64(); got != tc.wantSerial {
				t.Errorf("%s serves certificate serial %d, want the rotated %d", tc.url, got, tc.wantSerial)
			}
		}
	})
	t.Run("a broken certificate fails the reload and keeps the previous one", func(t *testing.T) {
		writeFile(t, path("traffic.crt"), []byte("not a certificate"))
		code, body, _, err := do(mtlsClient, "POST", "https://"+adminAddr+"/admin/reload", "", "Authorization", "Bearer "+adminToken)
		if err != nil || code != 422 || !strings.Contains(body, "server.tls: ") || !strings.Contains(body, path("traffic.crt")) {
			t.Fatalf("reload: got %d %s %v, want 422 naming server.tls and %s", code, body, err, path("traffic.crt"))
		}
		code, _, st, err := do(goodClient, "GET", "https://"+trafficAddr+"/v2/health/live", "")
		if err != nil || code != 200 || st.PeerCertificates[0].SerialNumber.Int64() != 11 {
			t.Errorf("after a broken certificate file: got %d %v, want 200 with the previous certificate", code, err)
		}
		if !strings.Contains(logs.String(), "config reload failed; previous config, certificates and CAs keep serving") {
			t.Error("no log line about the failed reload")
		}
		writeCert("traffic", 12)
		if code, body, _, err := do(mtlsClient, "POST", "https://"+adminAddr+"/admin/reload", "", "Authorization", "Bearer "+adminToken); err != nil || code != 200 {
			t.Fatalf("reload with the certificate repaired: got %d %s %v, want 200", code, body, err)
		}
	})
	t.Run("upstream CA reloads live", func(t *testing.T) {
		riskURL := "https://" + trafficAddr + "/v2/models/risk/infer"
		if code, body, _, err := do(goodClient, "POST", riskURL, infer, "Authorization", "Bearer "+key); err != nil || code != 502 {
			t.Fatalf("container with another CA's certificate: got %d %s %v, want 502", code, body, err)
		}
		writeFile(t, path("upstream-ca.pem"), append(append([]byte{}, upstreamCA.pem...), otherCA.pem...))
		if code, body, _, err := do(mtlsClient, "POST", "https://"+adminAddr+"/admin/reload", "", "Authorization", "Bearer "+adminToken); err != nil || code != 200 {
			t.Fatalf("reload: got %d %s %v, want 200", code, body, err)
		}
		for _, u := range []string{riskURL, "https://" + trafficAddr + "/v2/models/fraud/infer"} {
			if code, body, _, err := do(goodClient, "POST", u, infer, "Authorization", "Bearer "+key); err != nil || code != 200 {
				t.Errorf("%s after the CA bundle gained otherCA: got %d %s %v, want 200", u, code, body, err)
			}
		}
		writeFile(t, path("upstream-ca.pem"), []byte("not a CA bundle"))
		code, body, _, err := do(mtlsClient, "POST", "https://"+adminAddr+"/admin/reload", "", "Authorization", "Bearer "+adminToken)
		if err != nil || code != 422 || !strings.Contains(body, "server.upstream_ca_file: ") || strings.Contains(body, "not a CA bundle") {
			t.Fatalf("reload: got %d %s %v, want 422 naming server.upstream_ca_file, without the file's contents", code, body, err)
		}
		if code, body, _, err := do(goodClient, "POST", riskURL, infer, "Authorization", "Bearer "+key); err != nil || code != 200 {
			t.Errorf("after a broken CA bundle: got %d %s %v, want 200 (the previous CAs keep verifying)", code, body, err)
		}
	})
	t.Run("nothing sensitive in logs", func(t *testing.T) {
		out := logs.String()
		for _, secret := range []string{key, badKey, adminToken, sha256Hex(key), sha256Hex(badKey), sha256Hex(adminToken), "0.5,-0.3"} {
			if strings.Contains(out, secret) {
				t.Errorf("logs contain %q", secret)
			}
		}
	})
}

func TestTLSBadFiles(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "modelgate.yaml")
	writeFile(t, cfgPath, []byte(fmt.Sprintf(`server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  tls: {cert_file: %q, key_file: %q}
tenants:
  - name: acme
    api_keys: [{sha256: %q}]
    models:
      - name: fraud
        versions: [{name: v1, weight: 1, endpoints: ["http://127.0.0.1:1"]}]
`, filepath.Join(dir, "missing.crt"), filepath.Join(dir, "missing.key"), sha256Hex("k"))))
	var stderr testlog.Buffer
	code := run(context.Background(), []string{"serve", "--config", cfgPath}, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "server.tls: loading certificate") {
		t.Errorf("got exit %d, stderr %s; want 1 naming server.tls", code, stderr.String())
	}
}
