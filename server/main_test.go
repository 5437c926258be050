package server_test

import (
	"testing"

	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
