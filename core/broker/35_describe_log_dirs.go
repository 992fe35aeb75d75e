package broker

// DescribeLogDirs, versions 0-4: one log dir (log.dirs) with every partition's size; v4
// adds the file system's total and usable bytes.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.DescribeLogDirs, 0, 4, handleDescribeLogDirs) }

func handleDescribeLogDirs(b *Broker, _ *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = b.dir
	dir.TotalBytes, dir.UsableBytes = diskSpace(b.dir)
	add := func(t *topic, parts []int32) {
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = t.meta.Name
		for _, i := range parts {
			if i < 0 || int(i) >= len(t.parts) {
				continue
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition = i
			dp.Size = t.parts[i].log.Size()
			dt.Partitions = append(dt.Partitions, dp)
		}
		dir.Topics = append(dir.Topics, dt)
	}
	if req.Topics == nil {
		for _, t := range b.sortedTopics() {
			all := make([]int32, len(t.parts))
			for i := range all {
				all[i] = int32(i)
			}
			add(t, all)
		}
	} else {
		for _, rt := range req.Topics {
			if t := b.lookup(rt.Topic); t != nil {
				add(t, rt.Partitions)
			}
		}
	}
	resp.Dirs = append(resp.Dirs, dir)
	return wire.Reply{Resp: resp}
}
