package resolver

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/syncfs/syncfs/index"
)

// rootListing returns name -> "fileID content" for every entry of the root,
// fetching Absent content through the store.
func (d *device) rootListing(t *testing.T) map[string]string {
	t.Helper()
	ents, err := d.idx.ReadDir(index.RootIno, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		out[e.Name] = e.Attr.FileID + " " + string(d.readFile(t, e.Name))
	}
	return out
}

func listing(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %q: %s\n", k, m[k])
	}
	return b.String()
}

// TestConflictCopiesThroughStore edits one file on two devices at once and
// syncs through a real (local directory) store: both versions survive on
// both devices, the later one under the name, the other as a conflict copy
// named after its own device, and the two devices end with the same tree.
func TestConflictCopiesThroughStore(t *testing.T) {
	for _, tc := range []struct {
		name     string
		flushB   bool // b's edit is uploaded before a's arrives
		bIsLater bool // b's edit is the later one (it wins)
	}{
		{"local staged edit wins", false, true},
		{"local staged edit loses", false, false},
		{"both uploaded", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if _, err := Init(testCtx(t), s, []byte("pw"), InitOptions{KDF: testKDF()}); err != nil {
				t.Fatal(err)
			}
			a := newDevice(t, s, "aaaa")
			b := newDevice(t, s, "bbbb")
			a.writeFile(t, "notes.txt", []byte("base"))
			if err := a.eng.Flush(testCtx(t), nil); err != nil {
				t.Fatal(err)
			}
			if err := b.eng.Sync(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			if got := b.readFile(t, "notes.txt"); string(got) != "base" {
				t.Fatalf("b before the edits: %q", got)
			}
			// The hybrid clocks follow the wall clock: the second write is
			// the later version.
			if tc.bIsLater {
				a.writeFile(t, "notes.txt", []byte("from a"))
				b.writeFile(t, "notes.txt", []byte("from b"))
			} else {
				b.writeFile(t, "notes.txt", []byte("from b"))
				a.writeFile(t, "notes.txt", []byte("from a"))
			}
			if tc.flushB {
				if err := b.eng.Flush(testCtx(t), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.eng.Flush(testCtx(t), nil); err != nil {
				t.Fatal(err)
			}
			// b meets a's version while its own is still Staged (or
			// already uploaded), then both sync until quiet.
			for range 3 {
				for _, d := range []*device{b, a} {
					if err := d.eng.Sync(testCtx(t)); err != nil {
						t.Fatal(err)
					}
				}
			}
			la, lb := a.rootListing(t), b.rootListing(t)
			if listing(la) != listing(lb) {
				t.Fatalf("trees differ:\na:\n%sb:\n%s", listing(la), listing(lb))
			}
			winner, loser, loserDev := "from a", "from b", "bbbb"
			if tc.bIsLater {
				winner, loser, loserDev = "from b", "from a", "aaaa"
			}
			if got := la["notes.txt"]; !strings.HasSuffix(got, " "+winner) {
				t.Fatalf("notes.txt holds %q, want %q\n%s", got, winner, listing(la))
			}
			var copies []string
			for name, v := range la {
				if strings.HasPrefix(name, "notes (conflict "+loserDev+" ") && strings.HasSuffix(name, ").txt") && strings.HasSuffix(v, " "+loser) {
					copies = append(copies, name)
				}
			}
			if len(copies) != 1 || len(la) != 2 {
				t.Fatalf("want notes.txt and one copy of %s's version:\n%s", loserDev, listing(la))
			}
			for _, d := range []*device{a, b} {
				st, err := d.idx.Stats()
				if err != nil {
					t.Fatal(err)
				}
				if st.Pending != 0 || st.Unsent != 0 {
					t.Fatalf("%s not quiet: %+v", d.idx.Device(), st)
				}
			}
		})
	}
}
