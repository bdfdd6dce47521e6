package quorum

import (
	"sort"
	"strings"
)

// The files Java 3.8 keeps a quorum configuration in, next to zoo.cfg:
//
//	zoo.cfg                   the static settings, ending in
//	                          dynamicConfigFile=<absolute path>
//	zoo.cfg.dynamic.<hex>     the servers of configuration <hex> (no
//	                          version line: the name carries it)
//	zoo.cfg.dynamic.next      the last proposed configuration, with its
//	                          version line (until it is committed)
//	zoo.cfg.bak               a copy of a zoo.cfg that still held the
//	                          servers, made at every start while it does
//
// The texts below are byte-for-byte what QuorumPeerConfig writes.

// DynamicFileSuffix and NextDynamicFileSuffix follow the static file's
// name (QuorumPeer.makeDynamicConfigFilename, nextDynamicConfigFileSuffix).
const (
	DynamicFileSuffix     = ".dynamic."
	NextDynamicFileSuffix = ".dynamic.next"
	BackupFileSuffix      = ".bak"
)

// DynamicFileName is the dynamic file of version for static file cfgPath.
func DynamicFileName(cfgPath string, version int64) string {
	return cfgPath + DynamicFileSuffix + HexVersion(version)
}

// VersionFromFilename is QuorumPeerConfig.getVersionFromFilename: the hex
// number after the last '.' of name, normalised (Long.toHexString), or
// false when there is none ("zoo.cfg.dynamic": the version stays 0).
func VersionFromFilename(name string) (string, bool) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return "", false
	}
	v, err := ParseVersion(name[i+1:])
	if err != nil {
		return "", false
	}
	return HexVersion(v), true
}

// DynamicFileText is what QuorumPeerConfig.writeDynamicConfig writes for
// configuration text cfg (QuorumVerifier.toString): its lines re-read as
// Properties, written "key=value" with both trimmed, sorted as Java sorts
// strings, joined by "\n" with no newline at the end. keepVersion keeps
// the version line (the .next file); a zoo.cfg.dynamic.<hex> file has
// none.
func DynamicFileText(cfg string, keepVersion bool) string {
	p := ParseProperties(cfg)
	lines := make([]string, 0, p.Len())
	for _, k := range p.Keys() {
		key := strings.TrimSpace(k)
		if !keepVersion && strings.HasPrefix(key, "version") {
			continue
		}
		v, _ := p.Get(k)
		lines = append(lines, key+"="+strings.TrimSpace(v))
	}
	sort.Slice(lines, func(i, j int) bool { return javaLess(lines[i], lines[j]) })
	return strings.Join(lines, "\n")
}

// javaLess is String.compareTo: UTF-16 code unit order, which for text
// without surrogates is the order of the code points.
func javaLess(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	for i := 0; i < len(ra) && i < len(rb); i++ {
		if ra[i] != rb[i] {
			return utf16Unit(ra[i]) < utf16Unit(rb[i])
		}
	}
	return len(ra) < len(rb)
}

// utf16Unit is the first UTF-16 code unit of r.
func utf16Unit(r rune) rune {
	if r >= 0x10000 {
		return 0xd800 + (r-0x10000)>>10
	}
	return r
}

// StaticFileText is what QuorumPeerConfig.editStaticConfig writes over
// zoo.cfg when a configuration is activated: the current static file's
// properties in the order Java 17 iterates them (Properties.JavaOrder),
// "key=value" with both trimmed, leaving out the keys that start with
// server., group, weight, dynamicConfigFile and peerType (and, when
// eraseClient, those that start with clientPort, clientPortListenBacklog
// included, as in Java), then "dynamicConfigFile=<dynamicPath>". Escapes
// are not re-applied, as Java does not. dynamicPath must be the canonical
// absolute path of the new dynamic file.
//
// eraseClient is QuorumPeer.needEraseClientInfoFromStaticConfig: this
// server's entry in the new configuration has a client address of its
// own.
func StaticFileText(static string, dynamicPath string, eraseClient bool) string {
	p := ParseProperties(static)
	var b strings.Builder
	for _, k := range p.JavaOrder() {
		key := strings.TrimSpace(k)
		if strings.HasPrefix(key, "server.") || strings.HasPrefix(key, "group") || strings.HasPrefix(key, "weight") ||
			strings.HasPrefix(key, "dynamicConfigFile") || strings.HasPrefix(key, "peerType") ||
			(eraseClient && strings.HasPrefix(key, "clientPort")) {
			continue
		}
		v, _ := p.Get(k)
		b.WriteString(key + "=" + strings.TrimSpace(v) + "\n")
	}
	b.WriteString("dynamicConfigFile=" + dynamicPath + "\n")
	return b.String()
}
