package sdk

import (
	"encoding/binary"
	"errors"
)

var errShort = errors.New("truncated input")

// decoder reads the ABI encodings; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = errShort
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	v := d.take(4)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(v)
}

func (d *decoder) i32() int32 { return int32(d.u32()) }

func (d *decoder) str() string { return string(d.take(int(d.u32()))) }

// Decoded batches reuse these between calls: allocation is expensive in a Go guest.
var (
	recScratch []Record
	hdrScratch []Header
	nhScratch  []uint32
	keyScratch []string
)

// records decodes a record list into the reused scratch slices. It is written as one
// flat loop without helper calls: function calls are expensive in a Go wasm guest.
func (d *decoder) records() []Record {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	b := d.b
	// Each record needs at least 20 bytes; reject counts the input cannot hold.
	if uint64(n)*20 > uint64(len(b)) {
		d.err = errShort
		return nil
	}
	if cap(recScratch) < int(n) {
		recScratch = make([]Record, n)
		nhScratch = make([]uint32, n)
	}
	recs, nhs := recScratch[:n], nhScratch[:n]
	hdrs := hdrScratch[:0]
	le := binary.LittleEndian
	p := 0
	for i := range recs {
		r := &recs[i]
		if len(b)-p < 20 {
			d.err = errShort
			return nil
		}
		r.Timestamp = int64(le.Uint64(b[p:]))
		p += 8
		for f := 0; f < 2; f++ {
			l := int32(le.Uint32(b[p:]))
			p += 4
			var v []byte
			if l != -1 {
				if l < 0 || int(l) > len(b)-p-4 {
					d.err = errShort
					return nil
				}
				v = b[p : p+int(l) : p+int(l)]
				p += int(l)
			}
			if f == 0 {
				r.Key = v
			} else {
				r.Value = v
			}
		}
		nh := le.Uint32(b[p:])
		p += 4
		if uint64(nh)*8 > uint64(len(b)-p) {
			d.err = errShort
			return nil
		}
		nhs[i] = nh
		for j := 0; j < int(nh); j++ {
			if len(b)-p < 8 {
				d.err = errShort
				return nil
			}
			kl := int(le.Uint32(b[p:]))
			p += 4
			if kl > len(b)-p-4 {
				d.err = errShort
				return nil
			}
			kb := b[p : p+kl]
			p += kl
			// Header keys repeat record after record: reuse the string seen at the same
			// position in the previous record instead of allocating.
			if j >= len(keyScratch) {
				keyScratch = append(keyScratch, string(kb))
			} else if keyScratch[j] != string(kb) {
				keyScratch[j] = string(kb)
			}
			h := Header{Key: keyScratch[j]}
			vl := int32(le.Uint32(b[p:]))
			p += 4
			if vl != -1 {
				if vl < 0 || int(vl) > len(b)-p {
					d.err = errShort
					return nil
				}
				h.Value = b[p : p+int(vl) : p+int(vl)]
				p += int(vl)
			}
			hdrs = append(hdrs, h)
		}
	}
	d.b = b[p:]
	hdrScratch = hdrs
	off := uint32(0)
	for i := range recs {
		recs[i].Headers = nil
		if nh := nhs[i]; nh > 0 {
			recs[i].Headers = hdrs[off : off+nh : off+nh]
			off += nh
		}
	}
	return recs
}

func appendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

func appendBytes(b, v []byte) []byte {
	if v == nil {
		return appendU32(b, 0xFFFFFFFF)
	}
	b = appendU32(b, uint32(len(v)))
	return append(b, v...)
}

func appendRecords(b []byte, recs []Record) []byte {
	b = appendU32(b, uint32(len(recs)))
	for _, r := range recs {
		b = binary.LittleEndian.AppendUint64(b, uint64(r.Timestamp))
		b = appendBytes(b, r.Key)
		b = appendBytes(b, r.Value)
		b = appendU32(b, uint32(len(r.Headers)))
		for _, h := range r.Headers {
			b = appendU32(b, uint32(len(h.Key)))
			b = append(b, h.Key...)
			b = appendBytes(b, h.Value)
		}
	}
	return b
}
