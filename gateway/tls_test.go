package gateway

import (
	"testing"

	"github.com/modelgate/modelgate/configs"
)

func TestTLSSettingsChanged(t *testing.T) {
	base := configs.Server{TLS: &configs.TLS{CertFile: "a.crt", KeyFile: "a.key", MinVersion: "1.2"}}
	tests := []struct {
		desc string
		next configs.Server
		want bool
	}{
		{desc: "same settings in a new struct", next: configs.Server{TLS: &configs.TLS{CertFile: "a.crt", KeyFile: "a.key", MinVersion: "1.2"}}, want: false},
		{desc: "new cert path", next: configs.Server{TLS: &configs.TLS{CertFile: "b.crt", KeyFile: "a.key", MinVersion: "1.2"}}, want: true},
		{desc: "min version", next: configs.Server{TLS: &configs.TLS{CertFile: "a.crt", KeyFile: "a.key", MinVersion: "1.3"}}, want: true},
		{desc: "TLS removed", next: configs.Server{}, want: true},
		{desc: "admin TLS added", next: configs.Server{TLS: base.TLS, AdminTLS: &configs.TLS{CertFile: "x", KeyFile: "y"}}, want: true},
		{desc: "upstream CA (reloads live)", next: configs.Server{TLS: base.TLS, UpstreamCAFile: "ca.pem"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := tlsSettingsChanged(base, tt.next); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if c := (*listenerTLS)(nil).config(); c != nil {
		t.Errorf("plain listener: got a TLS config %v, want nil", c)
	}
	if _, err := newListenerTLS(&configs.TLS{CertFile: "/nonexistent.crt", KeyFile: "/nonexistent.key"}); err == nil {
		t.Error("missing certificate files: got no error")
	}
}
