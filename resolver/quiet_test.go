package resolver

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/syncfs/syncfs/index"
)

// TestUploaderWaitsForQuiet checks that a round the uploader starts unasked
// waits while local changes keep coming, runs once they pause, and never
// waits longer than UploadMaxDefer.
func TestUploaderWaitsForQuiet(t *testing.T) {
	s := initStore(t)
	const quiet, maxDefer = 150 * time.Millisecond, 2 * time.Second
	d := newDeviceWith(t, s, "aaaa", Options{UploadQuiet: quiet, UploadMaxDefer: maxDefer})

	// Changes every 20 ms for 400 ms, then nothing.
	var wg sync.WaitGroup
	wg.Add(1)
	stopAt := time.Now().Add(400 * time.Millisecond)
	go func() {
		defer wg.Done()
		for i := 0; time.Now().Before(stopAt); i++ {
			if _, err := d.idx.Create(index.RootIno, fmt.Sprintf("f%d", i), index.NewNode{Mode: 0o100644}); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(30 * time.Millisecond)
	start := time.Now()
	if _, err := d.eng.uploadWhenQuiet(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	ran := time.Now()
	wg.Wait()
	if ran.Before(stopAt) {
		t.Errorf("the round ran %v after it was asked, while changes were still coming (until %v)", ran.Sub(start), stopAt.Sub(start))
	}
	if since := ran.Sub(d.idx.LastLocalChange()); since < quiet && ran.Sub(start) < maxDefer {
		t.Errorf("the round ran %v after the last change, before the quiet time %v", since, quiet)
	}

	// Changes that never pause: the round runs after UploadMaxDefer.
	d2 := newDeviceWith(t, s, "bbbb", Options{UploadQuiet: time.Hour, UploadMaxDefer: 300 * time.Millisecond})
	if _, err := d2.idx.Create(index.RootIno, "g", index.NewNode{Mode: 0o100644}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := d2.eng.uploadWhenQuiet(testCtx(t)); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the round waited past UploadMaxDefer")
	}
	if p, err := d2.eng.Pending(); err != nil || p.Files != 0 {
		t.Errorf("after the deferred round: %+v %v", p, err)
	}
}
