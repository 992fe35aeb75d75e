package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

const tomlHeader = `# streamd broker configuration.
#
# Every setting is listed with its default value. Keys are Apache Kafka's setting names;
# they contain dots, so they are quoted. Delete a line to keep the default. Settings
# Kafka does not have are in the [metadata], [admin] and [plugins] tables at the end.
# Reference: docs/config.md.
`

// DefaultTOML returns the text of a config.toml that lists every setting with its
// default value and a one-line comment (the config.toml at the repository root).
func DefaultTOML() string {
	var b strings.Builder
	b.WriteString(tomlHeader)
	dv := reflect.ValueOf(Default())
	table := ""
	for _, s := range settings {
		key := s.key
		if i := strings.IndexByte(key, '.'); i > 0 && sections[key[:i]] {
			if key[:i] != table {
				table = key[:i]
				fmt.Fprintf(&b, "\n# ---- %s ----\n[%s]\n", s.group, table)
			}
			key = key[i+1:]
		} else if s.group != "" {
			fmt.Fprintf(&b, "\n# ---- %s ----\n", s.group)
		}
		fmt.Fprintf(&b, "\n# %s\n%s = %s\n", s.doc, tomlKey(key), tomlValue(s.field(dv)))
	}
	return b.String()
}

func tomlKey(k string) string {
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return tomlString(k)
		}
	}
	return k
}

// tomlValue renders v as a TOML literal.
func tomlValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return tomlString(v.String())
	case reflect.Float64:
		f := v.Float()
		switch {
		case math.IsInf(f, 1):
			return "inf"
		case math.IsInf(f, -1):
			return "-inf"
		case math.IsNaN(f):
			return "nan"
		}
		s := strconv.FormatFloat(f, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	default:
		return formatValue(v)
	}
}

func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
