package wasmhost

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

func loadModule(t *testing.T, cfg Config, wasm []byte) *Plugin {
	t.Helper()
	p, err := newRuntime(t, cfg).Load(context.Background(), "hand", wasm, KindPartitioner)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMeterStopsRunaways: guests that never return are stopped at the deadline, including
// shapes wazero's WithCloseOnContextDone does not stop (recursion without loops) or
// reaches only slowly (loops whose iterations fill megabytes of memory).
func TestMeterStopsRunaways(t *testing.T) {
	for _, tc := range []struct {
		name  string
		funcs []wfunc
		pages byte
	}{
		{"loop", []wfunc{{typ: 2, export: "partition", code: []byte{0x03, 0x40, 0x0c, 0x00, 0x0b, 0x42, 0x00}}}, 1},
		// f(n): if n == 0 return; f(n-1); f(n-1). f(60) makes 2^61 calls and no loop.
		{"exponential recursion", []wfunc{
			{typ: 3, code: cat([]byte{0x20, 0, 0x45, 0x04, 0x40, 0x0f, 0x0b},
				[]byte{0x20, 0, 0x41, 1, 0x6b, 0x10, 3, 0x20, 0, 0x41, 1, 0x6b, 0x10, 3})},
			{typ: 2, export: "partition", code: cat(i32const(60), []byte{0x10, 3}, i64const(0))},
		}, 1},
		// loop { memory.fill(0, 0, 4 MiB) }: each iteration is one charge of a few
		// instructions, so only the charge by size stops it in time.
		{"bulk memory", []wfunc{{typ: 2, export: "partition", code: cat([]byte{0x03, 0x40},
			i32const(0), i32const(0), i32const(4<<20), []byte{0xfc, 0x0b, 0x00, 0x0c, 0x00, 0x0b}, i64const(0))}}, 65},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := wmod{funcs: append(pluginFuncs(), tc.funcs...), pages: tc.pages}
			p := loadModule(t, Config{CallTimeout: 300 * time.Millisecond}, m.bytes())
			start := time.Now()
			_, err := p.Partition(context.Background(), "t", 1, nil)
			if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "call exceeded 300ms") {
				t.Fatalf("got %v, want ErrTimeout", err)
			}
			// Generous: on a loaded machine the deadline check may come late, but without
			// metering these calls would run for minutes (or forever).
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("stopped after %v", d)
			}
		})
	}
}

func TestMeterCanceled(t *testing.T) {
	m := wmod{funcs: append(pluginFuncs(), wfunc{typ: 2, export: "partition", code: []byte{0x03, 0x40, 0x0c, 0x00, 0x0b, 0x42, 0x00}})}
	p := loadModule(t, Config{CallTimeout: time.Hour}, m.bytes())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := p.Partition(ctx, "t", 1, nil); !errors.Is(err, ErrCanceled) && !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want the call to end with its context", err)
	}
}

// TestMeterRenumbering runs a module whose function indexes appear in every place the
// rewriter renumbers: calls, a table's element segment (call_indirect), ref.func, the
// start section and exports. partition returns 4096<<32 | (f4() + f3() + g), which is 8
// (a valid empty partition result at 4096) only if every index still names the right
// function.
func TestMeterRenumbering(t *testing.T) {
	funcs := append(pluginFuncs(),
		wfunc{typ: 0, code: i32const(3)},                       // 3
		wfunc{typ: 0, code: i32const(4)},                       // 4
		wfunc{typ: 4, code: cat(i32const(1), []byte{0x24, 0})}, // 5: start, g = 1
		wfunc{typ: 2, export: "partition", code: cat(
			[]byte{0xd2, 4, 0x1a},           // ref.func 4; drop
			i32const(1), []byte{0x11, 0, 0}, // call_indirect type 0, table[1] = f4
			[]byte{0x10, 3, 0x6a, 0x23, 0, 0x6a},           // call f3; add; global.get 0; add
			[]byte{0xad}, i64const(4096<<32), []byte{0x84}, // i64.extend_i32_u; i64.or
		)},
	)
	m := wmod{funcs: funcs, table: 2, tableMax: 2, elems: []uint32{3, 4}, start: 6,
		globals: [][]byte{{0x7f, 0x01, 0x41, 0x00, 0x0b}}, data: map[uint32][]byte{4096: make([]byte, 8)}}
	p := loadModule(t, Config{}, m.bytes())
	if out, err := p.Partition(context.Background(), "t", 1, nil); err != nil || len(out) != 0 {
		t.Fatalf("got %v, %v", out, err)
	}
}

