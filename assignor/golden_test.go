package assignor

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

type goldenCase struct {
	name     string
	assignor Assignor
	spec     GroupSpec
	// followUp runs a second, cooperative round in which members report what they got.
	followUp bool
}

func all(topics ...string) []string { return topics }

func owned(s string) []TopicPartition {
	var out []TopicPartition
	for _, f := range strings.Fields(s) {
		var t string
		var p int32
		i := strings.LastIndexByte(f, '-')
		t = f[:i]
		fmt.Sscan(f[i+1:], &p)
		out = append(out, TopicPartition{t, p})
	}
	return out
}

// Kafka documentation examples: two consumers, two topics of three partitions; the sticky
// example of KIP-54 (three consumers, four topics of two partitions); the unequal
// subscription example (t0:1, t1:2, t2:3 with nested subscriptions).
var (
	docTwoByThree = GroupSpec{
		Members:    []Member{{ID: "C0", Topics: all("t0", "t1")}, {ID: "C1", Topics: all("t0", "t1")}},
		Partitions: map[string]int32{"t0": 3, "t1": 3},
	}
	docUnequal = GroupSpec{
		Members: []Member{
			{ID: "C0", Topics: all("t0")},
			{ID: "C1", Topics: all("t0", "t1")},
			{ID: "C2", Topics: all("t0", "t1", "t2")},
		},
		Partitions: map[string]int32{"t0": 1, "t1": 2, "t2": 3},
	}
	docFourByTwo = GroupSpec{
		Members: []Member{
			{ID: "C0", Topics: all("t0", "t1", "t2", "t3")},
			{ID: "C1", Topics: all("t0", "t1", "t2", "t3")},
			{ID: "C2", Topics: all("t0", "t1", "t2", "t3")},
		},
		Partitions: map[string]int32{"t0": 2, "t1": 2, "t2": 2, "t3": 2},
	}
	// docFourByTwo after C1 left, members reporting the documented sticky assignment.
	docFourByTwoC1Left = GroupSpec{
		Members: []Member{
			{ID: "C0", Topics: all("t0", "t1", "t2", "t3"), Owned: owned("t0-0 t1-1 t3-0"), Generation: 1},
			{ID: "C2", Topics: all("t0", "t1", "t2", "t3"), Owned: owned("t1-0 t2-1"), Generation: 1},
		},
		Partitions: map[string]int32{"t0": 2, "t1": 2, "t2": 2, "t3": 2},
	}
	// A third member joins two members that own everything.
	join = GroupSpec{
		Members: []Member{
			{ID: "a", Topics: all("t0", "t1"), Owned: owned("t0-0 t0-1 t0-2 t1-0"), Generation: 4},
			{ID: "b", Topics: all("t0", "t1"), Owned: owned("t0-3 t1-1 t1-2 t1-3"), Generation: 4},
			{ID: "c", Topics: all("t0", "t1")},
		},
		Partitions: map[string]int32{"t0": 4, "t1": 4},
	}
	// Conflicting claims after a missed rebalance: the newer generation wins.
	conflict = GroupSpec{
		Members: []Member{
			{ID: "a", Topics: all("t0"), Owned: owned("t0-0 t0-1 t0-2"), Generation: 2},
			{ID: "b", Topics: all("t0"), Owned: owned("t0-1 t0-2 t0-3"), Generation: 3},
		},
		Partitions: map[string]int32{"t0": 4},
	}
	// Static members sort by instance id before dynamic ones, whatever their member ids.
	static = GroupSpec{
		Members: []Member{
			{ID: "a-dynamic", Topics: all("t0")},
			{ID: "b-static", InstanceID: "z-host", Topics: all("t0")},
			{ID: "c-static", InstanceID: "y-host", Topics: all("t0")},
		},
		Partitions: map[string]int32{"t0": 5},
	}
	// A subscription change: b drops t1, which it owned; c is only on t1.
	resubscribe = GroupSpec{
		Members: []Member{
			{ID: "a", Topics: all("t0", "t1"), Owned: owned("t0-0 t0-1 t1-0"), Generation: 1},
			{ID: "b", Topics: all("t0"), Owned: owned("t0-2 t1-1 t1-2"), Generation: 1},
			{ID: "c", Topics: all("t1", "gone")},
		},
		Partitions: map[string]int32{"t0": 3, "t1": 3},
	}
)

var goldenCases = []goldenCase{
	{"range_doc", Range(), docTwoByThree, false},
	{"range_unequal", Range(), docUnequal, false},
	{"range_static", Range(), static, false},
	{"roundrobin_doc", RoundRobin(), docTwoByThree, false},
	{"roundrobin_unequal", RoundRobin(), docUnequal, false},
	{"roundrobin_static", RoundRobin(), static, false},
	{"sticky_doc_fresh", Sticky(), docFourByTwo, false},
	{"sticky_doc_member_left", Sticky(), docFourByTwoC1Left, false},
	{"sticky_unequal", Sticky(), docUnequal, false},
	{"sticky_join", Sticky(), join, false},
	{"sticky_conflict", Sticky(), conflict, false},
	{"sticky_resubscribe", Sticky(), resubscribe, false},
	{"cooperative_join", CooperativeSticky(), join, true},
	{"cooperative_conflict", CooperativeSticky(), conflict, true},
	{"cooperative_resubscribe", CooperativeSticky(), resubscribe, true},
	{"uniform_doc_fresh", Uniform(), docFourByTwo, false},
	{"uniform_join", Uniform(), join, false},
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			var sb strings.Builder
			fmt.Fprintf(&sb, "# assignor %s\n", c.assignor.Name())
			writeSpec(&sb, c.spec)
			a, err := c.assignor.Assign(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			writeAssignment(&sb, c.spec, a)
			if c.followUp {
				next := withOwned(c.spec, a, c.spec.Members[0].Generation+1)
				if a, err = c.assignor.Assign(next); err != nil {
					t.Fatal(err)
				}
				sb.WriteString("# follow-up rebalance (members own what they were given)\n")
				writeAssignment(&sb, next, a)
			}
			path := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got := sb.String(); got != string(want) {
				t.Errorf("%s differs (go test -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
			}
		})
	}
}

func writeSpec(sb *strings.Builder, spec GroupSpec) {
	for _, t := range sortedKeys(spec.Partitions) {
		fmt.Fprintf(sb, "topic %s partitions=%d\n", t, spec.Partitions[t])
	}
	for _, m := range spec.Members {
		fmt.Fprintf(sb, "member %s", m.ID)
		if m.InstanceID != "" {
			fmt.Fprintf(sb, " instance=%s", m.InstanceID)
		}
		fmt.Fprintf(sb, " topics=%s", strings.Join(m.Topics, ","))
		if len(m.Owned) > 0 {
			fmt.Fprintf(sb, " gen=%d owned=%s", m.Generation, tpList(m.Owned))
		}
		sb.WriteByte('\n')
	}
}

func writeAssignment(sb *strings.Builder, spec GroupSpec, a Assignment) {
	sb.WriteString("=>\n")
	for _, id := range sortedKeys(a) {
		fmt.Fprintf(sb, "%s: %s\n", id, tpList(a[id]))
	}
	if err := Validate(spec, a); err != nil {
		fmt.Fprintf(sb, "validate: %v\n", err)
	}
}

func tpList(tps []TopicPartition) string {
	s := make([]string, len(tps))
	for i, tp := range tps {
		s[i] = fmt.Sprintf("%s-%d", tp.Topic, tp.Partition)
	}
	return "[" + strings.Join(s, " ") + "]"
}
