// Package registry is streamd's registry of uploaded WebAssembly plugins (partitioners,
// group assignors, transforms): it stores every module durably and versioned in a NATS
// JetStream object store beside the cluster metadata, validates modules by loading them
// with core/wasmhost, keeps the newest version of every plugin loaded, and hands plugins
// out to their users (topic partitioners, group assignors) so that a new version takes
// over without a restart.
//
// # Storage
//
// One object store bucket ([plugins] bucket, default "streamd_plugins", file storage) holds
// one object per stored version, named "NAME/VERSION" (VERSION a decimal number starting
// at 1), whose metadata records the plugin's kind, version, SHA-256 (hex) and upload time:
//
//	tenant/1   {"streamd-kind": "partitioner", "streamd-version": "1",
//	            "streamd-sha256": "9f2c...", "streamd-uploaded": "2026-01-02T03:04:05Z"}
//	tenant/2   ...
//
// The newest version of a name is the plugin; the [KeepVersions] newest versions are kept
// (older ones are deleted after an upload) so that they can be downloaded. Delete removes
// the versions oldest first, so a crash half way leaves the newest one in force. At start
// every plugin's newest version is read and loaded; compiled code comes from the
// compilation cache under <log.dirs>/plugin-cache, so this takes milliseconds per plugin.
// A module that no longer loads (limits lowered since its upload) is kept, reported in
// its Info.Error and fails every use until a new version is uploaded.
//
// # Ownership and concurrency
//
// The Registry owns the set of plugins and their loaded versions; nothing else writes the
// bucket. Its state (name → entry) is guarded by one mutex, held only for map operations
// and reference counts, never while calling out. Changes (Put, Delete) are serialised by a
// second mutex, which [Registry.Attach] also holds while the broker attaches a plugin to a
// topic or a group, so a plugin cannot be deleted between "it exists" and "it is
// attached"; Delete asks [Options.UsedBy] (the broker's topic configs and group assignors,
// the single source of truth for attachments) and refuses while anything uses the plugin.
//
// Every call into a plugin goes through [Registry.Acquire], which counts the call on the
// version it returns. Put installs a new version atomically: later Acquires get it, and
// the replaced version is closed only when its last in-flight call has released it, so
// calls in flight finish on the old version.
package registry
