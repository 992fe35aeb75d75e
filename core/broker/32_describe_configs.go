package broker

// DescribeConfigs, versions 0-4: TOPIC resources (every topic config with its value and
// source: DYNAMIC_TOPIC_CONFIG for overrides, STATIC_BROKER_CONFIG or DEFAULT_CONFIG for
// the rest) and BROKER resources (the static settings from config.toml) and GROUP resources (group.assignor).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.DescribeConfigs, 0, 4, handleDescribeConfigs) }

func handleDescribeConfigs(b *Broker, _ *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if t := b.lookup(rr.ResourceName); t != nil {
				sr.Configs = b.describeTopicConfigs(t, rr.ConfigNames, req.IncludeSynonyms, req.IncludeDocumentation)
			} else {
				err = kafkaErr(kerr.UnknownTopicOrPartition, "topic %q does not exist", rr.ResourceName)
			}
		case kmsg.ConfigResourceTypeGroupConfig:
			sr.Configs = b.describeGroupConfigs(rr.ResourceName, rr.ConfigNames, req.IncludeDocumentation)
		case kmsg.ConfigResourceTypeBroker:
			if b.isThisBroker(rr.ResourceName) {
				sr.Configs = b.describeBrokerConfigs(rr.ConfigNames, req.IncludeSynonyms, req.IncludeDocumentation)
			} else {
				err = kafkaErr(kerr.InvalidRequest, "unknown broker %q (this broker is %d)", rr.ResourceName, b.nodeID)
			}
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
