package partitioner_test

import (
	"fmt"

	"github.com/streamd/streamd/partitioner"
)

func Example() {
	p, _ := partitioner.ByName("murmur2")
	recs := []partitioner.Record{{Key: []byte("foobar")}, {Key: []byte("21")}}
	out := make([]int32, len(recs))
	if err := p.Partition("orders", 64, recs, out); err != nil {
		panic(err)
	}
	fmt.Println(out, partitioner.Murmur2Hash([]byte("foobar")))
	// Output: [62 44] -790332482
}
