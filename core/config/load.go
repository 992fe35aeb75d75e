package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultFile is the file [LoadDefaultOrFile] looks for when given no path.
const DefaultFile = "config.toml"

// KeyError is one problem with one setting. Source is the file name, or "config" for
// [Config.Validate]; Key is empty for problems that concern the whole file.
type KeyError struct {
	Source  string
	Key     string
	Problem string
}

func (e *KeyError) Error() string {
	if e.Key == "" {
		return e.Source + ": " + e.Problem
	}
	return fmt.Sprintf("%s: %q: %s", e.Source, e.Key, e.Problem)
}

// Load reads the TOML file at path over [Default] and validates the result. path ""
// returns Default(). Every problem is reported, joined with errors.Join: TOML syntax
// errors (file:line:col), unknown keys, values of the wrong type and values out of
// range, each as a [*KeyError] naming the key.
func Load(path string) (Config, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return parse(path, string(data))
}

// LoadDefaultOrFile loads path, or when path is "" the file config.toml in the working
// directory if it exists, else the defaults. It returns the file it loaded ("" for
// defaults).
func LoadDefaultOrFile(path string) (Config, string, error) {
	if path == "" {
		if _, err := os.Stat(DefaultFile); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return Default(), "", nil
			}
			return Config{}, "", fmt.Errorf("config: %w", err)
		}
		path = DefaultFile
	}
	c, err := Load(path)
	return c, path, err
}

// parse decodes a TOML document named source over the defaults.
func parse(source, text string) (Config, error) {
	var raw map[string]any
	if _, err := toml.Decode(text, &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, &KeyError{Source: fmt.Sprintf("%s:%d:%d", source, pe.Position.Line, pe.Position.Col), Problem: pe.Message}
		}
		return Config{}, &KeyError{Source: source, Problem: err.Error()}
	}
	flat := map[string]any{}
	var errs []error
	var dups []string
	flatten(raw, "", flat, &dups)
	for _, k := range dups {
		errs = append(errs, &KeyError{Source: source, Key: k, Problem: "set more than once"})
	}

	c := Default()
	var set []string
	cv := reflect.ValueOf(&c).Elem()
	bad := map[string]string{}
	var unknown []string
	for k, v := range flat {
		s := settingByKey[k]
		if s == nil {
			unknown = append(unknown, k)
			continue
		}
		if problem := assign(s.field(cv), v); problem != "" {
			bad[k] = problem
			continue
		}
		set = append(set, k)
	}
	sort.Strings(set)
	for _, k := range set {
		c.fileKeys += k + "\n"
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		errs = append(errs, &KeyError{Source: source, Key: k, Problem: unknownProblem(k, flat[k])})
	}
	for _, s := range settings {
		if p, ok := bad[s.key]; ok {
			errs = append(errs, &KeyError{Source: source, Key: s.key, Problem: p})
		}
	}
	// Range checks only for keys whose value has the right type (the rest keep their
	// default and already have an error).
	errs = append(errs, c.validate(source)...)
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// flatten turns nested TOML tables into dotted keys. A table found where a known
// setting is expected is kept as a value (and then fails the type check).
func flatten(m map[string]any, prefix string, out map[string]any, dups *[]string) {
	for k, v := range m {
		path := prefix + k
		if sub, ok := v.(map[string]any); ok && settingByKey[path] == nil {
			flatten(sub, path+".", out, dups)
			continue
		}
		if _, seen := out[path]; seen {
			*dups = append(*dups, path)
		}
		out[path] = v
	}
	slices.Sort(*dups)
}

func unknownProblem(key string, v any) string {
	if sections[key] {
		return "must be a table, got " + describe(v)
	}
	msg := "unknown key"
	if s := closestKey(key); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// assign stores the decoded TOML value v in the field f, or says why it cannot.
func assign(f reflect.Value, v any) string {
	switch f.Kind() {
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return "must be true or false, got " + describe(v)
		}
		f.SetBool(b)
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return "must be a string, got " + describe(v)
		}
		f.SetString(s)
	case reflect.Int32, reflect.Int64:
		n, ok := v.(int64)
		if !ok {
			return "must be an integer, got " + describe(v)
		}
		if f.OverflowInt(n) {
			return fmt.Sprintf("must be between %d and %d, got %d", math.MinInt32, math.MaxInt32, n)
		}
		f.SetInt(n)
	case reflect.Float64:
		switch x := v.(type) {
		case float64:
			f.SetFloat(x)
		case int64:
			f.SetFloat(float64(x))
		default:
			return "must be a number, got " + describe(v)
		}
	default:
		panic("config: unsupported field kind " + f.Kind().String())
	}
	return ""
}

// describe names a decoded TOML value for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %g", x)
	case bool:
		return fmt.Sprintf("boolean %t", x)
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "an array"
	case time.Time:
		return "a date-time"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// Validate checks every setting's range and the settings that depend on each other. It
// reports all problems (errors.Join of [*KeyError] with Source "config").
func (c Config) Validate() error {
	return errors.Join(c.validate("config")...)
}

func (c Config) validate(source string) []error {
	var errs []error
	cv := reflect.ValueOf(c)
	failed := map[string]bool{}
	for _, s := range settings {
		if s.check == nil {
			continue
		}
		if p := s.check(s.field(cv)); p != "" {
			failed[s.key] = true
			errs = append(errs, &KeyError{Source: source, Key: s.key, Problem: p})
		}
	}
	for _, cc := range crossChecks {
		if k, p := cc(c); k != "" && !failed[k] {
			errs = append(errs, &KeyError{Source: source, Key: k, Problem: p})
		}
	}
	return errs
}

// IsSet reports whether the setting key has a value other than its built-in default
// (from the loaded file or changed in code). The value 0 of a key where 0
// means "not set" (log.retention.ms, log.retention.minutes, log.roll.ms,
// log.roll.jitter.ms) is never set. Unknown keys are not set.
func (c Config) IsSet(key string) bool {
	s := settingByKey[key]
	if s == nil {
		return false
	}
	v := s.field(reflect.ValueOf(c))
	if s.unsetZero && v.IsZero() {
		return false
	}
	// A key counts as set when its value differs from the built-in default. (The
	// shipped config.toml lists every key with its default value, as documentation; a
	// key merely repeated there with its default is reported as DEFAULT_CONFIG.)
	return !v.Equal(s.field(reflect.ValueOf(Default())))
}

// inFile reports whether the loaded file set key.
func (c Config) inFile(key string) bool {
	return strings.HasPrefix(c.fileKeys, key+"\n") || strings.Contains(c.fileKeys, "\n"+key+"\n")
}

// Keys lists every setting key in config.toml order; table keys are dotted
// ("metadata.nats_url").
func Keys() []string {
	out := make([]string, len(settings))
	for i, s := range settings {
		out[i] = s.key
	}
	return out
}

// closestKey returns the known key nearest to k by edit distance, if close enough to be
// a likely typo.
func closestKey(k string) string {
	best, bestD := "", 4
	for _, s := range settings {
		if d := editDistance(k, s.key); d < bestD {
			best, bestD = s.key, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
