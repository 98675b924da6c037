package main

import (
	"encoding/json"
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

// Alarm is one CloudWatch alarm of the template and the metrics it reads (each is
// billed as one alarm metric).
type Alarm struct {
	Name    string
	Metrics int
}

// Idle is what the template deploys at its defaults that costs money with no
// traffic, and what decides the custom metrics that can exist.
type Idle struct {
	Alarms        []Alarm  // the alarms deployed at the defaults
	Dashboards    []string // the dashboards deployed at the defaults
	Secrets       []string // the Secrets Manager secrets deployed at the defaults
	SourcesStore  string   // SourcesStore's default: parameter or secret
	MetricsDetail string   // MetricsDetail's default: outcome, source or type
	Routes        int      // routes in the Routes default, each a breaker dependency
	Off           []string // resources whose condition is false at the defaults
}

// ReadIdle reads the idle items of a SAM template at its parameters' defaults.
// A resource with a Condition counts when the condition holds at the defaults;
// conditions of !Equals, !Not, !And and !Or on parameters (!Ref) and literals
// are evaluated, anything else is an error rather than a guess.
func ReadIdle(path string) (Idle, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Idle{}, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return Idle{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return Idle{}, fmt.Errorf("%s is empty", path)
	}
	root := doc.Content[0]
	params, conds, resources := get(root, "Parameters"), get(root, "Conditions"), get(root, "Resources")
	if resources == nil {
		return Idle{}, fmt.Errorf("%s has no Resources", path)
	}
	def := func(name string) (string, error) {
		d := get(get(params, name), "Default")
		if d == nil {
			return "", fmt.Errorf("%s: parameter %s has no default", path, name)
		}
		return d.Value, nil
	}
	var eval func(n *yaml.Node) (string, error)
	eval = func(n *yaml.Node) (string, error) {
		args := n.Content
		truth := func(b bool) string { return strconv.FormatBool(b) }
		switch n.Tag {
		case "!Ref":
			return def(n.Value)
		case "!Condition":
			c := get(conds, n.Value)
			if c == nil {
				return "", fmt.Errorf("%s: no condition %s", path, n.Value)
			}
			return eval(c)
		case "!Equals":
			if len(args) != 2 {
				return "", fmt.Errorf("%s: !Equals with %d arguments", path, len(args))
			}
			a, err := eval(args[0])
			if err != nil {
				return "", err
			}
			b, err := eval(args[1])
			if err != nil {
				return "", err
			}
			return truth(a == b), nil
		case "!Not", "!And", "!Or":
			all, any := true, false
			for _, a := range args {
				v, err := eval(a)
				if err != nil {
					return "", err
				}
				all, any = all && v == "true", any || v == "true"
			}
			switch n.Tag {
			case "!Not":
				return truth(!all), nil
			case "!And":
				return truth(all), nil
			}
			return truth(any), nil
		}
		if n.Kind == yaml.ScalarNode {
			return n.Value, nil
		}
		return "", fmt.Errorf("%s: cannot evaluate %s at line %d", path, n.Tag, n.Line)
	}

	var idle Idle
	if idle.SourcesStore, err = def("SourcesStore"); err != nil {
		return idle, err
	}
	if idle.MetricsDetail, err = def("MetricsDetail"); err != nil {
		return idle, err
	}
	routes, err := def("Routes")
	if err != nil {
		return idle, err
	}
	var rs []json.RawMessage
	if err := json.Unmarshal([]byte(routes), &rs); err != nil {
		return idle, fmt.Errorf("%s: Routes default: %w", path, err)
	}
	idle.Routes = len(rs)
	for i := 0; i+1 < len(resources.Content); i += 2 {
		name, res := resources.Content[i].Value, resources.Content[i+1]
		if c := get(res, "Condition"); c != nil {
			on, err := eval(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!Condition", Value: c.Value})
			if err != nil {
				return idle, err
			}
			if on != "true" {
				idle.Off = append(idle.Off, name)
				continue
			}
		}
		props, typ := get(res, "Properties"), get(res, "Type")
		if typ == nil {
			return idle, fmt.Errorf("%s: resource %s has no Type", path, name)
		}
		switch typ.Value {
		case "AWS::CloudWatch::Alarm":
			a := Alarm{Name: name}
			if get(props, "MetricName") != nil {
				a.Metrics = 1
			}
			if ms := get(props, "Metrics"); ms != nil {
				for _, m := range ms.Content {
					if get(m, "MetricStat") != nil {
						a.Metrics++
					}
				}
			}
			if a.Metrics == 0 {
				return idle, fmt.Errorf("%s: alarm %s reads no metric", path, name)
			}
			idle.Alarms = append(idle.Alarms, a)
		case "AWS::CloudWatch::Dashboard":
			idle.Dashboards = append(idle.Dashboards, name)
		case "AWS::SecretsManager::Secret":
			idle.Secrets = append(idle.Secrets, name)
		}
	}
	return idle, nil
}
