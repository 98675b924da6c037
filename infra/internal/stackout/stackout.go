// Package stackout reads one value from a deployed stack's outputs as
// `sam list stack-outputs --output json` prints them, for the operator tools that
// find the stack's resources by themselves (make inspect, make pause, …).
//
// Invariants: an output is found by its exact OutputKey and must be non-empty; a
// document that is not that JSON list is an error naming the command to run.
package stackout

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Read reads the outputs from path ("-" for standard input, at most 1 MiB) and
// returns the value of key.
func Read(path, key string) (string, error) {
	var raw []byte
	var err error
	if path == "-" {
		raw, err = io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	} else {
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("stack outputs: %w", err)
	}
	return Parse(raw, key)
}

// Parse returns the value of key in raw.
func Parse(raw []byte, key string) (string, error) {
	var outs []struct {
		OutputKey   string
		OutputValue string
	}
	if err := json.Unmarshal(raw, &outs); err != nil {
		return "", fmt.Errorf("stack outputs are not `sam list stack-outputs --output json`: %w", err)
	}
	for _, o := range outs {
		if o.OutputKey == key && o.OutputValue != "" {
			return o.OutputValue, nil
		}
	}
	return "", fmt.Errorf("stack outputs have no %s (is the stack deployed from this template?)", key)
}
