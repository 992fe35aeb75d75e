package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// CreateTopic creates topic name with the given partition count, replication
// factor and "key=value" configs.
func CreateTopic(ctx context.Context, env Env, name string, partitions int32, replicas int16, configs []string) error {
	cfg := make(map[string]*string, len(configs))
	for _, c := range configs {
		k, v, err := parseKV("-c", c)
		if err != nil {
			return err
		}
		cfg[k] = &v
	}
	return env.admin(ctx, func(ctx context.Context, adm *kadm.Client) error {
		resp, err := adm.CreateTopic(ctx, partitions, replicas, cfg, name)
		if err != nil {
			return fmt.Errorf("create topic %q: %v", name, kafkaErr(err, resp.ErrMessage))
		}
		fmt.Fprintf(env.Stdout, "Created topic %q.\n", name)
		return nil
	})
}

// DeleteTopic deletes topic name.
func DeleteTopic(ctx context.Context, env Env, name string) error {
	return env.admin(ctx, func(ctx context.Context, adm *kadm.Client) error {
		resp, err := adm.DeleteTopic(ctx, name)
		if err != nil {
			return fmt.Errorf("delete topic %q: %v", name, kafkaErr(err, resp.ErrMessage))
		}
		fmt.Fprintf(env.Stdout, "Deleted topic %q.\n", name)
		return nil
	})
}

