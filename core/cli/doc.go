// Package cli implements the client side of the streamd binary: topic
// administration, a line-oriented console producer and consumer. It talks to
// any Kafka-wire broker through franz-go (kgo for records, kadm for admin);
// cmd/streamd only parses flags and calls the functions here.
//
// # Errors
//
// Every returned error is a single line meant for a person, without a
// package prefix: the binary prints it as "streamd: <error>". Kafka errors
// carry their protocol name and the broker's own message when it sent one,
// for example
//
//	topic "t": INVALID_CONFIG: unknown config "retention.bytez"
//
// A broker that cannot be reached fails within Env.Timeout with
//
//	cannot reach any broker (localhost:9092): dial tcp ...: connection refused
//
// # Output formats
//
// "topic list" prints a table (NAME, PARTITIONS, INTERNAL) sorted by name.
// "topic describe" prints "Topic:" and "ID:" lines, a partition table
// (PARTITION, LEADER, EPOCH, START, END, SIZE; END is the high watermark and
// SIZE the bytes on disk from DescribeLogDirs, "-" when the broker does not
// report it) and a config table (CONFIG, VALUE, SOURCE).
//
// # Produce input
//
// Produce reads stdin line by line; each line (without its '\n') becomes one
// record value. With KeySeparator set, the line is split at the first
// separator into key and value; a line without the separator is an error.
// At the end it prints "Produced N records to topic "t"." on stderr; the
// first record the broker rejects ends the run with that record's Kafka
// error and the count delivered before it.
//
// # Consume format
//
// Consume writes each record through a kcat-like format string:
//
//	%t topic   %p partition   %o offset   %k key   %v value
//	%T timestamp in Unix milliseconds     %h headers as k1=v1,k2=v2
//	%K key length   %S value length (-1 when null)   %% a literal '%'
//
// and the escapes \n \r \t \\ (so a shell argument '%k:%v\n' works). The
// default format is "%v\n". Consume ends without error after Count records,
// after Idle without a record, or when its context is cancelled (SIGINT),
// and then prints "Consumed N records." on stderr. With a group it commits
// the offsets of exactly the records it printed before leaving.
package cli
