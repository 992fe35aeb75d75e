package cli

// Consumer group administration ("streamd group ..."). Output formats:
//
// "group list" prints a table GROUP, STATE, TYPE sorted by name.
// "group describe" prints Group:, State:, Protocol: (type/name), Assignor: (the group's
// group.assignor, "-" when the leader member assigns) lines, an "Assign error:" line when
// the broker refused the last assignment of its group.assignor (from a streamd admin
// listener), a member table (MEMBER,
// CLIENT-ID, HOST, INSTANCE-ID, ASSIGNMENT as topic:p,p;topic:p) and an offsets table
// (TOPIC, PARTITION, MEMBER, COMMITTED, END, LAG; "-" for no member, no committed
// offset or unknown lag) covering every assigned or committed partition.
// "group reset-offsets" prints a table TOPIC, PARTITION, OFFSET of the new offsets.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const groupAssignorConfig = "group.assignor"

// ListGroups prints every group with its state and protocol type.
func ListGroups(ctx context.Context, env Env) error {
	return env.admin(ctx, func(ctx context.Context, adm *kadm.Client) error {
		groups, err := adm.ListGroups(ctx)
		if err != nil {
			return fmt.Errorf("list groups: %v", err)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tSTATE\tTYPE")
		for _, name := range groups.Groups() {
			g := groups[name]
			fmt.Fprintf(tw, "%s\t%s\t%s\n", name, dash(g.State), dash(g.ProtocolType))
		}
		return tw.Flush()
	})
}

// DeleteGroup deletes an empty group and its committed offsets.
func DeleteGroup(ctx context.Context, env Env, name string) error {
	return env.admin(ctx, func(ctx context.Context, adm *kadm.Client) error {
		resp, err := adm.DeleteGroup(ctx, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return fmt.Errorf("delete group %q: %v", name, err)
		}
		fmt.Fprintf(env.Stdout, "Deleted group %q.\n", name)
		return nil
	})
}

// SetGroupAssignor sets the group's broker-side assignment strategy (group.assignor);
// strategy "none" removes it (the leader member assigns again).
func SetGroupAssignor(ctx context.Context, env Env, name, strategy string) error {
	return env.clients(ctx, func(ctx context.Context, cl *kgo.Client, _ *kadm.Client) error {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeGroupConfig, name
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = groupAssignorConfig, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(strategy)
		if strategy == "none" {
			c.Op, c.Value = kmsg.IncrementalAlterConfigOpDelete, nil
		}
		r.Configs = append(r.Configs, c)
		req.Resources = append(req.Resources, r)
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && len(resp.Resources) != 1 {
			err = errors.New("malformed response")
		}
		if err == nil {
			rr := resp.Resources[0]
			err = kafkaErr(kerr.ErrorForCode(rr.ErrorCode), derefStr(rr.ErrorMessage))
		}
		if err != nil {
			return fmt.Errorf("set assignor of group %q: %v", name, err)
		}
		if strategy == "none" {
			fmt.Fprintf(env.Stdout, "Removed the assignor of group %q (the leader member assigns).\n", name)
		} else {
			fmt.Fprintf(env.Stdout, "Set the assignor of group %q to %q.\n", name, strategy)
		}
		return nil
	})
}

// groupAssignor returns the group's group.assignor ("" = unset).
func groupAssignor(ctx context.Context, cl *kgo.Client, name string) (string, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeGroupConfig, name
	r.ConfigNames = []string{groupAssignorConfig}
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return "", err
	}
	for _, rr := range resp.Resources {
		if err := kerr.ErrorForCode(rr.ErrorCode); err != nil {
			return "", kafkaErr(err, derefStr(rr.ErrorMessage))
		}
		for _, c := range rr.Configs {
			if c.Name == groupAssignorConfig {
				return derefStr(c.Value), nil
			}
		}
	}
	return "", nil
}

