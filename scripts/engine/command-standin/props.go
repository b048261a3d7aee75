package main

// Inputs and outputs of command:remote:Command: defaults (Check), decoding
// into Go values for a run, and the shape of the state.

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// inputKeys are the resource's input properties (the schema's inputProperties).
// Diff compares only these; the state holds them plus stdout and stderr.
var inputKeys = map[resource.PropertyKey]bool{
	"addPreviousOutputInEnv": true,
	"connection":             true,
	"create":                 true,
	"delete":                 true,
	"environment":            true,
	"logging":                true,
	"stdin":                  true,
	"triggers":               true,
	"update":                 true,
}

// Changes to these input properties replace the resource (the real provider
// tags `triggers` replaceOnChanges; the SDK adds replaceOnChanges: ["triggers[*]"]).
var replaceKeys = map[resource.PropertyKey]bool{"triggers": true}

var loggingValues = map[string]bool{"stdout": true, "stderr": true, "stdoutAndStderr": true, "none": true}

// Defaults of the connection object (and of its proxy), as in the real schema.
var connectionDefaults = resource.PropertyMap{
	"user":           resource.NewProperty("root"),
	"port":           resource.NewProperty(22.0),
	"dialErrorLimit": resource.NewProperty(10.0),
	"perDialTimeout": resource.NewProperty(15.0),
}

// withDefaults fills the unset keys of an object value, keeping secret wrappers
// (the whole value and any nested ones) as they are. Unknown values are kept.
func withDefaults(v resource.PropertyValue, defaults resource.PropertyMap,
	nested func(resource.PropertyMap),
) resource.PropertyValue {
	if v.IsSecret() {
		return resource.MakeSecret(withDefaults(v.SecretValue().Element, defaults, nested))
	}
	if !v.IsObject() {
		return v
	}
	obj := v.ObjectValue().Copy()
	for k, d := range defaults {
		if cur, ok := obj[k]; !ok || cur.IsNull() {
			obj[k] = d
		}
	}
	if nested != nil {
		nested(obj)
	}
	return resource.NewProperty(obj)
}

// unwrap strips secret wrappers from the outside of a value.
func unwrap(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

// check applies the defaults and validates the inputs, like the real provider's
// Check: connection defaults (user root, port 22, dialErrorLimit 10,
// perDialTimeout 15), addPreviousOutputInEnv true, and `connection` marked
// secret (the real provider declares it secret).
func check(news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	out := news.Copy()
	var failures []*pulumirpc.CheckFailure
	fail := func(prop, reason string) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: prop, Reason: reason})
	}

	conn, ok := out["connection"]
	switch {
	case !ok || conn.IsNull():
		fail("connection", "Missing required property 'connection'")
	case unwrap(conn).ContainsUnknowns() && !unwrap(conn).IsObject():
		// unknown as a whole (preview): nothing to check yet
		out["connection"] = resource.MakeSecret(unwrap(conn))
	case !unwrap(conn).IsObject():
		fail("connection", "connection must be an object")
	default:
		conn = withDefaults(conn, connectionDefaults, func(obj resource.PropertyMap) {
			if p, ok := obj["proxy"]; ok && !p.IsNull() {
				obj["proxy"] = withDefaults(p, connectionDefaults, nil)
			}
		})
		if h, ok := unwrap(conn).ObjectValue()["host"]; !ok || h.IsNull() {
			fail("connection.host", "Missing required property 'host'")
		}
		if !conn.IsSecret() {
			conn = resource.MakeSecret(conn)
		}
		out["connection"] = conn
	}

	if v, ok := out["addPreviousOutputInEnv"]; !ok || v.IsNull() {
		out["addPreviousOutputInEnv"] = resource.NewProperty(true)
	}
	if v, ok := out["logging"]; ok {
		if s := unwrap(v); s.IsString() && !loggingValues[s.StringValue()] {
			fail("logging", fmt.Sprintf("logging must be one of stdout, stderr, stdoutAndStderr, none; got %q",
				s.StringValue()))
		}
	}
	return out, failures
}

// connection is what a run needs to reach a host (also used for the proxy).
type connection struct {
	Host               string
	Port               int
	User               string
	Password           *string
	PrivateKey         *string
	PrivateKeyPassword *string
	AgentSocketPath    *string
	HostKey            *string
	DialErrorLimit     int
	PerDialTimeout     int
	Proxy              *connection
}

// command is a decoded set of inputs (or state) of a command:remote:Command.
type command struct {
	Create, Update, Delete, Stdin *string
	Logging                       string // "" means the default, stdoutAndStderr
	Environment                   map[string]string
	AddPreviousOutputInEnv        *bool
	Connection                    connection
	Stdout, Stderr                string // the previous run's, from the state
}

