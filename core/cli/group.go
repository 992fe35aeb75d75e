package cli

// Consumer group administration ("streamd group ..."). Output formats:
//
// "group list" prints a table GROUP, STATE, TYPE (protocol type), KIND (classic, or
// consumer for KIP-848 groups) sorted by name.
// "group describe": see group_describe.go (an "Assign error:" line when the broker
// refused the last assignment of its group.assignor, from a streamd admin listener).
// "group reset-offsets" prints a table TOPIC, PARTITION, OFFSET of the new offsets.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const groupAssignorConfig = "group.assignor"

// ListGroups prints every group with its state, protocol type and kind.
func ListGroups(ctx context.Context, env Env) error {
	return env.clients(ctx, func(ctx context.Context, cl *kgo.Client, _ *kadm.Client) error {
		resp, err := kmsg.NewPtrListGroupsRequest().RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err != nil {
			return fmt.Errorf("list groups: %v", err)
		}
		groups := resp.Groups
		sort.Slice(groups, func(i, j int) bool { return groups[i].Group < groups[j].Group })
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tSTATE\tTYPE\tKIND")
		for _, g := range groups {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Group, dash(g.GroupState), dash(g.ProtocolType), dash(g.GroupType))
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
		lg, err := adm.ListGroups(ctx) // classic and KIP-848 groups
		if err != nil {
			return fmt.Errorf("reset offsets of group %q: %v", name, err)
		}
		if g, ok := lg[name]; ok && g.State != "Empty" && g.State != "Dead" {
			return fmt.Errorf("group %q is %s: offsets can only be reset while it is inactive (stop its consumers first)", name, g.State)
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
