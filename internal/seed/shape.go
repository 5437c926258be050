package seed

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

var (
	fileType = reflect.TypeFor[File]()
	timeType = reflect.TypeFor[time.Time]()
)

// checkShape walks a generically decoded seed file against the Go types and reports the
// first mismatch with its path. encoding/json alone says `unknown field "x"` or
// `parsing time "y"` without saying where, which is useless in a 10,000-member file.
// Field names must match exactly: encoding/json would also accept "Name" for "name".
func checkShape(v any, t reflect.Type, path string) error {
	at := func(format string, args ...any) error {
		p := path
		if p == "" {
			p = "seed file"
		}
		return &ValidationError{Path: p, Message: fmt.Sprintf(format, args...)}
	}
	if t.Kind() == reflect.Pointer {
		if v == nil {
			return nil
		}
		t = t.Elem()
	}
	if t == timeType {
		s, ok := v.(string)
		if !ok {
			return at("must be an RFC 3339 timestamp string like 2026-11-01T10:00:00Z")
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return at("must be an RFC 3339 timestamp like 2026-11-01T10:00:00Z, got %q", s)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return at("must be an object")
		}
		fields := map[string]reflect.StructField{}
		for i := range t.NumField() {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if sf.IsExported() && name != "" && name != "-" {
				fields[name] = sf
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the same file always reports the same first problem
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			sf, ok := fields[k]
			if !ok {
				return &ValidationError{Path: p, Message: "unknown field" + suggest(k, fields)}
			}
			if err := checkShape(obj[k], sf.Type, p); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if v == nil {
			return nil
		}
		arr, ok := v.([]any)
		if !ok {
			return at("must be an array")
		}
		for i, e := range arr {
			if err := checkShape(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.String:
		if _, ok := v.(string); !ok {
			return at("must be a string")
		}
		return nil
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return at("must be true or false")
		}
		return nil
	case reflect.Int:
		n, ok := v.(json.Number)
		if !ok {
			return at("must be a whole number")
		}
		if _, err := n.Int64(); err != nil {
			return at("must be a whole number, got %s", n)
		}
		return nil
	}
	return at("unsupported type %s", t)
}

func suggest(k string, fields map[string]reflect.StructField) string {
	var names []string
	for name := range fields {
		if strings.EqualFold(name, k) {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return " (known: " + strings.Join(names, ", ") + ")"
}
