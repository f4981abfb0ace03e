package shadow

import "testing"

// TestShadowJobKeepsNoBigBuffer checks what a job keeps when it goes back
// to the pool: its bytes return to the pool's budget, and a primary-answer
// buffer over jobKeepBytes is let go.
func TestShadowJobKeepsNoBigBuffer(t *testing.T) {
	for _, tc := range []struct {
		desc string
		size int
		kept bool
	}{
		{"small buffer kept", jobKeepBytes, true},
		{"big buffer let go", jobKeepBytes + 1, false},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			pool := &pool{key: poolKey{maxBytes: 1 << 20}}
			j := &Job{route: &Route{pool: pool}}
			if !pool.reserve(int64(tc.size)) {
				t.Fatal("reserve refused bytes within the budget")
			}
			j.held = int64(tc.size)
			j.primaryBody = append(j.primaryBody, make([]byte, tc.size)...)
			j.reset()
			if kept := cap(j.primaryBody) >= tc.size; kept != tc.kept {
				t.Errorf("after reset: buffer of %d bytes kept %v, want %v", tc.size, kept, tc.kept)
			}
			if got := pool.heldBytes(); got != 0 {
				t.Errorf("after reset: pool holds %d bytes, want 0", got)
			}
		})
	}
}
