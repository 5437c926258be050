package freeport

import "testing"

func TestPickBelow(t *testing.T) {
	ports, err := PickBelow(9, 32768)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p < 20000 || p >= 32768 || seen[p] {
			t.Fatalf("ports %v: want 9 distinct ports in [20000, 32768)", ports)
		}
		seen[p] = true
	}
}
