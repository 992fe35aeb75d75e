package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestFormat(t *testing.T) {
	rec := &kgo.Record{
		Topic:     "orders",
		Partition: 2,
		Offset:    41,
		Key:       []byte("k1"),
		Value:     []byte("hello"),
		Timestamp: time.UnixMilli(1700000000123),
		Headers:   []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("x=y")}},
	}
	noKey := &kgo.Record{Topic: "t", Value: []byte{}}
	for _, tc := range []struct {
		format string
		rec    *kgo.Record
		want   string
	}{
		{DefaultFormat, rec, "hello\n"},
		{`%t/%p/%o %k=%v\n`, rec, "orders/2/41 k1=hello\n"},
		{`%T`, rec, "1700000000123"},
		{`%h`, rec, "a=1,b=x=y"},
		{`%h`, noKey, ""},
		{`%K %S`, rec, "2 5"},
		{`%K %S`, noKey, "-1 0"},
		{`100%% %v`, rec, "100% hello"},
		{`\t%v\r\n\\n`, rec, "\thello\r\n\\n"},
		{`\q%v\`, rec, `\qhello\`},
		{`no verbs`, rec, "no verbs"},
	} {
		f, err := ParseFormat(tc.format)
		if err != nil {
			t.Errorf("ParseFormat(%q): %v", tc.format, err)
			continue
		}
		if got := string(f.Append(nil, tc.rec)); got != tc.want {
			t.Errorf("format %q gave %q, want %q", tc.format, got, tc.want)
		}
	}
}

func TestFormatErrors(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"%x", "unknown verb %x"},
		{"%v %", "ends with a lone %"},
		{"%V", "unknown verb %V"},
	} {
		_, err := ParseFormat(tc.format)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFormat(%q) error %v, want one containing %q", tc.format, err, tc.want)
		}
	}
}
