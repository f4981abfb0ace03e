package check

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/configs"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Check reports every inconsistency between the objects of s: names and
// labels valid; selectors (Deployment, Service, PDB, topology spread)
// matching pod labels; Service targetPorts and probe ports existing on the
// container; volumes, ConfigMaps and Secret keys referenced existing;
// non-root, read-only root filesystem containers; and, for the container
// started with --config, the ConfigMap's file loaded by configs.Load with
// the container's environment (setenv sets each variable, e.g. t.Setenv),
// its listeners on the container's ports, its Redis on a Service of the
// set, and terminationGracePeriodSeconds covering the preStop sleep plus
// server.shutdown_timeout. The routing it loads is also what the KEDA and
// HPA objects' tenant/model/version labels must name.
func (s *Set) Check(setenv func(key, value string)) []error {
	c := &checker{s: s}
	c.kustomization()
	c.names()
	var routed map[string]bool
	for _, d := range s.Deployments {
		c.deployment(d)
		if r := c.gateway(d, setenv); r != nil {
			routed = r
		}
	}
	if routed == nil {
		c.errf("no Deployment runs modelgate with --config")
	}
	for _, svc := range s.Services {
		c.service(svc)
	}
	for _, p := range s.PDBs {
		pods := c.podsSelected(p.Namespace, p.Spec.Selector)
		if len(pods) == 0 {
			c.errf("%s: PodDisruptionBudget %s selects no Deployment's pods", s.Where[p], p.Name)
		}
	}
	c.autoscalers(routed)
	return c.errs
}

type checker struct {
	s    *Set
	errs []error
}

func (c *checker) errf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

// kustomization: every listed resource exists, every manifest is listed or
// Standalone.
func (c *checker) kustomization() {
	k := c.s.Kustomization
	if k == nil {
		c.errf("%s missing", KustomizationFile)
		return
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		c.errf("%s: apiVersion/kind %s %s", KustomizationFile, k.APIVersion, k.Kind)
	}
	for _, r := range k.Resources {
		if !slices.Contains(c.s.Files, r) {
			c.errf("%s: resource %s does not exist", KustomizationFile, r)
		}
	}
	for _, f := range c.s.Files {
		if f != KustomizationFile && !slices.Contains(k.Resources, f) && !slices.Contains(Standalone, f) {
			c.errf("%s: %s is neither listed nor standalone", KustomizationFile, f)
		}
	}
}

// names: DNS-1123 names, valid label keys and values.
func (c *checker) names() {
	for obj, where := range c.s.Where {
		var m *metav1.ObjectMeta
		switch o := obj.(type) {
		case interface{ GetObjectMeta() metav1.Object }:
			if om, ok := o.GetObjectMeta().(*metav1.ObjectMeta); ok {
				m = om
			}
		}
		if m == nil {
			continue
		}
		for _, e := range validation.IsDNS1123Subdomain(m.Name) {
			c.errf("%s: metadata.name %q: %s", where, m.Name, e)
		}
		c.labels(where+": metadata.labels", m.Labels)
	}
}

func (c *checker) labels(where string, l map[string]string) {
	for k, v := range l {
		for _, e := range validation.IsQualifiedName(k) {
			c.errf("%s: key %q: %s", where, k, e)
		}
		for _, e := range validation.IsValidLabelValue(v) {
			c.errf("%s: %q: %s", where, k, e)
		}
	}
}

func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(l))
}

// podsSelected returns the Deployments in ns whose pod labels sel selects.
func (c *checker) podsSelected(ns string, sel *metav1.LabelSelector) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, d := range c.s.Deployments {
		if d.Namespace == ns && selects(sel, d.Spec.Template.Labels) {
			out = append(out, d)
		}
	}
	return out
}

