// Package check validates the example manifests in deploy/kubernetes
// offline, as kubeconform would with the cluster's schemas and more: every
// document is decoded strictly (unknown and duplicate fields are errors)
// into the k8s.io/api types, and the objects are checked against each
// other and against modelgate's own config loader (check.go). It is its
// own module so the main module does not depend on k8s.io/api.
package check

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// KustomizationFile is the file listing the applied manifests.
const KustomizationFile = "kustomization.yaml"

// Standalone are manifests applied on their own, not through the
// kustomization (they need KEDA or prometheus-adapter, and scale model
// Deployments outside the example).
var Standalone = []string{"hpa-prometheus-adapter.yaml", "keda-scaledobject.yaml"}

// Kustomization is the subset of kustomize's file the example uses; any
// other field is refused.
type Kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// ScaledObjectSpec is KEDA's keda.sh/v1alpha1 ScaledObject spec, as much
// of it as a strict decode needs to refuse a misspelt field.
type ScaledObjectSpec struct {
	ScaleTargetRef *struct {
		APIVersion             string `json:"apiVersion,omitempty"`
		Kind                   string `json:"kind,omitempty"`
		Name                   string `json:"name"`
		EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
	} `json:"scaleTargetRef"`
	PollingInterval       *int32 `json:"pollingInterval,omitempty"`
	CooldownPeriod        *int32 `json:"cooldownPeriod,omitempty"`
	InitialCooldownPeriod *int32 `json:"initialCooldownPeriod,omitempty"`
	IdleReplicaCount      *int32 `json:"idleReplicaCount,omitempty"`
	MinReplicaCount       *int32 `json:"minReplicaCount,omitempty"`
	MaxReplicaCount       *int32 `json:"maxReplicaCount,omitempty"`
	Advanced              *struct {
		RestoreToOriginalReplicaCount bool `json:"restoreToOriginalReplicaCount,omitempty"`
		HorizontalPodAutoscalerConfig *struct {
			Name     string                                         `json:"name,omitempty"`
			Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
		} `json:"horizontalPodAutoscalerConfig,omitempty"`
	} `json:"advanced,omitempty"`
	Triggers []ScaledObjectTrigger `json:"triggers"`
}

// ScaledObjectTrigger is one of a ScaledObject's triggers.
type ScaledObjectTrigger struct {
	Type              string            `json:"type"`
	Name              string            `json:"name,omitempty"`
	MetricType        string            `json:"metricType,omitempty"`
	UseCachedMetrics  bool              `json:"useCachedMetrics,omitempty"`
	Metadata          map[string]string `json:"metadata"`
	AuthenticationRef *struct {
		Name string `json:"name"`
		Kind string `json:"kind,omitempty"`
	} `json:"authenticationRef,omitempty"`
}

// ScaledObject is a decoded KEDA ScaledObject: the unstructured object as
// read, and its spec decoded strictly.
type ScaledObject struct {
	Object *unstructured.Unstructured
	Spec   ScaledObjectSpec
}

// Set is every object of the manifests, by kind, and where each came from.
type Set struct {
	Files         []string // every manifest file name, sorted
	Kustomization *Kustomization
	Namespaces    []*corev1.Namespace
	Deployments   []*appsv1.Deployment
	Services      []*corev1.Service
	ConfigMaps    []*corev1.ConfigMap
	Secrets       []*corev1.Secret
	PDBs          []*policyv1.PodDisruptionBudget
	HPAs          []*autoscalingv2.HorizontalPodAutoscaler
	ScaledObjects []*ScaledObject
	// Where names each object's file and document ("deployment.yaml#1").
	Where map[any]string
}

