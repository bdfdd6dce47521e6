package node

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Java's metricsProvider.* keys (QuorumPeerConfig passes every key after
// the prefix to the provider's configure). zkgo implements the Prometheus
// provider (PrometheusMetricsProvider's names, types and summary
// quantiles; cmd/zkgo serves it) and, as the DefaultMetricsProvider, the
// mntr values; any other provider class is refused.

// Metrics provider classes Java 3.8 ships.
const (
	PrometheusProviderClass = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
	DefaultProviderClass    = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider"
	NullProviderClass       = "org.apache.zookeeper.metrics.impl.NullMetricsProvider"
)

// MetricsProvider is the metricsProvider.* configuration.
type MetricsProvider struct {
	// Prometheus is set when className names PrometheusMetricsProvider.
	Prometheus bool
	// Addr is httpHost:httpPort (default 0.0.0.0:7000).
	Addr string
	// ExportJvmInfo is metricsProvider.exportJvmInfo (default true); zkgo
	// has no JVM metrics to export.
	ExportJvmInfo bool
}

// ParseMetricsProvider reads the metricsProvider.* keys of raw: the
// configuration, the errors that must refuse the config (each naming its
// key, where Java would fail to start or zkgo cannot honour the value), and
// warnings (key, reason) for keys with no effect.
func ParseMetricsProvider(raw map[string]string) (MetricsProvider, []error, [][2]string) {
	mp := MetricsProvider{Addr: "0.0.0.0:7000", ExportJvmInfo: true}
	var errs []error
	var warns [][2]string
	vals := map[string]string{}
	keys := map[string]string{}
	for k, v := range raw {
		sub, ok := strings.CutPrefix(configKey(k), "metricsProvider.")
		if !ok {
			continue
		}
		vals[sub], keys[sub] = strings.TrimSpace(v), k
	}
	class, hasClass := vals["className"]
	switch {
	case !hasClass, class == DefaultProviderClass, class == NullProviderClass:
	case class == PrometheusProviderClass:
		mp.Prometheus = true
	default:
		errs = append(errs, fmt.Errorf("%s=%s is not supported: zkgo implements %s (and the default provider, behind mntr); it cannot load other classes",
			keys["className"], class, PrometheusProviderClass))
	}
	host, port := "0.0.0.0", 7000
	for _, sub := range sortedKeys(vals) {
		k, v := keys[sub], vals[sub]
		if sub == "className" {
			continue
		}
		if !mp.Prometheus {
			warns = append(warns, [2]string{k, "only the Prometheus metrics provider reads it"})
			continue
		}
		switch sub {
		case "httpHost":
			host = v
		case "httpPort":
			p, err := strconv.Atoi(v)
			if err != nil || p < 0 || p > 65535 {
				errs = append(errs, fmt.Errorf("%s=%s is not a port number", k, v))
				continue
			}
			port = p
		case "exportJvmInfo":
			// Boolean.parseBoolean: anything but "true" is false.
			mp.ExportJvmInfo = strings.EqualFold(v, "true")
			if mp.ExportJvmInfo {
				warns = append(warns, [2]string{k, "zkgo has no JVM; the jvm_* and process_* series of Java's hotspot exports are not served"})
			}
		case "numWorkerThreads", "maxQueueSize":
			// Integer.parseInt, as Java's configure: a bad value fails startup.
			if _, err := strconv.ParseInt(v, 10, 32); err != nil {
				errs = append(errs, fmt.Errorf("%s=%s is not a number", k, v))
			}
		case "workerShutdownTimeoutMs":
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				errs = append(errs, fmt.Errorf("%s=%s is not a number", k, v))
			}
		default:
			warns = append(warns, [2]string{k, "the Prometheus metrics provider does not read this key"})
		}
	}
	mp.Addr = net.JoinHostPort(host, strconv.Itoa(port))
	return mp, errs, warns
}
