package broker

// AlterConfigs, versions 0-2 (legacy, non-incremental): the given configs replace all of
// a topic's overrides, or a group's configs (group_configs.go). Broker configs are static (config.toml) and refused.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.AlterConfigs, 0, 2, handleAlterConfigs) }

func handleAlterConfigs(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			configs := make(map[string]string, len(rr.Configs))
			for _, cf := range rr.Configs {
				if cf.Value == nil {
					err = kafkaErr(kerr.InvalidConfig, "config %q has a null value", cf.Name)
					break
				}
				configs[cf.Name] = *cf.Value
			}
			if err == nil {
				err = b.setTopicConfigs(c.Context(), rr.ResourceName, func(map[string]string) (map[string]string, error) {
					return configs, nil
				}, req.ValidateOnly)
			}
		case kmsg.ConfigResourceTypeGroupConfig:
			next := map[string]*string{}
			for _, cf := range rr.Configs {
				next[cf.Name] = cf.Value
			}
			err = b.setGroupConfigs(c.Context(), rr.ResourceName, func(map[string]*string) (map[string]*string, error) {
				return next, nil
			}, req.ValidateOnly)
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
