package server

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/headshotpro/retryd/internal/domain"
)

// A dashboard card's fields are declared once, by cardDTO and the types it holds. The
// hand-written encoder is held to json.Marshal of them (dashboard_json_test.go); this
// test holds the OpenAPI document's Card schema to them: the same properties at every
// level, required exactly when the field is always written, nullable exactly when it
// can be written as null, and of the JSON type the field's Go type encodes to. Answer
// validation (internal/tooling/apptest) alone would let a new field go undocumented, as
// the schemas allow additional properties.
func TestCardSchemaIsCardDTO(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDocument)
	if err != nil {
		t.Fatal(err)
	}
	card := doc.Components.Schemas["Card"]
	if card == nil {
		t.Fatal("openapi.json has no Card schema")
	}
	sameShape(t, "Card", reflect.TypeFor[cardDTO](), card.Value)
}

var timeType = reflect.TypeFor[time.Time]()

// sameShape compares the JSON that values of typ encode to with schema, reporting
// differences under path.
func sameShape(t *testing.T, path string, typ reflect.Type, schema *openapi3.Schema) {
	t.Helper()
	want := ""
	switch {
	case typ == timeType:
		want = "string"
		if schema.Format != "date-time" {
			t.Errorf("%s: format %q, want date-time", path, schema.Format)
		}
	case typ.Kind() == reflect.String:
		want = "string"
	case typ.Kind() == reflect.Bool:
		want = "boolean"
	case typ.Kind() == reflect.Int:
		want = "integer"
	case typ.Kind() == reflect.Slice:
		want = "array"
	case typ.Kind() == reflect.Struct:
		want = "object"
	default:
		t.Fatalf("%s: Go type %s is not one this test knows how JSON encodes", path, typ)
	}
	// OpenAPI 3.1 says a value may be null with "null" among its types.
	if types := slices.DeleteFunc(slices.Clone(schema.Type.Slice()), func(s string) bool { return s == "null" }); len(types) != 1 || types[0] != want {
		t.Errorf("%s: schema type %v, Go type %s encodes as %s", path, schema.Type.Slice(), typ, want)
		return
	}
	switch want {
	case "array":
		if schema.Items == nil {
			t.Errorf("%s: array without items", path)
			return
		}
		sameShape(t, path+"[]", typ.Elem(), schema.Items.Value)
	case "object":
		sameFields(t, path, typ, schema)
	}
}

// sameFields compares a struct's JSON fields with an object schema's properties.
func sameFields(t *testing.T, path string, typ reflect.Type, schema *openapi3.Schema) {
	t.Helper()
	var fields, required []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields = append(fields, name)
		omitempty := slices.Contains(strings.Split(opts, ","), "omitempty")
		if !omitempty {
			required = append(required, name)
		}
		prop := schema.Properties[name]
		if prop == nil {
			t.Errorf("%s.%s: a field of %s, missing from the schema", path, name, typ)
			continue
		}
		// A nil pointer is written as null unless omitted. (A nil slice would be too, but the
		// handlers always make one.)
		ft := f.Type
		nullable := ft.Kind() == reflect.Pointer && !omitempty
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if got := prop.Value.Nullable || prop.Value.Type.Includes("null"); got != nullable {
			t.Errorf("%s.%s: nullable %v, want %v (Go type %s, omitempty %v)", path, name, got, nullable, f.Type, omitempty)
		}
		sameShape(t, path+"."+name, ft, prop.Value)
	}
	var props []string
	for name := range schema.Properties {
		props = append(props, name)
	}
	sort.Strings(fields)
	sort.Strings(props)
	if !slices.Equal(fields, props) {
		t.Errorf("%s: schema properties %v, fields of %s %v", path, props, typ, fields)
	}
	sort.Strings(required)
	req := slices.Sorted(slices.Values(schema.Required))
	if !slices.Equal(required, req) {
		t.Errorf("%s: schema requires %v; %s always writes %v", path, req, typ, required)
	}
}

// TestSchemaEnumsAreDomainWords holds the OpenAPI document's lists of words to package
// domain, which the store, the workflows and the handlers use.
func TestSchemaEnumsAreDomainWords(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDocument)
	if err != nil {
		t.Fatal(err)
	}
	statuses := []string{domain.StatusPending, domain.StatusStarted, domain.StatusFailed}
	emailStatuses := []string{domain.EmailQueued, domain.EmailSent, domain.EmailFailed, domain.EmailNotApplicable}
	for _, tc := range []struct {
		schema, property string
		want             []string
	}{
		{"Section", "", sectionOrder},
		{"ShootStatus", "", domain.ShootStatuses()},
		{"MemberKind", "", []string{domain.KindIndividual, domain.KindManaged}},
		{"Retry", "status", statuses},
		{"Restart", "status", statuses},
		{"MemberRetry", "status", statuses},
		{"MemberRestart", "status", statuses},
		{"RetryEmail", "status", emailStatuses},
		{"RestartEmail", "status", emailStatuses},
	} {
		ref := doc.Components.Schemas[tc.schema]
		if ref == nil {
			t.Errorf("openapi.json has no %s schema", tc.schema)
			continue
		}
		name, s := tc.schema, ref.Value
		if tc.property != "" {
			name += "." + tc.property
			if s.Properties[tc.property] == nil {
				t.Errorf("%s: no such property", name)
				continue
			}
			s = s.Properties[tc.property].Value
		}
		var got []string
		for _, v := range s.Enum {
			w, _ := v.(string)
			got = append(got, w)
		}
		if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(tc.want))) {
			t.Errorf("%s: enum %v, domain's words %v", name, got, tc.want)
		}
	}
}
