package proxy

import (
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// rfc2253Keywords are the attribute types X500Principal.getName() (RFC
// 2253 form) writes by name; any other is written as its OID.
var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

// rdnSET is one relative distinguished name (the "SET" suffix makes
// encoding/asn1 read a SET OF).
type rdnSET []attributeTypeAndValue

type attributeTypeAndValue struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rfc2253 formats a DER-encoded Name. An undecodable name gives "".
func rfc2253(der []byte) string {
	var rdns []rdnSET
	if rest, err := asn1.Unmarshal(der, &rdns); err != nil || len(rest) > 0 {
		if rdns == nil {
			return ""
		}
	}
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i != len(rdns)-1 {
			b.WriteByte(',')
		}
		for j, atv := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			oid := atv.Type.String()
			kw, named := rfc2253Keywords[oid]
			s, isString := stringValue(atv.Value)
			if !named || !isString {
				if named {
					b.WriteString(kw)
				} else {
					b.WriteString(oid)
				}
				b.WriteString("=#")
				b.WriteString(hex.EncodeToString(atv.Value.FullBytes))
				continue
			}
			b.WriteString(kw)
			b.WriteByte('=')
			escapeRFC2253(&b, s)
		}
	}
	return b.String()
}

// stringValue decodes the directory string types.
func stringValue(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagT61String, asn1.TagNumericString:
		if !utf8.Valid(v.Bytes) {
			return "", false
		}
		return string(v.Bytes), true
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", false
		}
		r := make([]rune, 0, len(v.Bytes)/2)
		for i := 0; i < len(v.Bytes); i += 2 {
			r = append(r, rune(v.Bytes[i])<<8|rune(v.Bytes[i+1]))
		}
		return string(r), true
	}
	return "", false
}

// escapeRFC2253 escapes a value as RFC 2253 section 2.4 asks: the special
// characters, a leading '#' or space, a trailing space.
func escapeRFC2253(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case strings.IndexByte(",+\"\\<>;=", ch) >= 0,
			i == 0 && (ch == '#' || ch == ' '),
			i == len(s)-1 && ch == ' ':
			b.WriteByte('\\')
		}
		b.WriteByte(ch)
	}
}
