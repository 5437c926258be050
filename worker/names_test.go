package worker

import (
	"reflect"
	"slices"
	"testing"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/workflows"
)

// TestActivityNamesAreTheRegisteredOnes: Register puts every exported method of
// *activities.Activities on the task queue under its name; those names are wire names
// (histories hold them), so they must be exactly workflows.ActivityNames. A renamed
// method fails here instead of breaking running histories unnoticed.
func TestActivityNamesAreTheRegisteredOnes(t *testing.T) {
	typ := reflect.TypeOf(&activities.Activities{})
	var methods []string
	for i := range typ.NumMethod() {
		methods = append(methods, typ.Method(i).Name)
	}
	want := slices.Clone(workflows.ActivityNames)
	slices.Sort(methods)
	slices.Sort(want)
	if !slices.Equal(methods, want) {
		t.Fatalf("registered activities %v, workflows.ActivityNames %v", methods, want)
	}
}
