package assignor_test

import (
	"fmt"

	"github.com/streamd/streamd/assignor"
)

func Example() {
	spec := assignor.GroupSpec{
		Members: []assignor.Member{
			{ID: "C0", Topics: []string{"t0", "t1"}},
			{ID: "C1", Topics: []string{"t0", "t1"}},
		},
		Partitions: map[string]int32{"t0": 3, "t1": 3},
	}
	as, _ := assignor.ByName("range")
	a, err := as.Assign(spec)
	if err != nil {
		panic(err)
	}
	fmt.Println(a["C0"], a["C1"], assignor.Validate(spec, a))
	// Output: [{t0 0} {t0 1} {t1 0} {t1 1}] [{t0 2} {t1 2}] <nil>
}
