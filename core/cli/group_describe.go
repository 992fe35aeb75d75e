package cli

// "group describe GROUP" prints header lines, a member table and an offsets table:
//
// Classic groups: Group:, State:, Protocol: (type/name), Assignor: (the group's
// group.assignor, "-" when the leader member assigns), Assigned by: (what computed the
// current assignment, asked from the streamd admin listener: a strategy, "leader" for the
// leader member, "-" while the group has none; left out without the listener), Assign
// error: (why the broker refused the last assignment of its group.assignor, when it did;
// the members kept their previous assignment); members
// MEMBER, CLIENT-ID, HOST, INSTANCE-ID, ASSIGNMENT (topic:p,p;topic:p).
//
// KIP-848 consumer groups (asked first, with ConsumerGroupDescribe): Group:, State:,
// Protocol: consumer (KIP-848), Epoch: (group epoch/target assignment epoch), Assignor: (the
// strategy that computed the current target assignment), Configured: (the group's
// group.assignor, "-" when the members choose); members MEMBER, CLIENT-ID, HOST,
// INSTANCE-ID, EPOCH, ASSIGNMENT, TARGET (the same format; "-" when empty).
//
// Offsets: TOPIC, PARTITION, MEMBER, COMMITTED, END, LAG ("-" for no member, no committed
// offset or unknown lag), covering every assigned or committed partition.

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

type groupTP struct {
	topic string
	part  int32
}

// DescribeGroup prints a group's state, protocol, assignor, members and, per partition,
// the committed offset, end offset and lag. adminURL is a streamd admin listener ("":
// none) asked which strategy produced a classic group's assignment.
func DescribeGroup(ctx context.Context, env Env, name, adminURL string) error {
	return env.clients(ctx, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
		// A broker without KIP-848 or a classic group answers with an error: describe it
		// as a classic group.
		if cgs, err := adm.DescribeConsumerGroups(ctx, name); err == nil {
			if g, ok := cgs[name]; ok && g.Err == nil {
				return describeConsumerGroup(ctx, env, cl, adm, name, g)
			}
		}
		dg, err := adm.DescribeGroups(ctx, name)
		if err != nil {
			return fmt.Errorf("describe group %q: %v", name, err)
		}
		g, ok := dg[name]
		if !ok {
			return fmt.Errorf("describe group %q: no answer for the group", name)
		}
		if g.Err != nil {
			return fmt.Errorf("describe group %q: %v", name, g.Err)
		}
		if g.State == "Dead" {
			return fmt.Errorf("group %q: %v", name, kerr.GroupIDNotFound)
		}
		strategy, err := groupAssignor(ctx, cl, name)
		if err != nil {
			return fmt.Errorf("group %q: describe configs: %v", name, err)
		}
		owner := map[groupTP]string{}
		var members [][]string
		for _, m := range g.Members {
			var ts kadm.TopicsSet
			if c, ok := m.Assigned.AsConsumer(); ok {
				ts = kadm.TopicsSet{}
				for _, at := range c.Topics {
					ts.Add(at.Topic, at.Partitions...)
				}
			}
			for _, tp := range tpsOf(ts) {
				owner[tp] = m.MemberID
			}
			members = append(members, []string{m.MemberID, dash(m.ClientID), dash(m.ClientHost), dash(derefStr(m.InstanceID)), formatTopicsSet(ts)})
		}
		header := [][2]string{{"Group:", name}, {"State:", g.State},
			{"Protocol:", dash(g.ProtocolType) + "/" + dash(g.Protocol)}, {"Assignor:", dash(strategy)}}
		if adminURL != "" {
			var ag struct {
				State       string `json:"state"`
				AssignedBy  string `json:"assigned_by"`
				AssignError string `json:"assign_error"`
			}
			if err := adminGet(ctx, adminURL, "/v1/groups/"+url.PathEscape(name), env.timeout(), &ag); err != nil {
				fmt.Fprintf(env.Stderr, "note: no \"Assigned by\" line: %v\n", err)
			} else {
				by := ag.AssignedBy
				if by == "" && ag.State == "Stable" && ag.AssignError == "" {
					by = "leader"
				}
				header = append(header, [2]string{"Assigned by:", dash(by)})
				if ag.AssignError != "" {
					header = append(header, [2]string{"Assign error:", ag.AssignError + " (members kept their previous assignment)"})
				}
			}
		}
		return printGroup(ctx, env.Stdout, adm, name, header, "MEMBER\tCLIENT-ID\tHOST\tINSTANCE-ID\tASSIGNMENT", members, owner)
	})
}

