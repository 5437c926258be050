package server

import (
	"slices"
	"strings"
	"testing"

	"github.com/headshotpro/retryd/internal/problem"
)

// codesNoPageMeets are the problem codes that no admin page can be answered with, and
// why. Every other code of internal/problem must be said in words on the pages.
var codesNoPageMeets = map[problem.Code]string{
	problem.InsufficientCredits: "only a member's submit charges credits; no page calls the member or pipeline API",
	problem.InvalidShootStatus:  "only a member's start and submit and the pipeline's transitions check a shoot's status",
	problem.InvalidToken:        "member link tokens are checked by the member API only; the pages sign in with a session",
	problem.TokenExpired:        "member link tokens are checked by the member API only; the pages sign in with a session",
	problem.Unauthorized:        "a page without a session sends the browser to the sign-in page; the API's key check never runs for a page",
	problem.ForbiddenForRole:    "only admin keys sign in to the pages (the sign-in refuses automation keys in words)",
	problem.UnsupportedMedia:    "the pages write the API handlers' JSON bodies themselves",
	problem.DuplicateField:      "the pages write the API handlers' JSON bodies themselves, from single form fields",
	problem.PayloadTooLarge:     "the body limit answers an oversized request before any page handler runs",
	problem.MethodNotAllowed:    "the router answers an unknown method before any page handler runs",
	problem.RouteNotFound:       "the router answers an unknown path before any page handler runs",
	problem.Internal:            "its words are the generic sentence: something went wrong on our side",
}

// TestRefusalWordsForEveryCode: every problem code the API documents that a page can meet
// is said in words of its own, never in the generic "Something went wrong on our side".
func TestRefusalWordsForEveryCode(t *testing.T) {
	generic := refusalWords(problemBody{Code: "no_such_code"})
	if !strings.HasPrefix(generic, "Something went wrong on our side") {
		t.Fatalf("the generic words changed: %q", generic)
	}
	for code, why := range codesNoPageMeets {
		if !code.Known() {
			t.Errorf("excluded code %q (%s) is no code of internal/problem", code, why)
		}
	}
	codes := problem.Codes()
	slices.Sort(codes)
	for _, code := range codes {
		if _, excluded := codesNoPageMeets[code]; excluded {
			continue
		}
		for _, detail := range []string{"", "a detail from the API"} {
			words := refusalWords(problemBody{Code: string(code), Status: code.Status(), Detail: detail, RequestID: "req-1"})
			if words == refusalWords(problemBody{Code: "no_such_code", Detail: detail, RequestID: "req-1"}) {
				t.Errorf("%s (detail %q) is said as the generic %q", code, detail, words)
			}
			// A code of one word ("canceled", "timeout") may well be a word of the sentence.
			if strings.Contains(string(code), "_") && strings.Contains(words, string(code)) {
				t.Errorf("%s is said by its code: %q", code, words)
			}
		}
	}
}
