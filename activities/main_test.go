package activities_test

import (
	"testing"

	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// TestMain stops the shared Temporal dev server the worker tests start.
func TestMain(m *testing.M) { testenv.Main(m) }
