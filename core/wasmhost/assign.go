package wasmhost

import (
	"context"
	"encoding/json"
	"fmt"
)

// Assign computes a group assignment with an assignor plugin. The result is checked:
// members must be in the group, topics in spec.Topics, partitions in range and assigned
// at most once.
func (p *Plugin) Assign(ctx context.Context, spec GroupSpec) (Assignment, error) {
	if p.kind != KindAssignor {
		return Assignment{}, &CallError{Plugin: p.name, Op: "assign", Err: ErrNotSupported, Detail: "plugin is a " + p.kind.String()}
	}
	in, err := json.Marshal(spec)
	if err != nil {
		return Assignment{}, fmt.Errorf("wasmhost: assign: encode: %w", err)
	}
	var out Assignment
	err = p.invoke(ctx, "assign",
		func(b []byte) []byte { return append(b, in...) },
		func(payload []byte) error {
			if err := json.Unmarshal(payload, &out); err != nil {
				return fmt.Errorf("assignment: %v", err)
			}
			return checkAssignment(spec, out)
		})
	return out, err
}

func checkAssignment(spec GroupSpec, a Assignment) error {
	members := make(map[string]bool, len(spec.Members))
	for _, m := range spec.Members {
		members[m.ID] = true
	}
	type tp struct {
		t string
		p int32
	}
	seen := map[tp]string{}
	for m, topics := range a.Members {
		if !members[m] {
			return fmt.Errorf("assignment: unknown member %q", m)
		}
		for t, parts := range topics {
			n, ok := spec.Topics[t]
			if !ok {
				return fmt.Errorf("assignment: member %q: unknown topic %q", m, t)
			}
			for _, p := range parts {
				if p < 0 || p >= n {
					return fmt.Errorf("assignment: member %q: %s partition %d out of range [0,%d)", m, t, p, n)
				}
				if prev, dup := seen[tp{t, p}]; dup {
					return fmt.Errorf("assignment: %s partition %d assigned to %q and %q", t, p, prev, m)
				}
				seen[tp{t, p}] = m
			}
		}
	}
	return nil
}
