package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/streamd/streamd/plugins/sdk"
)

func TestWeight(t *testing.T) {
	hex := strings.Repeat("a", 32)
	for id, want := range map[string]int{
		"ingest-w3-" + hex: 3, "ingest-" + hex: 1, "kgo-" + hex: 1, "big-w100-" + hex: 100,
		"big-w101-" + hex: 1, "x-w0-" + hex: 1, "x-wq-" + hex: 1, "plain": 1, "static-w2": 2,
	} {
		if got := Weight(id); got != want {
			t.Errorf("Weight(%q) = %d, want %d", id, got, want)
		}
	}
}

func TestAssignByWeight(t *testing.T) {
	hex := strings.Repeat("0", 32)
	spec := sdk.GroupSpec{
		Group: "g",
		Members: []sdk.Member{
			{ID: "small-" + hex, Topics: []string{"a", "b"}},
			{ID: "big-w3-" + hex, Topics: []string{"a"}},
		},
		Topics: map[string]int32{"a": 8, "b": 3},
	}
	a, err := Assign(spec)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(a.Members["big-w3-"+hex]["a"], a.Members["small-"+hex]["a"], a.Members["small-"+hex]["b"])
	if want := "[0 1 2 3 4 5] [6 7] [0 1 2]"; got != want {
		t.Fatalf("assignment %s, want %s", got, want)
	}
}
