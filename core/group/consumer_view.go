package group

// Subscriptions (topic names and regular expressions resolved against the topics) and the
// ConsumerGroupDescribe view of KIP-848 consumer groups.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// subscription returns the topics m subscribes to: its names and its regex's matches.
func (cg *consumerGroup) subscription(m *cmember) []string {
	if m.regex == "" {
		return m.topics
	}
	out := slices.Clone(m.topics)
	out = append(out, cg.resolved[m.regex]...)
	slices.Sort(out)
	return slices.Compact(out)
}

// subscribed returns the union of every member's subscription.
func (cg *consumerGroup) subscribed() map[string]bool {
	out := map[string]bool{}
	for _, m := range cg.members {
		for _, t := range cg.subscription(m) {
			out[t] = true
		}
	}
	return out
}

// refreshSubscriptions resolves the members' regular expressions against the current
// topics and reports whether the subscribed topics or their partition counts changed
// since the last check.
func (c *Coordinator) refreshSubscriptions(cg *consumerGroup) bool {
	cg.checked = c.topicsVersion.Load()
	var all []string
	resolved := map[string][]string{}
	for _, m := range cg.members {
		if m.regex == "" || resolved[m.regex] != nil {
			continue
		}
		if all == nil && c.cfg.Topics != nil {
			all = c.cfg.Topics()
		}
		matches := []string{}
		if re, err := compileSubscription(m.regex); err == nil {
			for _, t := range all {
				if re.MatchString(t) {
					matches = append(matches, t)
				}
			}
		}
		slices.Sort(matches)
		resolved[m.regex] = matches
	}
	cg.resolved = resolved
	var sb strings.Builder
	res := make([]string, 0, len(resolved))
	for re := range resolved {
		res = append(res, re)
	}
	slices.Sort(res)
	for _, re := range res {
		fmt.Fprintf(&sb, "/%s/=%s;", re, strings.Join(resolved[re], ","))
	}
	topics := make([]string, 0)
	for t := range cg.subscribed() {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	for _, t := range topics {
		fmt.Fprintf(&sb, "%s=%d;", t, c.partitionCount(t))
	}
	sig := sb.String()
	changed := sig != cg.sig
	cg.sig = sig
	return changed
}

func (c *Coordinator) partitionCount(topic string) int32 {
	if c.cfg.Partitions == nil {
		return 0
	}
	return c.cfg.Partitions(topic)
}

// ConsumerMemberDescription is one member of ConsumerGroupDescribe.
type ConsumerMemberDescription struct {
	MemberID, InstanceID, RackID, ClientID, ClientHost string
	Epoch                                              int32
	Topics                                             []string
	Regex                                              string
	Assigned, Target                                   Partitions
}

// ConsumerDescription is ConsumerGroupDescribe's view of a group.
type ConsumerDescription struct {
	Err             error // GROUP_ID_NOT_FOUND for unknown and classic groups
	State           string
	Epoch           int32
	AssignmentEpoch int32
	// Assignor is the strategy that computed the current target assignment ("" before
	// the first one).
	Assignor string
	// AssignError says why the last target assignment was refused (the members kept
	// their previous targets); "" when it was not.
	AssignError string
	Members     []ConsumerMemberDescription
}

// ConsumerDescribe describes a consumer group.
func (c *Coordinator) ConsumerDescribe(name string) ConsumerDescription {
	g := c.lock(name, false)
	if g == nil {
		return ConsumerDescription{Err: errorf(kerr.GroupIDNotFound, "Group %s not found.", name)}
	}
	defer g.mu.Unlock()
	cg := g.cg
	if cg == nil {
		return ConsumerDescription{Err: errorf(kerr.GroupIDNotFound, "Group %s is not a consumer group.", name)}
	}
	d := ConsumerDescription{State: cg.stateName(), Epoch: cg.epoch, AssignmentEpoch: cg.targetEpoch, Assignor: cg.assignedBy, AssignError: g.assignError}
	for _, id := range sortedMemberIDs(cg) {
		m := cg.members[id]
		d.Members = append(d.Members, ConsumerMemberDescription{MemberID: m.id, InstanceID: m.instanceID, RackID: m.rackID,
			ClientID: m.clientID, ClientHost: m.clientHost, Epoch: m.epoch, Topics: slices.Clone(m.topics), Regex: m.regex,
			Assigned: clonePartitions(m.assigned), Target: clonePartitions(m.target)})
	}
	return d
}