func (c *command) logStdout() bool {
	return c.Logging == "" || c.Logging == "stdout" || c.Logging == "stdoutAndStderr"
}

func (c *command) logStderr() bool {
	return c.Logging == "" || c.Logging == "stderr" || c.Logging == "stdoutAndStderr"
}

type decoder struct{ err error }

func (d *decoder) value(m resource.PropertyMap, k resource.PropertyKey) (resource.PropertyValue, bool) {
	v, ok := m[k]
	if !ok {
		return v, false
	}
	v = unwrap(v)
	if v.IsNull() {
		return v, false
	}
	if v.ContainsUnknowns() && d.err == nil {
		d.err = fmt.Errorf("property %q is not known yet", k)
	}
	return v, true
}

func (d *decoder) str(m resource.PropertyMap, k resource.PropertyKey) *string {
	v, ok := d.value(m, k)
	if !ok {
		return nil
	}
	if !v.IsString() {
		if d.err == nil {
			d.err = fmt.Errorf("property %q must be a string", k)
		}
		return nil
	}
	s := v.StringValue()
	return &s
}

func (d *decoder) num(m resource.PropertyMap, k resource.PropertyKey, def float64) float64 {
	v, ok := d.value(m, k)
	if !ok {
		return def
	}
	if !v.IsNumber() {
		if d.err == nil {
			d.err = fmt.Errorf("property %q must be a number", k)
		}
		return def
	}
	return v.NumberValue()
}

func (d *decoder) connection(v resource.PropertyValue, what string) connection {
	v = unwrap(v)
	if !v.IsObject() {
		if d.err == nil {
			d.err = fmt.Errorf("%s must be an object", what)
		}
		return connection{}
	}
	m := v.ObjectValue()
	c := connection{
		Port:               int(d.num(m, "port", 22)),
		Password:           d.str(m, "password"),
		PrivateKey:         d.str(m, "privateKey"),
		PrivateKeyPassword: d.str(m, "privateKeyPassword"),
		AgentSocketPath:    d.str(m, "agentSocketPath"),
		HostKey:            d.str(m, "hostKey"),
		DialErrorLimit:     int(d.num(m, "dialErrorLimit", 10)),
		PerDialTimeout:     int(d.num(m, "perDialTimeout", 15)),
	}
	if h := d.str(m, "host"); h != nil {
		c.Host = *h
	} else if d.err == nil {
		d.err = fmt.Errorf("%s.host is required", what)
	}
	c.User = "root"
	if u := d.str(m, "user"); u != nil {
		c.User = *u
	}
	if p, ok := d.value(m, "proxy"); ok {
		proxy := d.connection(p, what+".proxy")
		c.Proxy = &proxy
	}
	return c
}

// decode reads the inputs (or the state) of a command into Go values. Secrets
// are unwrapped: the values are only used to run the command, never logged.
func decode(m resource.PropertyMap) (*command, error) {
	var d decoder
	c := &command{
		Create: d.str(m, "create"),
		Update: d.str(m, "update"),
		Delete: d.str(m, "delete"),
		Stdin:  d.str(m, "stdin"),
	}
	if l := d.str(m, "logging"); l != nil {
		c.Logging = *l
	}
	if v, ok := d.value(m, "addPreviousOutputInEnv"); ok && v.IsBool() {
		b := v.BoolValue()
		c.AddPreviousOutputInEnv = &b
	}
	if v, ok := d.value(m, "environment"); ok && v.IsObject() {
		env := v.ObjectValue()
		c.Environment = make(map[string]string, len(env))
		for _, k := range env.StableKeys() {
			if s := d.str(env, k); s != nil {
				c.Environment[string(k)] = *s
			}
		}
	}
	if v, ok := d.value(m, "connection"); ok {
		c.Connection = d.connection(v, "connection")
	} else if d.err == nil {
		d.err = fmt.Errorf("connection is required")
	}
	if s := d.str(m, "stdout"); s != nil {
		c.Stdout = *s
	}
	if s := d.str(m, "stderr"); s != nil {
		c.Stderr = *s
	}
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

// state is the resource's state: its inputs as checked plus stdout and stderr.
func state(inputs resource.PropertyMap, stdout, stderr resource.PropertyValue) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range inputs {
		if k != "stdout" && k != "stderr" {
			out[k] = v
		}
	}
	out["stdout"] = stdout
	out["stderr"] = stderr
	return out
}

// onlyInputs keeps the input properties of a state, for Diff.
func onlyInputs(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		if inputKeys[k] {
			out[k] = v
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
