package shadow

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestShadowMismatchOrder checks the admin view's order: workers record
// mismatches in the order their comparisons finish, which need not be the
// order their calls started (the records' time); the view is newest first
// by that time whatever the recording order, and keeps the last
// mismatchesKept recorded.
func TestShadowMismatchOrder(t *testing.T) {
	sr := &Route{pool: &pool{}, stats: newStats(nil)}
	t0 := time.Unix(1_700_000_000, 0)
	// Recorded out of order: 0, 2, 1, 4, 3, ...
	var order []int
	for i := 0; i < mismatchesKept+6; i += 2 {
		order = append(order, i+1, i)
	}
	for _, i := range order {
		sr.stats.mismatch(Mismatch{Time: t0.Add(time.Duration(i) * time.Millisecond), RequestID: strconv.Itoa(i)})
	}
	got := sr.View().LastMismatches
	if len(got) != mismatchesKept {
		t.Fatalf("got %d records, want the last %d recorded", len(got), mismatchesKept)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.RequestID)
	}
	// The last 20 recorded are times 6..25; newest first.
	var want []string
	for i := mismatchesKept + 5; i >= 6; i-- {
		want = append(want, strconv.Itoa(i))
	}
	if !slices.Equal(ids, want) {
		t.Errorf("got records %v, want %v (newest first by time)", ids, want)
	}
}

// TestShadowFlipsKeptApart: top-1 flips among many tolerance mismatches
// stay findable in their own list, newest first, while last_mismatches
// keeps the last mismatchesKept of all kinds.
func TestShadowFlipsKeptApart(t *testing.T) {
	sr := &Route{pool: &pool{}, stats: newStats(nil)}
	t0 := time.Unix(1_700_000_000, 0)
	agree, flip := true, false
	var wantFlips []string
	for i := range 3 * mismatchesKept {
		r := Mismatch{Time: t0.Add(time.Duration(i) * time.Millisecond), RequestID: strconv.Itoa(i), Top1Agree: &agree}
		if i%7 == 0 {
			r.Top1Agree = &flip
			wantFlips = append([]string{r.RequestID}, wantFlips...)
		}
		sr.stats.mismatch(r)
	}
	v := sr.View()
	if len(v.LastMismatches) != mismatchesKept {
		t.Errorf("last_mismatches: got %d, want %d", len(v.LastMismatches), mismatchesKept)
	}
	var got []string
	for _, r := range v.LastTop1Flips {
		got = append(got, r.RequestID)
	}
	if !slices.Equal(got, wantFlips) {
		t.Errorf("last_top1_flips: got %v, want every flip newest first %v", got, wantFlips)
	}
}
