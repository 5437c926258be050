package server

import (
	"testing"

	"github.com/headshotpro/retryd/internal/problem"
)

// duplicateFieldBodies name one member twice in one object, exactly, in another case or
// escaped, at the top or nested: encoding/json would run the last of them while the
// Idempotency-Key hash tells them apart.
var duplicateFieldBodies = []string{
	`{"shoot_id":"` + seedUUID + `","shoot_id":"0b7c5d4e-1f2a-4b3c-8d9e-abcdef000000"}`,
	`{"member_ids":["` + seedUUID + `"],"MEMBER_IDS":["0b7c5d4e-1f2a-4b3c-8d9e-abcdef000000"]}`,
	`{"Email":"a@acme.test","email":"b@acme.test"}`,
	`{"shoot_id":"` + seedUUID + `","shoot\u005fid":"x"}`,
	`{"note":"a","reason":"b","NoTe":"c"}`,
	`{"results":[{"url":"a.jpg","URL":"b.jpg"}],"result_count":1}`,
	`{"meta":{"deep":{"k":1,"K":2}}}`,
	// U+212A KELVIN SIGN folds to k, as encoding/json matches it.
	"{\"kind\":1,\"\u212aind\":2}",
}

func TestDecodeJSONRefusesDuplicateFields(t *testing.T) {
	targets := []any{new(giveRetryRequest), new(bulkRestartRequest), new(completeRequest), new(linkRequest), new(struct{})}
	for _, body := range duplicateFieldBodies {
		for _, dst := range targets {
			err := decodeJSON([]byte(body), dst, true)
			if pe, ok := problem.As(err); !ok || pe.Code != problem.DuplicateField || pe.Code.Status() != 422 {
				t.Errorf("decodeJSON(%s, %T) = %v, want 422 duplicate_field", body, dst, err)
			}
		}
	}
	// One name in several objects, and names that differ by more than case, are fine.
	for _, body := range []string{
		`{"results":[{"url":"a.jpg"},{"url":"b.jpg"}],"result_count":2}`,
		`{"a":{"x":1},"b":{"x":1,"y":{"x":2}}}`,
		`{"shoot_id":"` + seedUUID + `","shoot_ids":"x","note":"Note NOTE note"}`,
	} {
		if err := decodeJSON([]byte(body), new(completeRequest), true); err != nil {
			t.Errorf("decodeJSON(%s) = %v, want it accepted", body, err)
		}
	}
}