func (c *checker) deployment(d *appsv1.Deployment) {
	w := c.s.Where[d] + ": Deployment " + d.Name
	pod := &d.Spec.Template.Spec
	if d.Namespace == "" {
		c.errf("%s: no namespace", w)
	}
	if !selects(d.Spec.Selector, d.Spec.Template.Labels) {
		c.errf("%s: spec.selector does not select the pod template's labels", w)
	}
	c.labels(w+": template labels", d.Spec.Template.Labels)
	for i, t := range pod.TopologySpreadConstraints {
		if !selects(t.LabelSelector, d.Spec.Template.Labels) {
			c.errf("%s: topologySpreadConstraints[%d] does not select its own pods", w, i)
		}
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		c.errf("%s: pod securityContext.runAsNonRoot must be true", w)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
		if v.ConfigMap != nil {
			cm := c.configMap(d.Namespace, v.ConfigMap.Name)
			if cm == nil {
				c.errf("%s: volume %s: no ConfigMap %s/%s", w, v.Name, d.Namespace, v.ConfigMap.Name)
			}
			for _, it := range v.ConfigMap.Items {
				if cm != nil && cm.Data[it.Key] == "" {
					c.errf("%s: volume %s: ConfigMap has no key %s", w, v.Name, it.Key)
				}
			}
		}
	}
	for _, ct := range pod.Containers {
		cw := w + " container " + ct.Name
		sc := ct.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			c.errf("%s: securityContext needs readOnlyRootFilesystem true and allowPrivilegeEscalation false", cw)
		}
		if ct.Resources.Requests.Memory().IsZero() || ct.Resources.Limits.Memory().IsZero() {
			c.errf("%s: memory request and limit required", cw)
		}
		if ct.ReadinessProbe == nil || ct.LivenessProbe == nil {
			c.errf("%s: readiness and liveness probes required", cw)
		}
		for name, p := range map[string]*corev1.Probe{"readinessProbe": ct.ReadinessProbe, "livenessProbe": ct.LivenessProbe, "startupProbe": ct.StartupProbe} {
			if p == nil {
				continue
			}
			var port intstr.IntOrString
			switch {
			case p.HTTPGet != nil:
				port = p.HTTPGet.Port
			case p.TCPSocket != nil:
				port = p.TCPSocket.Port
			case p.GRPC != nil:
				port = intstr.FromInt32(p.GRPC.Port)
			default:
				continue
			}
			if containerPort(ct, port) == 0 {
				c.errf("%s: %s port %s is not a container port", cw, name, port.String())
			}
		}
		for _, m := range ct.VolumeMounts {
			v, ok := volumes[m.Name]
			switch {
			case !ok:
				c.errf("%s: volumeMount %s: no such volume", cw, m.Name)
			case v.ConfigMap != nil && m.SubPath != "":
				c.errf("%s: volumeMount %s: a subPath mount of a ConfigMap never sees updates", cw, m.Name)
			}
		}
		for _, e := range ct.Env {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				continue
			}
			ref := e.ValueFrom.SecretKeyRef
			if _, ok := c.secretValue(d.Namespace, ref.Name, ref.Key); !ok {
				c.errf("%s: env %s: no key %s in Secret %s/%s", cw, e.Name, ref.Key, d.Namespace, ref.Name)
			}
		}
	}
}

// containerPort resolves port (a name or a number) on ct: the port number,
// or 0 when ct has no such port.
func containerPort(ct corev1.Container, port intstr.IntOrString) int32 {
	for _, p := range ct.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return p.ContainerPort
		}
	}
	return 0
}

func (c *checker) configMap(ns, name string) *corev1.ConfigMap {
	for _, cm := range c.s.ConfigMaps {
		if cm.Namespace == ns && cm.Name == name {
			return cm
		}
	}
	return nil
}

func (c *checker) secretValue(ns, name, key string) (string, bool) {
	for _, s := range c.s.Secrets {
		if s.Namespace != ns || s.Name != name {
			continue
		}
		if v, ok := s.StringData[key]; ok {
			return v, true
		}
		if v, ok := s.Data[key]; ok {
			return string(v), true
		}
	}
	return "", false
}

