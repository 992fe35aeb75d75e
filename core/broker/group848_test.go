package broker_test

import (
	"testing"

	"github.com/streamd/streamd/core/broker/brokertest"
)

func TestGroup848Smoke(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(group848Config))
	adm := newAdmin(t, addr)
	createTopic(t, adm, "s848", 6, nil)
	own := newOwnership()
	a := start848(t, addr, "g848", "a", []string{"s848"}, own)
	b := start848(t, addr, "g848", "b", []string{"s848"}, own)
	g := layout848(t, adm, "g848", "s848", 2, 6, nil)
	t.Logf("%+v", partitionsOf(g, "s848"))
	vals := produceValues(t, addr, "s848", "v", 60, 6)
	waitProcessed(t, vals, a, b)
	own.check(t)
	exactlyOnce(t, vals, a, b)
}