// ListTopics prints every topic (internal ones included) sorted by name.
func ListTopics(ctx context.Context, env Env) error {
	return env.admin(ctx, func(ctx context.Context, adm *kadm.Client) error {
		topics, err := adm.ListTopicsWithInternal(ctx)
		if err != nil {
			return fmt.Errorf("list topics: %v", err)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tPARTITIONS\tINTERNAL")
		for _, name := range topics.Names() {
			t := topics[name]
			fmt.Fprintf(tw, "%s\t%d\t%t\n", name, len(t.Partitions), t.IsInternal)
		}
		return tw.Flush()
	})
}

// AlterTopicConfig sets the "key=value" configs in set and removes the keys
// in del (IncrementalAlterConfigs SET and DELETE).
func AlterTopicConfig(ctx context.Context, env Env, name string, set, del []string) error {
	if len(set) == 0 && len(del) == 0 {
		return errors.New("alter-config: nothing to change (give key=value arguments or --delete key)")
	}
	var alters []kadm.AlterConfig
	for _, s := range set {
		k, v, err := parseKV("config", s)
		if err != nil {
			return err
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
	}
	for _, k := range del {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	return env.admin(ctx, func(ctx context.Context, adm *kadm.Client) error {
		resps, err := adm.AlterTopicConfigs(ctx, alters, name)
		if err != nil {
			return fmt.Errorf("alter configs of topic %q: %v", name, err)
		}
		resp, err := resps.On(name, nil)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return fmt.Errorf("alter configs of topic %q: %v", name, kafkaErr(err, resp.ErrMessage))
		}
		fmt.Fprintf(env.Stdout, "Altered configs of topic %q.\n", name)
		return nil
	})
}

// DescribeTopic prints a topic's id, its partitions (leader, leader epoch,
// start and end offsets, size on disk) and its configs with their source.
// When adminURL (a streamd admin listener, e.g. http://127.0.0.1:9644) is not
// empty and answers GET /v1/topics/NAME, each partition row also shows its
// segment count, the cleaner's dirty ratio, last cleaning time and bytes
// reclaimed; when it does not answer, one note goes to env.Stderr and the
// Kafka-only table is printed.
func DescribeTopic(ctx context.Context, env Env, name, adminURL string) error {
	return env.admin(ctx, func(ctx context.Context, adm *kadm.Client) error {
		topics, err := adm.ListTopicsWithInternal(ctx, name)
		if err != nil {
			return fmt.Errorf("describe topic %q: %v", name, err)
		}
		t, ok := topics[name]
		if !ok {
			t.Err = kerr.UnknownTopicOrPartition
		}
		if t.Err != nil {
			return fmt.Errorf("topic %q: %v", name, t.Err)
		}
		starts, err := adm.ListStartOffsets(ctx, name)
		if err != nil {
			return fmt.Errorf("topic %q: list start offsets: %v", name, err)
		}
		ends, err := adm.ListEndOffsets(ctx, name)
		if err != nil {
			return fmt.Errorf("topic %q: list end offsets: %v", name, err)
		}
		// Sizes are informative: a broker without DescribeLogDirs still
		// gets the rest of the description.
		sizes := map[int32]int64{}
		set := kadm.TopicsSet{name: {}}
		for p := range t.Partitions {
			set[name][p] = struct{}{}
		}
		if dirs, err := adm.DescribeAllLogDirs(ctx, set); err == nil {
			dirs.Each(func(d kadm.DescribedLogDir) {
				for p, lp := range d.Topics[name] {
					sizes[p] += lp.Size
				}
			})
		}
		configs, err := adm.DescribeTopicConfigs(ctx, name)
		if err != nil {
			return fmt.Errorf("topic %q: describe configs: %v", name, err)
		}
		rc, err := configs.On(name, nil)
		if err == nil {
			err = rc.Err
		}
		if err != nil {
			return fmt.Errorf("topic %q: describe configs: %v", name, kafkaErr(err, rc.ErrMessage))
		}

		var stats map[int32]adminPartition
		if adminURL != "" {
			stats, err = fetchAdminTopic(ctx, adminURL, name, env.timeout())
			if err != nil {
				fmt.Fprintf(env.Stderr, "note: no segment/cleaner columns: %v\n", err)
			}
		}

		w := env.Stdout
		fmt.Fprintf(w, "Topic:      %s\n", name)
		fmt.Fprintf(w, "ID:         %s\n", base64.RawURLEncoding.EncodeToString(t.ID[:]))
		fmt.Fprintf(w, "Partitions: %d\n", len(t.Partitions))
		fmt.Fprintf(w, "Internal:   %t\n\n", t.IsInternal)

		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		header := "PARTITION\tLEADER\tEPOCH\tSTART\tEND\tSIZE"
		if stats != nil {
			header += "\tSEGMENTS\tDIRTY\tLAST-CLEANED\tRECLAIMED"
		}
		fmt.Fprintln(tw, header)
		for _, p := range t.Partitions.Sorted() {
			size := "-"
			if s, ok := sizes[p.Partition]; ok {
				size = strconv.FormatInt(s, 10)
			}
			fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s", p.Partition, p.Leader, p.LeaderEpoch,
				offsetCell(starts, name, p.Partition), offsetCell(ends, name, p.Partition), size)
			if stats != nil {
				fmt.Fprint(tw, adminCells(stats, p.Partition))
			}
			fmt.Fprintln(tw)
		}
		if err := tw.Flush(); err != nil {
			return err
		}

		fmt.Fprintln(w)
		cfgs := slices.Clone(rc.Configs)
		slices.SortFunc(cfgs, func(a, b kadm.Config) int { return strings.Compare(a.Key, b.Key) })
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CONFIG\tVALUE\tSOURCE")
		for _, c := range cfgs {
			v := c.MaybeValue()
			if c.Sensitive {
				v = "(sensitive)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Key, v, c.Source)
		}
		return tw.Flush()
	})
}

// offsetCell renders one listed offset, or the partition's error code.
func offsetCell(l kadm.ListedOffsets, topic string, p int32) string {
	o, ok := l.Lookup(topic, p)
	switch {
	case !ok:
		return "-"
	case o.Err != nil:
		var ke *kerr.Error
		if errors.As(o.Err, &ke) {
			return ke.Message
		}
		return "error"
	}
	return strconv.FormatInt(o.Offset, 10)
}