func (c *checker) service(svc *corev1.Service) {
	w := c.s.Where[svc] + ": Service " + svc.Name
	pods := c.podsSelected(svc.Namespace, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector})
	if len(pods) == 0 {
		c.errf("%s: selector matches no Deployment's pods", w)
		return
	}
	for _, p := range svc.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		for _, d := range pods {
			found := false
			for _, ct := range d.Spec.Template.Spec.Containers {
				if containerPort(ct, target) != 0 {
					found = true
				}
			}
			if !found {
				c.errf("%s: port %s targetPort %s is not a port of Deployment %s", w, p.Name, target.String(), d.Name)
			}
		}
	}
}

// gateway checks the modelgate container of d (the one with --config), if
// any, and returns the routed tenant/model/version triples
// ("acme/fraud/v2") of its loaded config; nil if d runs no modelgate.
func (c *checker) gateway(d *appsv1.Deployment, setenv func(key, value string)) map[string]bool {
	pod := &d.Spec.Template.Spec
	for _, ct := range pod.Containers {
		i := slices.Index(ct.Args, "--config")
		if i < 0 || i+1 >= len(ct.Args) {
			continue
		}
		cw := c.s.Where[d] + ": Deployment " + d.Name + " container " + ct.Name
		path := ct.Args[i+1]
		cm := c.mountedConfigMap(d, ct, filepath.Dir(path))
		if cm == nil {
			c.errf("%s: --config %s is not in a mounted ConfigMap", cw, path)
			return map[string]bool{}
		}
		content, ok := cm.Data[filepath.Base(path)]
		if !ok {
			c.errf("%s: ConfigMap %s has no key %s", cw, cm.Name, filepath.Base(path))
			return map[string]bool{}
		}
		env := map[string]bool{}
		for _, e := range ct.Env {
			env[e.Name] = true
			switch {
			case e.ValueFrom == nil:
				setenv(e.Name, e.Value)
			case e.ValueFrom.SecretKeyRef != nil:
				v, _ := c.secretValue(d.Namespace, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
				setenv(e.Name, v)
			}
		}
		file := filepath.Join(os.TempDir(), fmt.Sprintf("modelgate-check-%d.yaml", os.Getpid()))
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			c.errf("%s: %v", cw, err)
			return map[string]bool{}
		}
		defer os.Remove(file)
		cfg, err := configs.Load(file)
		if err != nil {
			c.errf("%s: ConfigMap %s key %s: %v", cw, cm.Name, filepath.Base(path), err)
			return map[string]bool{}
		}
		c.gatewayConfig(cw, d, ct, cfg, env)
		routed := map[string]bool{}
		for _, t := range cfg.Tenants {
			for _, m := range t.Models {
				for _, v := range m.Versions {
					routed[t.Name+"/"+m.Name+"/"+v.Name] = true
				}
			}
		}
		return routed
	}
	return nil
}

// mountedConfigMap returns the ConfigMap mounted at dir in ct.
func (c *checker) mountedConfigMap(d *appsv1.Deployment, ct corev1.Container, dir string) *corev1.ConfigMap {
	for _, m := range ct.VolumeMounts {
		if filepath.Clean(m.MountPath) != filepath.Clean(dir) {
			continue
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				return c.configMap(d.Namespace, v.ConfigMap.Name)
			}
		}
	}
	return nil
}

