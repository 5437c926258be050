// Package webhook delivers retryd's outgoing webhooks to URLs that organizations
// configure: it signs each message the Standard Webhooks way
// (https://www.standardwebhooks.com/) so a receiver can tell it came from us and was not
// replayed, guards the URLs against server-side request forgery (an admin must not be able
// to make retryd call its own network, loopback or a cloud metadata endpoint), and makes
// one delivery attempt, classifying its result for the caller's retry schedule.
//
// The package holds no state and schedules nothing: which message goes where, when it is
// tried again and what is recorded of it belong to the callers.
package webhook