func TestMeterRejects(t *testing.T) {
	loop := wfunc{typ: 2, export: "partition", code: i64const(0)}
	for _, tc := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"huge table", wmod{funcs: append(pluginFuncs(), loop), table: maxTableEntry + 1, tableMax: -1}.bytes(), "entries, limit"},
		{"table.grow without maximum", wmod{funcs: append(pluginFuncs(), wfunc{typ: 2, export: "partition",
			code: cat([]byte{0xd0, 0x70}, i32const(1), []byte{0xfc, 0x0f, 0x00, 0x1a}, i64const(0))}), table: 1, tableMax: -1}.bytes(),
			"table.grow is used but a table has no maximum"},
		{"too many locals", wmod{funcs: append(pluginFuncs(), wfunc{typ: 2, export: "partition",
			locals: []localDecl{{n: maxLocals, typ: tI32}}, code: i64const(0)})}.bytes(), "locals, limit"},
		{"exception handling", wmod{funcs: append(pluginFuncs(), wfunc{typ: 2, export: "partition",
			code: []byte{0x06, 0x40, 0x0b, 0x42, 0x00}})}.bytes(), "unsupported instruction 0x06"},
		{"imported memory", wmod{imports: [][]byte{cat(name("wasi_snapshot_preview1"), name("mem"), []byte{0x02, 0x00, 0x01})},
			funcs: append(pluginFuncs(), loop)}.bytes(), "import memory wasi_snapshot_preview1.mem is not allowed"},
		{"reserved import", wmod{imports: [][]byte{cat(name(meterModule), name(meterFunc), []byte{0x00, 0x00})}, nImports: 1,
			funcs: append(pluginFuncs(), loop)}.bytes(), "import streamd.refuel is not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newRuntime(t, Config{}).Load(context.Background(), "bad", tc.wasm, KindPartitioner)
			if !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want ErrInvalidModule containing %q", err, tc.want)
			}
		})
	}
}

