package rollout_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/rollout/webhook"
)

// TestWebhookEvents follows a rollout's events at a loopback receiver:
// each signed with the secret of secret_env, in order, with the state
// after it.
func TestWebhookEvents(t *testing.T) {
	const secret = "hook-secret-for-tests"
	t.Setenv("MG_TEST_HOOK_SECRET", secret)
	var mu sync.Mutex
	var got []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify([]byte(secret), r.Header.Get("X-Modelgate-Signature"), body, time.Now(), time.Minute); err != nil {
			t.Errorf("event %s: %v", r.Header.Get("X-Modelgate-Event"), err)
		}
		var e struct {
			Type, Tenant, Model, State string
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Type != r.Header.Get("X-Modelgate-Event") || e.Tenant != "acme" || e.Model != "fraud" {
			t.Errorf("event body %s (%v)", body, err)
		}
		mu.Lock()
		got = append(got, e.Type+":"+e.State)
		mu.Unlock()
	}))
	defer recv.Close()
	ms := startModels(t, goodWeights)
	s := startStack(t, configText(ms, approveFirst+"webhooks: [{url: \""+recv.URL+"/hook\", secret_env: MG_TEST_HOOK_SECRET}]\n"), "")
	await.Until(t, 5*time.Second, "the rollout to wait for approval", func() bool { return s.phase() == "waiting_approval" })
	for _, tok := range []string{tokAnn, tokBob} {
		if code, body := s.admin("POST", "/admin/rollouts/acme/fraud/approve", tok, ""); code != 200 {
			t.Fatalf("approve: %d %s", code, body)
		}
	}
	if code, body := s.admin("POST", "/admin/rollouts/acme/fraud/abort", tokOps, `{"comment":"demo over"}`); code != 200 {
		t.Fatalf("abort: %d %s", code, body)
	}
	want := []string{"rollout.started:waiting_approval", "rollout.waiting_for_approval:waiting_approval",
		"rollout.approved:waiting_approval", "rollout.approved:waiting_approval", "rollout.step_advanced:running", "rollout.aborted:aborted"}
	await.Until(t, 10*time.Second, "every event at the receiver", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}
