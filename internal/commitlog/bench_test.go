package commitlog

import (
	"bytes"
	"testing"
)

func BenchmarkAppend(b *testing.B) {
	l := openLog(b, b.TempDir(), Config{})
	batch, h := makeBatch(b, make([]int64, 10)...)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		hh := h
		if _, err := l.Append(batch, &hh, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadTail(b *testing.B) {
	l := openLog(b, b.TempDir(), Config{})
	batch, h := makeBatch(b, make([]int64, 10)...)
	for i := 0; i < 10000; i++ {
		hh := h
		if _, err := l.Append(bytes.Clone(batch), &hh, 1); err != nil {
			b.Fatal(err)
		}
	}
	leo := l.LogEndOffset()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Read(leo-500, leo, 1<<20, true); err != nil {
			b.Fatal(err)
		}
	}
}
