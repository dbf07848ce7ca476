// Command benchtool is the Go helper of scripts/bench, the benchmark that runs
// the same workloads on the raw disk, a syncfs mount, rclone mount and
// gocryptfs.
//
// Terms used here:
//
//   - target: one of the file systems under test; "raw", a plain directory on
//     the local disk, is the reference the others are compared with.
//   - workload: one measured figure, such as "seq write" in MiB/s or
//     "git status" in seconds.
//   - better: "hi" when a larger figure is better (throughput, IOPS, ops/s),
//     "lo" when a smaller one is (seconds, latency).
//   - ratio: how a target compares with raw, oriented so that 1.0 is as fast
//     as raw and higher is better: target/raw for "hi" figures, raw/target
//     for "lo" ones.
//
// Subcommands:
//
//	benchtool meta -dir DIR -files N [-tree]
//	    creates N empty files (flat in DIR, or spread over a 3-level tree),
//	    stats them, reads the directories and deletes everything, printing
//	    one "phase<TAB>ops/s" line per phase.
//	benchtool bulkload -store DIR -cache DIR -files N [-per-dir 100] [-fanout 100] [-cpuprofile FILE]
//	    makes a syncfs device in the cache directory DIR of the local store
//	    DIR (made by syncfs init; passphrase in SYNCFS_PASSPHRASE) holding N
//	    empty files, per-dir to a directory and fanout directories to a
//	    directory above them, through the index's creates and the uploader's
//	    rounds, in-process: the files are in the store's journal and the
//	    device's index, and syncfs mount --cache-dir DIR serves them.
//	benchtool bulkload -dir DIR -files N [-per-dir 100] [-fanout 100]
//	    makes the same tree as plain files under DIR.
//	benchtool ops -url URL -snap FILE [-label WORKLOAD]
//	    scrapes syncfs's FUSE request counts from its metrics endpoint,
//	    prints "workload<TAB>op<TAB>requests" for the requests since the
//	    snapshot FILE, and saves the new counts in FILE.
//	benchtool report -in RAW -out DIR [-targets raw,syncfs,...] [-note TEXT] [-ops OPS]
//	    reads the measurements scripts/bench collected (lines of
//	    "workload<TAB>unit<TAB>better<TAB>target<TAB>value") and prints the
//	    table, and writes results.tsv, results.md and ratios.dat (the
//	    gnuplot data of the chart) into DIR; with -ops, also the table of
//	    syncfs's FUSE requests per workload.
package main
