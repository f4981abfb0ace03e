package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sign returns the signature header value for body at unix time ts with
// key: "t=<ts>,v1=<hex HMAC-SHA256(key, "<ts>." + body)>". The timestamp
// is signed with the body, so a receiver checking its age (Verify) refuses
// replays of old deliveries.
func Sign(key []byte, ts int64, body []byte) string {
	t := strconv.FormatInt(ts, 10)
	return "t=" + t + ",v1=" + hex.EncodeToString(mac(key, t, body))
}

func mac(key []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a signature header against body and key, accepting
// timestamps within tolerance of now (receivers can use it; the tests do).
// The header is comma-separated key=value fields: exactly one t (unix
// seconds) and one or more v1, of which one must match (a sender may send
// several while a key rotates); other fields are ignored. It returns nil
// only for a matching signature whose timestamp is at most tolerance from
// now, either way. The comparison is constant-time.
func Verify(key []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for field := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok {
			return errors.New("webhook signature: malformed field (want key=value)")
		}
		switch k {
		case "t":
			if ts != "" {
				return errors.New("webhook signature: more than one timestamp")
			}
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return errors.New("webhook signature: v1 is not a hex HMAC-SHA256")
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" {
		return errors.New("webhook signature: no timestamp (t=)")
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("webhook signature: timestamp is not unix seconds")
	}
	if len(sigs) == 0 {
		return errors.New("webhook signature: no signature (v1=)")
	}
	want := mac(key, ts, body)
	matched := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			matched = true
		}
	}
	if !matched {
		return errors.New("webhook signature: does not match the body and key")
	}
	age := now.Sub(time.Unix(unix, 0))
	if age > tolerance || -age > tolerance {
		return fmt.Errorf("webhook signature: timestamp %s from now, outside the tolerance of %s", age.Round(time.Second), tolerance)
	}
	return nil
}
