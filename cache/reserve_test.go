package cache

import "testing"

func TestReserve(t *testing.T) {
	t.Run("taken at open, released and taken again", func(t *testing.T) {
		c, err := NewWithOptions(t.TempDir(), nil, Options{Reserve: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if held, err := c.ReserveHeld(); err != nil || !held {
			t.Fatalf("reserve held %v (%v) after open", held, err)
		}
		if err := c.ReleaseReserve(); err != nil {
			t.Fatal(err)
		}
		if held, _ := c.ReserveHeld(); held {
			t.Fatal("reserve still held after release")
		}
		if err := c.TakeReserve(); err != nil {
			t.Fatal(err)
		}
		if held, _ := c.ReserveHeld(); !held {
			t.Fatal("reserve not held after take")
		}
		if files, stray, err := c.Scan(); err != nil || len(files)+len(stray) != 0 {
			t.Fatalf("the reserve shows in Scan: %v %v %v", files, stray, err)
		}
		if free, err := c.DiskFree(); err != nil || free <= 0 {
			t.Fatalf("disk free %d, %v", free, err)
		}
	})
	t.Run("none when negative", func(t *testing.T) {
		c, err := NewWithOptions(t.TempDir(), nil, Options{Reserve: -1})
		if err != nil {
			t.Fatal(err)
		}
		if held, _ := c.ReserveHeld(); held || c.Reserve() != 0 {
			t.Fatal("a reserve was taken although none was asked for")
		}
	})
}
