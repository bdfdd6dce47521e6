package node

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Java 3.8's admin.* keys (read as zookeeper.admin.* system properties,
// which QuorumPeerConfig sets from zoo.cfg's unknown keys).

// AdminServerConfig is the AdminServer's configuration.
type AdminServerConfig struct {
	Enabled     bool          // admin.enableServer: anything but "false" enables it (default true)
	Addr        string        // admin.serverAddress:admin.serverPort (0.0.0.0:8080)
	CommandURL  string        // admin.commandURL (/commands)
	IdleTimeout time.Duration // admin.idleTimeout in ms (30000)
}

// ParseAdminServer reads the admin.* keys of raw: the configuration, the
// errors that refuse the config (each naming its key) and warnings (key,
// reason).
func ParseAdminServer(raw map[string]string) (AdminServerConfig, []error, [][2]string) {
	ac := AdminServerConfig{Enabled: true, CommandURL: "/commands", IdleTimeout: 30 * time.Second}
	var errs []error
	var warns [][2]string
	host, port := "0.0.0.0", 8080
	vals, keys := map[string]string{}, map[string]string{}
	for k, v := range raw {
		if sub, ok := strings.CutPrefix(configKey(k), "admin."); ok {
			vals[sub], keys[sub] = strings.TrimSpace(v), k
		}
	}
	if v, ok := vals["enableServer"]; ok && v == "false" {
		ac.Enabled = false
		return ac, nil, nil
	}
	for _, sub := range sortedKeys(vals) {
		k, v := keys[sub], vals[sub]
		switch sub {
		case "enableServer":
		case "serverAddress":
			host = v
		case "serverPort":
			p, err := strconv.Atoi(v)
			if err != nil || p < 0 || p > 65535 {
				// Java's Integer.getInteger falls back to 8080 unsaid.
				errs = append(errs, fmt.Errorf("%s=%s is not a port number", k, v))
				continue
			}
			port = p
		case "commandURL":
			if !strings.HasPrefix(v, "/") {
				v = "/" + v
			}
			ac.CommandURL = strings.TrimSuffix(v, "/")
		case "idleTimeout":
			ms, err := strconv.Atoi(v)
			if err != nil || ms < 0 {
				errs = append(errs, fmt.Errorf("%s=%s is not a number of milliseconds", k, v))
				continue
			}
			ac.IdleTimeout = time.Duration(ms) * time.Millisecond
		case "portUnification", "forceHttps":
			if strings.EqualFold(v, "true") {
				errs = append(errs, fmt.Errorf("%s=%s is not supported: the AdminServer over TLS is not implemented by zkgo", k, v))
			}
		case "httpVersion":
			if v != "11" {
				warns = append(warns, [2]string{k, "zkgo's AdminServer speaks HTTP/1.1 (Java's default, 11)"})
			}
		default:
			warns = append(warns, [2]string{k, "the AdminServer does not read this key"})
		}
	}
	ac.Addr = net.JoinHostPort(host, strconv.Itoa(port))
	return ac, errs, warns
}
