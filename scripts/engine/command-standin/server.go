package main

// The gRPC ResourceProvider service: marshalling with the SDK's plugin
// helpers (secrets and unknowns kept), the command:remote:Command lifecycle,
// and logging back to the engine.

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

const remoteCommand = "command:remote:Command"

type server struct {
	pulumirpc.UnimplementedResourceProviderServer

	// cancelled ends dial retries when the engine calls Cancel.
	cancelled context.Context
	cancel    context.CancelFunc

	mu         sync.Mutex
	engineAddr string
	engine     pulumirpc.EngineClient
	greeted    bool
}

func newServer(engineAddr string) *server {
	ctx, cancel := context.WithCancel(context.Background())
	return &server{cancelled: ctx, cancel: cancel, engineAddr: engineAddr}
}

// engineClient connects to the engine's logging service on first use.
func (s *server) engineClient() pulumirpc.EngineClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.engine == nil && s.engineAddr != "" {
		conn, err := grpc.NewClient(s.engineAddr,
			grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
		if err == nil {
			s.engine = pulumirpc.NewEngineClient(conn)
		}
	}
	return s.engine
}

func (s *server) log(sev pulumirpc.LogSeverity, urn, msg string, ephemeral bool) {
	engine := s.engineClient()
	if engine == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = engine.Log(ctx, &pulumirpc.LogRequest{Severity: sev, Message: msg, Urn: urn, Ephemeral: ephemeral})
}

// resourceLog reports for one resource, the way the real provider's logger does.
type resourceLog struct {
	s   *server
	urn string
}

func (l resourceLog) status(msg string)  { l.s.log(pulumirpc.LogSeverity_INFO, l.urn, msg, true) }
func (l resourceLog) warning(msg string) { l.s.log(pulumirpc.LogSeverity_WARNING, l.urn, msg, false) }
func (l resourceLog) error(msg string)   { l.s.log(pulumirpc.LogSeverity_ERROR, l.urn, msg, false) }

// runCtx ends when the request's context ends or the engine calls Cancel.
func (s *server) runCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.cancelled, cancel)
	return ctx, func() { stop(); cancel() }
}

var unmarshalOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}
var marshalOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}

func unmarshal(label string, s *structpb.Struct) (resource.PropertyMap, error) {
	opts := unmarshalOpts
	opts.Label = label
	m, err := plugin.UnmarshalProperties(s, opts)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%s: %v", label, err)
	}
	return m, nil
}

func marshal(label string, m resource.PropertyMap) (*structpb.Struct, error) {
	opts := marshalOpts
	opts.Label = label
	return plugin.MarshalProperties(m, opts)
}

func checkType(urn string) error {
	if t := string(resource.URN(urn).Type()); t != remoteCommand {
		return status.Errorf(codes.InvalidArgument,
			"unknown resource type %q: this stand-in for pulumi-resource-command implements only %s", t, remoteCommand)
	}
	return nil
}

// ---- provider-level calls ----------------------------------------------------

func (s *server) Handshake(_ context.Context, req *pulumirpc.ProviderHandshakeRequest,
) (*pulumirpc.ProviderHandshakeResponse, error) {
	s.mu.Lock()
	if req.GetEngineAddress() != "" && s.engine == nil {
		s.engineAddr = req.GetEngineAddress()
	}
	s.mu.Unlock()
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (s *server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: providerVersion}, nil
}

func (s *server) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	if req.GetVersion() > 0 {
		return nil, status.Errorf(codes.InvalidArgument, "unsupported schema version %d", req.GetVersion())
	}
	return &pulumirpc.GetSchemaResponse{Schema: schemaJSON}, nil
}

