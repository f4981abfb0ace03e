package webhook

import (
	"strings"
	"testing"
	"time"
)

// The vector was computed with openssl:
// printf '1700000000.{"type":"rollout.started"}' | openssl dgst -sha256 -hmac k3y
func TestSignKnownVector(t *testing.T) {
	got := Sign([]byte("k3y"), 1700000000, []byte(`{"type":"rollout.started"}`))
	want := "t=1700000000,v1=c4bd70ae65618ba1816f0b813059061739119831b37d92d91bcfaa0c0d4a202b"
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	key := []byte("k3y")
	body := []byte(`{"rollout":"r1","step":2}`)
	now := time.Unix(1700000000, 0)
	tol := 5 * time.Minute
	good := Sign(key, now.Unix(), body)
	v1 := good[strings.Index(good, "v1="):]
	for _, tc := range []struct {
		desc    string
		key     []byte
		header  string
		body    []byte
		wantErr string // "" for valid
	}{
		{desc: "valid", header: good},
		{desc: "valid with spaces and an unknown field", header: "t=1700000000, v0=zz, " + v1},
		{desc: "one of several v1 matches (key rotation)", header: Sign([]byte("old"), now.Unix(), body) + "," + v1},
		{desc: "4 minutes old", header: Sign(key, now.Add(-4*time.Minute).Unix(), body)},
		{desc: "tampered body", header: good, body: []byte(`{"rollout":"r1","step":3}`), wantErr: "does not match"},
		{desc: "wrong key", key: []byte("k3y "), header: good, wantErr: "does not match"},
		{desc: "old timestamp", header: Sign(key, now.Add(-6*time.Minute).Unix(), body), wantErr: "outside the tolerance"},
		{desc: "future timestamp", header: Sign(key, now.Add(6*time.Minute).Unix(), body), wantErr: "outside the tolerance"},
		{desc: "timestamp changed, signature kept", header: "t=1700000001," + v1, wantErr: "does not match"},
		{desc: "empty", header: "", wantErr: "malformed"},
		{desc: "no timestamp", header: v1, wantErr: "no timestamp"},
		{desc: "no signature", header: "t=1700000000", wantErr: "no signature"},
		{desc: "two timestamps", header: "t=1700000000,t=1700000000," + v1, wantErr: "more than one timestamp"},
		{desc: "timestamp not a number", header: "t=yesterday," + v1, wantErr: "not unix seconds"},
		{desc: "v1 not hex", header: "t=1700000000,v1=xyz", wantErr: "not a hex"},
		{desc: "v1 truncated", header: good[:len(good)-2], wantErr: "not a hex"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			k, b := key, body
			if tc.key != nil {
				k = tc.key
			}
			if tc.body != nil {
				b = tc.body
			}
			err := Verify(k, tc.header, b, now, tol)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Verify: %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Verify: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
