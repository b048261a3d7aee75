// Command pulumi-resource-command is the k3s-homelab STAND-IN for the Pulumi
// `command` resource provider, version 1.2.1 (the plugin behind
// @pulumi/command 1.2.1). It is not the real provider.
//
// Why it exists: the real provider's Go module
// (github.com/pulumi/pulumi-command/provider) is refused by the Go module
// proxy reachable from the project's machines, and its release binaries can't
// be downloaded there, so end-to-end tests need something that behaves like it
// in every way the program relies on. scripts/engine.sh installs a real binary
// instead whenever ENGINE_COMMAND_PROVIDER_BIN names one.
//
// What it implements: the resource command:remote:Command (Check, Diff,
// Create, Read, Update, Delete) over SSH with golang.org/x/crypto/ssh, written
// from a reading of the real provider's behaviour (see README.md for the
// list of known differences). Everything else answers Unimplemented.
//
// The engine starts a provider as `pulumi-resource-command [flags] ENGINE`,
// and reads the port of the provider's gRPC server from its first line of
// stdout. Anything on stderr is shown to the user, so this binary is silent
// there.
package main

import (
	"fmt"
	"os"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
)

const (
	// providerVersion is what GetPluginInfo reports: the SDK asks for 1.2.1.
	providerVersion = "1.2.1"
	// standinNote says what this binary really is, wherever it is asked.
	standinNote = "pulumi-resource-command " + providerVersion + ": the k3s-homelab stand-in, " +
		"not the real provider (see scripts/engine/command-standin/README.md)"
)

func main() {
	engineAddr := ""
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--version" || a == "-version":
			fmt.Println(standinNote)
			return
		case a == "--tracing" || a == "-tracing":
			i++ // its value is the next argument; tracing is not supported
		case strings.HasPrefix(a, "-"):
			// --logtostderr, -v=N, --tracing=X, ...: accepted and ignored.
		default:
			engineAddr = a
		}
	}

	srv := newServer(engineAddr)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(s, srv)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command (stand-in): %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command (stand-in): %v\n", err)
		os.Exit(1)
	}
}
