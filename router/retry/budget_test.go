package retry

import "testing"

func TestRetryBudget(t *testing.T) {
	b := New(0.2)
	spent := 0
	for b.Withdraw() {
		spent++
	}
	if spent != Reserve {
		t.Errorf("reserve: got %d retries, want %d", spent, Reserve)
	}
	// In an outage every request wants a retry: at most 20% get one.
	retries := 0
	for range 1000 {
		b.Deposit()
		if b.Withdraw() {
			retries++
		}
	}
	if retries < 195 || retries > 200 {
		t.Errorf("outage: got %d retries for 1000 requests, want 20%%", retries)
	}
	for range 10000 {
		b.Deposit()
	}
	if v := b.balance.Load(); v > (Reserve+1)*scale {
		t.Errorf("balance grew to %d milli-tokens, want it capped near the reserve", v)
	}
	zero := New(0)
	for range 1000 {
		zero.Deposit()
		if zero.Withdraw() {
			t.Fatal("budget 0: got a retry, want none (no reserve, nothing earned)")
		}
	}
}
