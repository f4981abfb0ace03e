package main

import (
	"math"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

func buckets(bounds []float64, cum ...uint64) []*dto.Bucket {
	out := make([]*dto.Bucket, len(bounds))
	for i := range bounds {
		out[i] = &dto.Bucket{UpperBound: &bounds[i], CumulativeCount: &cum[i]}
	}
	return out
}

// TestBucketQuantile checks the histogram_quantile interpolation over
// bucket increases.
func TestBucketQuantile(t *testing.T) {
	bounds := []float64{0.01, 0.05, 0.1}
	for _, tc := range []struct {
		desc      string
		q         float64
		prev, cur []*dto.Bucket
		want      float64
		wantNaN   bool
	}{
		{desc: "all in first bucket", q: 0.99, cur: buckets(bounds, 10, 10, 10), want: 0.0099},
		{desc: "median in second bucket", q: 0.5, cur: buckets(bounds, 0, 10, 10), want: 0.03},
		{desc: "increase only", q: 0.5, prev: buckets(bounds, 100, 100, 100), cur: buckets(bounds, 100, 110, 110), want: 0.03},
		{desc: "nothing observed", q: 0.99, prev: buckets(bounds, 5, 5, 5), cur: buckets(bounds, 5, 5, 5), wantNaN: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got := bucketQuantile(tc.q, tc.prev, tc.cur)
			if tc.wantNaN {
				if !math.IsNaN(got) {
					t.Errorf("got %v, want NaN", got)
				}
				return
			}
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