func (s *server) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (s *server) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal("oldConfig", req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("newConfig", req.GetNews())
	if err != nil {
		return nil, err
	}
	// The provider has no configuration of its own: a change never replaces it.
	diff := olds.Diff(news)
	if !diff.AnyChanges() {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	var keys []string
	for _, k := range diff.ChangedKeys() {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: keys}, nil
}

func (s *server) Configure(_ context.Context, _ *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	s.mu.Lock()
	greet := !s.greeted
	s.greeted = true
	s.mu.Unlock()
	if greet {
		s.log(pulumirpc.LogSeverity_DEBUG, "", standinNote, false)
	}
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (s *server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	s.cancel()
	return &emptypb.Empty{}, nil
}

// ---- command:remote:Command ----------------------------------------------------

func (s *server) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	news, err := unmarshal("news", req.GetNews())
	if err != nil {
		return nil, err
	}
	checked, failures := check(news)
	inputs, err := marshal("checked", checked)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

func (s *server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, news, err := oldsAndNews(req.GetUrn(), req.GetOlds(), req.GetNews())
	if err != nil {
		return nil, err
	}
	ignored := map[resource.PropertyKey]bool{}
	for _, k := range req.GetIgnoreChanges() {
		ignored[resource.PropertyKey(k)] = true
	}
	// The state holds the inputs plus stdout/stderr: compare the inputs only.
	diff := onlyInputs(olds).Diff(onlyInputs(news), func(k resource.PropertyKey) bool { return ignored[k] })
	if !diff.AnyChanges() {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true}, nil
	}

	changed := map[string]bool{}
	replaces := map[string]bool{}
	detailed := map[string]*pulumirpc.PropertyDiff{}
	for path, d := range plugin.NewDetailedDiffFromObjectDiff(diff, false) {
		top := path
		if i := strings.IndexAny(path, ".["); i > 0 {
			top = path[:i]
		}
		kind := d.Kind
		if replaceKeys[resource.PropertyKey(top)] {
			kind = kind.AsReplace()
			replaces[top] = true
		}
		changed[top] = true
		detailed[path] = &pulumirpc.PropertyDiff{Kind: pulumirpc.PropertyDiff_Kind(kind), InputDiff: d.InputDiff}
	}
	return &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_SOME,
		Diffs:           sortedKeys(changed),
		Replaces:        sortedKeys(replaces),
		DetailedDiff:    detailed,
		HasDetailedDiff: true,
	}, nil
}

func (s *server) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	inputs, err := unmarshal("inputs", req.GetProperties())
	if err != nil {
		return nil, err
	}
	urn := resource.URN(req.GetUrn())
	id, err := resource.NewUniqueHex(urn.Name(), 8, 0)
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		props, err := previewState(inputs)
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
	}

	stdout, stderr := "", ""
	c, err := decode(inputs)
	if err != nil {
		return nil, err
	}
	if c.Create != nil {
		ctx, done := s.runCtx(ctx)
		defer done()
		if stdout, stderr, err = run(ctx, resourceLog{s, string(urn)}, c, *c.Create); err != nil {
			return nil, err // not created: the engine records no state
		}
	}
	props, err := marshal("state", state(inputs, resource.NewProperty(stdout), resource.NewProperty(stderr)))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (s *server) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	olds, news, err := oldsAndNews(req.GetUrn(), req.GetOlds(), req.GetNews())
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		props, err := previewState(news)
		if err != nil {
			return nil, err
		}
		return &pulumirpc.UpdateResponse{Properties: props}, nil
	}

	// The new inputs with the previous run's stdout/stderr (they go into the
	// environment as PULUMI_COMMAND_STDOUT/STDERR, and stay if nothing runs).
	current := state(news, orEmpty(olds["stdout"]), orEmpty(olds["stderr"]))
	c, err := decode(current)
	if err != nil {
		return nil, err
	}
	cmd := c.Update
	if cmd == nil {
		cmd = c.Create
	}
	if cmd != nil {
		ctx, done := s.runCtx(ctx)
		defer done()
		stdout, stderr, err := run(ctx, resourceLog{s, req.GetUrn()}, c, *cmd)
		if err != nil {
			return nil, err // not updated: the engine keeps the old state
		}
		current = state(news, resource.NewProperty(stdout), resource.NewProperty(stderr))
	}
	props, err := marshal("state", current)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

// oldsAndNews checks the resource type and decodes a Diff's or Update's old state and new inputs.
func oldsAndNews(urn string, olds, news *structpb.Struct) (resource.PropertyMap, resource.PropertyMap, error) {
	if err := checkType(urn); err != nil {
		return nil, nil, err
	}
	o, err := unmarshal("olds", olds)
	if err != nil {
		return nil, nil, err
	}
	n, err := unmarshal("news", news)
	if err != nil {
		return nil, nil, err
	}
	return o, n, nil
}

// previewState is a preview's result: the inputs, with stdout and stderr unknown until the
// command runs.
func previewState(inputs resource.PropertyMap) (*structpb.Struct, error) {
	unknown := resource.MakeComputed(resource.NewProperty(""))
	return marshal("preview", state(inputs, unknown, unknown))
}

// orEmpty is v, or an empty string when v holds nothing.
func orEmpty(v resource.PropertyValue) resource.PropertyValue {
	if !v.HasValue() {
		return resource.NewProperty("")
	}
	return v
}

func (s *server) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	props, err := unmarshal("state", req.GetProperties())
	if err != nil {
		return nil, err
	}
	c, err := decode(props)
	if err != nil {
		return nil, err
	}
	if c.Delete != nil {
		ctx, done := s.runCtx(ctx)
		defer done()
		if _, _, err := run(ctx, resourceLog{s, req.GetUrn()}, c, *c.Delete); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

func (s *server) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	// A command has nothing to read back from the host: the state is as it was.
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}
