package main

import (
	"fmt"
	"os"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// functions maps the template's function resources to the names used in the
// requests and start-up figures.
var functions = map[string]string{"IngestFunction": "ingest", "ProcessorFunction": "processor", "RedriveFunction": "redrive"}

// ReadDeployment reads what the bill depends on from a SAM template: memory size and
// architecture (Globals, overridden per function), the default batch size and the
// platform log level. CloudFormation tags (!Ref, !GetAtt, ...) are left unresolved:
// a setting given by a tag is taken from the named parameter's default.
func ReadDeployment(path string, retentionDays float64) (Deployment, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Deployment{}, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return Deployment{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return Deployment{}, fmt.Errorf("%s is empty", path)
	}
	root := doc.Content[0]
	params := get(root, "Parameters")
	value := func(n *yaml.Node) (string, error) {
		if n == nil {
			return "", nil
		}
		if n.Tag == "!Ref" {
			def := get(get(params, n.Value), "Default")
			if def == nil {
				return "", fmt.Errorf("!Ref %s: no such parameter with a default", n.Value)
			}
			return def.Value, nil
		}
		if n.Kind == yaml.SequenceNode && len(n.Content) > 0 {
			return n.Content[0].Value, nil
		}
		return n.Value, nil
	}
	globals := get(get(root, "Globals"), "Function")
	d := Deployment{MemoryMB: map[string]float64{}, RetentionDays: retentionDays}
	if d.Arch, err = value(get(globals, "Architectures")); err != nil {
		return d, err
	}
	globalMem, err := value(get(globals, "MemorySize"))
	if err != nil {
		return d, err
	}
	level, err := value(get(get(globals, "LoggingConfig"), "SystemLogLevel"))
	if err != nil {
		return d, err
	}
	d.PlatformLogLevel = level
	if d.PlatformLogLevel == "" {
		d.PlatformLogLevel = "INFO" // Lambda's default
	}
	resources := get(root, "Resources")
	for res, fn := range functions {
		props := get(get(resources, res), "Properties")
		if props == nil {
			return d, fmt.Errorf("%s has no %s", path, res)
		}
		mem, err := value(get(props, "MemorySize"))
		if err != nil {
			return d, err
		}
		if mem == "" {
			mem = globalMem
		}
		if mem == "" {
			mem = "128" // Lambda's default
		}
		mb, err := strconv.ParseFloat(mem, 64)
		if err != nil {
			return d, fmt.Errorf("%s MemorySize %q: %w", res, mem, err)
		}
		d.MemoryMB[fn] = mb
		if arch, err := value(get(props, "Architectures")); err != nil {
			return d, err
		} else if arch != "" {
			d.Arch = arch
		}
	}
	if d.Arch == "" {
		d.Arch = "x86_64"
	}
	batch := get(get(params, "BatchSize"), "Default")
	if batch == nil {
		return d, fmt.Errorf("%s has no BatchSize default", path)
	}
	if d.BatchSize, err = strconv.Atoi(batch.Value); err != nil {
		return d, fmt.Errorf("BatchSize %q: %w", batch.Value, err)
	}
	return d, nil
}

// get returns the value under key in a mapping node, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
