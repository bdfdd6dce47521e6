package tree

import "strings"

// validX500 approximates X509AuthenticationProvider.isValid (new
// X500Principal(id) succeeds): one or more type=value attributes separated
// by unescaped ',', ';' or '+', each type a keyword or a dotted OID.
func validX500(id string) bool {
	if strings.TrimSpace(id) == "" {
		return false
	}
	var parts []string
	start, esc, quoted := 0, false, false
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == ';' || c == '+'):
			parts = append(parts, id[start:i])
			start = i + 1
		}
	}
	if esc || quoted {
		return false
	}
	parts = append(parts, id[start:])
	for _, p := range parts {
		typ, _, ok := strings.Cut(p, "=")
		typ = strings.TrimSpace(typ)
		if !ok || typ == "" {
			return false
		}
		for _, r := range typ {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
				return false
			}
		}
	}
	return true
}

// KerberosName splits a principal as Hadoop's KerberosName (which
// SASLAuthenticationProvider.isValid and the SASL callback use):
// service[/host]@realm, or a plain name without '@'. ok is false for a
// name with '@' that does not have that shape.
func KerberosName(name string) (service, host, realm string, ok bool) {
	at := strings.IndexByte(name, '@')
	if at < 0 {
		return name, "", "", true
	}
	svc, rlm := name[:at], name[at+1:]
	if strings.ContainsAny(rlm, "/@") {
		return "", "", "", false
	}
	service, host, hasHost := strings.Cut(svc, "/")
	if hasHost && strings.ContainsRune(host, '/') {
		return "", "", "", false
	}
	return service, host, rlm, true
}