// DescribeGroup prints a group's state, protocol, assignor, members and, per partition,
// the committed offset, end offset and lag. When adminURL (a streamd admin listener) is
// set and answers, a refused broker-side assignment is shown on an "Assign error:" line.
func DescribeGroup(ctx context.Context, env Env, name, adminURL string) error {
	return env.clients(ctx, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
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
		committed, err := adm.FetchOffsets(ctx, name)
		if err == nil {
			err = committed.Error()
		}
		if err != nil {
			return fmt.Errorf("group %q: fetch committed offsets: %v", name, err)
		}
		strategy, err := groupAssignor(ctx, cl, name)
		if err != nil {
			return fmt.Errorf("group %q: describe configs: %v", name, err)
		}

		type tp struct {
			topic string
			part  int32
		}
		owner := map[tp]string{}
		rows := map[tp]bool{}
		topics := map[string]bool{}
		var members [][]string
		for _, m := range g.Members {
			var parts []string
			if c, ok := m.Assigned.AsConsumer(); ok {
				for _, at := range c.Topics {
					ps := make([]string, len(at.Partitions))
					for i, p := range at.Partitions {
						ps[i] = strconv.Itoa(int(p))
						owner[tp{at.Topic, p}] = m.MemberID
						rows[tp{at.Topic, p}] = true
					}
					topics[at.Topic] = true
					parts = append(parts, at.Topic+":"+strings.Join(ps, ","))
				}
			}
			members = append(members, []string{m.MemberID, dash(m.ClientID), dash(m.ClientHost), dash(derefStr(m.InstanceID)), dash(strings.Join(parts, ";"))})
		}
		committed.Each(func(o kadm.OffsetResponse) {
			rows[tp{o.Topic, o.Partition}] = true
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

		w := env.Stdout
		fmt.Fprintf(w, "Group:     %s\n", name)
		fmt.Fprintf(w, "State:     %s\n", g.State)
		fmt.Fprintf(w, "Protocol:  %s/%s\n", dash(g.ProtocolType), dash(g.Protocol))
		fmt.Fprintf(w, "Assignor:  %s\n", dash(strategy))
		if adminURL != "" {
			var ag struct {
				AssignError string `json:"assign_error"`
			}
			quiet := env
			quiet.Timeout = min(env.timeout(), 3*time.Second)
			if _, err := adminCall(ctx, quiet, adminURL, "GET", "/v1/groups/"+url.PathEscape(name), nil, &ag); err == nil && ag.AssignError != "" {
				fmt.Fprintf(w, "Assign error: %s (members kept their previous assignment)\n", ag.AssignError)
			}
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER\tCLIENT-ID\tHOST\tINSTANCE-ID\tASSIGNMENT")
		for _, m := range members {
			fmt.Fprintln(tw, strings.Join(m, "\t"))
		}
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "TOPIC\tPARTITION\tMEMBER\tCOMMITTED\tEND\tLAG")
		keys := make([]tp, 0, len(rows))
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
	})
}

// ResetTo says where ResetOffsets moves a group's offsets; exactly one field is set.
type ResetTo struct {
	Earliest, Latest bool
	Offset           *int64 // clamped to [start, end] of each partition
	Datetime         string // RFC 3339: the first offset at or after that time (end if none)
}

func (r ResetTo) check() error {
	n := 0
	for _, set := range []bool{r.Earliest, r.Latest, r.Offset != nil, r.Datetime != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New("reset-offsets: give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime")
	}
	return nil
}

// ResetOffsets commits new offsets for every partition of topic in an inactive group
// (Empty, or unknown: Kafka's rule) and prints them.
func ResetOffsets(ctx context.Context, env Env, name, topic string, to ResetTo) error {
	if err := to.check(); err != nil {
		return err
	}
	var millis int64
	if to.Datetime != "" {
		ts, err := time.Parse(time.RFC3339, to.Datetime)
		if err != nil {
			return fmt.Errorf("reset-offsets: bad --to-datetime %q: want RFC 3339 such as 2024-05-01T12:00:00Z", to.Datetime)
		}
		millis = ts.UnixMilli()
	}
	return env.admin(ctx, func(ctx context.Context, adm *kadm.Client) error {
		dg, err := adm.DescribeGroups(ctx, name)
		if err != nil {
			return fmt.Errorf("reset offsets of group %q: %v", name, err)
		}
		if g, ok := dg[name]; ok && g.Err == nil && g.State != "Empty" && g.State != "Dead" {
			return fmt.Errorf("group %q is %s with %d members: offsets can only be reset while it is inactive (stop its consumers first)", name, g.State, len(g.Members))
		}
		starts, err := adm.ListStartOffsets(ctx, topic)
		if err == nil {
			err = starts.Error()
		}
		if err != nil {
			return fmt.Errorf("reset offsets of group %q: topic %q: %v", name, topic, err)
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			return fmt.Errorf("reset offsets of group %q: topic %q: %v", name, topic, err)
		}
		var after kadm.ListedOffsets
		if to.Datetime != "" {
			if after, err = adm.ListOffsetsAfterMilli(ctx, millis, topic); err != nil {
				return fmt.Errorf("reset offsets of group %q: topic %q: %v", name, topic, err)
			}
		}
		var offs kadm.Offsets
		ends.Each(func(e kadm.ListedOffset) {
			s, _ := starts.Lookup(e.Topic, e.Partition)
			at := e.Offset
			switch {
			case to.Earliest:
				at = s.Offset
			case to.Offset != nil:
				at = min(max(*to.Offset, s.Offset), e.Offset)
			case to.Datetime != "":
				if a, ok := after.Lookup(e.Topic, e.Partition); ok && a.Err == nil && a.Offset >= 0 {
					at = min(a.Offset, e.Offset)
				}
			}
			offs.Add(kadm.Offset{Topic: e.Topic, Partition: e.Partition, At: at, LeaderEpoch: -1})
		})
		resp, err := adm.CommitOffsets(ctx, name, offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("reset offsets of group %q: %v", name, err)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TOPIC\tPARTITION\tOFFSET")
		for _, o := range offs.Sorted() {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", o.Topic, o.Partition, o.At)
		}
		return tw.Flush()
	})
}

// clients runs fn with a raw and an admin client bounded by the Env timeout (for requests
// kadm has no helper for, such as GROUP config resources).
func (e Env) clients(ctx context.Context, fn func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()
	cl, err := e.connect(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(e.timeout() / time.Millisecond))
	if err := fn(ctx, cl, adm); err != nil {
		if ctxErr := e.ctxError(ctx); ctxErr != nil {
			return ctxErr
		}
		return err
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func derefStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
