package broker

// IncrementalAlterConfigs, versions 0-1: SET, DELETE, APPEND and SUBTRACT (list configs)
// on topic configs; SET and DELETE on group configs (group_configs.go). Broker configs are static (config.toml) and refused.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.IncrementalAlterConfigs, 0, 1, handleIncrementalAlterConfigs) }

func handleIncrementalAlterConfigs(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			ops := rr.Configs
			err = b.setTopicConfigs(c.Context(), rr.ResourceName, func(cur map[string]string) (map[string]string, error) {
				return applyIncremental(cur, ops)
			}, req.ValidateOnly)
		case kmsg.ConfigResourceTypeGroupConfig:
			err = b.setGroupConfigs(c.Context(), rr.ResourceName, incrementalGroupConfigs(rr.Configs), req.ValidateOnly)
		case kmsg.ConfigResourceTypeBroker:
			err = brokerConfigsReadOnly()
		default:
			err = kafkaErr(kerr.InvalidRequest, "resource type %v is not supported", rr.ResourceType)
		}
		if err != nil {
			code, msg := codeOf(err)
			sr.ErrorCode, sr.ErrorMessage = code, &msg
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return wire.Reply{Resp: resp}
}