// TestMeterRejectsAllocationBombs: a module of a few bytes declaring 2^32-1 data segments
// (or a segment of 4 GiB) is rejected before wazero sees it: wazero's decoder allocates
// the declared vector first, and the Go runtime aborts the whole process when that fails
// (checked with wazero v1.12.0: "fatal error: out of memory" for a 146-byte module).
func TestMeterRejectsAllocationBombs(t *testing.T) {
	base := wmod{funcs: append(pluginFuncs(), wfunc{typ: 2, export: "partition", code: i64const(0)})}.bytes()
	for name, sec := range map[string][]byte{
		"data segments": section(11, cat(leb(0xffffffff), []byte{0x01, 0x00})),
		"data bytes":    section(11, cat(leb(1), []byte{0x01}, leb(0xfffffff0))),
	} {
		wasm := cat(base, sec)
		_, err := newRuntime(t, Config{}).Load(context.Background(), "bomb", wasm, KindPartitioner)
		if !errors.Is(err, ErrInvalidModule) {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// FuzzMeter: the rewriter never panics, wazero decodes what it produces without running
// out of memory, and when it accepts a module that wazero accepts, wazero accepts the
// rewritten module too. (Inputs the rewriter rejects, or whose custom sections it drops,
// are not given to wazero: its decoder allocates vectors and names by their declared
// length before checking that the section holds them, which is one of the things the
// rewriter guards the host against.)
func FuzzMeter(f *testing.F) {
	f.Add(fakeModule{abi: 2, kinds: 1}.bytes())
	f.Add(wmod{funcs: append(pluginFuncs(), wfunc{typ: 2, export: "partition", code: []byte{0x03, 0x40, 0x0c, 0x00, 0x0b, 0x42, 0x00}})}.bytes())
	f.Add(resultModule([]byte{0, 0, 0, 0, 0, 0, 0, 0}))
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	allow := func(string) bool { return true }
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := meter(in, allow)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(out, []byte("\x00asm\x01\x00\x00\x00")) {
			t.Fatal("no header")
		}
		cmOut, errOut := rt.CompileModule(ctx, out) // what Load compiles
		if errOut == nil {
			cmOut.Close(ctx)
		}
		if hasCustomSection(in) {
			return // wazero may allocate what a malformed custom section declares; meter drops them
		}
		cm, err := rt.CompileModule(ctx, in)
		if err != nil {
			return
		}
		cm.Close(ctx)
		if errOut != nil {
			t.Fatalf("rewritten module rejected: %v", errOut)
		}
	})
}

func hasCustomSection(wasm []byte) bool {
	r := &wreader{b: wasm, i: 8}
	for !r.eof() {
		if r.byte() == secCustom {
			return true
		}
		r.bytes(r.u32())
	}
	return false
}

// TestHandWrittenPartitioner is a plugin written from docs/plugin-abi.md alone, in
// WebAssembly: it walks the record table and places each record at len(key) % n (null
// keys at 0), writing its result at address 128 KiB.
func TestHandWrittenPartitioner(t *testing.T) {
	load := func(off byte) []byte { return []byte{0x28, 0x02, off} } // i32.load offset=off
	get := func(l byte) []byte { return []byte{0x20, l} }
	set := func(l byte) []byte { return []byte{0x21, l} }
	// params: 0 ptr, 1 len; locals: 2 count, 3 record table, 4 partitions, 5 i, 6 out, 7 key length
	code := cat(
		get(0), load(16), set(2),
		get(0), get(0), load(20), []byte{0x6a}, set(3),
		get(0), load(8), set(4),
		i32const(128<<10), set(6),
		get(6), i32const(0), []byte{0x36, 0x02, 0}, // status 0
		get(6), get(2), []byte{0x36, 0x02, 4}, // count
		i32const(0), set(5),
		[]byte{0x02, 0x40, 0x03, 0x40},           // block loop
		get(5), get(2), []byte{0x4f, 0x0d, 0x01}, // i >= count: br_if 1
		get(3), get(5), i32const(32), []byte{0x6c, 0x6a}, load(12), set(7), // key_len
		get(6), get(5), i32const(4), []byte{0x6c, 0x6a}, // &partition[i]
		get(7), i32const(-1), []byte{0x46, 0x04, 0x7f}, i32const(0), []byte{0x05}, get(7), get(4), []byte{0x70, 0x0b},
		[]byte{0x36, 0x02, 8}, // store partition
		get(5), i32const(1), []byte{0x6a}, set(5),
		[]byte{0x0c, 0x00, 0x0b, 0x0b},                   // br 0; end loop; end block
		get(6), []byte{0xad}, i64const(32), []byte{0x86}, // out << 32
		get(2), i32const(4), []byte{0x6c}, i32const(8), []byte{0x6a, 0xad, 0x84}, // | 8 + 4*count
	)
	m := wmod{funcs: append(pluginFuncs(), wfunc{typ: 2, export: "partition", locals: []localDecl{{n: 6, typ: tI32}}, code: code}), pages: 4}
	p := loadModule(t, Config{}, m.bytes())
	recs := records(100)
	recs[7].Key = nil
	got, err := p.Partition(context.Background(), "t", 7, recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		want := int32(len(r.Key) % 7)
		if r.Key == nil {
			want = 0
		}
		if got[i] != want {
			t.Fatalf("record %d: partition %d, want %d", i, got[i], want)
		}
	}
}