func describeConsumerGroup(ctx context.Context, env Env, cl *kgo.Client, adm *kadm.Client, name string, g kadm.DescribedConsumerGroup) error {
	strategy, err := groupAssignor(ctx, cl, name)
	if err != nil {
		return fmt.Errorf("group %q: describe configs: %v", name, err)
	}
	owner := map[groupTP]string{}
	var members [][]string
	for _, m := range g.Members {
		for _, tp := range tpsOf(m.Assignment) {
			owner[tp] = m.MemberID
		}
		members = append(members, []string{m.MemberID, dash(m.ClientID), dash(m.ClientHost), dash(derefStr(m.InstanceID)),
			strconv.Itoa(int(m.MemberEpoch)), formatTopicsSet(m.Assignment), formatTopicsSet(m.TargetAssignment)})
	}
	header := [][2]string{{"Group:", name}, {"State:", g.State}, {"Protocol:", "consumer (KIP-848)"},
		{"Epoch:", fmt.Sprintf("%d/%d", g.Epoch, g.AssignmentEpoch)}, {"Assignor:", dash(g.AssignorName)}, {"Configured:", dash(strategy)}}
	return printGroup(ctx, env.Stdout, adm, name, header, "MEMBER\tCLIENT-ID\tHOST\tINSTANCE-ID\tEPOCH\tASSIGNMENT\tTARGET", members, owner)
}

// printGroup prints the header lines, the member table and the offsets table (committed
// offsets are fetched here, with the end offsets of every topic involved).
func printGroup(ctx context.Context, w io.Writer, adm *kadm.Client, name string, header [][2]string, memberHeader string, members [][]string, owner map[groupTP]string) error {
	committed, err := adm.FetchOffsets(ctx, name)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return fmt.Errorf("group %q: fetch committed offsets: %v", name, err)
	}
	rows := map[groupTP]bool{}
	topics := map[string]bool{}
	for tp := range owner {
		rows[tp], topics[tp.topic] = true, true
	}
	committed.Each(func(o kadm.OffsetResponse) {
		rows[groupTP{o.Topic, o.Partition}] = true
		topics[o.Topic] = true
	})
	ends := kadm.ListedOffsets{}
	if len(topics) > 0 {
		names := make([]string, 0, len(topics))
		for t := range topics {
			names = append(names, t)
		}
		if ends, err = adm.ListEndOffsets(ctx, names...); err != nil {
			return fmt.Errorf("group %q: list end offsets: %v", name, err)
		}
	}
	width := 0
	for _, h := range header {
		width = max(width, len(h[0]))
	}
	for i, h := range header {
		sep := "\n"
		if i == len(header)-1 {
			sep = "\n\n"
		}
		fmt.Fprintf(w, "%-*s %s%s", width+1, h[0], h[1], sep)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, memberHeader)
	for _, m := range members {
		fmt.Fprintln(tw, strings.Join(m, "\t"))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tMEMBER\tCOMMITTED\tEND\tLAG")
	keys := make([]groupTP, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].topic < keys[j].topic || keys[i].topic == keys[j].topic && keys[i].part < keys[j].part
	})
	for _, k := range keys {
		com, end, lag := "-", "-", "-"
		c, hasC := committed.Lookup(k.topic, k.part)
		hasC = hasC && c.Err == nil && c.At >= 0
		if hasC {
			com = strconv.FormatInt(c.At, 10)
		}
		e, hasE := ends.Lookup(k.topic, k.part)
		hasE = hasE && e.Err == nil
		if hasE {
			end = strconv.FormatInt(e.Offset, 10)
		}
		if hasC && hasE {
			lag = strconv.FormatInt(max(e.Offset-c.At, 0), 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", k.topic, k.part, dash(owner[k]), com, end, lag)
	}
	return tw.Flush()
}

// tpsOf lists the partitions of a set, sorted.
func tpsOf(ts kadm.TopicsSet) []groupTP {
	var out []groupTP
	for t, ps := range ts {
		for p := range ps {
			out = append(out, groupTP{t, p})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].topic < out[j].topic || out[i].topic == out[j].topic && out[i].part < out[j].part
	})
	return out
}

// formatTopicsSet formats partitions as topic:p,p;topic:p ("-" when empty).
func formatTopicsSet(ts kadm.TopicsSet) string {
	var parts []string
	var cur string
	var ps []string
	flush := func() {
		if cur != "" {
			parts = append(parts, cur+":"+strings.Join(ps, ","))
		}
	}
	for _, tp := range tpsOf(ts) {
		if tp.topic != cur {
			flush()
			cur, ps = tp.topic, nil
		}
		ps = append(ps, strconv.Itoa(int(tp.part)))
	}
	flush()
	return dash(strings.Join(parts, ";"))
}
