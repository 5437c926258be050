package server

// The API's answers under names the tests of package server_test decode them with: a test
// reads an answer as the very types the handlers wrote it from, so a renamed or retyped
// member fails to decode with its name instead of a type assertion panicking later.
type (
	MemberDTO     = memberDTO
	ShootDTO      = shootDTO
	RetryDTO      = retryDTO
	RestartDTO    = restartDTO
	MemberWorkDTO = memberWorkDTO
	AllowanceDTO  = allowanceDTO
	CardDTO       = cardDTO
	SectionDTO    = sectionDTO
	PreviewDTO    = previewDTO
	RestartAnswer = restartAnswer
	BulkResult    = bulkResult
	ProblemBody   = problemBody
)

// AuthFailureBurst is how many failed keys one address or key prefix may send before
// the API answers 429.
const AuthFailureBurst = authFailureBurst

// SetBeforeRestartCheck has every restart that finds none of its own call f before it
// checks the rules: the window in which a concurrent request with the same
// Idempotency-Key may create that restart.
func SetBeforeRestartCheck(s *Server, f func(memberID string)) { s.beforeRestartCheck = f }

// The webhook endpoints API's answers.
type (
	WebhookEndpointDTO  = webhookEndpointDTO
	WebhookSecretDTO    = webhookSecretDTO
	WebhookDeliveryDTO  = webhookDeliveryDTO
	WebhookDeliveryPage = webhookDeliveryPage
	WebhookEndpointList = webhookEndpointList
)

// MaxWebhookEndpoints is how many webhook endpoints one organization may have.
const MaxWebhookEndpoints = maxWebhookEndpoints