// Parse decodes every document of files (file name -> content). A document
// of an unknown apiVersion/kind, an unknown or duplicate field, or a value
// of the wrong type is an error naming the file and document.
func Parse(files map[string][]byte) (*Set, error) {
	s := &Set{Where: map[any]string{}}
	for name := range files {
		s.Files = append(s.Files, name)
	}
	sort.Strings(s.Files)
	for _, name := range s.Files {
		if name == KustomizationFile {
			k := &Kustomization{}
			if err := yaml.UnmarshalStrict(files[name], k); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			s.Kustomization = k
			continue
		}
		for i, doc := range splitDocuments(files[name]) {
			where := fmt.Sprintf("%s#%d", name, i+1)
			if err := s.add(where, doc); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	return s, nil
}

// splitDocuments splits a YAML stream at its "---" lines, dropping
// documents that hold only comments or blanks.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if hasContent(cur.Bytes()) {
			docs = append(docs, bytes.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	for line := range bytes.Lines(data) {
		if strings.TrimRight(string(line), " \r\n") == "---" {
			flush()
			continue
		}
		cur.Write(line)
	}
	flush()
	return docs
}

func hasContent(doc []byte) bool {
	for line := range bytes.Lines(doc) {
		t := strings.TrimSpace(string(line))
		if t != "" && !strings.HasPrefix(t, "#") {
			return true
		}
	}
	return false
}

// add decodes one document by its apiVersion and kind.
func (s *Set) add(where string, doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	strict := func(into any) error { return yaml.UnmarshalStrict(doc, into) }
	var obj any
	var err error
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 Namespace":
		o := &corev1.Namespace{}
		err, obj = strict(o), o
		s.Namespaces = append(s.Namespaces, o)
	case "apps/v1 Deployment":
		o := &appsv1.Deployment{}
		err, obj = strict(o), o
		s.Deployments = append(s.Deployments, o)
	case "v1 Service":
		o := &corev1.Service{}
		err, obj = strict(o), o
		s.Services = append(s.Services, o)
	case "v1 ConfigMap":
		o := &corev1.ConfigMap{}
		err, obj = strict(o), o
		s.ConfigMaps = append(s.ConfigMaps, o)
	case "v1 Secret":
		o := &corev1.Secret{}
		err, obj = strict(o), o
		s.Secrets = append(s.Secrets, o)
	case "policy/v1 PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		err, obj = strict(o), o
		s.PDBs = append(s.PDBs, o)
	case "autoscaling/v2 HorizontalPodAutoscaler":
		o := &autoscalingv2.HorizontalPodAutoscaler{}
		err, obj = strict(o), o
		s.HPAs = append(s.HPAs, o)
	case "keda.sh/v1alpha1 ScaledObject":
		o, e := decodeScaledObject(doc)
		err, obj = e, o
		s.ScaledObjects = append(s.ScaledObjects, o)
	default:
		return fmt.Errorf("unknown apiVersion %q kind %q", tm.APIVersion, tm.Kind)
	}
	if err != nil {
		return err
	}
	s.Where[obj] = where
	return nil
}

// decodeScaledObject reads a ScaledObject as unstructured, refuses top-level
// fields other than apiVersion, kind, metadata and spec, decodes metadata
// into ObjectMeta and spec into ScaledObjectSpec strictly, and checks the
// fields KEDA requires.
func decodeScaledObject(doc []byte) (*ScaledObject, error) {
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(doc, &u.Object); err != nil {
		return nil, err
	}
	for k := range u.Object {
		switch k {
		case "apiVersion", "kind", "metadata", "spec":
		default:
			return nil, fmt.Errorf("unknown field %q", k)
		}
	}
	var meta metav1.ObjectMeta
	if err := restrict(u.Object["metadata"], &meta); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	so := &ScaledObject{Object: u}
	if err := restrict(u.Object["spec"], &so.Spec); err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	switch {
	case u.GetName() == "":
		return nil, fmt.Errorf("metadata.name: required")
	case so.Spec.ScaleTargetRef == nil || so.Spec.ScaleTargetRef.Name == "":
		return nil, fmt.Errorf("spec.scaleTargetRef.name: required")
	case len(so.Spec.Triggers) == 0:
		return nil, fmt.Errorf("spec.triggers: at least one required")
	}
	for i, t := range so.Spec.Triggers {
		if t.Type == "" || len(t.Metadata) == 0 {
			return nil, fmt.Errorf("spec.triggers[%d]: type and metadata required", i)
		}
		switch t.MetricType {
		case "", "AverageValue", "Value", "Utilization":
		default:
			return nil, fmt.Errorf("spec.triggers[%d].metricType: unknown %q", i, t.MetricType)
		}
	}
	return so, nil
}

// restrict re-encodes part of an unstructured object and decodes it
// strictly into a typed value.
func restrict(part any, into any) error {
	if part == nil {
		return fmt.Errorf("required")
	}
	b, err := yaml.Marshal(part)
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(b, into)
}