// gatewayConfig checks the loaded config against its container.
func (c *checker) gatewayConfig(cw string, d *appsv1.Deployment, ct corev1.Container, cfg *configs.Config, env map[string]bool) {
	for name, addr := range map[string]string{"http": cfg.Server.Listen, "admin": cfg.Server.AdminListen} {
		_, port, err := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(port)
		if err != nil || containerPort(ct, intstr.FromString(name)) != int32(n) {
			c.errf("%s: container port %q is not the config's listen address %s", cw, name, addr)
		}
	}
	probe := func(what string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || containerPort(ct, p.HTTPGet.Port) != containerPort(ct, intstr.FromString("admin")) {
			c.errf("%s: %s must GET %s on the admin port", cw, what, path)
		}
	}
	probe("readinessProbe", ct.ReadinessProbe, "/readyz")
	probe("livenessProbe", ct.LivenessProbe, "/healthz")

	var sleep time.Duration
	if ct.Lifecycle != nil && ct.Lifecycle.PreStop != nil && ct.Lifecycle.PreStop.Sleep != nil {
		sleep = time.Duration(ct.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	if sleep == 0 {
		c.errf("%s: preStop sleep required (the Service's endpoints lag the pod's termination)", cw)
	}
	grace := 30 * time.Second // Kubernetes' default
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if need := sleep + cfg.Server.ShutdownTimeout; grace < need {
		c.errf("%s: terminationGracePeriodSeconds %s < preStop %s + server.shutdown_timeout %s", cw, grace, sleep, cfg.Server.ShutdownTimeout)
	}

	r := cfg.State.Redis
	if r == nil {
		c.errf("%s: the example config must use state.redis", cw)
		return
	}
	if r.PasswordEnv != "" && !env[r.PasswordEnv] {
		c.errf("%s: state.redis.password_env %s is not in the container's env", cw, r.PasswordEnv)
	}
	if !c.serviceAddress(d.Namespace, r.Address) {
		c.errf("%s: state.redis.address %s is no Service port of the manifests", cw, r.Address)
	}
	global := false
	for _, t := range cfg.Tenants {
		global = global || t.Limits.Scope == configs.ScopeGlobal
		for _, m := range t.Models {
			global = global || (m.Limits != nil && m.Limits.Scope == configs.ScopeGlobal)
		}
	}
	if !global {
		c.errf("%s: the example config must have a limit with scope: global", cw)
	}
}

// serviceAddress reports whether host:port names a Service port of the set:
// "name", "name.ns", "name.ns.svc" or "name.ns.svc.cluster.local".
func (c *checker) serviceAddress(ns, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	parts := strings.Split(strings.TrimSuffix(host, ".svc.cluster.local"), ".")
	parts = slices.DeleteFunc(parts, func(p string) bool { return p == "svc" })
	if len(parts) == 2 {
		ns = parts[1]
	} else if len(parts) != 1 {
		return false
	}
	for _, svc := range c.s.Services {
		if svc.Namespace != ns || svc.Name != parts[0] {
			continue
		}
		for _, p := range svc.Spec.Ports {
			if strconv.Itoa(int(p.Port)) == port {
				return true
			}
		}
	}
	return false
}

var promLabel = regexp.MustCompile(`(tenant|model|version)="([^"]*)"`)

// autoscalers: the HPA and ScaledObject target a Deployment and name a
// tenant/model/version the gateway routes.
func (c *checker) autoscalers(routed map[string]bool) {
	for _, h := range c.s.HPAs {
		w := c.s.Where[h] + ": HorizontalPodAutoscaler " + h.Name
		if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name == "" {
			c.errf("%s: scaleTargetRef must name a Deployment", w)
		}
		if h.Spec.MaxReplicas < 1 || (h.Spec.MinReplicas != nil && *h.Spec.MinReplicas > h.Spec.MaxReplicas) {
			c.errf("%s: replica bounds", w)
		}
		for _, m := range h.Spec.Metrics {
			if m.External == nil || m.External.Metric.Selector == nil {
				continue
			}
			l := m.External.Metric.Selector.MatchLabels
			if key := l["tenant"] + "/" + l["model"] + "/" + l["version"]; !routed[key] {
				c.errf("%s: metric selector %s is not a version the gateway routes", w, key)
			}
		}
	}
	for _, so := range c.s.ScaledObjects {
		w := c.s.Where[so] + ": ScaledObject " + so.Object.GetName()
		for i, t := range so.Spec.Triggers {
			if t.Type != "prometheus" {
				continue
			}
			if _, err := strconv.ParseFloat(t.Metadata["threshold"], 64); err != nil {
				c.errf("%s: triggers[%d].metadata.threshold: %v", w, i, err)
			}
			l := map[string]string{}
			for _, m := range promLabel.FindAllStringSubmatch(t.Metadata["query"], -1) {
				l[m[1]] = m[2]
			}
			if key := l["tenant"] + "/" + l["model"] + "/" + l["version"]; !routed[key] {
				c.errf("%s: triggers[%d] query's %s is not a version the gateway routes", w, i, key)
			}
		}
	}
}
