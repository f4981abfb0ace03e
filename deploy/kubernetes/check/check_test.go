package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// manifests reads every YAML file of deploy/kubernetes.
func manifests(t *testing.T) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests found: %v", err)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = b
	}
	return files
}

// TestManifests decodes every manifest strictly and checks them together:
// the example as committed has no error.
func TestManifests(t *testing.T) {
	s, err := Parse(manifests(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range s.Check(t.Setenv) {
		t.Error(err)
	}
	if got := len(s.Deployments); got != 2 {
		t.Errorf("Deployments: got %d, want 2 (modelgate, redis)", got)
	}
	for _, want := range []struct {
		kind string
		n    int
	}{{"Service", len(s.Services)}, {"ConfigMap", len(s.ConfigMaps)}, {"Secret", len(s.Secrets)}, {"PodDisruptionBudget", len(s.PDBs)}, {"HorizontalPodAutoscaler", len(s.HPAs)}, {"ScaledObject", len(s.ScaledObjects)}} {
		if want.n == 0 {
			t.Errorf("no %s decoded", want.kind)
		}
	}
	for _, d := range s.Deployments {
		if d.Name == "modelgate" && (d.Spec.Replicas == nil || *d.Spec.Replicas != 3) {
			t.Errorf("modelgate replicas: got %v, want 3", d.Spec.Replicas)
		}
	}
}

// TestBreakage makes one typo or inconsistency at a time and checks that it
// is caught, by Parse (strict decoding) or by Check.
func TestBreakage(t *testing.T) {
	tests := []struct {
		desc, file, old, new, want string
	}{
		{"misspelt field", "deployment.yaml", "readinessProbe:", "readinesProbe:", `unknown field "readinesProbe"`},
		{"duplicate field", "pdb.yaml", "  maxUnavailable: 1\n", "  maxUnavailable: 1\n  maxUnavailable: 2\n", "maxUnavailable"},
		{"wrong type", "deployment.yaml", "replicas: 3", "replicas: three", "replicas"},
		{"bad quantity", "deployment.yaml", "memory: 512Mi", "memory: 512MB", "quantities must match"},
		{"unknown kind", "pdb.yaml", "kind: PodDisruptionBudget", "kind: PodDisruptionBudge", "unknown apiVersion"},
		{"KEDA field misspelt", "keda-scaledobject.yaml", "cooldownPeriod:", "cooldownPeriods:", "cooldownPeriods"},
		{"KEDA behavior misspelt", "keda-scaledobject.yaml", "stabilizationWindowSeconds: 300", "stabilisationWindowSeconds: 300", "stabilisationWindowSeconds"},
		{"KEDA query on an unrouted version", "keda-scaledobject.yaml", `version="v2"`, `version="v3"`, "acme/fraud/v3 is not a version"},
		{"HPA metric on an unrouted model", "hpa-prometheus-adapter.yaml", "model: fraud", "model: fruad", "acme/fruad/v2 is not a version"},
		{"Service targetPort missing", "service.yaml", "targetPort: admin", "targetPort: admn", "targetPort admn is not a port"},
		{"Service selector matches nothing", "service.yaml", "app.kubernetes.io/component: gateway\n  ports:\n    - name: http", "app.kubernetes.io/component: gw\n  ports:\n    - name: http", "selector matches no Deployment"},
		{"Deployment selector off its pods", "deployment.yaml", "  selector:\n    matchLabels:\n      app.kubernetes.io/name: modelgate", "  selector:\n    matchLabels:\n      app.kubernetes.io/name: modelgat", "spec.selector does not select"},
		{"PDB selects nothing", "pdb.yaml", "app.kubernetes.io/component: gateway", "app.kubernetes.io/component: gatway", "selects no Deployment"},
		{"probe on a missing port", "redis.yaml", "port: redis\n            periodSeconds: 5", "port: 6380\n            periodSeconds: 5", "readinessProbe port 6380"},
		{"readiness on the traffic port", "deployment.yaml", "path: /readyz\n              port: admin", "path: /readyz\n              port: http", "readinessProbe must GET /readyz on the admin port"},
		{"grace shorter than the drain", "deployment.yaml", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 20", "terminationGracePeriodSeconds 20s < preStop 5s + server.shutdown_timeout 20s"},
		{"config invalid", "configmap.yaml", "weight: 90", "weight: -90", "weight"},
		{"config key misspelt", "configmap.yaml", "shutdown_timeout: 20s", "shutdown_timout: 20s", "shutdown_timout"},
		{"listen port not the container's", "configmap.yaml", `listen: "0.0.0.0:8080"`, `listen: "0.0.0.0:8081"`, `container port "http" is not the config's listen address`},
		{"Redis address no Service", "configmap.yaml", "redis.modelgate.svc.cluster.local:6379", "valkey.modelgate.svc.cluster.local:6379", "is no Service port"},
		{"no global limit", "configmap.yaml", "scope: global,", "scope: local,", "scope: global"},
		{"Secret key missing", "secret.yaml", "  REDIS_PASSWORD:", "  REDIS_PASSWD:", "no key REDIS_PASSWORD"},
		{"config by subPath", "deployment.yaml", "mountPath: /etc/modelgate\n", "mountPath: /etc/modelgate/modelgate.yaml\n              subPath: modelgate.yaml\n", "subPath"},
		{"root filesystem writable", "redis.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem true"},
		{"file not in the kustomization", "kustomization.yaml", "  - pdb.yaml\n", "", "pdb.yaml is neither listed"},
		{"kustomization field misspelt", "kustomization.yaml", "resources:", "resource:", "resource"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			files := manifests(t)
			if !strings.Contains(string(files[tt.file]), tt.old) {
				t.Fatalf("%s does not contain %q", tt.file, tt.old)
			}
			files[tt.file] = []byte(strings.Replace(string(files[tt.file]), tt.old, tt.new, 1))
			s, err := Parse(files)
			var msgs []string
			if err != nil {
				msgs = append(msgs, err.Error())
			} else {
				for _, e := range s.Check(t.Setenv) {
					msgs = append(msgs, e.Error())
				}
			}
			all := strings.Join(msgs, "\n")
			if len(msgs) == 0 || !strings.Contains(all, tt.want) {
				t.Errorf("got errors:\n%s\nwant one containing %q", all, tt.want)
			}
		})
	}
}
