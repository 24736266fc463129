package main

import (
	"fmt"
	"os"
)

// Usage: alloy-check FILE.alloy... — exits 1 and prints each problem when any file is invalid.
func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: alloy-check FILE.alloy...")
		os.Exit(2)
	}
	failed := false
	for _, name := range os.Args[1:] {
		src, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed = true
			continue
		}
		errs := Check(name, src)
		for _, err := range errs {
			fmt.Fprintln(os.Stderr, err)
		}
		if len(errs) > 0 {
			failed = true
			continue
		}
		fmt.Printf("%s: valid Alloy syntax, references resolve\n", name)
	}
	if failed {
		os.Exit(1)
	}
}
